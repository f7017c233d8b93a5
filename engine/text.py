"""Ranges and the text in them: the one set of helpers every layer uses.

Positions here are in code points (Python string indexes), lines as
``str.splitlines(keepends=True)`` gives them. :class:`Span` has the shape of
an LSP range (``start.line``, ``end.character``), so the helpers accept
lsprotocol ranges converted to code points too; the LSP adapter converts
from and to the client's units at its edge.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


class RangeLike(Protocol):
    @property
    def start(self) -> Any: ...

    @property
    def end(self) -> Any: ...


@dataclass(frozen=True, order=True)
class Pos:
    line: int
    character: int


@dataclass(frozen=True)
class Span:
    """A range in code points, end exclusive."""

    start: Pos
    end: Pos

    @classmethod
    def of(cls, start_line: int, start_character: int, end_line: int, end_character: int) -> Span:
        return cls(Pos(start_line, start_character), Pos(end_line, end_character))

    @classmethod
    def from_range(cls, value: RangeLike) -> Span:
        return cls.of(value.start.line, value.start.character, value.end.line, value.end.character)

    @property
    def empty(self) -> bool:
        return self.start == self.end

    @property
    def last_line(self) -> int:
        """The last line the span really covers (0-based)."""
        return last_selected_line(self.start.line, self.end.line, self.end.character)

    @property
    def line_count(self) -> int:
        return self.last_line - self.start.line + 1

    def moved(self, lines: int) -> Span:
        return Span.of(self.start.line + lines, self.start.character, self.end.line + lines, self.end.character)

    def to_json(self) -> dict[str, dict[str, int]]:
        return {
            "start": {"line": self.start.line, "character": self.start.character},
            "end": {"line": self.end.line, "character": self.end.character},
        }


def range_json(value: RangeLike) -> dict[str, dict[str, int]]:
    """An LSP-shaped range as JSON (command arguments, results)."""
    return Span.from_range(value).to_json()


def overlaps(a: RangeLike, b: RangeLike) -> bool:
    """Whether two ranges share a position (touching ends count)."""
    return (a.start.line, a.start.character) <= (b.end.line, b.end.character) and (
        b.start.line, b.start.character) <= (a.end.line, a.end.character)


def last_selected_line(start_line: int, end_line: int, end_character: int) -> int:
    """The last line a selection really covers: a selection that ends at the
    start of a line (as whole-line selections do) does not include that line."""
    if end_character == 0 and end_line > start_line:
        return end_line - 1
    return end_line


def split_lines(text: str) -> list[str]:
    """The lines with their endings; an empty text is one empty line."""
    return text.splitlines(keepends=True) or [""]


def line_length(lines: list[str], line: int) -> int:
    """Characters on ``line`` without its ending (0 past the end)."""
    return len(lines[line].rstrip("\r\n")) if 0 <= line < len(lines) else 0


def clamp(lines: list[str], line: int, character: int) -> Pos:
    """As the LSP says: a character past the end of its line means the line's
    end (Neovim sends length + 1 for a selection that ends with ``$``)."""
    if line < len(lines):
        return Pos(line, min(character, line_length(lines, line)))
    return Pos(line, character)


def text_in(lines: list[str], span: RangeLike) -> str:
    """The text ``span`` covers; what lies past the end is empty."""
    start_line: int = span.start.line
    start_character: int = span.start.character
    end_line: int = span.end.line
    end_character: int = span.end.character
    if start_line >= len(lines):
        return ""
    if start_line == end_line:
        return lines[start_line][start_character:end_character]
    tail = lines[end_line][:end_character] if end_line < len(lines) else ""
    return lines[start_line][start_character:] + "".join(lines[start_line + 1 : end_line]) + tail


def text_in_if_present(lines: list[str], span: RangeLike) -> str | None:
    """The text ``span`` covers now, or None when it reaches past the end."""
    if span.end.line >= len(lines):
        return None
    return text_in(lines, span)
