"""End-to-end fixtures: the real ``assistant-router serve`` as a subprocess.

Each test gets a fresh server with its own user config and cache directory,
started by pytest-lsp and impersonating a real client's capabilities.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest_asyncio
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities
from pytest_lsp.client import register_lsp_features
from support import WAIT, raw_server

from assistant_router.cli.demo import client_converter

CLIENTS = {
    "vscode": "visual-studio-code",
    "neovim": "neovim",
}


def make_client() -> LanguageClient:
    """pytest-lsp's client, with lsprotocol's CodeAction/Command parsing fixed."""
    client = LanguageClient(converter_factory=client_converter)
    register_lsp_features(client)
    return client


def capabilities_of(client: str) -> types.ClientCapabilities:
    """A known client's capabilities; "bare" declares nothing (like a minimal client)."""
    if client == "bare":
        return types.ClientCapabilities()
    return client_capabilities(CLIENTS[client])


class EditorSession:
    """A pytest-lsp client plus the bookkeeping tests assert on."""

    def __init__(self, client: LanguageClient, root: Path) -> None:
        self.client = client
        self.root = root
        self.applied_edits: list[types.ApplyWorkspaceEditParams] = []
        self.apply_edit_result = True
        self.registrations: list[types.Registration] = []
        self.versions: dict[str, int] = {}

        @client.feature(types.WORKSPACE_APPLY_EDIT)
        def apply_edit(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
            self.applied_edits.append(params)
            return types.ApplyWorkspaceEditResult(applied=self.apply_edit_result)

        @client.feature(types.CLIENT_REGISTER_CAPABILITY)
        def register(params: types.RegistrationParams) -> None:
            self.registrations.extend(params.registrations)

        self.message_requests: list[types.ShowMessageRequestParams] = []
        self.choose: Callable[[list[str]], str | None] = lambda titles: titles[0]

        @client.feature(types.WINDOW_SHOW_MESSAGE_REQUEST)
        def message_request(params: types.ShowMessageRequestParams) -> types.MessageActionItem | None:
            self.message_requests.append(params)
            title = self.choose([a.title for a in params.actions or []])
            return types.MessageActionItem(title=title) if title is not None else None

    def write_policy(self, text: str) -> Path:
        path = self.root / ".assistant-router.toml"
        path.write_text(text)
        return path

    def logs(self) -> str:
        return "\n".join(m.message for m in self.client.log_messages)

    def messages(self, kind: types.MessageType | None = None) -> list[str]:
        return [m.message for m in self.client.messages if kind is None or m.type == kind]

    def uri(self, relative: str) -> str:
        return (self.root / relative).as_uri()

    def open(self, relative: str, language: str = "python", text: str | None = None) -> str:
        uri = self.uri(relative)
        text = (self.root / relative).read_text() if text is None else text
        self.versions[uri] = 1
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(types.TextDocumentItem(uri, language, 1, text))
        )
        return uri

    def change(self, uri: str, text: str) -> None:
        self.versions[uri] += 1
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                types.VersionedTextDocumentIdentifier(self.versions[uri], uri),
                [types.TextDocumentContentChangeWholeDocument(text)],
            )
        )

    async def code_actions(
        self, uri: str, start: int, end: int, *, only: list[str] | None = None, diagnostics=()
    ) -> list[types.CodeAction]:
        result = await self.client.text_document_code_action_async(
            types.CodeActionParams(
                types.TextDocumentIdentifier(uri),
                types.Range(types.Position(start, 0), types.Position(end, 0)),
                types.CodeActionContext(diagnostics=list(diagnostics), only=only),
            )
        )
        return result or []

    async def execute(self, command: str, argument: dict) -> dict:
        return await self.client.workspace_execute_command_async(
            types.ExecuteCommandParams(command=command, arguments=[argument])
        )

    def task_argument(self, task: str, uri: str, start: int, end: int, **extra) -> dict:
        return {
            "task": task,
            "uri": uri,
            "range": {"start": {"line": start, "character": 0}, "end": {"line": end, "character": 0}},
            **extra,
        }

    async def wait_for(self, predicate: Callable[[], object], timeout: float = 5.0) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while not predicate():
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError("condition not met in time")
            await asyncio.sleep(0.02)


@pytest_asyncio.fixture
async def start_session(tmp_path: Path, workspace: Path, user_config: Path) -> AsyncIterator[Callable]:
    """Factory: ``await start_session(client="vscode")`` → an initialized EditorSession."""
    sessions: list[EditorSession] = []

    async def start(
        client: str = "vscode",
        capabilities: types.ClientCapabilities | None = None,
        env: dict | None = None,
        init_options: object = None,
        command: list[str] | None = None,
    ) -> EditorSession:
        env = {
            **os.environ,
            "ASSISTANT_ROUTER_CONFIG": str(user_config),
            "XDG_CACHE_HOME": str(tmp_path / "cache"),
            "XDG_DATA_HOME": str(tmp_path / "data"),  # the ledger
            "ASSISTANT_ROUTER_LOG": "debug",
            **(env or {}),
        }
        config = ClientServerConfig(
            server_command=command or [sys.executable, "-m", "assistant_router.server", "serve"],
            server_env=env,
            client_factory=make_client,
        )
        lsp_client = await config.start()
        session = EditorSession(lsp_client, workspace)
        session.initialize_result = await lsp_client.initialize_session(
            types.InitializeParams(
                capabilities=capabilities or capabilities_of(client),
                root_uri=workspace.as_uri(),
                workspace_folders=[types.WorkspaceFolder(workspace.as_uri(), "project")],
                initialization_options=init_options,
            )
        )
        sessions.append(session)
        return session

    yield start
    for session in sessions:
        await session.client.shutdown_session()


LOOPBACK_KEY = "sk-loopback-test-key-7f3a9c"


@pytest_asyncio.fixture
async def loopback(user_config: Path):
    """Real adapters against loopback fakes: the user config points the default
    aliases (openai codex, anthropic opus) at a fake server in this process."""
    from assistant_router.testing.loopback import LoopbackProviders

    async with LoopbackProviders(key=LOOPBACK_KEY, chunk_chars=16) as fake:
        user_config.write_text(
            f'[models.codex]\nbase_url = "{fake.openai_url}"\n\n[models.opus]\nbase_url = "{fake.anthropic_url}"\n'
        )
        fake.env = {"OPENAI_API_KEY": LOOPBACK_KEY, "ANTHROPIC_API_KEY": LOOPBACK_KEY}
        yield fake


@pytest_asyncio.fixture
async def raw(tmp_path: Path, workspace: Path, user_config: Path):
    """The real server with raw bytes on its stdin (``support.RawClient``)."""
    async with raw_server(tmp_path, workspace, user_config) as client:
        yield client


@pytest_asyncio.fixture
async def policy_session(start_session: Callable, workspace: Path) -> Callable:
    """Factory: ``await policy_session(data)`` writes the project policy's bytes, starts
    a session and returns it, the open geometry.py's URI and the policy's diagnostics."""

    async def start(data: bytes) -> tuple[EditorSession, str, list[types.Diagnostic]]:
        policy = workspace / ".assistant-router.toml"
        policy.write_bytes(data)
        session = await start_session("vscode")
        uri = session.open("geometry.py")
        await session.wait_for(lambda: session.client.diagnostics.get(policy.as_uri()), timeout=WAIT)
        return session, uri, session.client.diagnostics[policy.as_uri()]

    return start
