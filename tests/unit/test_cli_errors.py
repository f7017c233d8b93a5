"""Every command with the wrong input a new user gives it: one line on
stderr saying what to do, no traceback, and the exit code the README gives
(0 ok, 1 failed, 2 usage, 3 refused). A closed pipe ends the output quietly."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

EXE = str(Path(sys.executable).parent / "assistant-router")


@pytest.fixture
def tree(tmp_path: Path, user_config: Path) -> dict:
    root = tmp_path / "project"
    (root / ".git").mkdir(parents=True)
    (root / "ok.py").write_text("def f():\n    return 1\n")
    (root / "latin.py").write_bytes(b"caf\xe9 = 1\n")
    (root / "typo").mkdir()
    (root / "typo" / ".assistant-router.toml").write_text('[routes]\nreviw = "codex"\n')
    (root / "latin-policy").mkdir()
    (root / "latin-policy" / ".assistant-router.toml").write_bytes(b'[routes]\nreview = "c\xffdex"\n')
    env = {**os.environ, "ASSISTANT_ROUTER_CONFIG": str(user_config), "XDG_DATA_HOME": str(tmp_path / "data")}
    return {"root": root, "env": env}


def run(tree: dict, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([EXE, *args], cwd=tree["root"], env=tree["env"], capture_output=True, text=True, timeout=60)


def busy_port() -> tuple[socket.socket, int]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    return listener, listener.getsockname()[1]


@pytest.mark.parametrize(
    ("args", "code", "said"),
    [
        (["run", "review", "latin.py"], 2, "cannot read"),
        (["run", "review", "missing.py"], 2, "No such file or directory"),
        (["run", "review", "ok.py:99999"], 3, "line 99999 is past the end of ok.py"),
        (["run", "review", "ok.py:50-10"], 2, "bad line range '50-10'"),
        (["run", "review", "ok.py:0"], 2, "bad line range '0'"),
        (["run", "review", "ok.py:abc"], 2, "bad line range 'abc'"),
        (["run", "reviw", "ok.py"], 2, "unknown task 'reviw'"),
        (["route", "--task", "review", "--file", "ok.py:9-3"], 2, "bad line range '9-3'"),
        (["check", "/nonexistent"], 1, "/nonexistent does not exist"),
        (["usage", "--html", "/missing/dir/x.html"], 2, "cannot write /missing/dir/x.html"),
        (["serve", "--tcp", "nonsense"], 2, "'nonsense' is not HOST:PORT"),
        (["serve", "--tcp", "127.0.0.1:99999"], 2, "port from 0 to 65535"),
        (["usage", "--days", "x"], 2, "invalid int value"),
        (["serve", "--log-file", "/missing/dir/x.log"], 2, "cannot write the log file /missing/dir/x.log"),
        (["nonsense"], 2, "invalid choice"),
    ],
)
def test_wrong_input_is_one_line_with_the_documented_code(tree, args, code, said):
    result = run(tree, *args)
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and said in lines[0], result.stderr


def test_a_port_in_use_is_one_line(tree):
    listener, port = busy_port()
    with listener:
        result = run(tree, "serve", "--tcp", f"127.0.0.1:{port}")
    assert result.returncode == 1 and result.stderr.strip().splitlines() == [
        f"assistant-router: cannot listen on 127.0.0.1:{port}: Address already in use"]


@pytest.mark.parametrize(
    ("folder", "said"),
    [("typo", "did you mean 'review'?"), ("latin-policy", "is not valid UTF-8: byte 0xFF at line 2")],
)
def test_check_reports_policy_problems_with_their_file_and_line(tree, folder, said):
    for target in (folder, f"{folder}/.assistant-router.toml"):  # the folder, or the file itself
        result = run(tree, "check", target)
        assert result.returncode == 1 and "Traceback" not in result.stderr
        (problem,) = [line for line in result.stdout.splitlines() if ": error" in line]
        assert problem.startswith(str(tree["root"] / folder / ".assistant-router.toml") + ":2:") and said in problem


def test_check_lists_problems_in_line_order(tree):
    (tree["root"] / "typo" / ".assistant-router.toml").write_text(
        '[routes]\nreviw = "codex"\n\n[budget]\nbogus = 1\n\n[[rules]]\nwhen = { task = "tset" }\nuse = "codex"\n')
    result = run(tree, "check", "typo")
    lines = [int(line.split(":")[1]) for line in result.stdout.splitlines() if ": error" in line]
    assert lines == sorted(lines) and len(lines) == 3


def test_json_prints_an_object_for_a_refusal(tree):
    result = run(tree, "run", "review", "ok.py:99999", "--json")
    assert result.returncode == 3 and json.loads(result.stdout)["status"] == "refused"


@pytest.mark.parametrize("args", [["usage"], ["usage", "--json"], ["demo", "--delay-ms", "0"]])
def test_a_closed_pipe_ends_the_output_quietly(tree, args):
    process = subprocess.Popen([EXE, *args], cwd=tree["root"], env=tree["env"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stderr is not None
    process.stdout.readline()
    process.stdout.close()  # as `| head -1` does
    try:
        code = process.wait(timeout=60)
    finally:
        process.kill()
    assert code == 0 and "Traceback" not in process.stderr.read()


def test_ask_runs_the_task_a_request_means(tree):
    result = run(tree, "ask", "write unit tests for this", "ok.py:1-2", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith("ask → test (chosen by the classifier")
    assert "# Preview: test → codex" in result.stdout and "write unit tests for this" in result.stdout


def test_ask_when_unsure_without_a_terminal_refuses_unless_told_the_task(tree):
    fixed = [sys.executable, str(Path(__file__).parents[1] / "e2e" / "fixed_classifier.py")]  # "unsure:" is unsure

    def ask(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*fixed, "ask", "unsure: hmm", "ok.py", "--dry-run", *args], cwd=tree["root"],
                              env=tree["env"], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)

    unsure = ask()  # stdin is not a terminal: nobody to ask
    assert unsure.returncode == 3 and unsure.stdout == ""
    (line,) = unsure.stderr.strip().splitlines()
    assert line.startswith('assistant-router: refused: not sure what "unsure: hmm" asks for (likely: Debug · opus '
                           "(mock), Explain · opus (mock), Review · opus (mock))")
    assert "Add --task TASK" in line
    assert ask("--yes").returncode == 3  # --yes never asks either
    told = ask("--yes", "--task", "explain")
    assert told.returncode == 0 and "# Preview: explain → opus" in told.stdout
    misspelt = ask("--task", "explian")
    assert misspelt.returncode == 2 and "unknown task 'explian'" in misspelt.stderr