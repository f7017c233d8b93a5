"""Answers held back because they failed their checks (engine/checks): shown
as diagnostics where the edit would go, applied only if the user runs the
"Apply unchecked answer" code action. Kept per document, the last few only,
and forgotten when the document closes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lsprotocol import types

    from assistant_router.engine.pipeline import Answer

MAX_HELD_PER_DOCUMENT = 3


@dataclass
class HeldAnswer:
    answer: Answer
    diagnostics: list[types.Diagnostic]
    id: str = field(default_factory=lambda: uuid.uuid4().hex)


class HeldAnswers:
    def __init__(self) -> None:
        self._by_uri: dict[str, list[HeldAnswer]] = {}

    def add(self, uri: str, held: HeldAnswer) -> None:
        entries = self._by_uri.setdefault(uri, [])
        entries.append(held)
        del entries[:-MAX_HELD_PER_DOCUMENT]

    def get(self, uri: str) -> list[HeldAnswer]:
        return self._by_uri.get(uri, [])

    def pop(self, held_id: str) -> tuple[str, HeldAnswer] | None:
        for uri, entries in self._by_uri.items():
            for held in entries:
                if held.id == held_id:
                    entries.remove(held)
                    return uri, held
        return None

    def forget(self, uri: str) -> None:
        self._by_uri.pop(uri, None)

    def diagnostics(self, uri: str) -> list[types.Diagnostic]:
        return [d for held in self.get(uri) for d in held.diagnostics]
