"""Pure delivery logic: code extraction, rebasing edits, review findings."""

import re

import pytest
from lsprotocol import types

from assistant_router.delivery.text_edits import (
    EditConflict,
    build_text_edit,
    extract_code,
    rebase_range,
)
from assistant_router.routing.tasks import EditPlacement

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


# ---------------------------------------------------------------------------- confinement

from assistant_router.delivery.text_edits import OutsideSelection, check_confined  # noqa: E402
from assistant_router.delivery.text_edits import test_file_for as conventional_test_file  # noqa: E402

DOCUMENT = """import os


def load(path):
    with open(path) as handle:
        return handle.read()


def save(path, text):
    with open(path, "w") as handle:
        handle.write(text)
"""
SAVE = rng(8, 0, 11, 0)


@pytest.mark.parametrize(
    "answer",
    [
        "```python\ndef save(path, text):\n    with open(path, 'w', encoding='utf-8') as handle:\n"
        "        handle.write(text)\n```",
        "```python\n# save.py is fine as it is\ndef save(path, text):\n    pass\n```",
        "def save(path, text):\n    pass\n",  # no fence at all
    ],
)
def test_answers_confined_to_the_selection_pass(answer):
    check_confined(answer, DOCUMENT, SAVE, "store.py")


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("```diff\n--- a/auth.py\n+++ b/auth.py\n@@ -1 +1 @@\n-return False\n+return True\n```", "is a patch"),
        ("*** Begin Patch\n*** Update File: auth.py\n", "is a patch"),
        ("```python\ndef save(p, t): pass\n```\nAnd also:\n```python\ndef login(): return True\n```", "2 code blocks"),
        ("```python title=auth.py\ndef login():\n    return True\n```", "another file (auth.py)"),
        ("```python\n# auth.py\ndef login():\n    return True\n```", "another file (auth.py)"),
        ("```python\n// file: src/auth.ts\nexport const ok = true\n```", "another file (src/auth.ts)"),
        ("```python\ndef load(path):\n    with open(path) as handle:\n        return handle.read()\n\n"
         "def save(path, text):\n    pass\n```", "rewrites code outside the selection (lines 4, 5, 6)"),
    ],
)
def test_answers_reaching_outside_are_refused(answer, reason):
    with pytest.raises(OutsideSelection, match=re.escape(reason)):
        check_confined(answer, DOCUMENT, SAVE, "store.py")


def test_a_test_module_may_name_its_own_file_and_repeat_the_code():
    answer = (
        "```python\n# test_store.py\nfrom store import load\n\n\n"
        "def test_load(tmp_path):\n    with open(path) as handle:\n        pass\n```"
    )
    check_confined(answer, DOCUMENT, SAVE, "test_store.py", new_module=True)


@pytest.mark.parametrize(
    ("path", "language", "tests_dir", "expected"),
    [
        ("geometry.py", "python", False, "test_geometry.py"),
        ("pkg/geometry.py", "python", True, "tests/test_geometry.py"),
        ("pkg/test_geometry.py", "python", True, None),  # already a test file
        ("src/cart.ts", "typescript", False, "src/cart.test.ts"),
        ("web/App.jsx", "javascriptreact", False, "web/App.test.jsx"),
        ("cmd/server.go", "go", False, "cmd/server_test.go"),
        ("src/main/java/com/x/Accounts.java", "java", False, "src/test/java/com/x/AccountsTest.java"),
        ("src/stack.rs", "rust", False, None),  # Rust tests live in the same file
        ("notes.rb", "ruby", False, None),
    ],
)
def test_test_file_conventions(path, language, tests_dir, expected):
    assert conventional_test_file(path, language, tests_dir) == expected


STUB = "def stub():\n    raise NotImplementedError\n"
NESTED = "class A:\n    def stub():\n        raise NotImplementedError\n    y = 2\n"  # the stub inside class A


@pytest.mark.parametrize(
    ("text", "cursor", "after"),
    [
        # At column 0 of a comment: the code it asks for, on the lines after it.
        ("# scaffold: a stub\nx = 1\n", (0, 0), "# scaffold: a stub\n" + STUB + "x = 1\n"),
        # On a blank, indented line: in its place, with that indentation.
        ("class A:\n    \n    y = 2\n", (1, 4), NESTED),
        # In a line's indentation: before it, indented like it.
        ("class A:\n    y = 2\n", (1, 2), NESTED),
        # After the text of the last line, which has no line break: a line break first.
        ("x = 1", (0, 5), "x = 1\n" + STUB.rstrip("\n")),
        # The document's own line breaks.
        ("x = 1\r\ny = 2\r\n", (1, 0), "x = 1\r\n" + STUB.replace("\n", "\r\n") + "y = 2\r\n"),
        ("", (0, 0), STUB),
        ("a\n", (5, 0), "a\n" + STUB),
    ],
)
def test_code_for_a_bare_cursor_is_whole_lines(text, cursor, after):
    from assistant_router.delivery.text_edits import lines_at_cursor
    from assistant_router.engine.text import LineIndex, Pos

    change = lines_at_cursor(text, Pos(*cursor), "    " + STUB.replace("\n", "\n    ").rstrip(" "))  # indented answer
    lines = LineIndex(text)
    start = lines.offset(change.range.start.line, change.range.start.character)
    end = lines.offset(change.range.end.line, change.range.end.character)
    assert text[:start] + change.new_text + text[end:] == after
