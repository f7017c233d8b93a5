"""One lane for the server's own CPU-heavy background work.

The warm-up (SDK imports, grammars, rehearsals) and the preparation of open
documents run in worker threads, and every worker thread competes with the
event loop for the interpreter lock: on a two-core machine, two of them at
once made code actions wait 25-30 ms. Work that takes a turn on the
:class:`BackgroundLane` runs one piece at a time, so the loop competes with
at most one such thread. A user's task never waits for the lane.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


class BackgroundLane:
    def __init__(self) -> None:
        self._lock: asyncio.Lock | None = None  # made in the loop that first uses it

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Wait for the work before to finish, then run this piece alone."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            yield

    @property
    def busy(self) -> bool:
        return self._lock is not None and self._lock.locked()
