"""textDocument/codeAction as VS Code and Neovim see it."""

from __future__ import annotations

import pytest
from lsprotocol import types

CLIENTS = ["vscode", "neovim"]


@pytest.mark.parametrize("client", CLIENTS)
async def test_one_action_per_task_titled_with_its_model(start_session, client):
    session = await start_session(client)
    uri = session.open("geometry.py")

    actions = await session.code_actions(uri, 3, 6)

    assert [a.title for a in actions] == [
        "Scaffold code for selection · codex (mock)",
        "Write tests for selection · codex (mock)",
        "Refactor selection · opus (mock)",
        "Debug selection · opus (mock)",
        "Review selection · opus (mock)",
        "Explain selection · opus (mock)",
    ]
    for action in actions:
        assert isinstance(action, types.CodeAction)
        assert action.kind.startswith("refactor.")
        assert action.command.command == "assistant.run"
        (argument,) = action.command.arguments
        assert argument["uri"] == uri
        assert argument["range"] == {"start": {"line": 3, "character": 0}, "end": {"line": 6, "character": 0}}
        assert action.command.title == action.title


@pytest.mark.parametrize("client", CLIENTS)
async def test_commands_and_kinds_are_advertised(start_session, client):
    session = await start_session(client)
    capabilities = session.initialize_result.capabilities

    assert set(capabilities.execute_command_provider.commands) == {
        "assistant.run", "assistant.route", "assistant.preview", "assistant.ask", "assistant.usage", "assistant.tasks",
        "assistant.applyUnchecked", "assistant.inlineCompletionAccepted"}
    assert set(capabilities.code_action_provider.code_action_kinds) == {
        "quickfix",
        "refactor.rewrite.assistant",
        "refactor.assistant",
    }
    assert session.initialize_result.server_info.name == "assistant-router"


async def test_the_task_table_reaches_the_client(start_session):
    """Clients read tasks, verbs and delivery kinds from the server instead of copying them."""
    session = await start_session("vscode")
    advertised = session.initialize_result.capabilities.experimental["assistantRouter"]
    listed = await session.execute("assistant.tasks", {})

    assert advertised["tasks"] == listed["tasks"]
    by_name = {row["name"]: row for row in listed["tasks"]}
    assert list(by_name) == ["scaffold", "test", "fix", "refactor", "debug", "review", "explain"]
    assert by_name["review"] == {
        "name": "review", "title": "Review", "verb": "Review", "delivery": "diagnostics", "placement": None,
        "result": "diagnostics on the document", "codeActionKind": "refactor.assistant.review",
        "needsDiagnostics": False, "emptySelection": "line",
    }
    assert by_name["fix"]["needsDiagnostics"] and by_name["fix"]["codeActionKind"] == "quickfix"
    assert by_name["scaffold"]["emptySelection"] == "cursor"


async def test_fix_only_with_diagnostics_and_as_quickfix(start_session):
    session = await start_session("vscode")
    uri = session.open("geometry.py")
    diagnostic = types.Diagnostic(
        range=types.Range(types.Position(5, 11), types.Position(5, 18)),
        message="'math' may be undefined",
        severity=types.DiagnosticSeverity.Error,
        source="pyflakes",
    )

    without = await session.code_actions(uri, 5, 6)
    with_diagnostics = await session.code_actions(uri, 5, 6, diagnostics=[diagnostic])

    assert not any(a.kind == "quickfix" for a in without)
    (fix,) = [a for a in with_diagnostics if a.kind == "quickfix"]
    assert fix.title == "Fix selection · codex (mock)"
    assert fix.diagnostics[0].message == "'math' may be undefined"
    assert fix.command.arguments[0]["diagnostics"] == [
        {"message": "'math' may be undefined", "line": 5, "source": "pyflakes"}
    ]
    # The problems in range are context for the other tasks too.
    review = next(a for a in with_diagnostics if a.title.startswith("Review"))
    assert review.command.arguments[0]["diagnostics"] == fix.command.arguments[0]["diagnostics"]


@pytest.mark.parametrize(
    ("only", "expected"),
    [
        (["quickfix"], ["Fix"]),
        (["refactor.rewrite"], ["Scaffold", "Write", "Refactor"]),
        (["refactor"], ["Scaffold", "Write", "Refactor", "Debug", "Review", "Explain"]),
        (["refactor.assistant.review"], ["Review"]),
        (["source"], []),
    ],
)
async def test_context_only_is_honoured(start_session, only, expected):
    session = await start_session("vscode")
    uri = session.open("geometry.py")
    diagnostic = types.Diagnostic(types.Range(types.Position(4, 0), types.Position(4, 5)), "boom")

    actions = await session.code_actions(uri, 3, 6, only=only, diagnostics=[diagnostic])

    assert [a.title.split()[0] for a in actions] == expected


async def test_cursor_without_selection_targets_the_line(start_session):
    session = await start_session("vscode")
    uri = session.open("geometry.py")
    result = await session.client.text_document_code_action_async(
        types.CodeActionParams(
            types.TextDocumentIdentifier(uri),
            types.Range(types.Position(5, 4), types.Position(5, 4)),
            types.CodeActionContext(diagnostics=[]),
        )
    )
    titles = {a.title.split(" · ")[0]: a for a in result}
    assert "Explain line 6" in titles
    explain = titles["Explain line 6"].command.arguments[0]
    assert explain["range"]["end"] == {"line": 5, "character": len("    return math.pi * radius ** 2")}
    scaffold = titles["Scaffold code for line 6"].command.arguments[0]
    assert scaffold["range"]["start"] == scaffold["range"]["end"] == {"line": 5, "character": 4}


async def test_project_policy_changes_the_titles(start_session):
    session = await start_session("vscode")
    session.write_policy(
        '[routes]\nreview = "codex"\n\n[[rules]]\nwhen = { task = "refactor", paths = ["legacy/**"] }\nuse = "codex"\n'
    )
    session.client.workspace_did_change_watched_files(
        types.DidChangeWatchedFilesParams(
            [types.FileEvent(session.uri(".assistant-router.toml"), types.FileChangeType.Created)]
        )
    )
    legacy = session.open("legacy/old.py")
    other = session.open("geometry.py")

    await session.wait_for(lambda: "loaded from" in session.logs() and session.logs().count("loaded from") >= 2)
    legacy_titles = [a.title for a in await session.code_actions(legacy, 3, 6)]
    other_titles = [a.title for a in await session.code_actions(other, 3, 6)]

    assert "Refactor selection · codex (mock)" in legacy_titles
    assert "Refactor selection · opus (mock)" in other_titles
    assert "Review selection · codex (mock)" in other_titles


async def test_positions_use_the_clients_encoding(start_session):
    """VS Code counts UTF-16 code units: an emoji is two of them."""
    session = await start_session("vscode")
    uri = session.open("emoji.py", text="smile = '😀'\n")
    result = await session.client.text_document_code_action_async(
        types.CodeActionParams(
            types.TextDocumentIdentifier(uri),
            types.Range(types.Position(0, 0), types.Position(0, 0)),
            types.CodeActionContext(diagnostics=[]),
        )
    )
    explain = next(a for a in result if a.title.startswith("Explain line 1"))
    assert explain.command.arguments[0]["range"]["end"] == {"line": 0, "character": 12}  # 11 code points

    run = await session.execute("assistant.run", explain.command.arguments[0])
    assert run["status"] == "shown"
    text = open(session.client.shown_documents[0].uri.removeprefix("file://")).read()
    assert "smile = '😀'" in text
