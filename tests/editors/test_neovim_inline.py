"""Inline completion in real Neovim (editors/neovim, ``setup({ inline_completion
= true })``): Neovim 0.12's own ``vim.lsp.inline_completion`` shows the
server's completion as ghost text, and accepting it inserts the text and runs
the acceptance command; on Debian's 0.7.2 the option is ignored with one note.

The server is the real ``assistant-router serve`` with ``offline = true``: the
mock provider answers the ``complete`` task deterministically. The scenarios
are in the shared driver ``editors/neovim/tests/driver.lua`` (``inline``,
``inline_ignored``); the binaries, their checks and the logs on failure come
from ``test_neovim.py``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("_neovim_suite", Path(__file__).with_name("test_neovim.py"))
assert _spec is not None and _spec.loader is not None
_suite = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_suite)

NEOVIMS = _suite.NEOVIMS

SOURCE = "def add(a, b):\n    \n"
COMPLETED = "mock_value = 1  # completed by mock codex-mini (offline)"
ACCEPTED = "assistant.inlineCompletionAccepted"
WARN = 3  # vim.log.levels.WARN
RUN_TIMEOUT_S = 90  # a loaded 2-core machine: the driver's own waits are 30 s each


@pytest.fixture
def nvim_current() -> Path:
    return _suite.neovim_binary("nvim-current")


@pytest.fixture
def nvim_old() -> Path:
    return _suite.neovim_binary("nvim-0.7-debian")


def play(nvim: Path, tmp_path: Path, scenario: str, *, line: int = 2, second: bool = False) -> dict:
    """One driver scenario on ``add.py`` (``SOURCE``; with ``second``, then on
    ``sub.py``, the same text), offline; returns the JSON it wrote."""
    project = tmp_path / "project"
    (project / ".git").mkdir(parents=True)
    source = project / "add.py"
    source.write_text(SOURCE)
    (project / "sub.py").write_text(SOURCE)
    scenario_env = {"AR_FILE": str(source), "AR_LINE": str(line), "AR_TIMEOUT_MS": "30000",
                    **({"AR_SECOND": str(project / "sub.py")} if second else {})}
    return _suite.run_driver(nvim, tmp_path, scenario, "offline = true\n", scenario_env, RUN_TIMEOUT_S)


def notes(result: dict) -> list[str]:
    return [n["message"] for n in result["notifications"] if "inline_completion" in n["message"]]


def assert_completed_on_the_empty_line(seen: dict) -> None:
    assert seen["mode"] == "i" and seen["cursor"] == [2, 4]  # insert mode, after the indent
    # One extmark at the cursor (row 1, column 4, 0-based), the server's text as ComplHint virtual text.
    (mark,) = seen["marks"]
    assert (mark["row"], mark["col"]) == (1, 4)
    assert mark["virt_text"] == [[COMPLETED, "ComplHint"]]
    assert not mark.get("virt_lines")
    assert seen["text_shown"] == SOURCE.rstrip("\n")  # shown, not yet inserted

    assert seen["accepted"] is True
    assert seen["text"] == f"def add(a, b):\n    {COMPLETED}"
    assert seen["marks_after"] == 0
    assert seen["cursor_after"] == [2, 4 + len(COMPLETED)]
    # Accepting ran the item's command through the server, which answered without an error.
    (command,) = seen["commands"]
    assert command["command"] == ACCEPTED
    (argument,) = command["arguments"]
    assert isinstance(argument["id"], str) and argument["id"]
    assert command["answered"] is True and command.get("error") is None


def test_ghost_text_appears_at_the_cursor_and_accepting_inserts_it(nvim_current, tmp_path):
    result = play(nvim_current, tmp_path, "inline")

    assert notes(result) == []
    assert_completed_on_the_empty_line(result["first"])


def test_a_file_opened_later_gets_completions_too(nvim_current, tmp_path):
    """The plugin turns completion on at each attach: the second file's buffer has it as well."""
    result = play(nvim_current, tmp_path, "inline", second=True)

    assert_completed_on_the_empty_line(result["first"])
    assert_completed_on_the_empty_line(result["second"])
    first, second = (result[key]["commands"][0]["arguments"][0]["id"] for key in ("first", "second"))
    assert first != second  # each shown item has its own id


def test_a_multiline_completion_at_the_end_of_a_line(nvim_current, tmp_path):
    seen = play(nvim_current, tmp_path, "inline", line=1)["first"]

    (mark,) = seen["marks"]
    assert (mark["row"], mark["col"]) == (0, len("def add(a, b):"))
    # "\n    return mock_value  # ...": an empty first line, the rest as a virtual line.
    assert mark["virt_text"] == [["", "ComplHint"]]
    (virtual_line,) = mark["virt_lines"]
    ((text, group),) = virtual_line
    assert text.startswith("    return mock_value  # completed by mock codex-mini") and group == "ComplHint"

    lines = seen["text"].split("\n")
    assert lines[:2] == ["def add(a, b):", text]
    assert [c["command"] for c in seen["commands"]] == [ACCEPTED]


def test_the_option_is_ignored_before_neovim_0_12(nvim_old, tmp_path):
    result = play(nvim_old, tmp_path, "inline_ignored")

    assert result["setup_returned"] is True
    (note,) = notes(result)
    assert "needs Neovim 0.12 or newer" in note and "ignored" in note
    assert [n["level"] for n in result["notifications"] if n["message"] == note] == [WARN]
    assert result["client"]["name"] == "assistant_router"
    assert result["actions"]  # the plugin works as before: code actions come back
