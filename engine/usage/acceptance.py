"""Kept or undone: whether an applied edit's text is still in the document
later (at the next save, or after a while), recorded in the ledger so the
report can show an acceptance rate per model and task."""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass

KEPT_AFTER_S = float(os.environ.get("ASSISTANT_ROUTER_KEPT_AFTER_S", 300))


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


@dataclass
class PendingEdit:
    row_id: int
    uri: str
    text: str  # what the edit inserted
    due: float  # when to judge it, if no save comes first


class AcceptanceTracker:
    def __init__(self, delay_s: float = KEPT_AFTER_S) -> None:
        self.delay_s = delay_s
        self._pending: list[PendingEdit] = []

    def watch(self, row_id: int, uri: str, text: str) -> None:
        if _normalise(text):
            self._pending.append(PendingEdit(row_id, uri, text, time.monotonic() + self.delay_s))

    def judge(self, document_text: str | None, edit: PendingEdit) -> bool:
        """Kept when the inserted text, whitespace aside, is still there: its
        words with any whitespace between them (the same as looking for the
        normalised edit in the normalised document, without rewriting a
        document of 50 MB)."""
        if document_text is None:
            return False
        words = edit.text.split()
        return re.search(r"\s+".join(map(re.escape, words)), document_text) is not None

    def due(self, uri: str | None = None, everything: bool = False) -> list[PendingEdit]:
        """Take the edits to judge now: those of ``uri`` (a save), those past
        their time, or (``everything``, at shutdown) all of them."""
        now = time.monotonic()
        ready = [e for e in self._pending if everything or (uri is not None and e.uri == uri) or e.due <= now]
        self._pending = [e for e in self._pending if e not in ready]
        return ready

    def due_for(self, uri: str) -> bool:
        return any(e.uri == uri for e in self._pending)

    def __len__(self) -> int:
        return len(self._pending)
