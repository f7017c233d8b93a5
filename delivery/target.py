"""The small interface a delivery works against, implemented once per front
end: ``server/lsp_target.py`` for the editor, ``cli/terminal.py`` for the
terminal. A delivery module decides *what* reaches the user; the target
knows *how* its front end shows it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from assistant_router.engine.text import LineIndex, Span

if TYPE_CHECKING:
    from assistant_router.delivery.review import Finding
    from assistant_router.engine.checks.stage import Finding as CheckFinding
    from assistant_router.engine.pipeline import Answer


@dataclass(frozen=True)
class CurrentText:
    """A document as it is now: open in the editor (with its version) or on disk."""

    text: str
    version: int | None = None  # None: not open in the editor
    index: LineIndex | None = None  # the front end's index of ``text``, when it keeps one

    @property
    def lines(self) -> LineIndex:
        return self.index if self.index is not None and self.index.text is self.text else LineIndex(self.text)


@dataclass(frozen=True)
class FileEdit:
    """One change to one file, in code points of its current text."""

    uri: str
    range: Span
    new_text: str
    version: int | None = None  # the open document's version the range refers to
    create: bool = False  # the file does not exist yet


class Target(Protocol):
    """What a front end offers the delivery modules."""

    @property
    def cannot_apply_edits(self) -> str | None:
        """Why edits are shown rather than applied here (None: they are applied)."""
        ...

    @property
    def can_create_files(self) -> bool: ...

    @property
    def accepts_unchecked(self) -> bool:
        """Deliver an answer that failed its checks like any other (the
        terminal's --apply-unchecked); otherwise it is held (:meth:`hold`)."""
        ...

    def read(self, uri: str) -> CurrentText | None:
        """The document now (None when it neither is open nor exists)."""
        ...

    async def apply(self, answer: Answer, edits: Sequence[FileEdit]) -> None:
        """Apply the edits as one change. Raises Declined or Failed."""
        ...

    async def reveal(self, uri: str) -> None:
        """Show a file the delivery changed elsewhere (a test file), without taking focus."""
        ...

    async def show_document(self, name: str, markdown: str, fallback: str) -> str | None:
        """Show a Markdown document (``fallback``: the text for a plain message);
        returns where it is (a URI), or None when it was shown otherwise."""
        ...

    def show_findings(self, answer: Answer, findings: Sequence[Finding]) -> Mapping[str, Any]:
        """Show review findings on the document; returns details for the result."""
        ...

    def hold(self, answer: Answer, edits: Sequence[FileEdit], findings: Sequence[CheckFinding]) -> Mapping[str, Any]:
        """An edit that failed its checks: show its problems, apply nothing, and
        offer to apply it on request; returns details for the result
        (``how_to_apply``: a sentence for the user)."""
        ...
