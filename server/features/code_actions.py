"""textDocument/codeAction: one action per task, titled with its model.

This runs on every cursor move in some editors, so it must stay as cheap as
an empty handler: no model calls, no file-system access (document locations
and routers are cached), a plain synchronous function.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer  # runtime: pygls resolves handler annotations

from assistant_router.engine.limits import MAX_DIAGNOSTIC_CHARS, MAX_DIAGNOSTICS
from assistant_router.engine.results import model_label
from assistant_router.engine.text import last_selected_line, overlaps, range_json
from assistant_router.engine.usage.budgets import exhausted
from assistant_router.routing.matching import RouteRequest
from assistant_router.routing.tasks import ADVERTISED_KINDS, EmptySelection, Task
from assistant_router.server.features.commands import APPLY_UNCHECKED_COMMAND, RUN_COMMAND

if TYPE_CHECKING:
    from assistant_router.server.app import Services

logger = logging.getLogger(__name__)

def _wanted(kind: str, only: list[str] | None) -> bool:
    return not only or any(kind == o or kind.startswith(o + ".") for o in only)


def _ai_tags(services: Services) -> list[types.CodeActionTag] | None:
    """Every action here comes from a model (a task, or a review's suggested
    fix): tagged so, for the clients that can show it."""
    return [types.CodeActionTag.LlmGenerated] if services.capabilities.llm_generated_tag else None


def _review_fixes(services: Services, document, uri: str, target: types.Range, only) -> list[types.CodeAction]:
    """Quick fixes for review findings that came with a replacement, while the
    text they were about is unchanged. No model is involved."""
    fixes = services.reviews.get(uri)
    if not fixes or document is None or not _wanted(types.CodeActionKind.QuickFix.value, only):
        return []
    lines = services.line_indexes.get(uri, document.source)
    if lines is None:
        return []  # a long document being indexed: offered again once it is
    if target.start == target.end:  # a bare cursor: the findings on its line
        target = types.Range(types.Position(target.start.line, 0), types.Position(target.start.line, 1 << 30))
    actions = []
    for fix in fixes:
        diagnostic = fix.diagnostic
        if not overlaps(diagnostic.range, target) or not fix.still_applies(lines):
            continue
        edit = types.TextEdit(diagnostic.range, fix.replacement)
        if services.capabilities.document_changes:
            identifier = types.OptionalVersionedTextDocumentIdentifier(uri, document.version)
            workspace_edit = types.WorkspaceEdit(document_changes=[types.TextDocumentEdit(identifier, [edit])])
        else:
            workspace_edit = types.WorkspaceEdit(changes={uri: [edit]})
        summary = diagnostic.message.rsplit(" — ", 1)[0]
        actions.append(
            types.CodeAction(
                title=f"Apply suggested fix: {summary[:80]}",
                kind=types.CodeActionKind.QuickFix,
                diagnostics=[diagnostic],
                edit=workspace_edit,
                is_preferred=True,
                tags=_ai_tags(services),
            )
        )
    return actions


def _held_answers(services: Services, uri: str, target: types.Range, only) -> list[types.CodeAction]:
    """"Apply unchecked answer" where an answer was held back by its checks
    (its diagnostics are on the selection it would change)."""
    held = services.held.get(uri)
    if not held or not _wanted(types.CodeActionKind.QuickFix.value, only):
        return []
    if target.start == target.end:
        target = types.Range(types.Position(target.start.line, 0), types.Position(target.start.line, 1 << 30))
    actions = []
    for entry in reversed(held):  # the latest first
        if not any(overlaps(d.range, target) for d in entry.diagnostics):
            continue
        answer = entry.answer
        problems = len(entry.diagnostics)
        title = (f"Apply unchecked answer: {answer.request.task.value} by {answer.label} "
                 f"({problems} problem{'s' if problems != 1 else ''})")
        actions.append(types.CodeAction(
            title=title, kind=types.CodeActionKind.QuickFix, diagnostics=list(entry.diagnostics),
            command=types.Command(title=title, command=APPLY_UNCHECKED_COMMAND, arguments=[{"id": entry.id}]),
            tags=_ai_tags(services),
        ))
    return actions


def _line_end(services: Services, document, uri: str, line: int) -> types.Position:
    """Where ``line`` ends, in the client's units. In a long document not yet
    indexed: past any line's end, which the LSP defines as the line's end
    (and the run clamps), rather than splitting the whole text now."""
    if document is None:
        return types.Position(line, 0)
    lines = services.line_indexes.get(uri, document.source)
    if lines is None:
        return types.Position(line, LINE_END)
    if line >= len(lines):
        return types.Position(line, 0)
    content = lines[line].rstrip("\r\n")
    units = len(content) if content.isascii() else document.position_codec.client_num_units(content)
    return types.Position(line, units)


LINE_END = 2**31 - 1  # the largest uinteger a client must accept


def _first_diagnostics(params: dict[str, Any]) -> None:
    """Keep the first MAX_DIAGNOSTICS of a code action's diagnostics (raw
    JSON, before pygls reads them): more could not go into one request."""
    context = params.get("context")
    diagnostics = context.get("diagnostics") if isinstance(context, dict) else None
    if isinstance(context, dict) and isinstance(diagnostics, list) and len(diagnostics) > MAX_DIAGNOSTICS:
        logger.warning("a code action came with %d diagnostics; the first %d are used",
                       len(diagnostics), MAX_DIAGNOSTICS)
        context["diagnostics"] = diagnostics[:MAX_DIAGNOSTICS]


def setup(server: LanguageServer, services: Services) -> None:
    server.protocol.bound(types.TEXT_DOCUMENT_CODE_ACTION, _first_diagnostics)  # type: ignore[attr-defined]

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=list(ADVERTISED_KINDS), resolve_provider=False),
    )
    def code_actions(ls: LanguageServer, params: types.CodeActionParams) -> list[types.CodeAction]:
        uri = params.text_document.uri
        only = params.context.only
        document = ls.workspace.text_documents.get(uri)
        location = services.roots.locate(uri)
        router = services.policies.router(location.root)
        excluded = services.exclusion_reason(uri)
        if excluded and not services.capabilities.disabled_code_actions:
            return []  # the client cannot show why; offer nothing rather than something that will refuse

        start, end = params.range.start, params.range.end
        if start == end:
            # A bare cursor: scaffold inserts there; the others take the whole line.
            line_end = _line_end(services, document, uri, start.line)
            line_range = range_json(types.Range(types.Position(start.line, 0), line_end))
            target = f"line {start.line + 1}"
        else:
            line_range = range_json(params.range)
            target = "selection"
        selection_range = range_json(params.range)
        lines = last_selected_line(start.line, end.line, end.character) - start.line + 1
        language = document.language_id if document else None

        actions = _review_fixes(services, document, uri, params.range, only)
        actions += _held_answers(services, uri, params.range, only)
        offered = services.options.tasks if services.options is not None else Task
        budget = router.policy.budget
        tags = _ai_tags(services)
        spend = services.usage.cached(services.project_key(uri)) if budget.any else None
        for task in offered:
            diagnostics = params.context.diagnostics
            spec = task.spec
            if spec.needs_diagnostics and not diagnostics:
                continue
            kind = spec.code_action_kind
            if not _wanted(kind, only):
                continue
            model = router.decide(RouteRequest(task, location.relative, language, lines)).primary
            disabled_reason = f"Not sent: this file is {excluded}" if excluded else None
            note = ""
            if budget.any:  # cached spend only: no ledger access here
                judged = exhausted(budget, spend, task)
                if not judged.allowed:
                    if not services.capabilities.disabled_code_actions:
                        continue
                    disabled_reason = disabled_reason or judged.reason[:1].upper() + judged.reason[1:]
                elif judged.downgrade_to:
                    model = router.policy.models[judged.downgrade_to[0]]
                    note = " (budget: downgraded)"
            title = f"{spec.verb} {target} · {model_label(model)}{note}"
            argument = {
                "task": task.value,
                "uri": uri,
                "range": selection_range if spec.empty_selection is EmptySelection.CURSOR else line_range,
            }
            if diagnostics:  # the problems in range are context for every task, and the point of a fix
                argument["diagnostics"] = [
                    {"message": d.message[:MAX_DIAGNOSTIC_CHARS], "line": d.range.start.line, "source": d.source}
                    for d in diagnostics
                ]
            actions.append(
                types.CodeAction(
                    title=title,
                    kind=kind,
                    diagnostics=list(diagnostics) if spec.needs_diagnostics else None,
                    command=types.Command(title=title, command=RUN_COMMAND, arguments=[argument]),
                    disabled=types.CodeActionDisabled(reason=disabled_reason) if disabled_reason else None,
                    tags=tags,
                )
            )
        return actions
