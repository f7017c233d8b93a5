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
import json
import os
import subprocess
import time
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


def _binary(name: str) -> Path:
    binary = NEOVIMS[name]
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        message = f"{binary} not found ({name})"
        if os.environ.get("ASSISTANT_ROUTER_REQUIRE_EDITORS"):
            pytest.fail(message + "; ASSISTANT_ROUTER_REQUIRE_EDITORS is set")
        pytest.skip(message)
    version = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30).stdout
    print(f"{binary}: {version.splitlines()[0] if version else 'unknown version'}")
    return binary


@pytest.fixture
def nvim_current() -> Path:
    return _binary("nvim-current")


@pytest.fixture
def nvim_old() -> Path:
    return _binary("nvim-0.7-debian")


def play(nvim: Path, tmp_path: Path, scenario: str, *, line: int = 2, second: bool = False) -> dict:
    """One driver scenario on ``add.py`` (``SOURCE``; with ``second``, then on
    ``sub.py``, the same text), offline; returns the JSON it wrote."""
    project = tmp_path / "project"
    (project / ".git").mkdir(parents=True)
    source = project / "add.py"
    source.write_text(SOURCE)
    (project / "sub.py").write_text(SOURCE)
    config = tmp_path / "user" / "config.toml"
    config.parent.mkdir()
    config.write_text("offline = true\n")
    result_file = tmp_path / "result.json"
    env = {key: value for key, value in os.environ.items() if key not in {"OPENAI_API_KEY", "ANTHROPIC_API_KEY"}}
    env.update(
        {
            "ASSISTANT_ROUTER_CONFIG": str(config),
            "PATH": f"{_suite.VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
            "AR_SCENARIO": scenario,
            "AR_FILE": str(source),
            "AR_RESULT": str(result_file),
            "AR_LINE": str(line),
            **({"AR_SECOND": str(project / "sub.py")} if second else {}),
            "AR_TIMEOUT_MS": "30000",
        }
    )
    for name in ("XDG_CACHE_HOME", "XDG_STATE_HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME"):
        env[name] = str(tmp_path / name.lower())
    command = [
        str(nvim), "--headless", "-u", "NONE", "-i", "NONE", "-n",
        "--cmd", "set rtp+=" + str(_suite.PLUGIN).replace(" ", "\\ "),
        "-c", "luafile " + str(_suite.DRIVER).replace(" ", "\\ "),
    ]  # fmt: skip
    started = time.monotonic()
    try:
        process = subprocess.run(
            command, cwd=project, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
            timeout=RUN_TIMEOUT_S,
        )  # fmt: skip
    except subprocess.TimeoutExpired as exc:
        pytest.fail(
            f"{scenario}: nvim did not finish in {RUN_TIMEOUT_S} s\n{_suite._logs(tmp_path, exc.stdout, exc.stderr)}"
        )
    print(f"{scenario}: {time.monotonic() - started:.2f} s")
    result = json.loads(result_file.read_text()) if result_file.exists() else {"error": "no result written"}
    assert process.returncode == 0 and "error" not in result, (
        f"{scenario} failed (exit {process.returncode}): {result.get('error')}\n"
        f"{json.dumps(result, indent=1, ensure_ascii=False)[:4000]}\n"
        f"{_suite._logs(tmp_path, process.stdout, process.stderr)}"
    )
    return result


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
