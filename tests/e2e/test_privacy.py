"""Nothing excluded or secret leaves the machine: asserted on what the provider received."""

from __future__ import annotations

import json

import pytest
from lsprotocol import types

SECRET = "sk-proj-" + "Q7w" * 15
CODE_WITH_SECRET = f'''import requests

API_KEY = "{SECRET}"


def fetch(url):
    # TODO: retry
    return requests.get(url, headers={{"Authorization": "Bearer " + API_KEY}})
'''


def sent(loopback) -> str:
    return "\n".join(json.dumps(r.body) for r in loopback.requests)


@pytest.mark.parametrize(
    ("client", "offered"),
    [("vscode", "disabled"), ("bare", "nothing")],
)
async def test_an_excluded_file_is_never_sent(start_session, loopback, workspace, client, offered):
    (workspace / ".assistant-router.toml").write_text('[privacy]\nexclude = ["legacy/**"]\n')
    session = await start_session(client, env=loopback.env)
    uri = session.open("legacy/old.py")

    actions = await session.code_actions(uri, 3, 6)
    result = await session.execute("assistant.run", session.task_argument("explain", uri, 3, 6))

    if offered == "disabled":
        assert actions and all(a.disabled is not None for a in actions)
        assert actions[0].disabled.reason.startswith("Not sent: this file is excluded by privacy.exclude in ")
    else:
        assert actions == []
    assert result["status"] == "refused" and result["message"].startswith("nothing was sent: legacy/old.py is excluded")
    assert loopback.requests == []


async def test_a_gitignored_file_is_never_sent(start_session, loopback, workspace):
    (workspace / ".gitignore").write_text("legacy/\n")
    session = await start_session("vscode", env=loopback.env)
    uri = session.open("legacy/old.py")

    result = await session.execute("assistant.run", session.task_argument("review", uri, 3, 6))

    assert result["status"] == "refused" and "ignored by git" in result["message"]
    assert loopback.requests == []


async def test_excluded_open_documents_do_not_contribute_context(start_session, loopback, workspace, sample):
    (workspace / ".assistant-router.toml").write_text('[privacy]\nexclude = ["legacy/**"]\n')
    (workspace / "legacy" / "shapes.py").write_text("def area_of_circle(r):\n    return 'PRIVATE IMPLEMENTATION'\n")
    (workspace / "public.py").write_text("def perimeter_of_circle(r):\n    return 'PUBLIC IMPLEMENTATION'\n")
    code = "def report(r):\n    return area_of_circle(r), perimeter_of_circle(r)\n"
    session = await start_session("vscode", env=loopback.env)
    session.open("legacy/shapes.py")
    session.open("public.py")
    uri = session.open("report.py", text=code)

    result = await session.execute("assistant.run", session.task_argument("explain", uri, 0, 2))

    assert result["status"] == "shown"
    assert "PUBLIC IMPLEMENTATION" in sent(loopback) and "PRIVATE IMPLEMENTATION" not in sent(loopback)
    titles = [c["title"] for c in result["context"]["context"]]
    assert "`perimeter_of_circle` from public.py (lines 1-2)" in titles
    assert not any("area_of_circle" in t for t in titles)


async def test_secrets_are_redacted_before_sending_and_restored_in_edits(start_session, loopback, workspace):
    (workspace / "client.py").write_text(CODE_WITH_SECRET)
    session = await start_session("vscode", env=loopback.env)
    uri = session.open("client.py")

    result = await session.execute("assistant.run", session.task_argument("refactor", uri, 0, 8))

    assert SECRET not in sent(loopback) and "REDACTED_SECRET_1" in sent(loopback)
    assert result["status"] == "applied"
    assert result["context"]["redactions"] == {"OpenAI key": 1}
    assert SECRET in result["edit"]["new_text"]  # the answer kept the placeholder; the edit gets the real value


async def test_preview_shows_exactly_what_would_be_sent_and_sends_nothing(start_session, loopback, workspace):
    (workspace / "client.py").write_text(CODE_WITH_SECRET)
    session = await start_session("vscode", env=loopback.env)
    uri = session.open("client.py")

    preview = await session.execute("assistant.preview", session.task_argument("review", uri, 2, 8))

    assert loopback.requests == []
    assert preview["sent"] is False and preview["status"] == "preview"
    assert (preview["alias"], preview["model"]) == ("opus", "claude-opus-4-6")
    assert "Task: review." in preview["prompt"] and "### imports" in preview["prompt"]
    assert 'API_KEY = "REDACTED_SECRET_1"' in preview["prompt"]
    assert SECRET not in preview["prompt"] and preview["redactions"] == {"OpenAI key": 1}
    assert preview["estimated_cost"]["note"] == "estimate" and preview["estimated_cost"]["input"] > 0
    (shown,) = session.client.shown_documents
    assert shown.uri == preview["document"]

    run = await session.execute("assistant.run", session.task_argument("review", uri, 2, 8))
    (request,) = loopback.requests
    assert request.prompt == preview["prompt"] and request.body["system"] == preview["system"]
    assert run["context"]["input_tokens"] == preview["input_tokens"]


async def test_preview_of_an_excluded_file_says_why(start_session, workspace):
    (workspace / ".assistant-router.toml").write_text('[privacy]\nexclude = ["*.py"]\n')
    session = await start_session("vscode")
    preview = await session.execute(
        "assistant.preview", session.task_argument("explain", session.open("geometry.py"), 0, 3)
    )
    assert preview["status"] == "refused" and "excluded by privacy.exclude" in preview["message"]
    assert not session.client.shown_documents


async def test_a_project_cannot_switch_protections_off(start_session, loopback, workspace):
    policy = workspace / ".assistant-router.toml"
    policy.write_text("[privacy]\nredact_secrets = false\n")
    (workspace / "client.py").write_text(CODE_WITH_SECRET)
    session = await start_session("vscode", env=loopback.env)
    uri = session.open("client.py")

    await session.execute("assistant.run", session.task_argument("explain", uri, 0, 8))

    assert SECRET not in sent(loopback)
    (warning,) = session.client.diagnostics[policy.as_uri()]
    assert warning.severity == types.DiagnosticSeverity.Warning and "only your user config" in warning.message


async def test_project_instructions_are_sent_with_every_task(start_session, loopback, workspace):
    (workspace / "AI.md").write_text("Always use British spelling.\n")
    (workspace / ".assistant-router.toml").write_text('instructions = "AI.md"\n')
    session = await start_session("vscode", env=loopback.env)
    uri = session.open("geometry.py")

    for task in ("explain", "review"):
        await session.execute("assistant.run", session.task_argument(task, uri, 3, 6))

    assert len(loopback.requests) == 2
    assert all("Project instructions:\nAlways use British spelling." in r.prompt for r in loopback.requests)


PEM_BODY = [f"MIIEpQIBAAKCAQEA{i:02d}q8Zt3LmX9vWc2RpN7yKdQ7wHs4Jx1Vb6Nf0Ty5Ug2Lk8Rc3Me9Pa7Dz{i:02d}" for i in range(10)]
KEY_MODULE = (
    'import os\n\nSIGNING_KEY = """-----BEGIN RSA PRIVATE KEY-----\n' + "\n".join(PEM_BODY)
    + '\n-----END RSA PRIVATE KEY-----\n"""\n\n\ndef sign(data):\n    return os.urandom(8)\n'
)


async def test_a_selection_holding_half_a_key_block_sends_none_of_it(start_session, loopback, workspace):
    (workspace / "keys.py").write_text(KEY_MODULE)
    session = await start_session("vscode", env=loopback.env)
    uri = session.open("keys.py")

    result = await session.execute("assistant.run", session.task_argument("explain", uri, 6, 10))

    assert result["status"] == "shown" and result["context"]["redactions"] == {"private key": 1}
    assert not any(line in sent(loopback) for line in PEM_BODY)
