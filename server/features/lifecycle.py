"""initialize / initialized / workspace folders / shutdown."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls import uris
from pygls.lsp.server import LanguageServer  # runtime: pygls resolves handler annotations

from assistant_router.engine.limits import MAX_WORKSPACE_FOLDERS
from assistant_router.providers.collector import collections_paused
from assistant_router.server.logs import attach_client_log

if TYPE_CHECKING:
    from assistant_router.server.app import Services

logger = logging.getLogger(__name__)

# "0": no warm-up after `initialized` (for servers that live a second or two).
WARM_UP_ENV = "ASSISTANT_ROUTER_WARM_UP"
WARM_UP_DONE = "warm-up finished in"  # a debug line that bench/run.py waits for

# How long shutdown waits for the cancelled tasks to record their run.
SHUTDOWN_WAIT_S = 5.0


def _workspace_roots(ls: LanguageServer) -> list[Path]:
    """The workspace folders served: the first MAX_WORKSPACE_FOLDERS (each
    has a policy to load; a client may send 50,000)."""
    roots = []
    for folder in ls.workspace.folders.values():
        if (path := uris.to_fs_path(folder.uri)) is not None:
            roots.append(Path(path))
    if not roots and ls.workspace.root_path:
        roots.append(Path(ls.workspace.root_path))
    if len(roots) > MAX_WORKSPACE_FOLDERS:
        message = (f"assistant-router: serving the first {MAX_WORKSPACE_FOLDERS} of {len(roots)} workspace folders; "
                   "files in the others are treated as outside the workspace")
        logger.warning("%s", message)
        ls.window_show_message(types.ShowMessageParams(types.MessageType.Warning, message))
        roots = roots[:MAX_WORKSPACE_FOLDERS]
    return roots


def _first_folders(folders: object, where: str) -> object:
    """At most MAX_WORKSPACE_FOLDERS of a raw list of folders (before pygls reads them)."""
    if isinstance(folders, list) and len(folders) > MAX_WORKSPACE_FOLDERS:
        logger.warning("%s holds %d workspace folders; the first %d are served", where, len(folders),
                       MAX_WORKSPACE_FOLDERS)
        return folders[:MAX_WORKSPACE_FOLDERS]
    return folders


def _bound_initialize(params: dict[str, Any]) -> None:
    if "workspaceFolders" in params:
        params["workspaceFolders"] = _first_folders(params["workspaceFolders"], "initialize")
    capabilities = params.get("capabilities")
    text_document = capabilities.get("textDocument") if isinstance(capabilities, dict) else None
    if isinstance(text_document, dict) and "inlineCompletion" in text_document \
            and text_document["inlineCompletion"] is None:
        # lsp-mode 10 names the capability with a null value (emacs-lsp/lsp-mode#5081):
        # it does support inline completion, and nothing else it sends could say so.
        text_document["inlineCompletion"] = {}


def _bound_folder_change(params: dict[str, Any]) -> None:
    event = params.get("event")
    if isinstance(event, dict) and "added" in event:
        event["added"] = _first_folders(event["added"], "didChangeWorkspaceFolders")


def _warm_up(services: Services, roots: Iterable[Path | None], tasks: set[asyncio.Task],
             converter: Any = None) -> None:
    """Import, in a worker thread, the SDKs that the policies of ``roots``
    (each with the user config) can route to, so the first task does not wait
    for them (``import anthropic`` takes seconds), and rehearse one request
    through each; then load what every first task pays for, and let pygls's
    ``converter`` (once, at start-up) build its (un)structuring code for the
    messages a task sends and receives."""
    if os.environ.get(WARM_UP_ENV) == "0":  # short-lived servers (scripts, the test suite) skip it
        return
    configs = [config for root in roots for config in services.policies.router(root).policy.models.values()]

    async def warm() -> None:
        started = time.perf_counter()
        # One piece of background work at a time, and no garbage collection
        # meanwhile (see providers/collector.py): what the warm-up leaves is
        # frozen out of later collections.
        async with services.background.turn():
            with collections_paused():
                await services.providers.warm(configs)
                steps = [_load_task_path]
                if converter:
                    steps.append(functools.partial(_convert_task_messages, converter))
                for step in steps:
                    try:
                        await asyncio.to_thread(step)
                    except Exception as exc:  # only slower: the first task loads it
                        logger.warning("warming up for the first task failed: %s: %s", type(exc).__name__, exc)
        logger.debug("%s %.0f ms", WARM_UP_DONE, (time.perf_counter() - started) * 1000)

    task = asyncio.get_running_loop().create_task(warm())
    tasks.add(task)  # the loop keeps only a weak reference
    task.add_done_callback(tasks.discard)


def _load_task_path() -> None:
    """What the first task would otherwise load: the runner's modules, the
    secret detector's compiled rules (about 80 ms of regular expressions),
    the grammars and queries of every shipped language, the prompts, the
    review's answer models, the shipped safety rules (about 200 ms: YAML and
    ast-grep) and the check stage. One assembly and one check of a tiny
    request walk that path."""
    import assistant_router.delivery.review  # noqa: F401  (pydantic models of a review's answer)
    import assistant_router.server.runner  # noqa: F401
    from assistant_router import delivery
    from assistant_router.engine import context
    from assistant_router.engine.assembly import TaskSource, assemble
    from assistant_router.routing.policy import ModelConfig
    from assistant_router.routing.tasks import Task

    for language in context.GRAMMARS:
        if context._parser(language) is not None:
            context._queries(language)
    source = TaskSource(Task.EXPLAIN, "warm.py", "python", "def warm():\n    return 'up'\n", (0, 0), (2, 0))
    assemble(source, ModelConfig(alias="warm", provider="mock", model="warm"))
    delivery.kinds()
    import assistant_router.delivery.checking  # noqa: F401
    from assistant_router.engine.checks.stage import Proposal, check_proposal
    from assistant_router.routing.policy import CheckSettings

    check_proposal(Proposal("file:///warm.py", "python", "warm.py", source.text, source.text + "x = 1\n"),
                   CheckSettings())


def _convert_task_messages(converter: Any) -> None:
    """cattrs generates an (un)structuring function per message type on first
    use (about 10 ms for a task's messages): generate them for what a task
    sends (progress, edits, diagnostics, documents, messages, its response)
    and the answers it reads."""
    from pygls.protocol.json_rpc import JsonRPCNotification, JsonRPCResponseMessage

    uri = "file:///warm-up.py"
    where = types.Range(types.Position(0, 0), types.Position(0, 1))
    progress = [types.WorkDoneProgressBegin(title="warm", cancellable=True, message="", percentage=0),
                types.WorkDoneProgressReport(message="", percentage=1, cancellable=True),
                types.WorkDoneProgressEnd(message="")]
    edit = types.WorkspaceEdit(
        document_changes=[types.TextDocumentEdit(
            types.OptionalVersionedTextDocumentIdentifier(uri=uri, version=1),
            [types.AnnotatedTextEdit(range=where, new_text="", annotation_id="warm"), types.TextEdit(where, "")])],
        change_annotations={"warm": types.ChangeAnnotation(label="warm", needs_confirmation=False)},
    )
    diagnostic = types.Diagnostic(where, "warm", severity=types.DiagnosticSeverity.Warning, code="warm",
                                  source="warm", data={"warm": 1})
    sent = [
        types.WorkDoneProgressCreateRequest(id=0, params=types.WorkDoneProgressCreateParams(token="warm")),
        *(types.ProgressNotification(params=types.ProgressParams(token="warm", value=value)) for value in progress),
        types.ApplyWorkspaceEditRequest(id=0, params=types.ApplyWorkspaceEditParams(edit=edit, label="warm")),
        types.PublishDiagnosticsNotification(params=types.PublishDiagnosticsParams(uri, [diagnostic], version=1)),
        types.ShowDocumentRequest(id=0, params=types.ShowDocumentParams(uri, take_focus=True, selection=where)),
        types.ShowMessageNotification(params=types.ShowMessageParams(types.MessageType.Info, "warm")),
        types.LogMessageNotification(params=types.LogMessageParams(types.MessageType.Log, "warm")),
        JsonRPCResponseMessage(id=0, jsonrpc="2.0", result={"status": "warm"}),
        JsonRPCNotification(method="assistant/status", jsonrpc="2.0", params={"warm": True}),
    ]
    for message in sent:
        converter.structure(converter.unstructure(message), type(message))
    for response, result in ((types.WorkDoneProgressCreateResponse, None),
                             (types.ApplyWorkspaceEditResponse, {"applied": True}),
                             (types.ShowDocumentResponse, {"success": True})):
        converter.structure({"jsonrpc": "2.0", "id": 0, "result": result}, response)
    for message in sent:  # again: registering a hook on first use clears the dispatch caches
        converter.unstructure(message)


def setup(server: LanguageServer, services: Services) -> None:
    warming: set[asyncio.Task] = set()
    server.protocol.bound(types.INITIALIZE, _bound_initialize)  # type: ignore[attr-defined]
    server.protocol.bound(types.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS, _bound_folder_change)  # type: ignore[attr-defined]
    @server.feature(types.INITIALIZE)
    def initialize(ls: LanguageServer, params: types.InitializeParams) -> None:
        services.capabilities = type(services.capabilities).from_initialize(params)
        services.initialization_options = params.initialization_options  # validated after the response
        services.roots.set_roots(_workspace_roots(ls))

    @server.feature(types.INITIALIZED)
    async def initialized(ls: LanguageServer, params: types.InitializedParams) -> None:
        attach_client_log(ls)
        from assistant_router.server.arguments import parse_client_options

        services.options, problem = parse_client_options(services.initialization_options)
        if problem:
            logger.warning("%s", problem)
            ls.window_show_message(types.ShowMessageParams(types.MessageType.Warning, problem))
        for root in services.roots.roots or (None,):
            services.policies.reload(root)

        def projects():
            roots = services.roots.roots or (None,)
            return [(str(root) if root else "", services.policies.router(root).policy) for root in roots]

        services.usage.start(projects, services.read_text)
        for project, policy in projects():  # the spend so far, from the shared ledger (other windows too)
            await services.usage.refresh(project, policy)
        from assistant_router.server.features.policy_files import watch_policy_files

        await watch_policy_files(ls, services)
        _warm_up(services, services.roots.roots or (None,), warming, getattr(ls.protocol, "_converter", None))

    @server.feature(types.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS)
    def folders_changed(ls: LanguageServer, params: types.DidChangeWorkspaceFoldersParams) -> None:
        before = set(services.roots.roots)
        services.roots.set_roots(_workspace_roots(ls))
        for root in before - set(services.roots.roots):
            services.policies.forget(root)
        added = set(services.roots.roots) - before
        for root in added:
            services.policies.reload(root)
        if added:
            _warm_up(services, added, warming)

    @server.feature(types.SHUTDOWN)
    async def shutdown(ls: LanguageServer, params: None) -> None:
        cancelled = services.running.cancel_all("server shutting down")
        if cancelled:  # let them answer and record their run before `exit` closes stdout
            await asyncio.wait(cancelled, timeout=SHUTDOWN_WAIT_S)
        if "usage" in vars(services):  # only if this session used it
            await services.usage.judge(services.read_text, everything=True)
            await services.usage.stop()
