"""Pure delivery logic: code extraction, rebasing edits, review findings."""

import pytest
from lsprotocol import types

from assistant_router.routing.tasks import EditPlacement
from assistant_router.server.delivery import (
    EditConflict,
    build_text_edit,
    extract_code,
    rebase_range,
)

TEXT = "a\nb\nc\nd\ne\n"


def rng(start_line, start_char, end_line, end_char):
    return types.Range(types.Position(start_line, start_char), types.Position(end_line, end_char))


def apply(text: str, edit: types.TextEdit) -> str:
    lines = text.splitlines(keepends=True)

    def offset(p):
        return sum(len(x) for x in lines[: p.line]) + p.character

    return text[: offset(edit.range.start)] + edit.new_text + text[offset(edit.range.end) :]


@pytest.mark.parametrize(
    ("answer", "code"),
    [
        ("```python\nx = 1\n```\n", "x = 1\n"),
        ("Here you go:\n```\nx = 1\ny = 2\n```\nthanks", "x = 1\ny = 2\n"),
        ("x = 1\n", "x = 1\n"),
    ],
)
def test_extract_code(answer, code):
    assert extract_code(answer) == code


@pytest.mark.parametrize(
    ("current", "shift"),
    [
        (TEXT, 0),
        ("new\n" + TEXT, 1),
        (TEXT.replace("a\n", ""), -1),
        (TEXT + "f\n", 0),  # below the region
        (TEXT.replace("e\n", "E\n"), 0),
    ],
)
def test_rebase_shift(current, shift):
    assert rebase_range(TEXT, current, 1, 2) == shift


@pytest.mark.parametrize("current", [TEXT.replace("b\n", "B\n"), TEXT.replace("c\n", "new\nc\n"), "a\nb\nX\n"])
def test_rebase_conflict(current):
    with pytest.raises(EditConflict):
        rebase_range(TEXT, current, 1, 2)


def test_replace_selection_of_whole_lines():
    edit = build_text_edit(TEXT, TEXT, rng(1, 0, 3, 0), "```\nB\nC\n```", EditPlacement.REPLACE)
    assert apply(TEXT, edit) == "a\nB\nC\nd\ne\n"


def test_replace_part_of_a_line_keeps_the_rest():
    edit = build_text_edit("x = foo(1)\n", "x = foo(1)\n", rng(0, 4, 0, 10), "```\nbar(2)\n```", EditPlacement.REPLACE)
    assert apply("x = foo(1)\n", edit) == "x = bar(2)\n"


def test_rebased_edit_lands_on_the_moved_lines():
    current = "added\n" + TEXT
    edit = build_text_edit(TEXT, current, rng(1, 0, 3, 0), "B\nC\n", EditPlacement.REPLACE)
    assert apply(current, edit) == "added\na\nB\nC\nd\ne\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (TEXT, "a\nb\nc\nT\nd\ne\n"),
        ("a\nb\nc", "a\nb\nc\nT"),  # no final newline
        ("a\nb\nc\n", "a\nb\nc\nT\n"),
    ],
)
def test_insert_after_selection(text, expected):
    edit = build_text_edit(text, text, rng(1, 0, 3, 0), "```\nT\n```", EditPlacement.INSERT_AFTER)
    assert apply(text, edit) == expected
