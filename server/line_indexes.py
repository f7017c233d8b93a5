"""Line indexes of the open documents (engine/text.py ``LineIndex``), one per
text: pygls's ``TextDocument.lines`` splits the whole text on every use,
which for a 50 MB document costs 120 ms and 100 MB each time.

A short document is indexed when asked (well under a millisecond); a long
one off the event loop, after it opens or changes, so a code action never
waits for it (until it is ready, the code action uses what needs no index).
"""

from __future__ import annotations

import asyncio
import logging

from assistant_router.engine.limits import WHOLE_DOCUMENT_CHARS
from assistant_router.engine.text import LineIndex

logger = logging.getLogger(__name__)

KEPT = 16  # documents whose index is kept (a few kilobytes each)


class LineIndexes:
    def __init__(self) -> None:
        self._indexes: dict[str, LineIndex] = {}
        self._building: dict[str, tuple[str, asyncio.Task[LineIndex]]] = {}

    def get(self, uri: str, text: str) -> LineIndex | None:
        """The index of ``text``, if it is ready or cheap to build now."""
        found = self._indexes.get(uri)
        if found is not None and found.text is text:
            return found
        if len(text) > WHOLE_DOCUMENT_CHARS:
            self.schedule(uri, text)
            return None
        return self._keep(uri, LineIndex(text))

    async def ensure(self, uri: str, text: str) -> LineIndex:
        """The index of ``text``, built off the loop when it is long."""
        found = self.get(uri, text)
        if found is not None:
            return found
        return await asyncio.shield(self.schedule(uri, text))

    def schedule(self, uri: str, text: str) -> asyncio.Task[LineIndex]:
        """Start indexing ``text`` off the loop (once per text)."""
        building = self._building.get(uri)
        if building is not None and building[0] is text:
            return building[1]
        task = asyncio.get_running_loop().create_task(self._build(uri, text), name=f"index {uri}")
        self._building[uri] = (text, task)
        return task

    async def _build(self, uri: str, text: str) -> LineIndex:
        try:
            index = await asyncio.to_thread(LineIndex, text)
        finally:
            if self._building.get(uri, (None,))[0] is text:
                del self._building[uri]
        return self._keep(uri, index)

    def _keep(self, uri: str, index: LineIndex) -> LineIndex:
        self._indexes.pop(uri, None)
        self._indexes[uri] = index
        while len(self._indexes) > KEPT:
            self._indexes.pop(next(iter(self._indexes)))
        return index

    def forget(self, uri: str) -> None:
        self._indexes.pop(uri, None)
        building = self._building.pop(uri, None)
        if building is not None:
            building[1].cancel()
