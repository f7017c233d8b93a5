"""Preparing open documents for the first task on them.

Assembling a task computes two things from the whole document: its syntax
tree and its secrets (engine/assembly.py ``prepare_document``); both are
cached by content, so a second task on the same text pays for neither. When an
open document has stayed unchanged for :data:`DELAY_S` after it opened or
changed, they are computed in a worker thread, so the first task on that text
costs what the second does. Documents that tasks read only a window of are
left alone; nothing is sent anywhere.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from assistant_router.engine.limits import WHOLE_DOCUMENT_CHARS

if TYPE_CHECKING:
    from assistant_router.engine.request import Document
    from assistant_router.server.background import BackgroundLane

logger = logging.getLogger(__name__)

DELAY_S = 0.5  # a pause in typing


class DocumentPreparations:
    def __init__(self, open_document: Callable[[str], Document | None], lane: BackgroundLane,
                 delay_s: float = DELAY_S) -> None:
        self._open_document = open_document  # uri → the open document, or None
        self._lane = lane  # one piece of background work at a time
        self._delay_s = delay_s
        self._waiting: dict[str, asyncio.TimerHandle] = {}
        self._running: set[asyncio.Task[None]] = set()

    def changed(self, uri: str) -> None:
        """``uri`` opened or changed: prepare it once it has stayed so for a moment."""
        self.forget(uri)
        self._waiting[uri] = asyncio.get_running_loop().call_later(self._delay_s, self._start, uri)

    def forget(self, uri: str) -> None:
        """``uri`` closed (or changed again): nothing to prepare for now."""
        if (waiting := self._waiting.pop(uri, None)) is not None:
            waiting.cancel()

    async def settled(self) -> None:
        """Wait for the preparations running now (tests; shutdown)."""
        while self._running:
            await asyncio.gather(*self._running, return_exceptions=True)

    def _start(self, uri: str) -> None:
        self._waiting.pop(uri, None)
        task = asyncio.get_running_loop().create_task(self._prepare(uri), name=f"prepare {uri}")
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _prepare(self, uri: str) -> None:
        # The document is read once it is this work's turn: the warm-up before
        # it has imported the engine by then, so the loop imports nothing here.
        async with self._lane.turn():
            document = self._open_document(uri)
            if document is None or len(document.text) > WHOLE_DOCUMENT_CHARS:
                return  # closed meanwhile, or tasks read only a window of it
            try:
                await asyncio.to_thread(_prepare_document, document.name, document.language, document.text)
            except Exception as exc:  # only slower: the task computes it
                logger.warning("preparing %s failed: %s: %s", document.name, type(exc).__name__, exc)


def _prepare_document(name: str, language: str, text: str) -> None:
    from assistant_router.engine.assembly import prepare_document  # in the worker: its import is not the loop's

    prepare_document(name, language, text)
