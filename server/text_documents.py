"""Open documents with a line index (engine/text.py ``LineIndex``).

pygls's ``TextDocument.lines`` splits the whole text on every use, and an
incremental change walks every line into a new string: 290 ms per
keystroke in a 50 MB document, so a ``didChange`` with a hundred changes
held the server for half a minute. Here ``lines`` is an index kept per text
(the same lines, exactly), and a change is one splice of the text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lsprotocol import types
from pygls.workspace import TextDocument, Workspace

from assistant_router.engine.text import LineIndex


class IndexedTextDocument(TextDocument):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._index: LineIndex | None = None

    @property
    def lines(self) -> Sequence[str]:  # type: ignore[override]  # a Sequence, as pygls's callers use it
        return self.index

    @property
    def index(self) -> LineIndex:
        """The index of the current text, built now if it is not yet."""
        source = self.source
        if self._index is None or self._index.text is not source:
            self._index = LineIndex(source)
        return self._index

    def ready_index(self) -> LineIndex | None:
        """The index of the current text if it is built (never builds it)."""
        index = self._index
        return index if index is not None and self._source is not None and index.text is self._source else None

    def adopt(self, index: LineIndex) -> None:
        """Keep ``index`` (built elsewhere, off the event loop) if it is of the current text."""
        if index.text is self._source:
            self._index = index

    def _apply_incremental_change(self, change: types.TextDocumentContentChangePartial) -> None:
        """As pygls's, in time proportional to the change plus one copy of the text."""
        lines = self.index
        server_range = self._position_codec.range_from_client_units(lines, change.range)
        start, end = server_range.start, server_range.end
        source = lines.text
        if start.line >= len(lines) or (start.line == len(lines) - 1 and not source):
            self._source = source + change.text  # at the very end (pygls's rule)
            return
        begin = lines.offset(start.line, start.character)
        finish = max(lines.offset(end.line, end.character), begin) if end.line < len(lines) else len(source)
        self._source = source[:begin] + change.text + source[finish:]


class IndexedWorkspace(Workspace):
    """pygls's workspace, creating :class:`IndexedTextDocument` s."""

    def _create_text_document(
        self,
        doc_uri: str,
        source: str | None = None,
        version: int | None = None,
        language_id: str | None = None,
    ) -> TextDocument:
        return IndexedTextDocument(
            doc_uri, source=source, version=version, language_id=language_id,
            sync_kind=self._sync_kind, position_codec=self._position_codec,
        )
