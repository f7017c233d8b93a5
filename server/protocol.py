"""Everything about the protocol itself that pygls does not do for us, in one place.

- **Cancellation.** pygls answers ``$/cancelRequest`` for
  ``workspace/executeCommand`` with -32800 but does not stop the work the
  command started, and a cancelled work-done progress only cancels a future.
  :class:`RunningTasks` finds a running task by request id or progress token,
  and :class:`RouterProtocol` routes both kinds of cancellation
  (``$/cancelRequest``, ``window/workDoneProgress/cancel``) to it.
- **Shutdown.** pygls 2.1.1 iterates over its request futures while cancelling
  them, and a future's callback can remove entries: ``RuntimeError: dictionary
  changed size during iteration``. Ours cancels our own tasks first, then
  iterates over a copy, and answers ``null``.
- **The task table** goes to the client in ``ServerCapabilities.experimental``
  (``assistantRouter.tasks``), so editor clients never copy it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Generator, Hashable
from typing import Any

from lsprotocol import types
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.language_server import lsp_method

logger = logging.getLogger(__name__)

EXPERIMENTAL_KEY = "assistantRouter"


class RunningTasks:
    """Running tasks, findable by request id and by progress token."""

    def __init__(self) -> None:
        self._by_key: dict[Hashable, asyncio.Task[Any]] = {}

    def add(self, task: asyncio.Task[Any], *keys: Hashable) -> None:
        live = [key for key in keys if key is not None]
        for key in live:
            self._by_key[key] = task

        def forget(_: asyncio.Task[Any]) -> None:
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

    def cancel_all(self, why: str) -> list[asyncio.Task[Any]]:
        """Cancel every running task; returns them, to wait for."""
        tasks = [t for t in {id(t): t for t in self._by_key.values()}.values() if not t.done()]
        for task in tasks:
            task.cancel(why)
        return tasks

    def __len__(self) -> int:
        return len({id(t) for t in self._by_key.values()})


class RouterProtocol(LanguageServerProtocol):
    running: RunningTasks
    experimental: Callable[[], dict[str, Any]] | None = None  # set by the composition root

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.running = RunningTasks()

    def _handle_cancel_notification(self, msg_id: Any) -> None:
        super()._handle_cancel_notification(msg_id)
        self.running.cancel(("request", msg_id), "$/cancelRequest")

    @lsp_method(types.WINDOW_WORK_DONE_PROGRESS_CANCEL)
    def lsp_work_done_progress_cancel(self, params: types.WorkDoneProgressCancelParams) -> Generator[Any, Any, None]:
        yield from super().lsp_work_done_progress_cancel(params)
        self.running.cancel(("progress", params.token), "cancelled from the progress UI")

    @lsp_method(types.INITIALIZE)
    def lsp_initialize(self, params: types.InitializeParams) -> Generator[Any, Any, types.InitializeResult]:
        result: types.InitializeResult = yield from super().lsp_initialize(params)
        if self.experimental is not None:
            result.capabilities.experimental = {EXPERIMENTAL_KEY: self.experimental()}
        return result

    @lsp_method(types.SHUTDOWN)
    def lsp_shutdown(self, *args: Any) -> Generator[Any, Any, None]:
        if (user_handler := self.fm.features.get(types.SHUTDOWN)) is not None:
            yield user_handler, args, None
        current_id = self.msg_id
        for msg_id, future in list(self._request_futures.items()):
            if msg_id != current_id and not future.done():
                future.cancel()
        self._shutdown = True
        return None
