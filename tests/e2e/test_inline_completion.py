"""Inline completion through the real server, the OpenAI SDK and the loopback
fake of the Completions API (fill-in-the-middle). Its figures: bench/completion.py."""

from __future__ import annotations

import asyncio
import sqlite3

from lsprotocol import types

from assistant_router.testing.loopback import LoopbackProviders

from .conftest import capabilities_of

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


async def complete(session, uri: str, line: int, character: int,
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

        first = await complete(session, uri, 2, len(lines[2]))
        assert first is not None and first.items and "completed by fim-model" in first.items[0].insert_text
        ledger = sqlite3.connect(tmp_path / "data" / "assistant-router" / "ledger.sqlite3", isolation_level=None)
        ledger.execute("BEGIN IMMEDIATE")  # the write lock, as another process writing holds it
        try:
            second = await asyncio.wait_for(complete(session, uri, 4, len(lines[4])), 10)
        finally:
            ledger.execute("ROLLBACK")
            ledger.close()

    assert second is not None and second.items, second
    assert second.items[0].command.command == "assistant.inlineCompletionAccepted"
    assert [r.api for r in fake.requests] == ["completions", "completions"]


async def test_a_change_during_the_debounce_without_a_new_request_sends_nothing(start_session, user_config):
    """An automatic request whose document changes while it waits for the next
    keystroke answers an empty list (the next request answers for the text as
    it is), rather than sending the new text cut at the old cursor's offset."""
    async with LoopbackProviders(key=KEY, chunk_chars=16) as fake:
        user_config.write_text(CONFIG.format(url=fake.openai_url) + "\n[completion]\ndebounce_ms = 2000\n")
        capabilities = capabilities_of("neovim")
        capabilities.text_document.inline_completion = types.InlineCompletionClientCapabilities()
        session = await start_session("neovim", capabilities=capabilities, env={"OPENAI_API_KEY": KEY})
        uri = session.open("geometry.py")
        text = session.root.joinpath("geometry.py").read_text()
        line = text.split("\n")[4]

        pending = asyncio.ensure_future(complete(session, uri, 4, len(line), automatic=True))
        await asyncio.sleep(0.5)  # it waits for the next keystroke, up to 2 s
        session.change(uri, "# a line typed above, by another cursor\n" + text)  # no new request
        result = await asyncio.wait_for(pending, 10)

    assert result is not None and not result.items
    assert fake.requests == []
