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


# ---------------------------------------------------------------------------- files are checked when read

OUTSIDE_SECRET = "PRIVATE = 'from outside the workspace'\n"


async def test_a_file_outside_the_workspace_is_sent_only_when_open_in_the_editor(start_session, loopback, tmp_path):
    outside = tmp_path / "elsewhere" / "notes.py"
    outside.parent.mkdir()
    outside.write_text(OUTSIDE_SECRET)
    session = await start_session("vscode", env=loopback.env)

    unopened = await session.execute("assistant.run", session.task_argument("explain", outside.as_uri(), 0, 1))
    assert unopened["status"] == "refused"
    assert "outside the workspace folders and not open in the editor" in unopened["message"]
    preview = await session.execute("assistant.preview", session.task_argument("explain", outside.as_uri(), 0, 1))
    assert preview["status"] == "refused" and preview["sent"] is False
    assert loopback.requests == []

    session.client.text_document_did_open(types.DidOpenTextDocumentParams(
        types.TextDocumentItem(outside.as_uri(), "python", 1, OUTSIDE_SECRET)))
    opened = await session.execute("assistant.run", session.task_argument("explain", outside.as_uri(), 0, 1))
    assert opened["status"] == "shown"  # the user opened it: their choice
    assert len(loopback.requests) == 1


async def test_a_link_that_leads_out_of_the_workspace_is_not_followed(start_session, loopback, workspace, tmp_path):
    outside = tmp_path / "elsewhere" / "secret.py"
    outside.parent.mkdir()
    outside.write_text(OUTSIDE_SECRET)
    (workspace / "innocent.py").symlink_to(outside)
    (workspace / ".assistant-router.toml").write_text('[privacy]\nexclude = ["legacy/**"]\n')
    (workspace / "alias.py").symlink_to(workspace / "legacy" / "old.py")  # a way around the exclusion
    session = await start_session("vscode", env=loopback.env)

    out = await session.execute("assistant.run", session.task_argument("explain", session.uri("innocent.py"), 0, 1))
    around = await session.execute("assistant.run", session.task_argument("explain", session.uri("alias.py"), 0, 1))

    assert out["status"] == "refused" and "innocent.py leads outside the workspace folder" in out["message"]
    assert around["status"] == "refused"
    assert "alias.py is a link to legacy/old.py, which is excluded by privacy.exclude" in around["message"]
    assert loopback.requests == []


async def test_an_instructions_file_replaced_by_a_link_is_not_sent(start_session, loopback, workspace, tmp_path):
    (workspace / "AGENTS.md").write_text("Use short names.\n")
    (workspace / ".assistant-router.toml").write_text('instructions = "AGENTS.md"\n')
    outside = tmp_path / "elsewhere" / "credentials.txt"
    outside.parent.mkdir()
    outside.write_text("TOP SECRET FROM OUTSIDE\n")
    session = await start_session("vscode", env=loopback.env)
    uri = session.open("geometry.py")
    first = await session.execute("assistant.run", session.task_argument("review", uri, 3, 6))
    assert first["status"] == "shown" and "Use short names." in loopback.requests[0].prompt

    # After the policy loaded (a `git pull` can do this): the file becomes a link out of the project.
    (workspace / "AGENTS.md").unlink()
    (workspace / "AGENTS.md").symlink_to(outside)
    second = await session.execute("assistant.run", session.task_argument("review", uri, 3, 6))

    assert second["status"] == "shown"
    assert "TOP SECRET FROM OUTSIDE" not in loopback.requests[1].prompt
    await session.wait_for(lambda: "now leads outside the project; it was not sent" in session.logs())


async def test_a_project_cannot_re_include_what_the_user_excludes(start_session, loopback, workspace, user_config):
    """The attack: a cloned repository's policy negates the user's exclusion."""
    with user_config.open("a") as config:
        config.write('\n[privacy]\nexclude = ["legacy/**"]\n')
    policy = workspace / ".assistant-router.toml"
    policy.write_text('[privacy]\nexclude = ["!legacy/**"]\n')
    session = await start_session("vscode", env=loopback.env)
    uri = session.open("legacy/old.py")

    result = await session.execute("assistant.run", session.task_argument("explain", uri, 3, 6))

    assert result["status"] == "refused" and result["message"].startswith("nothing was sent: legacy/old.py is excluded")
    assert loopback.requests == []
    (warning,) = session.client.diagnostics[policy.as_uri()]
    assert warning.severity == types.DiagnosticSeverity.Warning and warning.range.start.line == 1
    assert "cannot undo an exclusion of your user config" in warning.message


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


LANGUAGE_IDS = {".py": "python", ".js": "javascript", ".ts": "typescript", ".go": "go", ".java": "java",
                ".yaml": "yaml", ".yml": "yaml", ".json": "json", ".xml": "xml", ".rb": "ruby", ".php": "php"}


async def test_the_secrets_development_set_never_reaches_the_provider(start_session, loopback, workspace):
    """The independent set (../shared/data/secrets-dev), at the wire: each file
    open in the editor, explained whole and by its middle third through the
    real adapters; what the provider received holds none of its secrets."""
    from support import leaked, secrets_dev_set

    manifest = secrets_dev_set(workspace / "dev")
    if manifest is None:
        pytest.skip("the development set's generator (or ssh-keygen, openssl, gpg) is not available")
    session = await start_session("vscode", env=loopback.env)
    sent_files: set[str] = set()
    for name in sorted({e["file"] for e in manifest}):
        path = workspace / "dev" / name
        text = path.read_text()
        uri = session.open(f"dev/{name}", LANGUAGE_IDS.get(path.suffix, "plaintext"), text=text)
        lines = len(text.splitlines())
        before = len(loopback.requests)
        for first, last in ((0, lines), (lines // 3, max(2 * lines // 3, lines // 3 + 1))):
            result = await session.execute("assistant.run", session.task_argument("explain", uri, first, last))
            assert result["status"] in ("shown", "refused"), (name, result)
        if len(loopback.requests) > before:
            sent_files.add(name)
    received = sent(loopback)
    secrets = [e for e in manifest if e["kind"] != "not_secret"]
    print(f"\nsecrets-dev at the wire: {len(sent_files)} of {len({e['file'] for e in manifest})} files sent, "
          f"{len(loopback.requests)} requests")
    assert [e["kind"] for e in secrets if leaked(e["secret"], received)] == []
    assert len(sent_files) >= len({e["file"] for e in secrets}) // 2  # most files were sent (not all excluded)
    look_alikes = [e for e in manifest if e["kind"] == "not_secret" and e["file"] in sent_files]
    kept = [e for e in look_alikes if e["secret"] in received or json.dumps(e["secret"])[1:-1] in received]
    assert len(kept) >= len(look_alikes) - 1, [e["file"] for e in look_alikes if e not in kept]
