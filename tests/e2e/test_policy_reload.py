"""Policy edits take effect without a restart; a broken policy never takes over."""

from __future__ import annotations

import pytest
from lsprotocol import types


def notify_saved(session, path) -> None:
    session.client.text_document_did_save(types.DidSaveTextDocumentParams(types.TextDocumentIdentifier(path.as_uri())))


def notify_watched(session, path) -> None:
    session.client.workspace_did_change_watched_files(
        types.DidChangeWatchedFilesParams([types.FileEvent(path.as_uri(), types.FileChangeType.Changed)])
    )


async def review_alias(session, uri) -> str:
    return (await session.execute("assistant.route", session.task_argument("review", uri, 3, 6)))["alias"]


async def test_watchers_are_registered_when_the_client_allows(start_session):
    session = await start_session("vscode")
    await session.wait_for(lambda: session.registrations)
    (registration,) = session.registrations
    assert registration.method == types.WORKSPACE_DID_CHANGE_WATCHED_FILES
    patterns = [w["globPattern"] for w in registration.register_options["watchers"]]
    assert "**/.assistant-router.toml" in patterns


@pytest.mark.parametrize(
    ("client", "notify"),
    [("vscode", notify_saved), ("vscode", notify_watched), ("neovim", notify_saved)],
    ids=["vscode-didSave", "vscode-watchedFiles", "neovim-didSave"],
)
async def test_policy_edit_takes_effect_without_restart(start_session, client, notify):
    session = await start_session(client)
    uri = session.open("geometry.py")
    assert await review_alias(session, uri) == "opus"

    path = session.write_policy('[routes]\nreview = "codex"\n')
    notify(session, path)
    await session.wait_for(lambda: session.logs().count("loaded from") >= 2)

    assert await review_alias(session, uri) == "codex"
    actions = await session.code_actions(uri, 3, 6)
    assert "Review selection · codex (mock)" in [a.title for a in actions]


async def test_broken_policy_keeps_the_previous_one_and_says_where(start_session):
    session = await start_session("vscode")
    uri = session.open("geometry.py")
    path = session.write_policy('[routes]\nreview = "codex"\n')
    notify_saved(session, path)
    await session.wait_for(lambda: session.logs().count("loaded from") >= 2)

    path.write_text(
        '[routes]\nreview = "codex"\n\n[[rules]]\nwhen = { task = "refactor", pathz = ["legacy/**"] }\nuse = "codex"\n'
    )
    notify_saved(session, path)
    await session.wait_for(
        lambda: path.as_uri() in session.client.diagnostics and session.client.diagnostics[path.as_uri()]
    )

    (diagnostic,) = session.client.diagnostics[path.as_uri()]
    assert diagnostic.range.start.line == 4
    assert diagnostic.message == "unknown key 'pathz'; did you mean 'paths'?"
    assert diagnostic.severity == types.DiagnosticSeverity.Error
    await session.wait_for(lambda: session.messages(types.MessageType.Error))  # sent just after the diagnostics
    (message,) = session.messages(types.MessageType.Error)
    assert "1 error in" in message and "the previous policy keeps serving" in message
    assert await review_alias(session, uri) == "codex"  # still the last good policy

    path.write_text('[routes]\nreview = "opus"\n')
    notify_saved(session, path)
    await session.wait_for(lambda: not session.client.diagnostics[path.as_uri()])
    assert await review_alias(session, uri) == "opus"


async def test_broken_policy_at_start_serves_defaults_and_user_config(start_session, workspace):
    (workspace / ".assistant-router.toml").write_text("[routes\nreview = 'codex'\n")
    session = await start_session("neovim")
    uri = session.open("geometry.py")
    policy_uri = (workspace / ".assistant-router.toml").as_uri()

    await session.wait_for(lambda: session.client.diagnostics.get(policy_uri))
    (diagnostic,) = session.client.diagnostics[policy_uri]
    assert diagnostic.range.start.line == 0 and "invalid TOML" in diagnostic.message
    await session.wait_for(lambda: session.messages(types.MessageType.Error))  # sent just after the diagnostics
    (message,) = session.messages(types.MessageType.Error)
    assert "serving built-in defaults" in message
    result = await session.execute("assistant.run", session.task_argument("review", uri, 3, 6))
    assert result["status"] == "shown" and result["alias"] == "opus"


async def test_unsaved_policy_text_is_checked_as_you_type(start_session):
    session = await start_session("vscode")
    path = session.write_policy('[routes]\nreview = "codex"\n')
    notify_saved(session, path)
    uri = session.open(".assistant-router.toml", language="toml")

    session.change(uri, '[routes]\nreview = "cdex"\n')
    await session.wait_for(lambda: session.client.diagnostics.get(uri))
    (diagnostic,) = session.client.diagnostics[uri]
    assert diagnostic.range.start.line == 1
    assert diagnostic.message == "unknown model alias 'cdex'; did you mean 'codex'?"
    # Not saved: the active policy is unchanged.
    assert await review_alias(session, session.open("geometry.py")) == "codex"


async def test_user_config_edit_takes_effect_everywhere(start_session, user_config):
    session = await start_session("vscode")
    uri = session.open("geometry.py")
    assert await review_alias(session, uri) == "opus"

    user_config.write_text(user_config.read_text() + '\n[routes]\nreview = ["codex", "opus"]\n')
    notify_watched(session, user_config)
    await session.wait_for(lambda: session.logs().count("loaded from") >= 2)

    decision = await session.execute("assistant.route", session.task_argument("review", uri, 3, 6))
    assert decision["alias"] == "codex"
    assert decision["reason"].startswith(f"[routes] review at {user_config}:")


async def test_workspace_folders_each_keep_their_own_policy(start_session, tmp_path, sample):
    session = await start_session("vscode")
    other = tmp_path / "other"
    other.mkdir()
    (other / "main.py").write_text(sample)
    (other / ".assistant-router.toml").write_text('[routes]\nexplain = "codex"\n')

    session.client.workspace_did_change_workspace_folders(
        types.DidChangeWorkspaceFoldersParams(
            types.WorkspaceFoldersChangeEvent(added=[types.WorkspaceFolder(other.as_uri(), "other")], removed=[])
        )
    )
    await session.wait_for(lambda: f"routing policy for {other} loaded" in session.logs())
    here = await session.execute("assistant.route", session.task_argument("explain", session.open("geometry.py"), 0, 3))
    there = await session.execute(
        "assistant.route", session.task_argument("explain", other.joinpath("main.py").as_uri(), 0, 3)
    )

    assert here["alias"] == "opus"
    assert there["alias"] == "codex" and str(other / ".assistant-router.toml") in there["reason"]
