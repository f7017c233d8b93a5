"""The composition root: builds the language server and wires every feature.

Nothing here runs at import time. ``build_server()`` creates the server, the
shared :class:`Services`, and calls each feature module's ``setup``. Heavy
pieces (pydantic models, policy loading, provider SDKs) load after the
``initialize`` response, so the server starts as fast as a bare pygls server.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from assistant_router.engine import __version__
from assistant_router.engine.resilience import CircuitBreaker
from assistant_router.providers.registry import ProviderPool, ProviderRegistry
from assistant_router.routing.tasks import task_table
from assistant_router.server.background import BackgroundLane
from assistant_router.server.diagnostics import DiagnosticsHub
from assistant_router.server.held import HeldAnswers
from assistant_router.server.line_indexes import LineIndexes
from assistant_router.server.preparations import DocumentPreparations
from assistant_router.server.protocol import RouterProtocol, RunningTasks
from assistant_router.server.workspace import WorkspaceRoots

if TYPE_CHECKING:
    from assistant_router.delivery.diagnostics import ReviewFixes
    from assistant_router.engine.pipeline import Engine
    from assistant_router.engine.policies import PolicyReport, PolicyStore
    from assistant_router.engine.request import Document
    from assistant_router.engine.usage.service import UsageService
    from assistant_router.server.runner import TaskRunner

logger = logging.getLogger(__name__)

SERVER_NAME = "assistant-router"


# Clients (by clientInfo.name) that send an automatic inline completion request
# only after a pause in typing: Neovim 0.12's vim.lsp.inline_completion (200 ms).
CLIENTS_THAT_DEBOUNCE = frozenset({"Neovim"})


@dataclass(frozen=True)
class ClientFeatures:
    """What the connected client can do, read once at initialize."""

    progress: bool = False
    apply_edit: bool = False
    document_changes: bool = False
    show_document: bool = False
    watched_files_dynamic: bool = False
    relative_patterns: bool = False
    disabled_code_actions: bool = False
    change_annotations: bool = False
    create_files: bool = False
    llm_generated_tag: bool = False  # code actions may carry CodeActionTag.LLMGenerated (LSP 3.18)
    show_message_request: bool = False  # window/showMessageRequest (declared as window.showMessage)
    # The client waits for a pause in typing before it asks for an inline
    # completion (Neovim 0.12: 200 ms after the last keystroke): the server adds no debounce.
    debounces_inline_completion: bool = False

    @classmethod
    def from_initialize(cls, params: types.InitializeParams) -> ClientFeatures:
        features = cls.from_capabilities(params.capabilities)
        client = params.client_info.name if params.client_info else ""
        return replace(features, debounces_inline_completion=client in CLIENTS_THAT_DEBOUNCE)

    @classmethod
    def from_capabilities(cls, caps: types.ClientCapabilities) -> ClientFeatures:
        window, workspace = caps.window, caps.workspace
        watched = workspace.did_change_watched_files if workspace else None
        edits = workspace.workspace_edit if workspace else None
        code_action = caps.text_document.code_action if caps.text_document else None
        return cls(
            progress=bool(window and window.work_done_progress),
            apply_edit=bool(workspace and workspace.apply_edit),
            document_changes=bool(edits and edits.document_changes),
            show_document=bool(window and window.show_document and window.show_document.support),
            watched_files_dynamic=bool(watched and watched.dynamic_registration),
            relative_patterns=bool(watched and watched.relative_pattern_support),
            disabled_code_actions=bool(code_action and code_action.disabled_support),
            change_annotations=bool(edits and edits.change_annotation_support and edits.document_changes),
            create_files=bool(edits and edits.document_changes and edits.resource_operations
                              and types.ResourceOperationKind.Create in edits.resource_operations),
            llm_generated_tag=bool(code_action and code_action.tag_support
                                   and types.CodeActionTag.LlmGenerated in code_action.tag_support.value_set),
            show_message_request=bool(window and window.show_message),
        )


class Services:
    """Everything the feature modules share; built once per server."""

    def __init__(self, ls: LanguageServer, registry: ProviderRegistry, answers_dir: Callable[[], Path]) -> None:
        self.ls = ls
        self.registry = registry
        self.providers = ProviderPool(registry)
        self.roots = WorkspaceRoots()
        self.running: RunningTasks = ls.protocol.running  # type: ignore[attr-defined]
        self.breaker = CircuitBreaker()
        self.diagnostics = DiagnosticsHub(ls.text_document_publish_diagnostics)
        self.capabilities = ClientFeatures()
        self.answers_dir = answers_dir
        self.line_indexes = LineIndexes(lambda uri: ls.workspace.text_documents.get(uri))
        self.background = BackgroundLane()
        self.held = HeldAnswers()  # answers that failed their checks, until applied or dropped
        self.preparations = DocumentPreparations(self.open_document, self.background)
        self._exclusions: dict[str, tuple[int, str | None]] = {}
        self.initialization_options: Any = None
        self.options: Any = None  # arguments.ClientOptions, set at `initialized`
        self.completions: Any = None  # features/inline_completion.py InlineCompletions, set by its setup

    @cached_property
    def policies(self) -> PolicyStore:
        from assistant_router.engine.policies import PolicyStore

        return PolicyStore(self.registry, self.on_policy_report)

    @cached_property
    def usage(self) -> UsageService:
        from assistant_router.engine.usage.service import UsageService

        return UsageService(
            lambda: self.policies.router(self.roots.roots[0] if self.roots.roots else None).policy.ledger_url
        )

    def project_key(self, uri: str) -> str:
        """How the ledger names the project a document belongs to."""
        root = self.roots.locate(uri).root
        return str(root) if root is not None else ""

    def open_document(self, uri: str) -> Document | None:
        """The open document ``uri`` as the engine sees it, or None."""
        from assistant_router.engine.request import Document

        text_document = self.ls.workspace.text_documents.get(uri)
        if text_document is None:
            return None
        location = self.roots.locate(uri)
        return Document(uri, text_document.source, text_document.language_id or "", location.root,
                        location.relative, location.path, text_document.version, open=True)

    def read_text(self, uri: str) -> str | None:
        try:
            return self.ls.workspace.get_text_document(uri).source
        except OSError:
            return None

    @cached_property
    def reviews(self) -> ReviewFixes:
        """The last review's suggested replacements, per document."""
        from assistant_router.delivery.diagnostics import ReviewFixes

        return ReviewFixes()

    @cached_property
    def engine(self) -> Engine:
        """What the pipeline needs: providers, cooldowns, the ledger."""
        from assistant_router.engine.pipeline import Engine

        return Engine(providers=self.providers, usage=self.usage, breaker=self.breaker)

    @cached_property
    def runner(self) -> TaskRunner:
        from assistant_router.server.runner import TaskRunner

        return TaskRunner(self.ls, self)

    def exclusion_reason(self, uri: str) -> str | None:
        """Why a document may not be sent (cached per URI: code actions ask on
        every cursor move; cleared when a policy or a .gitignore changes)."""
        generation = self.policies.generation
        cached = self._exclusions.get(uri)
        if cached is None or cached[0] != generation:
            location = self.roots.locate(uri)
            cached = self._exclusions[uri] = (
                generation,
                self.policies.exclusions(location.root).reason(location.relative),
            )
        return cached[1]

    def forget_exclusions(self) -> None:
        self._exclusions.clear()

    def on_policy_report(self, report: PolicyReport) -> None:
        from assistant_router.server.features.policy_files import publish_policy_report

        publish_policy_report(self, report)


def _default_answers_dir() -> Path:
    import platformdirs

    return platformdirs.user_cache_path("assistant-router") / "answers"


def build_server(
    registry: ProviderRegistry | None = None,
    answers_dir: Callable[[], Path] = _default_answers_dir,
) -> LanguageServer:
    from assistant_router.server.features import (
        code_actions,
        commands,
        documents,
        inline_completion,
        lifecycle,
        policy_editing,
        policy_files,
    )

    server = LanguageServer(
        SERVER_NAME,
        __version__,
        protocol_cls=RouterProtocol,
        text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
    )
    protocol: RouterProtocol = server.protocol  # type: ignore[assignment]
    protocol.experimental = lambda: {"version": __version__, "tasks": task_table()}
    services = Services(server, registry or ProviderRegistry(), answers_dir)
    for feature in (lifecycle, policy_files, policy_editing, documents, code_actions, commands, inline_completion):
        feature.setup(server, services)
    return server
