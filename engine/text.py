"""Ranges and the text in them: the one set of helpers every layer uses.

Positions here are in code points (Python string indexes), lines as
``str.splitlines(keepends=True)`` gives them. :class:`Span` has the shape of
an LSP range (``start.line``, ``end.character``), so the helpers accept
lsprotocol ranges converted to code points too; the LSP adapter converts
from and to the client's units at its edge.
"""

from __future__ import annotations

import array
import bisect
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, AnyStr, Protocol, overload


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


def line_length(lines: Sequence[str], line: int) -> int:
    """Characters on ``line`` without its ending (0 past the end)."""
    return len(lines[line].rstrip("\r\n")) if 0 <= line < len(lines) else 0


def clamp(lines: Sequence[str], line: int, character: int) -> Pos:
    """As the LSP says: a character past the end of its line means the line's
    end (Neovim sends length + 1 for a selection that ends with ``$``)."""
    if line < len(lines):
        return Pos(line, min(character, line_length(lines, line)))
    return Pos(line, character)


def text_in(lines: Sequence[str], span: RangeLike) -> str:
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


def text_in_if_present(lines: Sequence[str], span: RangeLike) -> str | None:
    """The text ``span`` covers now, or None when it reaches past the end."""
    if span.end.line >= len(lines):
        return None
    return text_in(lines, span)


# --------------------------------------------------------------------------- #
# Big documents: lines found without splitting the whole text.

_BREAK = re.compile(r"\r\n|[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")  # what str.splitlines breaks on
_RARE_BREAKS = ("\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029")
_BREAK_CHARS = frozenset("\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
INDEX_CHUNK = 65_536  # characters per chunk of the index: a lookup scans at most one
_KEPT_CHUNKS = 8  # chunks whose line starts a LineIndex keeps after a lookup


class LineIndex(Sequence[str]):
    """The lines of a text exactly as :func:`split_lines` gives them, without
    splitting it: building counts the line breaks of each 64 k-character
    chunk (one C-speed count each, about 0.5 ms per MB, no copy); a lookup
    scans one chunk. A 50 MB document costs a few kilobytes of index instead
    of a 100 MB list of lines, and no single step holds the interpreter for
    more than a fraction of a millisecond."""

    def __init__(self, text: str) -> None:
        self.text = text
        bounds, breaks = [0], [0]  # chunk starts, and the line breaks before each
        at, count, size = 0, 0, len(text)
        while at < size:
            end = min(at + INDEX_CHUNK, size)
            if end < size and text[end - 1] == "\r" and text[end] == "\n":
                end += 1  # never split a \r\n pair
            count += self._breaks_in(at, end)
            at = end
            bounds.append(at)
            breaks.append(count)
        self._bounds, self._breaks = bounds, breaks
        self._starts: dict[int, array.array[int]] = {}  # chunk → its line starts, for the chunks looked up last
        self.breaks = count
        # As split_lines: a last line without an ending counts, an empty text is one empty line.
        self._count = max(count + (1 if text and text[-1] not in _BREAK_CHARS else 0), 1)

    def _breaks_in(self, start: int, end: int) -> int:
        if not self._rare_in(start, end):
            return self.text.count("\n", start, end)
        return sum(1 for _ in _BREAK.finditer(self.text, start, end))

    def _rare_in(self, start: int, end: int) -> bool:
        """Whether a break other than ``\\n`` lies in [start, end) (memchr-fast finds)."""
        find = self.text.find
        return any(find(c, start, end) >= 0 for c in _RARE_BREAKS)

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[str]:  # all of them: one split (Sequence's default looks each up)
        return iter(split_lines(self.text))

    def start(self, line: int) -> int:
        """The offset where ``line`` starts (the text's length past the end)."""
        if line <= 0:
            return 0
        if line > self.breaks:
            return len(self.text)
        chunk = bisect.bisect_left(self._breaks, line) - 1  # the chunk holding the line-th break
        starts = self._starts.get(chunk)
        if starts is None:
            starts = self._line_starts(self._bounds[chunk], self._bounds[chunk + 1])
            if len(self._starts) >= _KEPT_CHUNKS:  # the chunks looked up last: a few kilobytes each
                self._starts.pop(next(iter(self._starts)))
            self._starts[chunk] = starts
        return starts[line - self._breaks[chunk] - 1]

    def _line_starts(self, at: int, end: int) -> array.array[int]:
        """Where each line after a break in [at, end) starts: one pass, kept for the chunk's next lookups
        (inline completion looks up a dozen lines around the cursor on every keystroke)."""
        text = self.text
        if not self._rare_in(at, end):
            starts = array.array("q")
            find = text.find
            found = find("\n", at, end)
            while found >= 0:
                starts.append(found + 1)
                found = find("\n", found + 1, end)
            return starts
        return array.array("q", (found.end() for found in _BREAK.finditer(text, at, end)))

    def line_of(self, offset: int) -> int:
        """The line that holds ``offset`` (the last line past the end)."""
        offset = max(0, min(offset, len(self.text)))
        if 0 < offset < len(self.text) and self.text[offset - 1] == "\r" and self.text[offset] == "\n":
            offset -= 1  # inside a \r\n pair: still the line it ends
        chunk = bisect.bisect_right(self._bounds, offset) - 1
        chunk = min(chunk, len(self._breaks) - 1)
        line = self._breaks[chunk] + self._breaks_in(self._bounds[chunk], offset)
        return min(line, self._count - 1)

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> list[str]: ...

    def __getitem__(self, index: int | slice) -> str | list[str]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._count))]
        if index < 0:
            index += self._count
        if not 0 <= index < self._count:
            raise IndexError("line index out of range")
        return self.text[self.start(index) : self.start(index + 1)]

    def offset(self, line: int, character: int) -> int:
        """The offset of (line, character), as :func:`text_in` counts them: a
        character past the line's end counts its ending, then stops there."""
        start = self.start(line)
        return min(start + character, self.start(line + 1))

    def text_in(self, span: RangeLike) -> str:
        """What :func:`text_in` gives, in time proportional to the answer."""
        if span.start.line >= self._count:
            return ""
        return self.text[self.offset(span.start.line, span.start.character) :
                         self.offset(span.end.line, span.end.character)]

    def clamp(self, line: int, character: int) -> Pos:
        """:func:`clamp`, without splitting the text."""
        if line < self._count:
            return Pos(line, min(character, len(self[line].rstrip("\r\n"))))
        return Pos(line, character)


_SOFT_CUT = re.compile(r"[ \t][^ \t]")


def slices(text: str, size: int, overlap: int = 0) -> Iterator[tuple[int, int]]:
    """[start, end) offsets that cover ``text`` in pieces of about ``size``
    characters, each ending at a line end where one is near (else after a
    space), and reaching
    ``overlap`` characters into the next (for findings that straddle a cut)."""
    at, length = 0, len(text)
    while at < length:
        end = at + size
        if end >= length:
            yield at, length
            return
        newline = text.find("\n", end, end + size)
        if newline >= 0:
            end = newline + 1
        elif (space := _SOFT_CUT.search(text, end, end + size)) is not None:
            end = space.start() + 1  # a long line: after a space, where no word or number is cut
        reach = end
        if overlap:
            newline = text.find("\n", end + overlap, end + overlap + size)
            reach = min(length, newline + 1 if newline >= 0 else end + overlap)
        yield at, reach
        at = end


def common_prefix(a: AnyStr, b: AnyStr) -> int:
    """The length of the longest common start of ``a`` and ``b`` (text or bytes),
    by a binary search of slice comparisons: C speed on long texts."""
    low, high = 0, min(len(a), len(b))
    while low < high:
        middle = (low + high + 1) // 2
        if a[:middle] == b[:middle]:
            low = middle
        else:
            high = middle - 1
    return low


def common_suffix(a: AnyStr, b: AnyStr, limit: int) -> int:
    """The length of the longest common end of ``a`` and ``b``, at most ``limit``."""
    low, high = 0, max(limit, 0)
    while low < high:
        middle = (low + high + 1) // 2
        if a[len(a) - middle :] == b[len(b) - middle :]:
            low = middle
        else:
            high = middle - 1
    return low
