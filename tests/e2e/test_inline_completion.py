"""Inline completion (``textDocument/inlineCompletion``) end to end: the real
server, the real OpenAI SDK against the loopback fake, each behaviour the
issue lists asserted on the wire (what the fake received, what the editor got,
what the ledger holds)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from lsprotocol import types
from support import WAIT

from assistant_router.testing.loopback import Fault, LoopbackProviders

from .conftest import capabilities_of

CODE = "def area(width, height):\n    \n\nprint(area(2, 3))\n"
CURSOR = types.Position(1, 4)  # the empty body line


def _capabilities(inline: bool = True) -> types.ClientCapabilities:
    return types.ClientCapabilities(
        text_document=types.TextDocumentClientCapabilities(
            inline_completion=types.InlineCompletionClientCapabilities() if inline else None,
            synchronization=types.TextDocumentSyncClientCapabilities(),
        ),
        window=types.WindowClientCapabilities(show_message=types.ShowMessageRequestClientCapabilities()),
    )


def _complete_config(fake, *, api: str = "chat", extra: str = "") -> str:
    return (f'[models.completer]\nprovider = "openai"\nmodel = "fast-coder"\napi = "{api}"\n'
            f'base_url = "{fake.openai_url}"\nprices = {{ input = 1.0, output = 1.0 }}\n\n'
            f'[routes]\ncomplete = "completer"\n{extra}')


async def _session(start_session, loopback, user_config: Path, *, api: str = "chat", extra: str = "",
                   inline: bool = True, project_policy: str | None = None):
    user_config.write_text(user_config.read_text() + "\n" + _complete_config(loopback, api=api, extra=extra))
    if project_policy is not None:
        (user_config.parents[1] / "project" / ".assistant-router.toml").write_text(project_policy)
    return await start_session(capabilities=_capabilities(inline), env=loopback.env)


def _params(uri: str, position: types.Position = CURSOR, automatic: bool = False) -> types.InlineCompletionParams:
    kind = types.InlineCompletionTriggerKind.Automatic if automatic else types.InlineCompletionTriggerKind.Invoked
    return types.InlineCompletionParams(context=types.InlineCompletionContext(trigger_kind=kind),
                                        text_document=types.TextDocumentIdentifier(uri), position=position)


async def _complete(session, uri: str, position: types.Position = CURSOR, automatic: bool = False):
    return await asyncio.wait_for(session.client.text_document_inline_completion_async(
        _params(uri, position, automatic)), WAIT)


def _ledger(tmp_path: Path) -> list[sqlite3.Row]:
    connection = sqlite3.connect(tmp_path / "data" / "assistant-router" / "ledger.sqlite3")
    connection.row_factory = sqlite3.Row
    return connection.execute("SELECT * FROM completions").fetchall()


async def _wait_for_ledger(session, tmp_path: Path, predicate) -> list[sqlite3.Row]:
    found: list[sqlite3.Row] = []

    def ready() -> bool:
        nonlocal found
        try:
            found = _ledger(tmp_path)
        except sqlite3.OperationalError:
            return False
        return bool(predicate(found))

    await session.wait_for(ready, timeout=WAIT)
    return found


@pytest.mark.parametrize("inline", [True, False], ids=["declared", "not-declared"])
async def test_the_capability_is_advertised_only_to_clients_that_declare_it(start_session, loopback, user_config,
                                                                             inline):
    session = await _session(start_session, loopback, user_config, inline=inline)
    provider = session.initialize_result.capabilities.inline_completion_provider
    assert (provider is not None) is inline


async def test_an_item_from_the_routed_alias_at_the_cursor(start_session, loopback, user_config, tmp_path):
    loopback.reply_next("chat", "return width * height")
    session = await _session(start_session, loopback, user_config)
    uri = session.open("area.py", text=CODE)

    result = await _complete(session, uri)

    (item,) = result.items
    assert item.insert_text == "return width * height"
    assert item.range == types.Range(CURSOR, CURSOR)
    assert item.command.command == "assistant.inlineCompletionAccepted"
    (request,) = loopback.requests
    assert request.api == "chat" and request.body["model"] == "fast-coder"
    assert "def area(width, height):\n    <CURSOR>\n\nprint(area(2, 3))" in request.prompt
    assert request.body["max_tokens"] == 256  # [completion] max_output_tokens, not the alias's default

    accepted = await session.execute(item.command.command, item.command.arguments[0])
    assert accepted == {"recorded": True, "alias": "completer", "chars": len("return width * height")}
    rows = await _wait_for_ledger(session, tmp_path, lambda rows: rows and rows[0]["accepted"])
    (row,) = rows
    assert (row["alias"], row["requests"], row["calls"], row["shown"], row["accepted"], row["accepted_chars"]) == (
        "completer", 1, 1, 1, 1, len("return width * height"))
    assert row["input_tokens"] > 0 and row["cost_usd"] > 0


async def test_the_answer_is_cleaned_before_it_is_shown(start_session, loopback, user_config):
    # A fence, the line repeated, and a second block after a blank line: only the body is shown.
    loopback.reply_next("chat", "```python\n    return width * height\n\ndef other():\n    pass\n```")
    session = await _session(start_session, loopback, user_config)
    uri = session.open("area.py", text=CODE)

    (item,) = (await _complete(session, uri)).items
    assert item.insert_text == "return width * height"


async def test_a_newer_request_cancels_the_older_and_closes_its_stream(start_session, loopback, user_config):
    loopback.fail_next("chat", Fault("hang", after=1))  # streams one chunk, then never ends by itself
    loopback.reply_next("chat", "return 0  # the first, never finished", "return width * height")
    session = await _session(start_session, loopback, user_config)
    uri = session.open("area.py", text=CODE)

    first = asyncio.ensure_future(_complete(session, uri))
    await session.wait_for(lambda: loopback.requests and loopback.requests[0].chunks_sent >= 1, timeout=WAIT)
    second = await _complete(session, uri)

    assert not (await first).items  # superseded: answered at once, with nothing
    assert [item.insert_text for item in second.items] == ["return width * height"]
    await loopback.wait_for_disconnect(loopback.requests[0])  # the older upstream stream was closed
    assert loopback.requests[0].finished is None


async def test_automatic_requests_typed_quickly_send_only_the_last(start_session, loopback, user_config):
    session = await _session(start_session, loopback, user_config, extra="\n[completion]\ndebounce_ms = 400\n")
    uri = session.open("area.py", text=CODE)
    held = loopback.hold()  # nothing answers until released: the first request cannot finish before the second
    first = asyncio.ensure_future(_complete(session, uri, automatic=True))
    second = asyncio.ensure_future(_complete(session, uri, automatic=True))
    try:
        assert not (await first).items
    finally:
        held.release()
    assert (await second).items
    assert len(loopback.requests) == 1  # the superseded one was still waiting out its debounce: nothing sent


async def test_typing_along_a_shown_completion_reuses_it(start_session, loopback, user_config, tmp_path):
    loopback.reply_next("chat", "return width * height")
    session = await _session(start_session, loopback, user_config)
    uri = session.open("area.py", text=CODE)
    await _complete(session, uri)

    session.change(uri, CODE.replace("    \n", "    retu\n", 1))
    result = await _complete(session, uri, types.Position(1, 8))

    assert [item.insert_text for item in result.items] == ["rn width * height"]
    assert result.items[0].range == types.Range(types.Position(1, 8), types.Position(1, 8))
    assert len(loopback.requests) == 1  # no second model call
    await _wait_for_ledger(session, tmp_path, lambda rows: rows and rows[0]["cached"] == 1)

    session.change(uri, CODE.replace("    \n", "    x = 1\n", 1))  # typed something else: a new call
    await _complete(session, uri, types.Position(1, 9))
    assert len(loopback.requests) == 2


async def test_excluded_files_get_nothing_and_send_nothing(start_session, loopback, user_config, workspace):
    (workspace / "secret").mkdir()
    session = await _session(start_session, loopback, user_config,
                             project_policy='[privacy]\nexclude = ["secret/**"]\n')
    excluded = session.open("secret/keys.py", text=CODE)
    allowed = session.open("area.py", text=CODE)

    assert await _complete(session, excluded) is None
    assert loopback.requests == []
    assert (await _complete(session, allowed)).items  # the same code elsewhere is completed


async def test_a_secret_in_the_prefix_is_redacted_and_never_put_back(start_session, loopback, user_config):
    secret = "sk-proj-Zq8vN3xT5rW1yK7mB2cF9hJ4dL6pS0aE"
    code = f'OPENAI_KEY = "{secret}"\n\ndef client():\n    \n'
    loopback.reply_next("chat", "return make_client(REDACTED_SECRET_1)", "return make_client(OPENAI_KEY)")
    session = await _session(start_session, loopback, user_config)
    uri = session.open("client.py", text=code)

    first = await _complete(session, uri, types.Position(3, 4))
    second = await _complete(session, uri, types.Position(3, 4))

    assert all(secret not in request.prompt for request in loopback.requests)
    assert "REDACTED_SECRET_1" in loopback.requests[0].prompt
    assert not first.items  # it would have put the secret back into the file
    assert [item.insert_text for item in second.items] == ["return make_client(OPENAI_KEY)"]


async def test_a_budget_cap_stops_completions_with_one_message(start_session, loopback, user_config, tmp_path):
    extra = "\n[budget.tasks.complete]\ndaily_usd = 0.0000001\n"  # below the cost of one completion
    session = await _session(start_session, loopback, user_config, extra=extra)
    uri = session.open("area.py", text=CODE)

    for line in range(3):
        session.change(uri, CODE.replace("    \n", "    # more\n" * line + "    \n", 1))
        assert await _complete(session, uri, types.Position(1 + line, 4)) is None

    assert loopback.requests == []
    await session.wait_for(lambda: any("inline completions" in m for m in session.messages()), timeout=WAIT)
    warnings = [m for m in session.messages() if "inline completions" in m]
    assert len(warnings) == 1 and "budget" in warnings[0]
    rows = await _wait_for_ledger(session, tmp_path, lambda rows: rows and rows[0]["refused"] == 3)
    assert rows[0]["calls"] == 0


async def test_fill_in_the_middle_sends_prompt_and_suffix(start_session, loopback, user_config):
    session = await _session(start_session, loopback, user_config, api="completions")
    uri = session.open("area.py", text=CODE)

    result = await _complete(session, uri)

    (request,) = loopback.requests
    assert request.path == "/v1/completions"
    assert request.body["prompt"] == "def area(width, height):\n    "
    assert request.body["suffix"] == "\n\nprint(area(2, 3))\n"
    assert request.body["stream"] is True and request.body["stop"] == ["\n\n"]
    (item,) = result.items
    assert "completed by fast-coder" in item.insert_text


async def test_completions_turned_off_by_the_project_send_nothing(start_session, loopback, user_config):
    session = await _session(start_session, loopback, user_config, project_policy="[completion]\nenabled = false\n")
    uri = session.open("area.py", text=CODE)

    assert await _complete(session, uri) is None
    assert loopback.requests == []


async def test_other_requests_are_answered_while_a_completion_waits(start_session, loopback, user_config):
    session = await _session(start_session, loopback, user_config)
    uri = session.open("area.py", text=CODE)
    held = loopback.hold()
    pending = asyncio.ensure_future(_complete(session, uri))
    await session.wait_for(lambda: held.waiting == 1, timeout=WAIT)
    try:
        actions = await session.code_actions(uri, 0, 1)
        assert actions  # answered while the completion's stream is open
    finally:
        held.release()
    assert (await pending).items


@pytest.mark.parametrize(("provider", "api", "wire"), [("openai", "responses", "responses"), ("openai", "chat", "chat"),
                                                      ("anthropic", None, "anthropic")])
async def test_any_alias_can_complete(start_session, loopback, user_config, provider, api, wire):
    url = loopback.openai_url if provider == "openai" else loopback.anthropic_url
    user_config.write_text(user_config.read_text() + f'\n[models.any]\nprovider = "{provider}"\nmodel = "m-1"\n'
                           f'base_url = "{url}"\n' + (f'api = "{api}"\n' if api else "")
                           + '\n[routes]\ncomplete = "any"\n')
    loopback.reply_next(wire, "```python\nreturn width * height\n```")
    session = await start_session(capabilities=_capabilities(), env=loopback.env)
    uri = session.open("area.py", text=CODE)

    (item,) = (await _complete(session, uri)).items

    assert item.insert_text == "return width * height"
    (request,) = loopback.requests
    assert request.api == wire and "<CURSOR>" in request.prompt


@pytest.mark.parametrize(("declared", "advertised"), [({"inlineCompletion": None}, True), ({}, False)],
                         ids=["null-as-lsp-mode-sends-it", "absent"])
async def test_a_capability_named_with_null_counts_as_declared(tmp_path, workspace, user_config, declared,
                                                                advertised):
    from support import RawClient

    client = await RawClient.start({"ASSISTANT_ROUTER_CONFIG": str(user_config),
                                    "XDG_CACHE_HOME": str(tmp_path / "cache"), "XDG_DATA_HOME": str(tmp_path / "d")})
    try:
        client.send({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                     "params": {"processId": None, "rootUri": workspace.as_uri(),
                                "capabilities": {"textDocument": declared}}})
        answer = await client.response(1)
        assert ("inlineCompletionProvider" in answer["result"]["capabilities"]) is advertised
    finally:
        await client.close()


KEY = "sk-loopback-completion-7e21"
CONFIG = """\
[models.fim]
provider = "openai"
model = "fim-model"
api = "completions"
base_url = "{url}"
retries = 0

[routes]
complete = "fim"
"""


async def _complete_at(session, uri: str, line: int, character: int,
                   automatic: bool = False) -> types.InlineCompletionList | None:
    kind = types.InlineCompletionTriggerKind.Automatic if automatic else types.InlineCompletionTriggerKind.Invoked
    return await session.client.text_document_inline_completion_async(types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri), position=types.Position(line, character),
        context=types.InlineCompletionContext(kind)))


async def test_a_completion_is_shown_while_another_process_holds_the_ledger(start_session, user_config, tmp_path):
    """The ledger records a completion after it is shown, not before: another
    server writing to the shared SQLite file (up to its 30 s busy timeout)
    must not make every completion miss its deadline."""
    async with LoopbackProviders(key=KEY, chunk_chars=16) as fake:
        user_config.write_text(CONFIG.format(url=fake.openai_url))
        capabilities = capabilities_of("vscode")
        capabilities.text_document.inline_completion = types.InlineCompletionClientCapabilities()
        session = await start_session("vscode", capabilities=capabilities, env={"OPENAI_API_KEY": KEY})
        uri = session.open("geometry.py")
        lines = session.root.joinpath("geometry.py").read_text().split("\n")

        first = await _complete_at(session, uri, 2, len(lines[2]))
        assert first is not None and first.items and "completed by fim-model" in first.items[0].insert_text
        ledger = sqlite3.connect(tmp_path / "data" / "assistant-router" / "ledger.sqlite3", isolation_level=None)
        ledger.execute("BEGIN IMMEDIATE")  # the write lock, as another process writing holds it
        try:
            second = await asyncio.wait_for(_complete_at(session, uri, 4, len(lines[4])), 10)
        finally:
            ledger.execute("ROLLBACK")
            ledger.close()

    assert second is not None and second.items, second
    assert second.items[0].command.command == "assistant.inlineCompletionAccepted"
    assert [r.api for r in fake.requests] == ["completions", "completions"]
