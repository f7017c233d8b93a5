"""Running tasks, findable by request id and by progress token.

pygls answers ``$/cancelRequest`` for ``workspace/executeCommand`` with
-32800 but does not stop the work the command started, and a cancelled
work-done progress only cancels a future; both are routed here to cancel the
task itself.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Hashable

logger = logging.getLogger(__name__)


class RunningTasks:
    def __init__(self) -> None:
        self._by_key: dict[Hashable, asyncio.Task] = {}

    def add(self, task: asyncio.Task, *keys: Hashable) -> None:
        live = [key for key in keys if key is not None]
        for key in live:
            self._by_key[key] = task

        def forget(_: asyncio.Task) -> None:
            for key in live:
                if self._by_key.get(key) is task:
                    del self._by_key[key]

        task.add_done_callback(forget)

    def cancel(self, key: Hashable, why: str) -> bool:
        task = self._by_key.get(key)
        if task is None or task.done():
            return False
        logger.info("cancelling task %s: %s", key, why)
        task.cancel(why)
        return True

    def cancel_all(self, why: str) -> None:
        for task in {id(t): t for t in self._by_key.values()}.values():
            if not task.done():
                task.cancel(why)

    def __len__(self) -> int:
        return len({id(t) for t in self._by_key.values()})
