"""The delivery target for the editor: workspace/applyEdit, diagnostics,
window/showDocument, window/showMessage; every capability checked first.

Delivery modules speak code points; this is where ranges become the
client's units (UTF-16 for most clients).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls import uris
from pygls.lsp.server import LanguageServer

from assistant_router.delivery.target import CurrentText, FileEdit
from assistant_router.engine.results import Declined, Failed
from assistant_router.engine.text import LineIndex
from assistant_router.server.diagnostics import CHECKS_CHANNEL, REVIEW_CHANNEL

if TYPE_CHECKING:
    from assistant_router.delivery.review import Finding
    from assistant_router.engine.checks.stage import Finding as CheckFinding
    from assistant_router.engine.pipeline import Answer
    from assistant_router.server.app import Services

logger = logging.getLogger(__name__)

ANNOTATION_ID = "assistant-router"


def client_range(ls: LanguageServer, services: Services, uri: str, span: Any) -> types.Range:
    """A code-point range of the document at ``uri`` in the client's units
    (with its line index: pygls's own conversion splits the whole text)."""
    server_range = types.Range(types.Position(span.start.line, span.start.character),
                               types.Position(span.end.line, span.end.character))
    document = ls.workspace.get_text_document(uri)
    lines = services.line_indexes.get(uri, document.source) or LineIndex(document.source)
    return document.position_codec.range_to_client_units(lines, server_range)


class LspTarget:
    def __init__(self, ls: LanguageServer, services: Services) -> None:
        self._ls = ls
        self._services = services
        self._features = services.capabilities

    @property
    def cannot_apply_edits(self) -> str | None:
        return None if self._features.apply_edit else "this editor cannot apply edits"

    @property
    def can_create_files(self) -> bool:
        return self._features.create_files

    accepts_unchecked = False  # a held answer is applied by its code action, on request

    def read(self, uri: str) -> CurrentText | None:
        workspace = self._ls.workspace
        if (document := workspace.text_documents.get(uri)) is not None:
            return CurrentText(document.source, document.version, self._services.line_indexes.get(uri, document.source))
        path = uris.to_fs_path(uri)
        if path is None or not Path(path).is_file():
            return None
        try:
            return CurrentText(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            return None

    async def apply(self, answer: Answer, edits: Sequence[FileEdit]) -> None:
        features = self._features
        task, config = answer.request.task, answer.config
        changes: list[Any] = []
        for edit in edits:
            if edit.create:
                changes.append(types.CreateFile(uri=edit.uri, options=types.CreateFileOptions(ignore_if_exists=True)))
            rng = (types.Range(types.Position(0, 0), types.Position(0, 0)) if edit.create
                   else client_range(self._ls, self._services, edit.uri, edit.range))
            text_edit: types.TextEdit = (
                types.AnnotatedTextEdit(range=rng, new_text=edit.new_text, annotation_id=ANNOTATION_ID)
                if features.change_annotations else types.TextEdit(rng, edit.new_text)
            )
            changes.append(types.TextDocumentEdit(types.OptionalVersionedTextDocumentIdentifier(edit.uri, edit.version),
                                                  [text_edit]))
        if features.document_changes:
            annotations = None
            if features.change_annotations:  # VS Code then shows a preview that asks for confirmation
                annotations = {ANNOTATION_ID: types.ChangeAnnotation(
                    label=f"{task.value} by {answer.label}", needs_confirmation=True,
                    description=f"Proposed by {config.shown_provider_model} through assistant-router",
                )}
            workspace_edit = types.WorkspaceEdit(document_changes=changes, change_annotations=annotations)
        else:
            workspace_edit = types.WorkspaceEdit(
                changes={c.text_document.uri: list(c.edits) for c in changes if isinstance(c, types.TextDocumentEdit)}
            )
        result = await self._ls.workspace_apply_edit_async(
            types.ApplyWorkspaceEditParams(workspace_edit, label=f"assistant-router: {task.value} by {config.alias}")
        )
        if not result.applied:
            if result.failure_reason:
                raise Failed(f"the editor could not apply the {task.value} edit: {result.failure_reason}")
            # No reason: the user declined it (VS Code's preview of an edit that needs confirmation).
            raise Declined(f"the {task.value} edit by {answer.label} was not applied (declined in the editor)")

    async def reveal(self, uri: str) -> None:
        if self._features.show_document:
            await self._ls.window_show_document_async(types.ShowDocumentParams(uri=uri, take_focus=False))

    async def show_document(self, name: str, markdown: str, fallback: str) -> str | None:
        shown = None
        if self._features.show_document:
            path = save_markdown(self._services.answers_dir(), name, markdown)
            shown = path.as_uri()
            result = await self._ls.window_show_document_async(types.ShowDocumentParams(uri=shown, take_focus=True))
            if result.success:
                return shown
            logger.warning("client could not show %s; showing the answer as a message", path)
        self._ls.window_show_message(types.ShowMessageParams(types.MessageType.Info, fallback))
        return shown

    def show_findings(self, answer: Answer, findings: Sequence[Finding]) -> Mapping[str, Any]:
        from assistant_router.delivery.review import ReviewFix, findings_to_diagnostics  # pydantic: on first use

        uri = answer.request.document.uri
        document = self._ls.workspace.get_text_document(uri)
        lines = self._services.line_indexes.get(uri, document.source) or LineIndex(document.source)
        diagnostics, _ = findings_to_diagnostics(list(findings), lines, answer.label)
        fixes = []
        for diagnostic in diagnostics:
            server_range = diagnostic.range
            diagnostic.range = document.position_codec.range_to_client_units(lines, server_range)
            if diagnostic.data is not None:
                fixes.append(
                    ReviewFix(diagnostic, server_range, diagnostic.data["original"], diagnostic.data["replacement"])
                )
        self._services.reviews.set(uri, fixes)
        self._services.diagnostics.set(uri, REVIEW_CHANNEL, diagnostics)
        return {"diagnostics": len(diagnostics), "fixes": len(fixes)}


    def hold(self, answer: Answer, edits: Sequence[FileEdit], findings: Sequence[CheckFinding]) -> Mapping[str, Any]:
        """Diagnostics on the selection, one per problem of the proposed edit
        (source assistant-router, code: the rule id or "syntax"), and the
        "Apply unchecked answer" code action there (server/held.py)."""
        from assistant_router.engine.text import Pos, Span
        from assistant_router.server.held import HeldAnswer

        request = answer.request
        uri = request.document.uri
        edit = next((e for e in edits if e.uri == uri), None)
        span = edit.range if edit is not None else request.span
        if span.start == span.end:  # an insertion: its line
            span = Span(Pos(span.start.line, 0), Pos(span.start.line + 1, 0))
        where = client_range(self._ls, self._services, uri, span) if uri in self._ls.workspace.text_documents \
            else types.Range(types.Position(span.start.line, 0), types.Position(span.start.line, 0))
        diagnostics = [
            types.Diagnostic(
                where, f"{finding.message} (line {finding.line + 1} of the proposed {request.task.value} edit by "
                f"{answer.label}; not applied)",
                severity=_SEVERITY.get(finding.severity, types.DiagnosticSeverity.Error),
                code=finding.code, source="assistant-router")
            for finding in findings[:MAX_HELD_DIAGNOSTICS]
        ]
        held = HeldAnswer(answer, diagnostics)
        self._services.held.add(uri, held)
        self._services.diagnostics.set(uri, CHECKS_CHANNEL, self._services.held.diagnostics(uri))
        return {"diagnostics": len(diagnostics), "held": held.id,
                "how_to_apply": "to apply it anyway, use the code action \"Apply unchecked answer\" on the selection"}


MAX_HELD_DIAGNOSTICS = 20
_SEVERITY = {"error": types.DiagnosticSeverity.Error, "warning": types.DiagnosticSeverity.Warning,
             "info": types.DiagnosticSeverity.Information, "hint": types.DiagnosticSeverity.Hint}


def save_markdown(folder: Path, name: str, text: str | list[str]) -> Path:
    """A Markdown file in the answers folder (user cache), named after its
    source; ``text`` may come in parts."""
    stamp = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
    path = folder / f"{name}-{stamp}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as file:
        file.writelines([text] if isinstance(text, str) else text)
    return path
