"""The editor's front end to the pipeline: one request per command, progress,
cancellation, the LSP delivery target, ``assistant/status``.

``assistant.run`` awaits :meth:`TaskRunner.run`, which runs the pipeline in
its own asyncio task, registered under the request id and (once the client
accepts one) the progress token, so ``$/cancelRequest`` and a cancelled
progress stop it. The steps themselves are written once, in
``engine/pipeline.py``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from assistant_router import delivery
from assistant_router.engine.limits import WHOLE_DOCUMENT_CHARS
from assistant_router.engine.pipeline import CANCELLED_MESSAGE, Run, estimate, preview, run_task
from assistant_router.engine.request import (
    Document,
    TaskRequest,
    build_request,
    decide,
    describe_diagnostic,
    real_path_inside,
)
from assistant_router.engine.results import Refused, Status, TaskError, TaskResult, model_label
from assistant_router.engine.text import LineIndex, Pos, Span
from assistant_router.routing.tasks import EmptySelection, Task
from assistant_router.server.lsp_target import LspTarget, save_markdown
from assistant_router.server.progress import ProgressReporter

if TYPE_CHECKING:
    from pygls.lsp.server import LanguageServer
    from pygls.workspace import TextDocument

    from assistant_router.engine.asking import Candidate, Facts
    from assistant_router.routing.classify import Classification
    from assistant_router.server.app import Services
    from assistant_router.server.arguments import AskArgs, RangeArg, RouteArgs, TaskArgs
    from assistant_router.server.workspace import Location

logger = logging.getLogger(__name__)

# A custom notification (no lsprotocol constant exists): clients show it in their status line.
STATUS_NOTIFICATION = "assistant/status"
STATUS_KEYS = ("task", "alias", "provider", "model", "status", "fallback", "usage", "elapsed_ms", "message",
               "cost_usd", "spend_today")


class TaskRunner:
    def __init__(self, ls: LanguageServer, services: Services) -> None:
        self._ls = ls
        self._services = services
        # The classifier of free-form requests (tests inject one); None: routing/classify.py's.
        self.classifier: Callable[[str, Facts], Classification] | None = None
        self._rule_problem_uris: set[str] = set()  # rule files shown with problems
        self._background: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------ requests

    async def _document(self, uri: str, *, must_read: bool = True) -> tuple[TextDocument, Document]:
        """The document as pygls has it, and as the engine sees it (``must_read``
        false: an unreadable file is an empty one, for routing alone)."""
        text_document = self._ls.workspace.get_text_document(uri)
        location = self._services.roots.locate(uri)
        is_open = uri in self._ls.workspace.text_documents
        if not is_open and must_read:
            self._check_readable(uri, location)
        try:
            # An open document's text is in memory; any other is read from disk, off the loop.
            text = text_document.source if is_open else await asyncio.to_thread(lambda: text_document.source)
        except (OSError, UnicodeDecodeError) as exc:
            if must_read:
                raise TaskError(f"cannot read {uri}: {getattr(exc, 'strerror', None) or exc}") from None
            text = ""
        return text_document, Document(uri, text, text_document.language_id or "", location.root, location.relative,
                                       location.path, text_document.version if is_open else None, open=is_open)

    def _check_readable(self, uri: str, location: Location) -> None:
        """A document the editor has not opened is read from disk only inside
        a workspace folder, where it really is (a link that leads out, or to
        an excluded file, is refused), and only if it may be sent."""
        if location.root is None or location.path is None:
            raise Refused(f"nothing was sent: {uri} is outside the workspace folders and not open in the editor")
        real = real_path_inside(location.path, location.root)
        if real is None:
            if not location.path.exists():
                return  # reading it says that it is missing
            raise Refused(f"nothing was sent: {location.relative} leads outside the workspace folder")
        relative = real.relative_to(location.root.resolve()).as_posix()
        if (reason := self._services.policies.exclusions(location.root).reason(relative)) is not None:
            raise Refused(f"nothing was sent: {location.relative} is a link to {relative}, which is {reason}")

    def open_documents(self) -> Iterator[Document]:
        for uri in list(self._ls.workspace.text_documents):
            if (document := self._services.open_document(uri)) is not None:
                yield document

    async def request(self, args: TaskArgs) -> TaskRequest:
        """One request context for ``args``. Raises TaskError (Refused: nothing may be sent)."""
        text_document, document = await self._document(args.uri)
        lines, span = await self.locate(text_document, document.text, args.range)
        return build_request(
            args.task, document, span, self._services.policies,
            prompt=args.prompt,
            diagnostics=[describe_diagnostic(d.line, d.message) for d in args.diagnostics],
            open_documents=self.open_documents(),
            lines=lines,
        )

    async def locate(self, document: TextDocument, text: str, selection: RangeArg) -> tuple[LineIndex, Span]:
        """The document's line index and the selection in code points (a long
        document is indexed off the loop, once per text)."""
        if len(text) <= WHOLE_DOCUMENT_CHARS:
            lines = self._services.line_indexes.get(document.uri, text) or LineIndex(text)
            return lines, _span(document, lines, selection)
        lines = await self._services.line_indexes.ensure(document.uri, text)
        # A long line of a long document may need a character-by-character count.
        return lines, await asyncio.to_thread(_span, document, lines, selection)

    # ------------------------------------------------------------ commands

    async def run(self, args: TaskArgs, request_id: Any) -> dict[str, Any]:
        services = self._services
        running = services.running
        progress = ProgressReporter(
            self._ls, services.capabilities.progress,
            on_token=lambda token: running.add(asyncio.current_task(), ("progress", token)),  # type: ignore[arg-type]
        )
        run = Run()
        try:
            request = await self.request(args)
        except TaskError as exc:
            result = TaskResult(args.task, exc.status, 0, message=str(exc))
        else:
            target = LspTarget(self._ls, services)
            deliver = functools.partial(delivery.deliver, target=target)
            check = functools.partial(delivery.check, target=target)
            job = asyncio.create_task(run_task(request, services.engine, deliver=deliver, progress=progress, run=run,
                                               check=check),
                                      name=f"assistant.run {args.task.value}")
            running.add(job, ("request", request_id))
            try:
                result = await asyncio.shield(job)
            except asyncio.CancelledError:
                me = asyncio.current_task()
                if me is not None and me.cancelling():
                    job.cancel()  # the server itself is stopping this handler
                    raise
                result = run.result or TaskResult(args.task, Status.CANCELLED, 0, message=CANCELLED_MESSAGE)
            except Exception as exc:  # a bug: keep the server alive and say so
                logger.exception("task %s crashed", args.task.value)
                result = TaskResult(args.task, Status.FAILED, 0, message=f"internal error: {type(exc).__name__}: {exc}")
        progress.end(_end_message(result))
        if result.status in (Status.FAILED, Status.REFUSED):
            self._show(types.MessageType.Error, f"assistant-router: {result.message}")
        elif result.status is Status.HELD:
            self._show(types.MessageType.Warning, f"assistant-router: {result.message}")
        elif result.fallback and result.decision is not None and result.answered_by is not None:
            self._show(types.MessageType.Warning, f"assistant-router: {args.task.value} was answered by "
                       f"{model_label(result.answered_by)} because {model_label(result.decision.primary)} failed: "
                       f"{result.fallback_error}")
        if result.checks is not None:
            self.show_rule_problems(result.checks.rule_problems)
        data = result.to_json()
        project = services.project_key(args.uri)
        if result.status is not Status.CANCELLED:  # a cancelled run answers at once (the server may be stopping)
            # Fresh from the shared ledger: other windows and machines spend on the same project.
            policy = services.policies.router(services.roots.locate(args.uri).root).policy
            await services.usage.refresh(project, policy)
        data["spend_today"] = services.usage.today(project)
        self._notify_status(data)
        logger.info("%s → %s: %s (%s)", args.task.value, data["alias"], result.status, result.message or data["reason"])
        return data

    def show_rule_problems(self, problems: Sequence[Any]) -> None:
        """Rule files that cannot be used (bad YAML, an unknown key) get their
        problems as diagnostics; a file fixed since has them cleared. Never a
        failure of the task: the other rules ran."""
        from pygls import uris

        from assistant_router.server.diagnostics import RULES_CHANNEL

        by_uri: dict[str, list[types.Diagnostic]] = {}
        for problem in problems:
            if problem.path is None:
                continue
            uri = uris.from_fs_path(str(problem.path)) or str(problem.path)
            line = max(problem.line - 1, 0)
            column = max(problem.column - 1, 0)
            by_uri.setdefault(uri, []).append(types.Diagnostic(
                types.Range(types.Position(line, column), types.Position(line, column + 1)),
                problem.message, severity=types.DiagnosticSeverity.Error, source="assistant-router",
                code="rule-file"))
        for uri in self._rule_problem_uris - by_uri.keys():
            self._services.diagnostics.set(uri, RULES_CHANNEL, [])
        for uri, diagnostics in by_uri.items():
            self._services.diagnostics.set(uri, RULES_CHANNEL, diagnostics)
        self._rule_problem_uris = set(by_uri)

    def check_rule_files_soon(self, uri: str) -> None:
        """A rule file opened or saved: its problems (and those of the other
        rule files of its root) shown now, not at the next task."""
        task = asyncio.get_running_loop().create_task(self._check_rule_files(uri), name=f"rule files {uri}")
        self._background.add(task)  # the loop keeps only a weak reference
        task.add_done_callback(self._background.discard)

    async def _check_rule_files(self, uri: str) -> None:
        from assistant_router.engine.checks import rules

        services = self._services
        settings = services.policies.router(services.roots.locate(uri).root).policy.checks
        rule_set = await asyncio.to_thread(rules.load_rules, directories=settings.rule_directories,
                                           disabled=settings.disabled_rules)
        self.show_rule_problems(rule_set.problems)

    async def apply_unchecked(self, held_id: str) -> dict[str, Any]:
        """Apply an answer held back by its checks, as the user chose to: placed
        again on the text as it is now, then its problems are cleared."""
        from dataclasses import replace

        from assistant_router.server.diagnostics import CHECKS_CHANNEL

        services = self._services
        found = services.held.pop(held_id)
        if found is None:
            return {"status": Status.FAILED.value, "message": "that answer is no longer held (applied, or its "
                    "document was closed); nothing was changed"}
        uri, held = found
        services.diagnostics.set(uri, CHECKS_CHANNEL, services.held.diagnostics(uri))
        answer = replace(held.answer, checks=None)
        try:
            delivered = await delivery.deliver(answer, LspTarget(self._ls, services))
        except TaskError as exc:
            return {"status": exc.status.value, "message": str(exc)}
        logger.info("applied an unchecked %s answer by %s", answer.request.task.value, answer.label)
        return {"status": delivered.status.value, **delivered.details}

    async def preview(self, args: TaskArgs) -> dict[str, Any]:
        """What ``assistant.run`` would send to the primary model; sends nothing."""
        request = None
        try:
            request = await self.request(args)
            data = {**await preview(request), "status": "preview"}
        except TaskError as exc:
            decision = request.decision.to_json() if request is not None else {"task": args.task.value}
            return {**decision, "sent": False, "status": Status.REFUSED.value, "message": str(exc)}
        if self._services.capabilities.show_document:
            from assistant_router.engine.assembly import preview_markdown_parts

            name = f"preview-{args.task.value}-{request.document.stem}"
            path = save_markdown(self._services.answers_dir(), name, preview_markdown_parts(data))
            await self._ls.window_show_document_async(types.ShowDocumentParams(uri=path.as_uri(), take_focus=True))
            data["document"] = path.as_uri()
        return data

    async def route(self, args: RouteArgs) -> dict[str, Any]:
        """The decision, with an estimate of what it would send and cost; with a
        prompt and no task, the classified task too."""
        extra: dict[str, Any] = {}
        if args.task is None:
            classification = self.classify(args.prompt or "", args)
            args = args.model_copy(update={"task": classification.task})
            extra["classification"] = classification.to_json()
        task_args: TaskArgs = args  # type: ignore[assignment]  # the task is set now
        try:
            request = await self.request(task_args)
        except TaskError as exc:
            _, document = await self._document(args.uri, must_read=False)
            decision = decide(task_args.task, document, Span.from_range(args.range), self._services.policies)
            return {**decision.to_json(), "estimate": {"input_tokens": None, "cost_usd": None, "note": str(exc)},
                    **extra}
        return {**request.decision.to_json(), "estimate": await estimate(request), **extra}

    def facts(self, args: TaskArgs | RouteArgs | AskArgs) -> Facts:
        """What the editor knows beside the words: a selection, diagnostics, the
        document's language id and path (no file is read)."""
        from assistant_router.engine.asking import Facts

        location = self._services.roots.locate(args.uri)
        language = self._ls.workspace.get_text_document(args.uri).language_id or ""
        path = location.relative or (str(location.path) if location.path else args.uri)
        return Facts(has_selection=args.range.start != args.range.end, has_diagnostics=bool(args.diagnostics),
                     language=language, path=path)

    def classify(self, prompt: str, args: TaskArgs | RouteArgs | AskArgs) -> Classification:
        return self._classify(prompt, self.facts(args))

    def _classify(self, prompt: str, facts: Facts) -> Classification:
        from assistant_router.engine.asking import classify

        return (self.classifier or classify)(prompt, facts)

    async def _candidates(self, args: AskArgs, likely: tuple[Task, ...]) -> list[Candidate]:
        """The tasks to offer, each with the model it would go to (as ``assistant.route`` decides it)."""
        from assistant_router.engine.asking import candidates

        _, document = await self._document(args.uri, must_read=False)
        span = Span.from_range(args.range)
        return candidates(likely, lambda task: decide(task, document, span, self._services.policies))

    async def ask(self, args: AskArgs, request_id: Any) -> dict[str, Any]:
        """A free-form request: classify it; when unsure, a second opinion (if
        the policy names one), else ask the user; then run it."""
        from assistant_router.engine.asking import choice_row, second_opinion
        from assistant_router.server.arguments import TaskArgs

        services = self._services
        facts = self.facts(args)
        classification = self._classify(args.prompt, facts)
        described = classification.to_json()
        task, chosen_by = classification.task, "classifier"
        if not classification.confident and args.task is not None:
            # The answer to our "needs_choice", asked by the client: recorded as
            # a question with the same offers, and no second opinion again.
            offered = await self._candidates(args, classification.likely)
            await services.usage.record_choice(choice_row(services.project_key(args.uri), args.prompt, offered,
                                                          args.task, classification))
            task, chosen_by = args.task, "user"
        elif not classification.confident:
            project = services.project_key(args.uri)
            policy = services.policies.router(services.roots.locate(args.uri).root).policy
            opinion = await second_opinion(args.prompt, facts, policy, services.engine, project)
            if not isinstance(opinion, str):
                task, chosen_by = opinion.task, "second_opinion"
                described = {**described, "task": task.value, "confidence": round(opinion.confidence, 3),
                             "reason": opinion.reason, "classifier_task": classification.task.value,
                             "classifier_confidence": described["confidence"]}
            else:
                if policy.classifier.second_opinion is not None:
                    logger.info("ask: %s; asking the user", opinion)
                offered = await self._candidates(args, classification.likely)
                if not services.capabilities.show_message_request:
                    # Nobody to ask here: the editor client presents the candidates itself,
                    # and sends the answer back as assistant.ask with its "task".
                    result = {"status": "needs_choice", "message": "not sure which task this is: choose one",
                              "candidates": [c.to_json() for c in offered], "classification": described}
                    self._notify_status(result)
                    return result
                else:
                    chosen = await self._ls.window_show_message_request_async(
                        types.ShowMessageRequestParams(
                            type=types.MessageType.Info,
                            message=f"assistant-router: what should I do with “{args.prompt}”?",
                            actions=[types.MessageActionItem(title=c.title) for c in offered],
                        )
                    )
                    by_title = {c.title: c.task for c in offered}
                    picked = by_title.get(chosen.title) if chosen is not None else None
                    await services.usage.record_choice(choice_row(project, args.prompt, offered, picked,
                                                                  classification))
                    if picked is None:
                        result = {"status": "cancelled", "message": "no task chosen", "classification": described}
                        self._notify_status(result)
                        return result
                    task, chosen_by = picked, "user"
        elif args.task is not None:  # sure, but the user said which: theirs
            task, chosen_by = args.task, "user"
        target = args.range
        if target.start == target.end and task.spec.empty_selection is EmptySelection.LINE:
            # A bare cursor: the request is about the line, as with the code actions.
            target = target.model_copy(update={
                "start": target.start.model_copy(update={"character": 0}),
                "end": target.end.model_copy(update={"character": 1 << 30}),  # clamped to the line's end
            })
        run_args = TaskArgs(task=task, uri=args.uri, range=target, prompt=args.prompt, diagnostics=args.diagnostics)
        result = await self.run(run_args, request_id)
        return {**result, "classification": {**described, "chosen_by": chosen_by}}

    # ------------------------------------------------------------- helpers

    def _show(self, kind: types.MessageType, message: str) -> None:
        self._ls.window_show_message(types.ShowMessageParams(kind, message))

    def _notify_status(self, result: dict[str, Any]) -> None:
        """``assistant/status``: what the last task did, for the client's status line."""
        options = self._services.options
        if options is not None and not options.status_notifications:
            return
        self._ls.protocol.notify(STATUS_NOTIFICATION, {key: result.get(key) for key in STATUS_KEYS})


def _span(document: TextDocument, lines: LineIndex, selection: RangeArg) -> Span:
    """The client's selection in code points, clamped to the document (a
    character past the end of its line means the line's end)."""
    codec = document.position_codec

    def convert(line: int, character: int) -> Pos:
        if line >= len(lines):  # as pygls: the end of the last line
            return Pos(len(lines) - 1, len(lines[-1].rstrip("\r\n")))
        content = lines[line].rstrip("\r\n")
        if content.isascii():  # one code unit per character in every encoding
            return Pos(line, min(character, len(content)))
        character = min(character, codec.client_num_units(content))
        return Pos(line, codec.position_from_client_units(lines, types.Position(line, character)).character)

    start, end = selection.start, selection.end
    return Span(convert(start.line, start.character), convert(end.line, end.character))



def _end_message(result: TaskResult) -> str:
    who = f" by {result.answered_by.alias}" if result.answered_by else ""
    match result.status:
        case Status.APPLIED:
            return f"Applied{who}" + (" (escalated: the first answer failed its checks)" if result.escalated else "")
        case Status.HELD:
            return f"Not applied: the answer{who} failed its checks"
        case Status.SHOWN:
            return f"Done{who}"
        case Status.CANCELLED:
            return "Cancelled: nothing applied"
        case Status.REFUSED:
            return f"Refused: {result.message}"
        case _:
            return f"Failed: {result.message}"
