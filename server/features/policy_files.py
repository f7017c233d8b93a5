"""Policy files: reload on change, diagnostics on the files themselves.

(Document notifications are dispatched by ``features.documents``.)

The project policy and the user config are watched through
``workspace/didChangeWatchedFiles`` (when the client allows dynamic
registration) and reloaded on ``didSave``. While the user types in a policy
file, its unsaved text is validated and its diagnostics refreshed; the active
policy changes only when the file is saved.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls import uris
from pygls.lsp.server import LanguageServer  # runtime: pygls resolves handler annotations

from assistant_router.engine.text import line_length
from assistant_router.routing.constants import PROJECT_POLICY_FILENAME

if TYPE_CHECKING:
    from assistant_router.engine.policies import PolicyReport
    from assistant_router.server.app import Services

logger = logging.getLogger(__name__)

POLICY_CHANNEL = "policy"
WATCH_REGISTRATION_ID = "assistant-router/policy-files"


def _line_length(ls: LanguageServer, uri: str, line: int) -> int:
    try:
        return line_length(ls.workspace.get_text_document(uri).lines, line)
    except (OSError, UnicodeDecodeError):
        return 0


def publish_policy_report(services: Services, report: PolicyReport) -> None:
    ls = services.ls
    for file in report.files:
        uri = file.as_uri()
        diagnostics = []
        for issue in report.issues:
            if issue.source != str(file):
                continue
            line = (issue.line or 1) - 1
            diagnostics.append(
                types.Diagnostic(
                    range=types.Range(types.Position(line, 0), types.Position(line, _line_length(ls, uri, line))),
                    message=issue.message,
                    severity=types.DiagnosticSeverity.Error
                    if issue.severity == "error"
                    else types.DiagnosticSeverity.Warning,
                    source="assistant-router",
                    code=issue.key,
                )
            )
        services.diagnostics.set(uri, POLICY_CHANNEL, diagnostics)
    if report.message:
        ls.window_show_message(types.ShowMessageParams(types.MessageType.Error, report.message))


async def watch_policy_files(ls: LanguageServer, services: Services) -> None:
    if not services.capabilities.watched_files_dynamic:
        logger.info("client cannot watch files for us; policy changes are picked up on save")
        return
    user_config = services.policies.user_config
    watchers = [
        types.FileSystemWatcher(glob_pattern=f"**/{PROJECT_POLICY_FILENAME}"),
        types.FileSystemWatcher(glob_pattern="**/.gitignore"),  # what may be sent changes with it
    ]
    if services.capabilities.relative_patterns:
        watchers.append(
            types.FileSystemWatcher(
                glob_pattern=types.RelativePattern(base_uri=user_config.parent.as_uri(), pattern=user_config.name)
            )
        )
    else:
        watchers.append(types.FileSystemWatcher(glob_pattern=user_config.as_posix()))
    registration = types.Registration(
        id=WATCH_REGISTRATION_ID,
        method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
        register_options=types.DidChangeWatchedFilesRegistrationOptions(watchers=watchers),
    )
    try:
        await ls.client_register_capability_async(types.RegistrationParams(registrations=[registration]))
    except Exception as exc:
        logger.warning("could not register file watchers (%s); policy changes are picked up on save", exc)


def _affected_roots(services: Services, uri: str) -> list[Path | None] | None:
    """The roots whose policy depends on the file at ``uri``, or None if none does."""
    fs_path = uris.to_fs_path(uri)
    if fs_path is None:
        return None
    path = Path(fs_path)
    if path == services.policies.user_config:
        return list(services.roots.roots) or [None]
    if path.name == PROJECT_POLICY_FILENAME and path.parent in services.roots.roots:
        return [path.parent]
    return None


def _reload_for(services: Services, uri: str) -> bool:
    roots = _affected_roots(services, uri)
    for root in roots or ():
        services.policies.reload(root)
    return roots is not None


def setup(server: LanguageServer, services: Services) -> None:
    def only_watched(params: dict[str, Any]) -> None:
        """Keep the events about files this feature watches, once each (raw
        JSON, before pygls reads them: a client may send 200,000 events)."""
        changes = params.get("changes")
        if isinstance(changes, list) and len(changes) > 100:
            names = {PROJECT_POLICY_FILENAME, ".gitignore", services.policies.user_config.name}
            kept = {c["uri"]: c for c in changes if isinstance(c, dict) and isinstance(c.get("uri"), str)
                    and c["uri"].rpartition("/")[2] in names}
            params["changes"] = list(kept.values())

    server.protocol.bound(types.WORKSPACE_DID_CHANGE_WATCHED_FILES, only_watched)  # type: ignore[attr-defined]

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    def watched_files_changed(ls: LanguageServer, params: types.DidChangeWatchedFilesParams) -> None:
        for uri in dict.fromkeys(change.uri for change in params.changes):
            if uri.endswith("/.gitignore"):
                services.forget_exclusions()
            else:
                _reload_for(services, uri)


def policy_file_saved(services: Services, uri: str) -> None:
    if uri.endswith("/.gitignore"):
        services.forget_exclusions()
    _reload_for(services, uri)


def policy_file_edited(ls: LanguageServer, services: Services, uri: str) -> None:
    """Check a policy file's unsaved text as the user types; the active policy stays."""
    if not uri.endswith(PROJECT_POLICY_FILENAME):
        return
    roots = _affected_roots(services, uri)
    if not roots or roots[0] is None:
        return
    document = ls.workspace.get_text_document(uri)
    publish_policy_report(services, services.policies.validate(roots[0], document.source))
