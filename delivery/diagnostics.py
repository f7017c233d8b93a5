"""Diagnostics delivery: review findings on the document's lines, and the
store of suggested replacements that code actions offer as quick fixes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from assistant_router.engine.results import Delivered, Failed, Status
from assistant_router.engine.text import LineIndex

if TYPE_CHECKING:
    from assistant_router.delivery.review import ReviewFix
    from assistant_router.delivery.target import Target
    from assistant_router.engine.pipeline import Answer


async def deliver(answer: Answer, target: Target) -> Delivered:
    from assistant_router.delivery.review import InvalidReview, parse_review  # pydantic: loaded on first use

    try:
        findings, notes = parse_review(answer.text)
    except InvalidReview as exc:
        # A failed review, not a clean one: the document's earlier findings stay.
        raise Failed(
            f"{answer.label} answered the review in the wrong shape: {exc}; the earlier review diagnostics were kept"
        ) from None
    document = answer.request.document
    current = target.read(document.uri)
    line_count = len(current.lines if current is not None else LineIndex(document.text))
    inside = [f for f in findings if f.line <= line_count]
    if outside := len(findings) - len(inside):
        notes.append(
            f"{outside} finding{'s' if outside > 1 else ''} pointed past the end of the file and were left out"
        )
    details = target.show_findings(answer, inside)
    return Delivered(Status.SHOWN, details, "; ".join(notes) or None)


@dataclass
class ReviewFixes:
    """Per document, the last review's findings that came with a replacement."""

    _by_uri: dict[str, list[ReviewFix]] = field(default_factory=dict)

    def set(self, uri: str, fixes: list[ReviewFix]) -> None:
        self._by_uri[uri] = fixes

    def get(self, uri: str) -> list[ReviewFix]:
        return self._by_uri.get(uri, [])

    def prune(self, uri: str, lines: Sequence[str]) -> list[ReviewFix]:
        """Forget the fixes whose text has changed since; returns the ones forgotten."""
        fixes = self._by_uri.get(uri)
        if not fixes:
            return []
        kept: list[ReviewFix] = []
        stale: list[ReviewFix] = []
        for fix in fixes:
            (kept if fix.still_applies(lines) else stale).append(fix)
        self._by_uri[uri] = kept
        return stale
