"""The command line: route, check, demo, and serve's clean stdout."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

EXE = shutil.which("assistant-router", path=str(Path(sys.executable).parent)) or "assistant-router"


def run(*args: str, cwd: Path | None = None, env: dict | None = None, input: bytes | None = None, timeout=60):
    isolated = {"XDG_DATA_HOME": str(Path(os.environ.get("TMPDIR", "/tmp")) / "assistant-router-test-data")}
    return subprocess.run(
        [EXE, *args], cwd=cwd, capture_output=True, timeout=timeout, input=input,
        env={**os.environ, **isolated, **(env or {})},
    )


@pytest.fixture
def project(workspace: Path, user_config: Path) -> dict:
    (workspace / ".git").mkdir()
    (workspace / ".assistant-router.toml").write_text(
        '[[rules]]\nname = "legacy"\nwhen = { task = "refactor", paths = ["legacy/**"] }\nuse = "codex"\n'
    )
    return {"root": workspace, "env": {"ASSISTANT_ROUTER_CONFIG": str(user_config)}}


def test_route_prints_the_decision_and_its_reason(project):
    result = run("route", "--task", "refactor", "--file", "legacy/old.py:2-8", cwd=project["root"], env=project["env"])
    out = result.stdout.decode()
    assert result.returncode == 0, result.stderr
    assert "model:    codex → mock" in out
    assert "file:     legacy/old.py (python, 7 lines)" in out
    assert (
        f'reason:   rule #1 "legacy" (task=refactor; paths=legacy/**) at {project["root"] / ".assistant-router.toml"}:1'
        in out
    )


def test_route_json_matches_the_server_command(project):
    result = run(
        "route", "--task", "review", "--file", str(project["root"] / "geometry.py"), "--json", env=project["env"]
    )
    decision = json.loads(result.stdout)
    assert decision["task"] == "review" and decision["alias"] == "opus"
    assert [m["alias"] for m in decision["chain"]] == ["opus", "codex"]
    assert decision["reason"] == "built-in default route: review → opus, codex"


def test_route_rejects_an_unknown_task(project):
    result = run("route", "--task", "summarise", "--file", "geometry.py", cwd=project["root"], env=project["env"])
    assert result.returncode == 2 and b"unknown task 'summarise'" in result.stderr


def test_check_ok_and_errors_with_line_numbers(project):
    ok = run("check", str(project["root"]), env=project["env"])
    assert ok.returncode == 0 and ok.stdout.decode().startswith("OK: ")

    policy = project["root"] / ".assistant-router.toml"
    policy.write_text('[routes]\nreview = "codx"\n\n[[rules]]\nwhen = { tsk = "review" }\nuse = "opus"\n')
    bad = run("check", str(project["root"]), env=project["env"])
    out = bad.stdout.decode()
    assert bad.returncode == 1
    assert f"{policy}:5: error [rules[1].when.tsk]: unknown key 'tsk'; did you mean 'task'?" in out
    assert "1 error; the server would keep its previous policy." in out


def test_help_lists_every_command():
    out = run("--help").stdout.decode()
    for command in ("serve", "route", "check", "demo"):
        assert command in out


def _frame(message: dict) -> bytes:
    body = json.dumps(message).encode()
    return f"Content-Length: {len(body)}\r\n\r\n".encode() + body


def _messages(stream: bytes) -> list[dict]:
    messages = []
    while stream:
        header, _, rest = stream.partition(b"\r\n\r\n")
        fields = dict(line.split(b": ", 1) for line in header.split(b"\r\n"))
        length = int(fields[b"Content-Length"])
        messages.append(json.loads(rest[:length]))
        stream = rest[length:]
    return messages


@pytest.mark.parametrize("log_file", [False, True])
def test_serve_writes_only_json_rpc_to_stdout(project, tmp_path, log_file):
    session = b"".join(
        _frame(m)
        for m in [
            {"jsonrpc": "2.0", "id": 1, "method": "initialize",
             "params": {"capabilities": {}, "rootUri": project["root"].as_uri()}},
            {"jsonrpc": "2.0", "method": "initialized", "params": {}},
            {"jsonrpc": "2.0", "id": 2, "method": "shutdown"},
            {"jsonrpc": "2.0", "method": "exit"},
        ]
    )
    log = tmp_path / "server.log"
    result = run(
        "serve", *(["--log-file", str(log)] if log_file else []), input=session,
        env={**project["env"], "XDG_CACHE_HOME": str(tmp_path), "ASSISTANT_ROUTER_LOG": "info"},
    )
    if log_file:  # the same records as stderr, in the file too
        assert "routing policy for" in log.read_text()

    messages = _messages(result.stdout)
    assert messages[0]["id"] == 1 and messages[0]["result"]["serverInfo"]["name"] == "assistant-router"
    assert any(m.get("id") == 2 for m in messages)
    assert b"routing policy for" in result.stderr  # logs go to stderr (info when asked; warning by default)


def test_serve_over_tcp(project, tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [EXE, "serve", "--tcp", f"127.0.0.1:{port}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, **project["env"]},
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                connection = socket.create_connection(("127.0.0.1", port), timeout=5)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        with connection:
            # A broken frame first: the same reader as on stdio resynchronises on the next header.
            connection.sendall(b'Content-Length: abc\r\n\r\n{"jsonrpc": "2.0", "id": 7, "method": "nothing"}')
            connection.sendall(
                _frame({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}}})
            )
            data = b""
            while b"serverInfo" not in data:
                chunk = connection.recv(65536)
                assert chunk, "connection closed"
                data += chunk
        assert b'"assistant.run"' in data
        assert b'"id": 7' in data and b"-32700" in data  # the request in the skipped bytes is answered
    finally:
        server.kill()
        server.wait(10)
    assert server.stdout.read() == b""


def test_demo_runs_offline_end_to_end():
    result = run("demo", "--delay-ms", "0", env={"NO_COLOR": "1"}, timeout=120)
    out = result.stdout.decode()
    assert result.returncode == 0, result.stderr.decode()
    assert "Review selection · opus (claude-opus-4-6)" in out
    assert "workspace/applyEdit: assistant-router: scaffold by codex" in out
    assert "textDocument/publishDiagnostics: 2 findings" in out
    assert "window/showDocument: file://" in out and "# Explanation: `inventory.py` lines 12-16" in out
    assert 'refactor → codex (gpt-5.3-codex): rule #1 "legacy refactors"' in out
    for task in ("scaffold", "review", "explain", "debug"):
        assert f"── {task}: lines" in out
    assert out.count("… ") >= 3  # streamed progress reports
    assert "assistant/status: review by opus · shown, $" in out  # priced, from the ledger
    assert "answers, " in out and "Traceback" not in result.stderr.decode()  # the cost section
    # The real adapters, against the loopback fakes.
    assert "model     codex → openai gpt-5.3-codex" in out and "model     opus → anthropic claude-opus-4-6" in out
    assert "Answered by claude-opus-4-6 (loopback anthropic)." in out
    assert "debug was answered by codex (gpt-5.3-codex) because opus (claude-opus-4-6) failed: overloaded (529)" in out


def test_demo_live_needs_keys():
    env = {k: "" for k in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY")}
    result = run("demo", "--live", env=env)
    assert result.returncode == 2
    assert b"needs OPENAI_API_KEY and ANTHROPIC_API_KEY" in result.stderr
