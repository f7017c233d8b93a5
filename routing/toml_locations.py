"""Find the line of a key in TOML source, so errors can point at it.

``tomllib`` returns plain dicts without positions. Validation errors come back
as key paths such as ``("rules", 1, "when", "paths")``; this module scans the
source once and maps every table header, array-of-tables entry and key
(including keys inside single-line inline tables) to its 1-based line.
"""

from __future__ import annotations

import re
import tomllib

KeyPath = tuple[str | int, ...]

_HEADER = re.compile(r"^\s*(\[\[?)\s*(.+?)\s*\]\]?\s*(?:#.*)?$")
_SIMPLE = r"""[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*'"""  # bare, "basic" (with escapes), 'literal'
_KEY = re.compile(rf"""^\s*((?:{_SIMPLE})(?:\s*\.\s*(?:{_SIMPLE}))*)\s*=(.*)$""")
_INLINE_KEY = re.compile(rf"""(?:^|[{{,])\s*({_SIMPLE})\s*=""")
_PART = re.compile(_SIMPLE)


def _unquoted(part: str) -> str:
    """A key part as tomllib reads it: quotes removed (not every quote character
    at either end) and a basic string's escapes decoded."""
    if part.startswith('"') and "\\" in part:
        try:
            return str(tomllib.loads(f"k = {part}")["k"])
        except tomllib.TOMLDecodeError:
            return part[1:-1]
    return part[1:-1] if part[:1] in ("'", '"') else part


def _split_key(dotted: str) -> tuple[str, ...]:
    return tuple(_unquoted(p) for p in _PART.findall(dotted))


class TomlLocations:
    """Index of key paths to lines for one TOML document."""

    def __init__(self, source: str) -> None:
        self._lines: dict[KeyPath, int] = {}
        table: KeyPath = ()
        array_counts: dict[KeyPath, int] = {}
        in_multiline_string = False
        # Lines end at "\n" only: str.splitlines() also splits at "\x85", "\u2028"
        # and others, which TOML allows in strings and comments.
        for number, line in enumerate(source.split("\n"), start=1):
            if line.count('"""') % 2 == 1 or line.count("'''") % 2 == 1:
                in_multiline_string = not in_multiline_string
                if not in_multiline_string:
                    continue
            if in_multiline_string:
                continue
            header = _HEADER.match(line)
            if header and not _KEY.match(line):
                path: KeyPath = _split_key(header.group(2))
                for end in range(1, len(path) + 1):  # [a.b] and [[a.b]] define a and a.b here (if not before)
                    self._lines.setdefault(path[:end], number)
                if header.group(1) == "[[":
                    index = array_counts.get(path, 0)
                    array_counts[path] = index + 1
                    path = (*path, index)
                table = path
                self._lines.setdefault(table, number)
                continue
            key = _KEY.match(line)
            if key:
                path = (*table, *_split_key(key.group(1)))
                self._lines.setdefault(path, number)
                value = key.group(2)
                if value.lstrip().startswith("{"):
                    for inner in _INLINE_KEY.findall(value.lstrip()[1:].replace("{", ",")):
                        self._lines.setdefault((*path, _unquoted(inner)), number)

    def line_of(self, path: KeyPath) -> int | None:
        """Line of the longest prefix of ``path`` that appears in the source."""
        for end in range(len(path), 0, -1):
            line = self._lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return None
