"""Running one AI task: route, stream with fallback, deliver, report.

The command handler awaits :meth:`TaskRunner.run`, which runs the work in its
own asyncio task so that ``$/cancelRequest`` and a cancelled work-done
progress can stop it. Nothing is delivered until the whole answer has
arrived; once any output has streamed, a failure ends the task instead of
falling back to another model.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from assistant_router.routing.matching import RouteRequest
from assistant_router.routing.tasks import Delivery, Task
from assistant_router.delivery import edits as delivery
from assistant_router.delivery import review
from assistant_router.delivery.review import ReviewFix
from assistant_router.engine.text import last_selected_line
from assistant_router.engine.assembly import RequestTooLarge, TaskSource, assemble, preview, preview_markdown
from assistant_router.engine.calling import Outcome, TaskFailed, call_models, check_stop, model_label
from assistant_router.engine.context import Neighbour

if TYPE_CHECKING:
    from pygls.lsp.server import LanguageServer

    from assistant_router.routing.policy import ModelConfig
    from assistant_router.routing.router import Decision
    from assistant_router.routing.classify import Classification
    from assistant_router.server.app import Services
    from assistant_router.server.arguments import AskArgs, RouteArgs, TaskArgs

logger = logging.getLogger(__name__)

PROGRESS_INTERVAL_S = 0.1
# A custom notification (no lsprotocol constant exists): clients show it in their status line.
STATUS_NOTIFICATION = "assistant/status"
ANNOTATION_ID = "assistant-router"


@dataclass(frozen=True)
class Answer:
    """A complete answer, with what is needed to deliver it."""

    task: Task
    snapshot: delivery.Snapshot  # the document as the task started from it
    target: types.Range  # the selection, in client units
    text: str
    config: ModelConfig  # the model that answered

    @property
    def lines_label(self) -> str:
        last = last_selected_line(self.target.start.line, self.target.end.line, self.target.end.character)
        return f"lines {self.target.start.line + 1}-{last + 1}"


class EditDeclined(TaskFailed):
    """The editor (or the user, in its preview) did not take the edit; not an error."""


class _ProgressReporter:
    """Work-done progress when the client supports it; otherwise nothing."""

    def __init__(self, ls: LanguageServer, enabled: bool) -> None:
        self._ls = ls
        self.enabled = enabled
        self.token: str | None = None
        self._last = 0.0
        self._ended = False

    async def begin(self, title: str, message: str) -> None:
        if not self.enabled:
            return
        token = str(uuid.uuid4())
        try:
            await self._ls.work_done_progress.create_async(token)
        except Exception as exc:  # a client may refuse; the task still runs
            logger.warning("client refused work-done progress: %s", exc)
            self.enabled = False
            return
        self.token = token
        self._ls.work_done_progress.begin(
            token, types.WorkDoneProgressBegin(title=title, message=message, cancellable=True, percentage=None)
        )

    def report(self, message: str, *, force: bool = False) -> None:
        if self.token is None or self._ended:
            return
        now = time.monotonic()
        if not force and now - self._last < PROGRESS_INTERVAL_S:
            return
        self._last = now
        self._ls.work_done_progress.report(self.token, types.WorkDoneProgressReport(message=message))

    def end(self, message: str) -> None:
        if self.token is None or self._ended:
            return
        self._ended = True
        self._ls.work_done_progress.end(self.token, types.WorkDoneProgressEnd(message=message))
        self._ls.work_done_progress.tokens.pop(self.token, None)


class TaskRunner:
    def __init__(self, ls: LanguageServer, services: Services) -> None:
        self._ls = ls
        self._services = services

    # ----------------------------------------------------------------- entry

    async def run(self, args: TaskArgs, request_id: Any) -> dict[str, Any]:
        started = time.monotonic()
        outcome = Outcome(args.task)
        progress = _ProgressReporter(self._ls, self._services.capabilities.progress)
        job = asyncio.create_task(self._execute(args, outcome, progress), name=f"assistant.run {args.task.value}")
        self._services.running.add(job, ("request", request_id))
        try:
            await asyncio.shield(job)
        except asyncio.CancelledError:
            me = asyncio.current_task()
            if me is not None and me.cancelling():
                job.cancel()  # the server itself is stopping this handler
                raise
            outcome.status = "cancelled"
            outcome.message = "cancelled; nothing was applied"
        except EditDeclined as exc:
            outcome.status = "cancelled"
            outcome.message = str(exc)
        except TaskFailed as exc:
            outcome.status = "failed"
            outcome.message = str(exc)
            self._ls.window_show_message(types.ShowMessageParams(types.MessageType.Error, f"assistant-router: {exc}"))
        except Exception as exc:  # a bug: keep the server alive and say so
            logger.exception("task %s crashed", args.task.value)
            outcome.status = "failed"
            outcome.message = f"internal error: {type(exc).__name__}: {exc}"
            self._ls.window_show_message(
                types.ShowMessageParams(types.MessageType.Error, f"assistant-router: {outcome.message}")
            )
        finally:
            progress.end(_end_message(outcome))
        result = outcome.to_json(int((time.monotonic() - started) * 1000))
        project = self._services.project_key(args.uri)
        edit = outcome.details.get("edit") or {}
        result["cost_usd"] = await self._services.usage.record(project, outcome, edit.get("uri"), edit.get("new_text"))
        result["spend_today"] = self._services.usage.today(project)
        self._notify_status(result)
        logger.info(
            "%s → %s: %s (%s)", args.task.value, result["alias"], outcome.status, outcome.message or result["reason"]
        )
        return result

    def _notify_status(self, result: dict[str, Any]) -> None:
        """``assistant/status``: what the last task did, for the client's status line."""
        options = self._services.options
        if options is not None and not options.status_notifications:
            return
        status = {key: result.get(key) for key in ("task", "alias", "provider", "model", "status", "fallback",
                                                     "usage", "elapsed_ms", "message", "cost_usd", "spend_today")}
        self._ls.protocol.notify(STATUS_NOTIFICATION, status)

    async def preview(self, args: TaskArgs) -> dict[str, Any]:
        """What ``assistant.run`` would send to the primary model; sends nothing."""
        try:
            document, _, _, source = self.prepare(args)
        except TaskFailed as exc:
            return {"task": args.task.value, "sent": False, "status": "refused", "message": str(exc)}
        decision = self._decide(args, document.language_id)
        try:
            assembled = assemble(source, decision.primary)
        except RequestTooLarge as exc:
            return {**decision.to_json(), "sent": False, "status": "refused", "message": str(exc)}
        data = {**preview(decision.to_json(), decision.primary, assembled), "status": "preview"}
        if self._services.capabilities.show_document:
            path = self._save_markdown(f"preview-{args.task.value}", source.path, preview_markdown(data))
            await self._ls.window_show_document_async(types.ShowDocumentParams(uri=path.as_uri(), take_focus=True))
            data["document"] = path.as_uri()
        return data

    def _save_markdown(self, prefix: str, source_path: str, text: str) -> Path:
        """A Markdown file in the answers folder (user cache), named after its source."""
        stamp = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
        path = self._services.answers_dir() / f"{prefix}-{Path(source_path).stem}-{stamp}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def route(self, args: RouteArgs) -> dict[str, Any]:
        """The decision, with an estimate of what it would send and cost; with a
        prompt and no task, the classified task too."""
        document = self._ls.workspace.get_text_document(args.uri)
        extra: dict[str, Any] = {}
        if args.task is None:
            classification = self.classify(args.prompt or "", args)
            args = args.model_copy(update={"task": classification.task})
            extra["classification"] = classification.to_json()
        decision = self._decide(args, document.language_id)
        return {**decision.to_json(), "estimate": self._estimate(args, decision), **extra}

    def _estimate(self, args: TaskArgs, decision: Decision) -> dict[str, Any]:
        from assistant_router.engine.usage.service import estimate_usd

        try:
            _, _, _, source = self.prepare(args)
            tokens = assemble(source, decision.primary).input_tokens
        except (TaskFailed, RequestTooLarge) as exc:
            return {"input_tokens": None, "cost_usd": None, "note": str(exc)}
        cost = estimate_usd(decision.primary, tokens)
        return {"input_tokens": tokens, "cost_usd": cost,
                "note": "unknown price" if cost is None else "input plus an answer of up to 2,000 tokens"}

    @staticmethod
    def classify(prompt: str, args: TaskArgs | RouteArgs | AskArgs) -> Classification:
        from assistant_router.routing.classify import classify

        has_selection = args.range.start != args.range.end
        return classify(prompt, has_selection=has_selection, has_diagnostics=bool(args.diagnostics))

    async def ask(self, args: AskArgs, request_id: Any) -> dict[str, Any]:
        """A free-form request: classify it, ask the user when unsure, then run it."""
        from assistant_router.server.arguments import TaskArgs

        classification = self.classify(args.prompt, args)
        task = classification.task
        if not classification.confident:
            choices = [types.MessageActionItem(title=t.value.capitalize()) for t in classification.likely]
            chosen = await self._ls.window_show_message_request_async(
                types.ShowMessageRequestParams(
                    type=types.MessageType.Info,
                    message=f"assistant-router: what should I do with “{args.prompt}”?",
                    actions=choices,
                )
            )
            if chosen is None:
                result = {"status": "cancelled", "message": "no task chosen", "classification": classification.to_json()}
                self._notify_status(result)
                return result
            task = Task(chosen.title.lower())
        target = args.range
        if target.start == target.end and task is not Task.SCAFFOLD:
            # A bare cursor: the request is about the line, as with the code actions.
            document = self._ls.workspace.get_text_document(args.uri)
            line = target.start.line
            end = _clamp(document, types.Position(line, 1 << 30))
            target = target.model_copy(update={
                "start": target.start.model_copy(update={"character": 0}),
                "end": target.end.model_copy(update={"character": end.character}),
            })
        run_args = TaskArgs(task=task, uri=args.uri, range=target, prompt=args.prompt, diagnostics=args.diagnostics)
        result = await self.run(run_args, request_id)
        chosen_by = "classifier" if classification.confident else "user"
        return {**result, "classification": {**classification.to_json(), "chosen_by": chosen_by}}

    # ------------------------------------------------------------- the work

    def _decide(self, args: TaskArgs, language: str | None) -> Decision:
        location = self._services.roots.locate(args.uri)
        router = self._services.policies.router(location.root)
        start, end = args.range.start, args.range.end
        lines = last_selected_line(start.line, end.line, end.character) - start.line + 1
        return router.decide(RouteRequest(args.task, location.relative, language, lines))

    async def _within_budget(self, args: TaskArgs, source: TaskSource, decision: Decision) -> Decision:
        """Refuse, or downgrade to the policy's cheaper chain, a request that
        would exceed a budget (spend read fresh from the shared ledger)."""
        from assistant_router.engine.usage.budgets import BudgetExceeded, within_budget
        from assistant_router.engine.usage.service import estimate_usd

        policy = self._services.policies.router(self._services.roots.locate(args.uri).root).policy
        if not policy.budget.any:
            return decision
        spend = await self._services.usage.refresh(self._services.project_key(args.uri))
        try:
            tokens = assemble(source, decision.primary).input_tokens
        except RequestTooLarge:
            tokens = 0
        try:
            decided = within_budget(policy, decision, spend, estimate_usd(decision.primary, tokens))
        except BudgetExceeded as exc:
            raise TaskFailed(str(exc)) from None
        if decided is not decision:
            logger.warning("%s", decided.reason)
        return decided

    def prepare(self, args: TaskArgs) -> tuple[Any, delivery.Snapshot, types.Range, TaskSource]:
        """The document, its snapshot, the target range and the model-independent
        request source for a task. Refuses files that may not be sent."""
        ls = self._ls
        try:
            document = ls.workspace.get_text_document(args.uri)
            text = document.source
        except OSError as exc:
            raise TaskFailed(f"cannot read {args.uri}: {exc.strerror or exc}") from None
        snapshot = delivery.Snapshot(args.uri, text)
        target = types.Range(_clamp(document, args.range.start), _clamp(document, args.range.end))
        if target.start.line >= max(len(document.lines), 1) and text:
            raise TaskFailed(f"line {target.start.line + 1} is past the end of {Path(document.path).name}")
        location = self._services.roots.locate(args.uri)
        policies = self._services.policies
        exclusions = policies.exclusions(location.root)
        if (reason := exclusions.reason(location.relative)) is not None:
            raise TaskFailed(f"nothing was sent: {location.relative} is {reason}")
        policy = policies.router(location.root).policy
        server_range = document.range_from_client_units(target)
        neighbours = []
        for uri, other in ls.workspace.text_documents.items():
            other_location = self._services.roots.locate(uri)
            if uri == args.uri or other_location.root != location.root or exclusions.reason(other_location.relative):
                continue
            neighbours.append(Neighbour(other_location.relative or other.path, other.language_id or "", other.source))
        instructions = None
        if policy.instructions is not None:
            try:
                instructions = policy.instructions.read_text(encoding="utf-8")
            except OSError as exc:
                logger.warning("cannot read the instructions file %s: %s", policy.instructions, exc)
        source = TaskSource(
            task=args.task,
            path=location.relative or document.path,
            language=document.language_id or "",
            text=text,
            start=(server_range.start.line, server_range.start.character),
            end=(server_range.end.line, server_range.end.character),
            diagnostics=tuple(f"line {d.line + 1}: {d.message}" for d in args.diagnostics),
            user_prompt=args.prompt,
            neighbours=tuple(neighbours),
            instructions=instructions,
            redact_secrets=policy.privacy.redact_secrets,
        )
        return document, snapshot, target, source

    async def _execute(self, args: TaskArgs, outcome: Outcome, progress: _ProgressReporter) -> None:
        document, snapshot, target, source = self.prepare(args)
        decision = outcome.decision = await self._within_budget(args, source, self._decide(args, document.language_id))
        primary = decision.primary
        await progress.begin(
            f"{args.task.value.capitalize()} · {model_label(primary)}",
            f"routed by {decision.reason}",
        )
        if progress.token is not None and (me := asyncio.current_task()) is not None:
            self._services.running.add(me, ("progress", progress.token))
        answered = await call_models(
            decision, source, outcome, self._services.providers, self._services.breaker, progress.report
        )
        config, assembled = answered.config, answered.assembled
        outcome.answered_by = config
        outcome.details["context"] = assembled.summary()
        text = assembled.redactions.restore(answered.text)
        if config is not decision.primary:
            failed = next(a for a in outcome.attempts if a.config is decision.primary)
            self._ls.window_show_message(
                types.ShowMessageParams(
                    types.MessageType.Warning,
                    f"assistant-router: {args.task.value} was answered by {model_label(config)} because "
                    f"{model_label(decision.primary)} failed: {failed.error}",
                )
            )
        text = check_stop(args.task, text, config, answered.completion)
        progress.report(f"{config.alias}: answer complete, delivering", force=True)
        await self._deliver(Answer(args.task, snapshot, target, text, config), outcome)

    # --------------------------------------------------------------- delivery

    async def _deliver(self, answer: Answer, outcome: Outcome) -> None:
        match answer.task.delivery:
            case Delivery.EDIT:
                await self._deliver_edit(answer, outcome)
            case Delivery.DIAGNOSTICS:
                self._deliver_review(answer, outcome)
            case Delivery.DOCUMENT:
                await self._deliver_document(answer, outcome)

    async def _deliver_edit(self, answer: Answer, outcome: Outcome) -> None:
        capabilities = self._services.capabilities
        if not capabilities.apply_edit:
            # The client cannot take edits: show the proposal instead.
            await self._deliver_document(answer, outcome)
            outcome.message = "this editor cannot apply edits; the proposed code is shown instead"
            return
        ls, task, snapshot, config = self._ls, answer.task, answer.snapshot, answer.config
        location = self._services.roots.locate(snapshot.uri)
        test_file = None
        if task is Task.TEST and capabilities.create_files and location.root and location.relative:
            language = ls.workspace.get_text_document(snapshot.uri).language_id or ""
            test_file = delivery.test_file_for(location.relative, language, (location.root / "tests").is_dir())
        destination = Path(test_file or location.relative or snapshot.uri).name
        try:
            delivery.check_confined(answer.text, snapshot.text, answer.target, destination, new_module=task is Task.TEST)
        except delivery.OutsideSelection as exc:
            raise TaskFailed(
                f"not applied: {exc}. {model_label(config)} was asked to change only your selection; nothing was changed"
            ) from None
        if test_file is not None and location.root is not None:
            await self._deliver_test_file(answer, location.root / test_file, outcome)
            return
        document = ls.workspace.get_text_document(snapshot.uri)
        is_open = snapshot.uri in ls.workspace.text_documents
        try:
            edit = delivery.build_text_edit(snapshot.text, document.source, answer.target, answer.text, task.placement)
        except delivery.EditConflict as exc:
            raise TaskFailed(
                f"not applied: {exc} while {model_label(config)} was working. Run the task again on the new text."
            ) from None
        await self._apply(answer, [self._text_edits(snapshot.uri, document.version if is_open else None, [edit], answer)])
        outcome.status = "applied"
        outcome.details["edit"] = {
            "uri": snapshot.uri,
            "range": _range_json(edit.range),
            "new_text": edit.new_text,
            "rebased": document.source != snapshot.text,
        }

    async def _deliver_test_file(self, answer: Answer, path: Path, outcome: Outcome) -> None:
        """Tests go to the conventional test file: created, or appended to."""
        uri = path.as_uri()
        ls = self._ls
        exists = uri in ls.workspace.text_documents or path.exists()
        document = ls.workspace.get_text_document(uri) if exists else None
        text = document.source if document is not None else ""
        code = delivery.extract_code(answer.text).rstrip("\n") + "\n"
        if text:
            lines = text.splitlines(keepends=True)
            end = types.Position(len(lines), 0) if text.endswith("\n") else document.position_codec.position_to_client_units(
                document.lines, types.Position(len(lines) - 1, len(lines[-1])))
            new_text = ("" if text.endswith("\n") else "\n") + "\n\n" + code
        else:
            end, new_text = types.Position(0, 0), code
        edit = types.TextEdit(types.Range(end, end), new_text)
        version = document.version if document is not None and uri in ls.workspace.text_documents else None
        changes: list[Any] = []
        if not exists:
            changes.append(types.CreateFile(uri=uri, options=types.CreateFileOptions(ignore_if_exists=True)))
        changes.append(self._text_edits(uri, version, [edit], answer))
        await self._apply(answer, changes)
        outcome.status = "applied"
        outcome.details["edit"] = {"uri": uri, "range": _range_json(edit.range), "new_text": new_text,
                                   "created": not exists, "rebased": False}
        if self._services.capabilities.show_document:
            await ls.window_show_document_async(types.ShowDocumentParams(uri=uri, take_focus=False))

    def _text_edits(self, uri: str, version: int | None, edits: list[types.TextEdit], answer: Answer) -> Any:
        """A TextDocumentEdit, with a change annotation asking for confirmation
        where the client supports them (VS Code then shows a preview)."""
        if self._services.capabilities.change_annotations:
            edits = [types.AnnotatedTextEdit(range=e.range, new_text=e.new_text, annotation_id=ANNOTATION_ID) for e in edits]
        return types.TextDocumentEdit(types.OptionalVersionedTextDocumentIdentifier(uri, version), edits)

    async def _apply(self, answer: Answer, document_changes: list[Any]) -> None:
        capabilities = self._services.capabilities
        task, config = answer.task, answer.config
        if capabilities.document_changes:
            annotations = None
            if capabilities.change_annotations:
                annotations = {ANNOTATION_ID: types.ChangeAnnotation(
                    label=f"{task.value} by {model_label(config)}", needs_confirmation=True,
                    description=f"Proposed by {config.provider} {config.model} through assistant-router",
                )}
            workspace_edit = types.WorkspaceEdit(document_changes=document_changes, change_annotations=annotations)
        else:
            workspace_edit = types.WorkspaceEdit(changes={c.text_document.uri: list(c.edits) for c in document_changes})
        result = await self._ls.workspace_apply_edit_async(
            types.ApplyWorkspaceEditParams(workspace_edit, label=f"assistant-router: {task.value} by {config.alias}")
        )
        if not result.applied:
            if result.failure_reason:
                raise TaskFailed(f"the editor could not apply the {task.value} edit: {result.failure_reason}")
            # No reason: the user declined it (VS Code's preview of an edit that needs confirmation).
            raise EditDeclined(f"the {task.value} edit by {model_label(config)} was not applied (declined in the editor)")

    def _deliver_review(self, answer: Answer, outcome: Outcome) -> None:
        label = model_label(answer.config)
        try:
            findings, notes = review.parse_review(answer.text)
        except review.InvalidReview as exc:
            raise TaskFailed(f"{label} answered the review in the wrong shape: {exc}") from None
        uri = answer.snapshot.uri
        document = self._ls.workspace.get_text_document(uri)
        diagnostics, outside = review.findings_to_diagnostics(findings, document.lines, label)
        if outside:
            notes.append(f"{outside} finding{'s' if outside > 1 else ''} pointed past the end of the file and were left out")
        fixes = []
        for diagnostic in diagnostics:
            server_range = diagnostic.range
            diagnostic.range = document.range_to_client_units(server_range)  # code points → the client's encoding
            if diagnostic.data is not None:
                fixes.append(ReviewFix(diagnostic, server_range, diagnostic.data["original"], diagnostic.data["replacement"]))
        self._services.reviews[uri] = fixes
        self._services.diagnostics.set(uri, "review", diagnostics)
        outcome.status = "shown"
        outcome.details["diagnostics"] = len(diagnostics)
        outcome.details["fixes"] = len(fixes)
        if notes:
            outcome.message = "; ".join(notes)

    async def _deliver_document(self, answer: Answer, outcome: Outcome) -> None:
        task, uri = answer.task, answer.snapshot.uri
        relative = self._services.roots.locate(uri).relative or uri
        name = Path(relative).name
        header = (
            f"<!-- assistant-router: {task.value} of {relative} {answer.lines_label} "
            f"by {model_label(answer.config)} -->\n\n"
        )
        body = answer.text if task.delivery is Delivery.DOCUMENT else f"Proposed {task.value} for `{name}`:\n\n{answer.text}"
        outcome.status = "shown"
        if self._services.capabilities.show_document:
            path = self._save_markdown(task.value, name, header + body)
            result = await self._ls.window_show_document_async(
                types.ShowDocumentParams(uri=path.as_uri(), take_focus=True)
            )
            outcome.details["document"] = path.as_uri()
            if result.success:
                return
            logger.warning("client could not show %s; showing the answer as a message", path)
        self._ls.window_show_message(types.ShowMessageParams(types.MessageType.Info, body))


def _clamp(document: Any, position: Any) -> types.Position:
    """As the LSP says: a character past the end of its line means the line's
    end (Neovim sends length + 1 for a selection that ends with ``$``)."""
    line = position.line
    if line < len(document.lines):
        text = document.lines[line].rstrip("\r\n")
        length = document.position_codec.client_num_units(text)
        return types.Position(line, min(position.character, length))
    return types.Position(line, position.character)


def _range_json(value: types.Range) -> dict[str, Any]:
    return {
        "start": {"line": value.start.line, "character": value.start.character},
        "end": {"line": value.end.line, "character": value.end.character},
    }


def _end_message(outcome: Outcome) -> str:
    who = f" by {outcome.answered_by.alias}" if outcome.answered_by else ""
    match outcome.status:
        case "applied":
            return f"Applied{who}"
        case "shown":
            return f"Done{who}"
        case "cancelled":
            return "Cancelled: nothing applied"
        case _:
            return f"Failed: {outcome.message}"
