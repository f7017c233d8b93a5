"""Big inputs at the wire: a long document, a selection over the limit, a code
action that comes with thousands of diagnostics. The server keeps answering,
refuses what is over a limit with a message, and sends nothing it should not.
(bench/big_documents.py measures the same with 5 and 50 MB documents.)"""

from __future__ import annotations

import asyncio
import json

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from support import long_module

from assistant_router.engine import limits


def sent(loopback) -> str:
    return "\n".join(json.dumps(r.body) for r in loopback.requests)


async def test_code_actions_answer_while_a_long_document_is_previewed(start_session, loopback, workspace):
    text = long_module(3_000_000)
    lines = text.count("\n")
    (workspace / "big.py").write_text(text)
    session = await start_session("vscode", env=loopback.env)
    uri = session.open("big.py", text=text)
    first = lines // 2 - (lines // 2) % 5
    # About 1.2 MB selected: assembled in a worker thread, which takes a while.
    argument = session.task_argument("review", uri, first, first + 25_000)
    preview = asyncio.create_task(session.execute("assistant.preview", argument))
    answered_meanwhile = []
    while not preview.done():
        actions = await session.code_actions(uri, first + 1, first + 3)
        assert any(a.title.startswith("Review selection") for a in actions)
        if not preview.done():
            answered_meanwhile.append(actions)
    result = await preview
    assert result["status"] == "preview" and loopback.requests == []
    assert f"lines {first + 1}-{first + 25_000}" in result["prompt"]  # the document's own line numbers
    assert answered_meanwhile, "no code action was answered while the preview was assembled"


async def test_a_selection_over_the_limit_is_refused_and_nothing_is_sent(start_session, loopback, workspace):
    line = "value = compute(alpha, beta)  # padding\n"
    text = line * (limits.MAX_SELECTION_CHARS // len(line) + 100)
    session = await start_session("vscode", env=loopback.env)
    uri = session.open("huge.py", text=text)
    argument = session.task_argument("explain", uri, 0, text.count("\n"))
    for command in ("assistant.preview", "assistant.run"):
        result = await session.execute(command, argument)
        assert result["status"] == "refused", command
        assert "at most 2,000,000 are sent at once" in result["message"]
    route = await session.execute("assistant.route", argument)
    assert "at most 2,000,000" in route["estimate"]["note"]
    assert loopback.requests == []
    # A part of the same document is fine.
    assert (await session.execute("assistant.run", session.task_argument("explain", uri, 10, 20)))["status"] == "shown"
    assert "value = compute(alpha, beta)" in sent(loopback)


async def test_thousands_of_diagnostics_are_cut_to_the_limit(start_session, workspace):
    session = await start_session("vscode")
    uri = session.open("geometry.py")
    diagnostic = types.Diagnostic(types.Range(types.Position(5, 0), types.Position(5, 4)),
                                  "undefined name " + "x" * (2 * limits.MAX_DIAGNOSTIC_CHARS), source="lint")
    actions = await session.code_actions(uri, 5, 6, diagnostics=[diagnostic] * 20_000)
    fix = next(a for a in actions if a.title.startswith("Fix"))
    forwarded = fix.command.arguments[0]["diagnostics"]
    assert len(forwarded) == limits.MAX_DIAGNOSTICS
    assert {len(d["message"]) for d in forwarded} == {limits.MAX_DIAGNOSTIC_CHARS}
    assert "came with 20000 diagnostics; the first 100 are used" in session.logs()
    # The argument the code action made is accepted as it is ...
    route = await session.execute("assistant.route", fix.command.arguments[0])
    assert route["task"] == "fix"
    # ... and one with more than the limit is refused, naming the field.
    too_many = {**fix.command.arguments[0], "diagnostics": forwarded * 2}
    with pytest.raises(JsonRpcException, match=r"diagnostics: at most 100 \(got 200\)") as raised:
        await session.execute("assistant.route", too_many)
    assert raised.value.code == types.ErrorCodes.InvalidParams


async def test_a_bare_cursor_in_a_long_document_targets_its_line(start_session, loopback, workspace):
    text = long_module(limits.WHOLE_DOCUMENT_CHARS * 2)
    session = await start_session("vscode", env=loopback.env)
    uri = session.open("long.py", text=text)
    line = text.count("\n") // 2 + 1  # "    total = value * N"
    result = await session.client.text_document_code_action_async(types.CodeActionParams(
        types.TextDocumentIdentifier(uri), types.Range(types.Position(line, 4), types.Position(line, 4)),
        types.CodeActionContext(diagnostics=[]),
    ))
    explain = next(a for a in result if a.title.startswith("Explain line"))
    argument = explain.command.arguments[0]
    assert argument["range"]["start"] == {"line": line, "character": 0}
    # The line's end: exact once the document is indexed, else past it (the LSP's "the line's end").
    assert argument["range"]["end"]["character"] in (len(text.splitlines()[line]), 2**31 - 1)
    answer = await session.execute("assistant.run", argument)
    assert answer["status"] == "shown"
    (request,) = loopback.requests
    assert text.splitlines()[line] in json.dumps(request.body)


async def test_an_edit_in_a_long_document_is_rebased_onto_what_was_typed_meanwhile(start_session):
    text = long_module(limits.WHOLE_DOCUMENT_CHARS * 4)
    session = await start_session("vscode")
    session.write_policy("[models.opus]\noptions = { delay_ms = 40, chunk_chars = 8 }\n")  # slow enough to type
    uri = session.open("long.py", text=text)
    line = text.count("\n") // 2 - (text.count("\n") // 2) % 5
    argument = session.task_argument("refactor", uri, line, line + 3)
    run = asyncio.ensure_future(session.execute("assistant.run", argument))
    await session.wait_for(lambda: any(len(r) >= 2 for r in session.client.progress_reports.values()))
    session.change(uri, "# typed meanwhile\n# and more\n" + text)
    result = await run
    assert result["status"] == "applied" and result["edit"]["rebased"] is True
    (params,) = session.applied_edits
    (change,) = params.edit.document_changes
    (edit,) = change.edits
    assert edit.range.start.line == line + 2 and change.text_document.version == 2


async def test_thousands_of_watched_file_events_keep_the_one_that_matters(start_session):
    session = await start_session("vscode")
    uri = session.open("geometry.py")
    assert "Review selection · opus (mock)" in [a.title for a in await session.code_actions(uri, 3, 6)]
    session.write_policy('[routes]\nreview = "codex"\n')
    noise = [types.FileEvent(session.uri(f"src/module_{i}.py"), types.FileChangeType.Changed) for i in range(20_000)]
    policy = types.FileEvent(session.uri(".assistant-router.toml"), types.FileChangeType.Changed)
    session.client.workspace_did_change_watched_files(types.DidChangeWatchedFilesParams([*noise, policy, *noise]))
    # Notifications are handled in order: the next code action sees the reloaded policy.
    assert "Review selection · codex (mock)" in [a.title for a in await session.code_actions(uri, 3, 6)]


async def test_thousands_of_workspace_folders_are_cut_to_the_limit(start_session, tmp_path):
    session = await start_session("vscode")
    folders = [types.WorkspaceFolder((tmp_path / f"folder{i}").as_uri(), f"folder{i}") for i in range(5_000)]
    session.client.workspace_did_change_workspace_folders(types.DidChangeWorkspaceFoldersParams(
        types.WorkspaceFoldersChangeEvent(added=folders, removed=[])))
    uri = session.open("geometry.py")
    assert await session.code_actions(uri, 3, 6)
    assert f"holds 5000 workspace folders; the first {limits.MAX_WORKSPACE_FOLDERS} are served" in session.logs()
    await session.wait_for(lambda: any("workspace folders; files in the others" in m for m in session.messages()))
