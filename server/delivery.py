"""Turning a finished answer into what the editor shows.

Pure functions (no server calls) so they can be unit-tested: extracting code
from an answer, rebasing an edit onto a document that changed while the model
worked, parsing review findings into diagnostics.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from lsprotocol import types

from ..routing.tasks import EditPlacement
from .documents import last_selected_line

DIAGNOSTIC_SOURCE = "assistant-router"

_FENCE = re.compile(r"^```[^\n`]*\n(.*?)^```[ \t]*$", re.DOTALL | re.MULTILINE)


def extract_code(answer: str) -> str:
    """The first fenced code block of an answer, or the whole answer."""
    found = _FENCE.search(answer)
    return found.group(1) if found else answer


class EditConflict(Exception):
    """The user changed the text the edit targets; applying it would clobber their typing."""


@dataclass(frozen=True)
class Snapshot:
    """The document as the task started from it."""

    uri: str
    version: int | None
    text: str


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True) or [""]


def rebase_range(snapshot: str, current: str, start_line: int, end_line: int) -> int:
    """How many lines the region [start_line, end_line] moved between two texts.

    Raises EditConflict if any change touches the region itself.
    """
    if snapshot == current:
        return 0
    old, new = _lines(snapshot), _lines(current)
    shift = 0
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        touches = i1 <= end_line and i2 > start_line if i2 > i1 else start_line < i1 <= end_line
        if touches:
            raise EditConflict(
                f"the document changed at line {j1 + 1} inside the target lines {start_line + 1}-{end_line + 1}"
            )
        if i2 <= start_line:
            shift += (j2 - j1) - (i2 - i1)
    return shift


def build_text_edit(
    snapshot: str,
    current: str,
    target: types.Range,
    answer: str,
    placement: EditPlacement,
) -> types.TextEdit:
    """The edit for ``answer`` against ``current``, rebased from ``snapshot``."""
    last = last_selected_line(target.start.line, target.end.line, target.end.character)
    shift = rebase_range(snapshot, current, target.start.line, last)
    code = extract_code(answer)
    if placement is EditPlacement.INSERT_AFTER:
        line = last + shift + 1
        lines = _lines(current)
        if line >= len(lines):
            # After the last line: terminate that line first if it is not.
            last = lines[-1]
            if last.endswith("\n"):
                end = types.Position(len(lines), 0)
                return types.TextEdit(types.Range(end, end), code.rstrip("\n") + "\n")
            end = types.Position(len(lines) - 1, len(last))
            return types.TextEdit(types.Range(end, end), "\n" + code.rstrip("\n"))
        position = types.Position(line, 0)
        return types.TextEdit(types.Range(position, position), code.rstrip("\n") + "\n")
    selected = _text_in_range(snapshot, target)
    if selected.endswith("\n") and not code.endswith("\n"):
        code += "\n"
    elif not selected.endswith("\n") and code.endswith("\n"):
        code = code[:-1]
    moved = types.Range(
        types.Position(target.start.line + shift, target.start.character),
        types.Position(target.end.line + shift, target.end.character),
    )
    return types.TextEdit(moved, code)


def _text_in_range(text: str, target: types.Range) -> str:
    lines = _lines(text)
    if target.start.line >= len(lines):
        return ""
    if target.start.line == target.end.line:
        return lines[target.start.line][target.start.character : target.end.character]
    parts = [lines[target.start.line][target.start.character :]]
    parts.extend(lines[target.start.line + 1 : target.end.line])
    if target.end.line < len(lines):
        parts.append(lines[target.end.line][: target.end.character])
    return "".join(parts)
