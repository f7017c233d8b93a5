"""The pure part of edit delivery: extracting code from an answer, rebasing
an edit onto a document that changed while the model worked, confining an
answer to the selection, and where tests go. Positions are code points.
"""

from __future__ import annotations

import difflib
import re
import textwrap
from dataclasses import dataclass
from pathlib import PurePosixPath

from assistant_router.engine.text import LineIndex, Pos, RangeLike, Span, last_selected_line
from assistant_router.routing.tasks import EditPlacement

_FENCE = re.compile(r"^```[^\n`]*\n(.*?)^```[ \t]*$", re.DOTALL | re.MULTILINE)


def extract_code(answer: str) -> str:
    """The first fenced code block of an answer, or the whole answer."""
    found = _FENCE.search(answer)
    return found.group(1) if found else answer


class EditConflict(Exception):
    """The user changed the text the edit targets; applying it would clobber their typing."""


@dataclass(frozen=True)
class TextChange:
    """Replace ``range`` (code points of the current text) with ``new_text``."""

    range: Span
    new_text: str


def rebase_range(snapshot: str | LineIndex, current: str | LineIndex, start_line: int, end_line: int) -> int:
    """How many lines the region [start_line, end_line] moved between two texts.

    Raises EditConflict if any change touches the region itself. The texts'
    common start and end are found at C speed: a region before or after
    everything that changed is placed at once, and only when changes lie
    around it are the changed lines compared line by line (at most
    MAX_DIFF_LINES of them: a diff is quadratic on repetitive code). The
    texts may come as their line indexes, when the caller has them.
    """
    old, new = _indexed(snapshot), _indexed(current)
    snapshot, current = old.text, new.text
    if snapshot == current:
        return 0
    prefix = _common_prefix(snapshot, current)
    suffix = _common_suffix(snapshot, current, limit=min(len(snapshot), len(current)) - prefix)
    first = old.line_of(prefix)  # the first line that differs (the same in both)
    old_last, new_last = old.line_of(len(snapshot) - suffix), new.line_of(len(current) - suffix)
    if end_line < first:
        return 0  # everything changed after the region
    if start_line > old_last:
        return new_last - old_last  # everything changed before it: the rest is the same, moved
    if max(old_last, new_last) - first > MAX_DIFF_LINES:
        raise EditConflict(
            f"the document changed both before and after the target lines {start_line + 1}-{end_line + 1} "
            f"(lines {first + 1} to {new_last + 1})"
        )
    shift = 0
    matcher = difflib.SequenceMatcher(None, old[first : old_last + 1], new[first : new_last + 1], autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        i1, i2, j1, j2 = i1 + first, i2 + first, j1 + first, j2 + first
        touches = i1 <= end_line and i2 > start_line if i2 > i1 else start_line < i1 <= end_line
        if touches:
            raise EditConflict(
                f"the document changed at line {j1 + 1} inside the target lines {start_line + 1}-{end_line + 1}"
            )
        if i2 <= start_line:
            shift += (j2 - j1) - (i2 - i1)
    return shift


MAX_DIFF_LINES = 2_000
def _indexed(text: str | LineIndex) -> LineIndex:
    return text if isinstance(text, LineIndex) else LineIndex(text)


_BLOCK = 65_536  # characters compared at once when looking for where two texts differ


def _common_prefix(a: str, b: str) -> int:
    """The length of the longest common start of ``a`` and ``b``."""
    limit, at = min(len(a), len(b)), 0
    while at < limit and a[at : at + _BLOCK] == b[at : at + _BLOCK]:
        at += _BLOCK
    if at >= limit:
        return limit
    low, high = at, min(at + _BLOCK, limit)  # a[:low] == b[:low]; they differ before high
    while high - low > 1:
        middle = (low + high) // 2
        if a[low:middle] == b[low:middle]:
            low = middle
        else:
            high = middle
    return low + (a[low] == b[low])


def _common_suffix(a: str, b: str, limit: int) -> int:
    """The length of the longest common end of ``a`` and ``b``, at most ``limit``."""
    length_a, length_b, at = len(a), len(b), 0

    def same(start: int, end: int) -> bool:  # the characters start..end from the end
        return a[length_a - end : length_a - start] == b[length_b - end : length_b - start]

    while at < limit and same(at, min(at + _BLOCK, limit)):
        at = min(at + _BLOCK, limit)
    if at >= limit:
        return limit
    low, high = at, min(at + _BLOCK, limit)
    while high - low > 1:
        middle = (low + high) // 2
        if same(low, middle):
            low = middle
        else:
            high = middle
    return low + same(low, low + 1)


def build_text_edit(
    snapshot: str,
    current: str,
    target: RangeLike,
    answer: str,
    placement: EditPlacement,
) -> TextChange:
    """The edit for ``answer`` against ``current``, rebased from ``snapshot``."""
    last = last_selected_line(target.start.line, target.end.line, target.end.character)
    old, lines = LineIndex(snapshot), LineIndex(current)  # each indexed once, for every step below
    shift = rebase_range(old, lines, target.start.line, last)
    code = extract_code(answer)
    if placement is not EditPlacement.REPLACE:  # after the selection (tests without a test file too)
        line = last + shift + 1
        if line >= len(lines):
            # After the last line: terminate that line first if it is not.
            last_text = lines[-1]
            if last_text.endswith("\n"):
                end = Pos(len(lines), 0)
                return TextChange(Span(end, end), code.rstrip("\n") + "\n")
            end = Pos(len(lines) - 1, len(last_text))
            return TextChange(Span(end, end), "\n" + code.rstrip("\n"))
        position = Pos(line, 0)
        return TextChange(Span(position, position), code.rstrip("\n") + "\n")
    if target.start == target.end:  # a bare cursor: whole lines, not text glued into the line
        return lines_at_cursor(lines, Pos(target.start.line + shift, target.start.character), code)
    selected = old.text_in(target)
    if selected.endswith("\n") and not code.endswith("\n"):
        code += "\n"
    elif not selected.endswith("\n") and code.endswith("\n"):
        code = code[:-1]
    return TextChange(Span.from_range(target).moved(shift), code)


_COMMENT = re.compile(r"^\s*(?:#|//|--|/\*|\*|;|%|<!--)")


def lines_at_cursor(current: str | LineIndex, cursor: Pos, code: str) -> TextChange:
    """Code for a bare cursor as whole lines, indented like the line it goes to:
    in place of a blank line; after a comment (the code it asks for) or when
    the cursor is in the line's text; before a line of code when the cursor is
    in its indentation. The line's own line breaks are kept and used."""
    lines = _indexed(current)
    current = lines.text
    if not current or cursor.line >= len(lines):  # past the end: a new last line
        end = Pos(len(lines), 0) if current.endswith(("\n", "\r")) or not current else Pos(
            len(lines) - 1, len(lines[-1]))
        return TextChange(Span(end, end), ("" if end.character == 0 else "\n") + _block(code, "", "\n"))
    text = lines[cursor.line]
    content = text.rstrip("\r\n")
    indent = content[: len(content) - len(content.lstrip())]
    newline = text[len(content):] or ("\r\n" if "\r\n" in current else "\n")
    if not content.strip():
        indent = content if cursor.character >= len(content) else content[: cursor.character]
        place = Span.of(cursor.line, 0, cursor.line, len(content))
        return TextChange(place, _block(code, indent, newline).removesuffix(newline))
    if _COMMENT.match(content) or cursor.character > len(indent):
        if text == content:  # the last line, without a line break
            end = Pos(cursor.line, len(content))
            return TextChange(Span(end, end), newline + _block(code, indent, newline).removesuffix(newline))
        after = Pos(cursor.line + 1, 0)
        return TextChange(Span(after, after), _block(code, indent, newline))
    before = Pos(cursor.line, 0)
    return TextChange(Span(before, before), _block(code, indent, newline))


def _block(code: str, indent: str, newline: str) -> str:
    """``code`` re-indented under ``indent``, each line ended by ``newline``."""
    body = textwrap.dedent(code.strip("\r\n")).splitlines()
    return "".join((indent + line if line.strip() else "") + newline for line in body)


# --------------------------------------------------------------------------- #
# Confinement: an edit goes where the user pointed, nowhere else.

_FENCE_INFO = re.compile(r"^```([^\n`]*)\n", re.MULTILINE)
_PATCH_MARKERS = re.compile(
    r"^(?:diff --git |--- a/|\+\+\+ b/|@@ -\d|\*\*\* (?:Begin Patch|Update File:|Add File:|Delete File:))", re.MULTILINE
)
_FILE_HEADER = re.compile(
    r"^\s*(?:#|//|--|/\*|<!--)\s*(?:file(?:name)?|path)?\s*:?\s*([\w./\\-]+\.[A-Za-z0-9]{1,5})\s*(?:\*/|-->)?\s*$",
    re.IGNORECASE,
)
_FILE_INFO = re.compile(r"(?:title|file|filename|path)\s*=\s*\"?([\w./\\-]+)\"?", re.IGNORECASE)
MIN_COPIED_LINE = 12  # characters; shorter lines (braces, returns) repeat innocently
MAX_COPIED_LINES = 2


class OutsideSelection(Exception):
    """The answer tries to change something other than the selection."""


def check_confined(
    answer: str, document: str, target: RangeLike, file_name: str, *, new_module: bool = False, line_offset: int = 0
) -> None:
    """Refuse answers that patch other files, carry several code blocks, name
    another file, or rewrite code outside the selection (a prompt injection in
    the code, or a model that ignored its contract). ``new_module`` answers
    (tests) may repeat the code they test. ``document`` may be the window of
    a long document that starts at its line ``line_offset`` (what the model saw)."""
    if _PATCH_MARKERS.search(answer):
        raise OutsideSelection("the answer is a patch, which may touch other code or files")
    blocks = _FENCE.findall(answer)
    if len(blocks) > 1:
        raise OutsideSelection(
            f"the answer holds {len(blocks)} code blocks; only one replacement for the selection is accepted"
        )
    opening = _FENCE_INFO.search(answer)
    info = opening.group(1) if opening else ""
    code = extract_code(answer)
    named = _FILE_INFO.search(info)
    first_line = next((line for line in code.splitlines() if line.strip()), "")
    header = _FILE_HEADER.match(first_line)
    for found in (named, header):
        if found and PurePosixPath(found.group(1).replace("\\", "/")).name != file_name:
            raise OutsideSelection(f"the answer is written for another file ({found.group(1)})")
    if new_module:
        return
    last = last_selected_line(target.start.line, target.end.line, target.end.character)
    lines = document.splitlines()
    inside = {line.strip() for line in lines[target.start.line : last + 1]}
    outside: dict[str, int] = {}
    for number, line in enumerate(lines):
        stripped = line.strip()
        if (
            (number < target.start.line or number > last)
            and len(stripped) >= MIN_COPIED_LINE
            and stripped not in inside
        ):
            outside.setdefault(stripped, number)
    answered = (line.strip() for line in code.splitlines())
    copied = sorted({line_offset + outside[s] + 1 for s in answered if s in outside})
    if len(copied) > MAX_COPIED_LINES:
        shown = ", ".join(map(str, copied[:5])) + ("…" if len(copied) > 5 else "")
        raise OutsideSelection(f"the answer rewrites code outside the selection (lines {shown})")


# --------------------------------------------------------------------------- #
# Where the tests for a file go

def test_file_for(relative: str, language: str, root_has_tests_dir: bool) -> str | None:
    """The conventional test file for ``relative`` (POSIX, below the root), or
    None where tests live in the same file (Rust) or no convention is known."""
    path = PurePosixPath(relative)
    stem, suffix = path.stem, path.suffix
    if stem.startswith("test_") or stem.endswith(("_test", ".test", ".spec", "Test")):
        return None  # already a test file: add to it in place
    if language == "python":
        return f"tests/test_{stem}.py" if root_has_tests_dir else str(path.with_name(f"test_{stem}.py"))
    if language in {"javascript", "javascriptreact", "typescript", "typescriptreact"}:
        return str(path.with_name(f"{stem}.test{suffix}"))
    if language == "go":
        return str(path.with_name(f"{stem}_test.go"))
    if language == "java":
        parts = list(path.parts)
        if "main" in parts and parts[parts.index("main") - 1 : parts.index("main")] == ["src"]:
            parts[parts.index("main")] = "test"
        return str(PurePosixPath(*parts).with_name(f"{stem}Test.java"))
    return None
