"""Document notifications: one handler per method (pygls allows one), which
tells each interested feature. pygls has already updated the workspace when
these run. Kept minimal: a change costs O(document) in pygls already."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from lsprotocol import types
from pygls.lsp.server import LanguageServer  # runtime: pygls resolves handler annotations

from assistant_router.server.diagnostics import REVIEW_CHANNEL
from assistant_router.server.features.policy_files import policy_file_edited, policy_file_saved

if TYPE_CHECKING:
    from assistant_router.server.app import Services


def _prune_stale_review_fixes(ls: LanguageServer, services: Services, uri: str) -> None:
    """Drop review findings whose text the user has since changed (fixed or rewritten)."""
    if not services.reviews.get(uri):
        return
    lines = services.line_indexes.get(uri, ls.workspace.get_text_document(uri).source)
    if lines is None:
        return  # a long document: checked at its next change once indexed
    stale = services.reviews.prune(uri, lines)
    if stale:
        gone = {id(fix.diagnostic) for fix in stale}
        remaining = [d for d in services.diagnostics.get(uri, REVIEW_CHANNEL) if id(d) not in gone]
        services.diagnostics.set(uri, REVIEW_CHANNEL, remaining)


def _is_rule_file(uri: str) -> bool:
    """A safety-rule file: ``.assistant-router/rules/*.yml`` in a project, or
    the user's ``rules/`` folder next to the user config."""
    if not uri.endswith((".yml", ".yaml")):
        return False
    if "/.assistant-router/rules/" in uri:
        return True
    from pygls import uris

    from assistant_router.routing.config import user_rules_directory

    path = uris.to_fs_path(uri)
    return path is not None and Path(path).parent == user_rules_directory()


def _check_rule_file(services: Services, uri: str) -> None:
    if _is_rule_file(uri):
        services.runner.check_rule_files_soon(uri)


def setup(server: LanguageServer, services: Services) -> None:
    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: LanguageServer, params: types.DidOpenTextDocumentParams) -> None:
        policy_file_edited(ls, services, params.text_document.uri)
        _check_rule_file(services, params.text_document.uri)
        services.line_indexes.get(params.text_document.uri, params.text_document.text)  # a long one: off the loop
        services.preparations.changed(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: LanguageServer, params: types.DidChangeTextDocumentParams) -> None:
        uri = params.text_document.uri
        policy_file_edited(ls, services, uri)
        _prune_stale_review_fixes(ls, services, uri)
        services.line_indexes.get(uri, ls.workspace.get_text_document(uri).source)
        services.preparations.changed(uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: LanguageServer, params: types.DidCloseTextDocumentParams) -> None:
        services.line_indexes.forget(params.text_document.uri)  # it holds the text
        services.preparations.forget(params.text_document.uri)
        services.held.forget(params.text_document.uri)  # answers held back by their checks go with it
        if services.completions is not None:
            services.completions.forget(params.text_document.uri)  # the completion it may reuse

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    async def did_save(ls: LanguageServer, params: types.DidSaveTextDocumentParams) -> None:
        uri = params.text_document.uri
        policy_file_saved(services, uri)
        _check_rule_file(services, uri)
        if services.usage.acceptance.due_for(uri):
            await services.usage.judge(services.read_text, uri)  # a save judges the edits made there

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    def configuration_changed(ls: LanguageServer, params: types.DidChangeConfigurationParams) -> None:
        """Eglot, Helix and LSP4IJ send this unasked; settings live in the policy
        files and initializationOptions, so there is nothing to do (and no
        "unknown method" warning to log)."""
