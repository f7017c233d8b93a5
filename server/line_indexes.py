"""Line indexes of documents (engine/text.py ``LineIndex``), one per text.

An open document keeps its own (server/text_documents.py); this decides when to
build it: a short text when asked (well under a millisecond), a long one
off the event loop after it opens or changes, so that a code action never
waits for it (until it is ready, the code action uses what needs no index).
Texts that are not open (read from disk) get a small cache of their own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from assistant_router.engine.limits import WHOLE_DOCUMENT_CHARS
from assistant_router.engine.text import LineIndex
from assistant_router.server.text_documents import IndexedTextDocument

logger = logging.getLogger(__name__)

KEPT = 16  # indexes kept of texts that are not open (a few kilobytes each, and their text)


class LineIndexes:
    def __init__(self, open_document: Callable[[str], Any]) -> None:
        self._open_document = open_document  # uri → the open document, or None
        self._others: dict[str, LineIndex] = {}
        self._building: dict[str, tuple[str, asyncio.Task[LineIndex]]] = {}

    def get(self, uri: str, text: str) -> LineIndex | None:
        """The index of ``text``, if it is ready or cheap to build now."""
        document = self._document(uri, text)
        found = document.ready_index() if document is not None else self._others.get(uri)
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

    def _document(self, uri: str, text: str) -> IndexedTextDocument | None:
        """The open document whose current text is ``text``."""
        document = self._open_document(uri)
        if isinstance(document, IndexedTextDocument) and document.source is text:
            return document
        return None

    def _keep(self, uri: str, index: LineIndex) -> LineIndex:
        document = self._document(uri, index.text)
        if document is not None:
            document.adopt(index)
            return index
        self._others.pop(uri, None)
        self._others[uri] = index
        while len(self._others) > KEPT:
            self._others.pop(next(iter(self._others)))
        return index

    def forget(self, uri: str) -> None:
        self._others.pop(uri, None)
        building = self._building.pop(uri, None)
        if building is not None:
            building[1].cancel()
