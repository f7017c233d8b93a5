"""The terminal and the editor cannot drift: for the same file, selection,
task and policy, ``assistant-router run`` and ``assistant.run`` send the
provider byte-identical requests and apply the same budget."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import terminal_run

# A file with a secret and a policy with an instructions file: redaction and
# project instructions must reach the provider the same way from both.
SOURCE = '''\
import os

API_KEY = "sk-live-0123456789abcdefABCDEF0123456789"


def connect(host):
    # TODO: retry on failure
    return os.environ.get(host, API_KEY)
'''
POLICY = 'instructions = "AGENTS.md"\n\n[models.opus]\ntemperature = 0.2\nmax_output_tokens = 3000\n'


def sent(request) -> str:
    """What the provider received, as bytes to compare (the body, and the headers
    that carry meaning; transport headers such as user agents may differ)."""
    return json.dumps(request.body, sort_keys=True)


@pytest.fixture
def project(workspace: Path) -> Path:
    (workspace / ".git").mkdir()
    (workspace / "client.py").write_text(SOURCE)
    (workspace / "AGENTS.md").write_text("Prefer small functions. Never print secrets.\n")
    (workspace / ".assistant-router.toml").write_text(POLICY)
    return workspace


@pytest.mark.parametrize(
    ("task", "lines", "start", "end", "api"),
    [
        ("review", "3-8", 2, 8, "anthropic"),  # review → opus (Messages API)
        ("refactor", "6-8", 5, 8, "anthropic"),
        ("scaffold", "7", 6, 7, "responses"),  # scaffold → codex (Responses API)
        ("explain", "1-8", 0, 8, "anthropic"),
    ],
)
async def test_terminal_and_editor_send_the_same_bytes(start_session, loopback, project, user_config,
                                                       task, lines, start, end, api):
    session = await start_session("vscode", env=loopback.env)
    uri = session.open("client.py")
    result = await session.execute("assistant.run", session.task_argument(task, uri, start, end))
    assert result["status"] in ("applied", "shown"), result
    (from_editor,) = loopback.requests
    loopback.requests.clear()

    env = {**loopback.env, "ASSISTANT_ROUTER_CONFIG": str(user_config), "XDG_DATA_HOME": str(project / ".data")}
    code, _, err = await terminal_run(task, f"client.py:{lines}", env=env, cwd=project)
    assert code == 0, err
    (from_terminal,) = loopback.requests

    assert from_editor.api == from_terminal.api == api
    assert sent(from_editor) == sent(from_terminal)
    body = from_editor.body
    assert "sk-live-0123456789abcdefABCDEF0123456789" not in json.dumps(body)  # redacted, the same way
    assert "Prefer small functions" in json.dumps(body)  # the project's instructions
    if api == "anthropic":
        assert body["max_tokens"] == 3000 and body["temperature"] == 0.2


async def test_the_same_budget_refuses_in_both(start_session, loopback, project, user_config):
    (project / ".assistant-router.toml").write_text(POLICY + "\n[budget]\ndaily_usd = 0.000001\n")
    session = await start_session("vscode", env=loopback.env)
    uri = session.open("client.py")
    refused = await session.execute("assistant.run", session.task_argument("review", uri, 2, 8))

    env = {**loopback.env, "ASSISTANT_ROUTER_CONFIG": str(user_config), "XDG_DATA_HOME": str(project / ".data")}
    code, out, err = await terminal_run("review", "client.py:3-8", "--json", env=env, cwd=project)

    assert refused["status"] == "refused" and code == 3
    assert json.loads(out)["message"] == refused["message"]
    assert refused["message"].startswith("not sent: budget today: $0.00 spent of $0.00")
    assert loopback.requests == []
