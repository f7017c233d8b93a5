"""Trying it without keys: offline mode answers every alias with the offline
mock provider, says so wherever a model is named, and records $0."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from assistant_router.engine.usage.ledger import open_ledger

# A user config a new user may have: the real providers, and no key in the environment.
REAL_PROVIDERS = '[models.opus]\nretries = 0\n'


@pytest.mark.parametrize("how", ["user config", "serve --offline"])
async def test_offline_mode_needs_no_keys_and_costs_nothing(start_session, user_config, tmp_path, how):
    user_config.write_text(("offline = true\n" if how == "user config" else "") + REAL_PROVIDERS)
    env = {"OPENAI_API_KEY": "", "ANTHROPIC_API_KEY": ""}
    if how == "serve --offline":
        env["ASSISTANT_ROUTER_OFFLINE"] = "1"  # what the flag sets (tests/unit/test_cli_errors.py runs the flag)
    session = await start_session("vscode", env=env)
    uri = session.open("geometry.py")
    titles = [a.title for a in await session.code_actions(uri, 3, 6)]
    assert "Review selection · opus (offline)" in titles and "Scaffold code for selection · codex (offline)" in titles

    result = await session.execute("assistant.run", session.task_argument("explain", uri, 3, 6))

    assert result["status"] == "shown" and (result["provider"], result["model"]) == ("mock", "offline")
    assert result["cost_usd"] == 0
    (row,) = open_ledger(f"sqlite://{tmp_path / 'data' / 'assistant-router' / 'ledger.sqlite3'}").rows()
    assert (row.provider, row.model, row.cost_usd) == ("mock", "offline", 0.0)


def test_a_project_cannot_take_the_users_models_offline(tmp_path, user_config, monkeypatch):
    from assistant_router.routing.config import load_policy

    user_config.write_text(REAL_PROVIDERS)
    monkeypatch.setenv("ASSISTANT_ROUTER_CONFIG", str(user_config))
    monkeypatch.delenv("ASSISTANT_ROUTER_OFFLINE", raising=False)
    (tmp_path / ".assistant-router.toml").write_text("offline = true\n")
    load = load_policy(tmp_path)
    assert load.policy is not None and load.policy.models["opus"].provider == "anthropic"
    assert any("'offline' is ignored here" in issue.message for issue in load.issues)


def test_the_mock_provider_is_free_unless_the_user_prices_it(tmp_path, user_config, monkeypatch):
    """An alias the user points at the mock keeps its name, not its real model's price."""
    from assistant_router.routing.config import load_policy

    monkeypatch.setenv("ASSISTANT_ROUTER_CONFIG", str(user_config))
    user_config.write_text('[models.opus]\nprovider = "mock"\n\n[models.codex]\nprovider = "mock"\n'
                           'prices = { input = 1.0, output = 2.0 }\n')
    policy = load_policy(tmp_path).policy
    assert policy is not None
    assert (policy.models["opus"].prices.input, policy.models["opus"].prices.output) == (0.0, 0.0)
    assert (policy.models["codex"].prices.input, policy.models["codex"].prices.output) == (1.0, 2.0)


def test_serve_offline_from_the_command_line(tmp_path, user_config):
    """The flag itself: a scripted session over stdio shows offline titles."""
    user_config.write_text(REAL_PROVIDERS)
    (tmp_path / "a.py").write_text("x = 1\n")

    def frame(message: dict) -> bytes:
        body = json.dumps(message).encode()
        return b"Content-Length: %d\r\n\r\n" % len(body) + body

    uri = (tmp_path / "a.py").as_uri()
    session = b"".join(frame(m) for m in [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize",
         "params": {"capabilities": {}, "rootUri": tmp_path.as_uri(),
                    "workspaceFolders": [{"uri": tmp_path.as_uri(), "name": "p"}]}},
        {"jsonrpc": "2.0", "method": "initialized", "params": {}},
        {"jsonrpc": "2.0", "method": "textDocument/didOpen",
         "params": {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": "x = 1\n"}}},
        {"jsonrpc": "2.0", "id": 2, "method": "textDocument/codeAction",
         "params": {"textDocument": {"uri": uri}, "range": {"start": {"line": 0, "character": 0},
                                                             "end": {"line": 1, "character": 0}},
                    "context": {"diagnostics": []}}},
        {"jsonrpc": "2.0", "id": 3, "method": "shutdown"},
        {"jsonrpc": "2.0", "method": "exit"},
    ])
    env = {**os.environ, "ASSISTANT_ROUTER_CONFIG": str(user_config), "XDG_DATA_HOME": str(tmp_path / "data"),
           "XDG_CACHE_HOME": str(tmp_path / "cache")}
    env.pop("ASSISTANT_ROUTER_OFFLINE", None)
    exe = str(Path(sys.executable).parent / "assistant-router")
    done = subprocess.run([exe, "serve", "--offline"], input=session, capture_output=True, timeout=60, env=env)
    assert "Review selection \u00b7 opus (offline)".encode() in done.stdout.decode("unicode_escape").encode()
