"""Inline completion for JetBrains IDEs (LSP4IJ 0.20+), at the protocol level:
the real server, started with the template's command, answers what LSP4IJ
sends. No JetBrains IDE can run here; what LSP4IJ sends was read in its
source (redhat-developer/lsp4ij, main of June 2026):
internal/capabilities/ClientCapabilitiesFactory.java declares
``textDocument.inlineCompletion = {dynamicRegistration: true}``;
features/inlineCompletion/LSPInlineCompletionSupport.java sends every request
with ``context = {triggerKind: Automatic}`` and no selectedCompletionInfo;
LSPInlineCompletionProvider.kt shows ``insertText`` from ``range.start`` and
does not run the item's ``command``.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import pytest_asyncio
from lsprotocol import types
from pytest_lsp import ClientServerConfig, client_capabilities

_spec = importlib.util.spec_from_file_location("_jetbrains_suite", Path(__file__).with_name("test_jetbrains.py"))
assert _spec is not None and _spec.loader is not None
_suite = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_suite)

SOURCE = "def add(a, b):\n    \n"
COMPLETED = "mock_value = 1  # completed by mock codex-mini (offline)"
ACCEPTED = "assistant.inlineCompletionAccepted"


def lsp4ij_capabilities(*, inline: bool) -> types.ClientCapabilities:
    capabilities = client_capabilities("visual-studio-code")
    text_document = capabilities.text_document or types.TextDocumentClientCapabilities()
    text_document.inline_completion = (
        types.InlineCompletionClientCapabilities(dynamic_registration=True) if inline else None
    )
    capabilities.text_document = text_document
    return capabilities


@pytest_asyncio.fixture
async def start(tmp_path: Path):
    """Factory: the template's command, offline, with add.py open; LSP4IJ 0.20's capabilities or older ones."""
    clients = []
    project = tmp_path / "project"
    project.mkdir()
    (project / "add.py").write_text(SOURCE)
    config = tmp_path / "config.toml"
    config.write_text("offline = true\n")

    async def start_server(*, inline: bool):
        words = _suite.command_words(_suite.load("template.json")["programArgs"]["default"])
        executable = shutil.which(words[0], path=_suite.VENV_PATH)
        assert executable, "the assistant-router console script is not installed"
        server = ClientServerConfig(
            server_command=[executable, *words[1:]],
            server_env={
                **os.environ,
                "ASSISTANT_ROUTER_CONFIG": str(config),
                "XDG_CACHE_HOME": str(tmp_path / "cache"),
                "XDG_DATA_HOME": str(tmp_path / "data"),
                "XDG_STATE_HOME": str(tmp_path / "state"),
            },
            client_factory=_suite.make_client,
        )
        client = await server.start()
        clients.append(client)
        result = await client.initialize_session(
            types.InitializeParams(
                capabilities=lsp4ij_capabilities(inline=inline),
                root_uri=project.as_uri(),
                workspace_folders=[types.WorkspaceFolder(project.as_uri(), "project")],
                initialization_options=_suite.load("initializationOptions.json"),
            )
        )
        uri = (project / "add.py").as_uri()
        client.text_document_did_open(types.DidOpenTextDocumentParams(types.TextDocumentItem(uri, "python", 1, SOURCE)))
        return client, result, uri

    yield start_server
    for client in clients:
        await client.shutdown_session()


async def test_lsp4ij_gets_the_completion_at_the_caret(start):
    client, result, uri = await start(inline=True)

    assert result.capabilities.inline_completion_provider is not None
    at = types.Position(1, 4)
    answer = await client.text_document_inline_completion_async(
        types.InlineCompletionParams(
            context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Automatic),
            text_document=types.TextDocumentIdentifier(uri),
            position=at,
        )
    )
    items = answer.items if isinstance(answer, types.InlineCompletionList) else answer
    (item,) = items
    assert item.insert_text == COMPLETED
    assert item.range == types.Range(at, at)  # LSP4IJ shows insertText from range.start: the caret
    # The command LSP4IJ does not run yet (so no acceptance is recorded); other clients run it.
    assert item.command is not None and item.command.command == ACCEPTED
    assert ACCEPTED in result.capabilities.execute_command_provider.commands


async def test_an_lsp4ij_without_inline_completion_is_not_offered_it(start):
    _, result, _ = await start(inline=False)

    assert result.capabilities.inline_completion_provider is None
