"""``assistant-router run``: a task outside the editor, for scripts and CI.

A thin front end over the same pipeline as the editor (``engine/pipeline.py``):
the same request context, routing, context, privacy rules, budgets, retries
and fallbacks, so the provider receives the same bytes. The answer streams
to stdout (review findings are printed as ``path:line: severity: message``
lines), progress and the summary go to stderr. Nothing is applied to files.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant_router import delivery
from assistant_router.delivery.target import CurrentText, FileEdit
from assistant_router.engine.request import Document, TaskRequest, build_request
from assistant_router.engine.results import Status, TaskError, model_label
from assistant_router.engine.text import Span
from assistant_router.routing.tasks import Delivery, Task

if TYPE_CHECKING:
    from assistant_router.delivery.review import Finding
    from assistant_router.engine.checks.stage import Finding as CheckFinding
    from assistant_router.engine.pipeline import Answer
    from assistant_router.routing.policy import Policy
    from assistant_router.routing.router import Decision
    from assistant_router.routing.tasks import TaskSpec

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_REFUSED = 0, 1, 2, 3
EXIT_CODES = {Status.APPLIED: EXIT_OK, Status.SHOWN: EXIT_OK, Status.REFUSED: EXIT_REFUSED,
              Status.FAILED: EXIT_FAILED, Status.CANCELLED: EXIT_FAILED, Status.HELD: EXIT_FAILED}


def _err(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class TerminalProgress:
    """Retries and fallbacks on stderr; the answer on stdout as it streams."""

    def __init__(self, stream: bool) -> None:
        self.stream = stream
        self.streamed = ""

    async def begin(self, spec: TaskSpec, decision: Decision) -> None:
        _err(f"{spec.name} → {model_label(decision.primary)}: {decision.reason}")

    def report(self, message: str, *, force: bool = False) -> None:
        if force:  # retries and fallbacks, not every token count
            _err(f"… {message}")

    def delta(self, text: str) -> None:
        if self.stream:
            self.streamed += text
            print(text, end="", flush=True)


class TerminalTarget:
    """The delivery target of the terminal: it shows, never changes files."""

    cannot_apply_edits = "the terminal never changes files"
    can_create_files = False

    def __init__(self, as_json: bool, apply_unchecked: bool = False) -> None:
        self._as_json = as_json
        # --apply-unchecked: an answer that failed its checks is printed like any other.
        self.accepts_unchecked = apply_unchecked
        self.answer: str | None = None
        self.print_answer = False  # set when the answer was not streamed (an edit)

    def read(self, uri: str) -> CurrentText | None:
        return None  # the text the run started from is the text there is

    async def apply(self, answer: Answer, edits: Sequence[FileEdit]) -> None:
        raise AssertionError("the terminal never applies edits")

    async def reveal(self, uri: str) -> None:
        return None

    async def show_document(self, name: str, markdown: str, fallback: str) -> str | None:
        # A document streamed to stdout as it arrived (or goes into the JSON
        # result); an edit's code is printed now, its checks passed.
        if self.print_answer and self.answer is not None:
            print(self.answer, end="" if self.answer.endswith("\n") else "\n", flush=True)
        return None

    def hold(self, answer: Answer, edits: Sequence[FileEdit], findings: Sequence[CheckFinding]) -> Mapping[str, Any]:
        if not self._as_json:
            path = answer.request.document.name
            for finding in findings:
                _err(f"{path}: line {finding.line + 1} of the proposed edit: {finding.severity}: "
                     f"[{finding.code}] {finding.message}")
        return {"how_to_apply": "run again with --apply-unchecked to print it anyway"}

    def show_findings(self, answer: Answer, findings: Sequence[Finding]) -> Mapping[str, Any]:
        if not self._as_json:
            path = answer.request.document.name
            for finding in findings:
                print(f"{path}:{finding.line}: {finding.severity}: [{finding.category}] {finding.message}")
        return {"findings": [f.model_dump(exclude_none=True) for f in findings]}


def terminal_document(file: Path, first: int | None, last: int | None, *, root: Path,
                      language: str | None) -> tuple[Document, Span]:
    """The document ``file`` and the span of lines ``first``-``last`` (1-based,
    inclusive; the whole file without them). Raises OSError or UnicodeDecodeError
    when the file cannot be read."""
    text = file.read_text(encoding="utf-8")
    lines = text.splitlines()
    first = first or 1
    last = min(last or len(lines), len(lines))
    if last < len(lines) or text.endswith("\n"):
        span = Span.of(first - 1, 0, last, 0)
    else:
        span = Span.of(first - 1, 0, last - 1, len(lines[-1]) if lines else 0)
    relative = file.relative_to(root).as_posix() if file.is_relative_to(root) else None
    return Document(file.as_uri(), text, language or "", root, relative, file), span


def terminal_request(
    task: Task,
    file: Path,
    first: int | None,
    last: int | None,
    *,
    root: Path,
    language: str | None,
    prompt: str | None,
    policies: Any,
) -> TaskRequest:
    """The request for lines ``first``-``last`` (1-based, inclusive) of ``file``.
    Raises OSError or UnicodeDecodeError when the file cannot be read, TaskError
    when nothing may be sent."""
    document, span = terminal_document(file, first, last, root=root, language=language)
    if task.spec.delivery is Delivery.INLINE:  # `run complete FILE:LINE`: complete at the end of the (last) line
        line = (last or first or 1) - 1
        lines = document.text.split("\n")
        end = len(lines[line].rstrip("\r")) if line < len(lines) else 0
        span = Span.of(line, end, line, end)
    return build_request(task, document, span, policies, prompt=prompt)


def _load(file: Path, root: Path | None) -> tuple[Path, Path, Any, Policy] | None:
    """The resolved file and root, the provider registry and the policy (None:
    the policy has errors, said on stderr)."""
    from assistant_router.providers.registry import ProviderRegistry
    from assistant_router.routing.config import find_project_root, load_policy

    file = file.resolve()
    root = (root or find_project_root(file)).resolve()
    registry = ProviderRegistry()
    load = load_policy(root, registry.check)
    for issue in load.issues:
        _err(str(issue))
    if load.policy is None:
        _err("assistant-router: the policy has errors; run 'assistant-router check' for details")
        return None
    return file, root, registry, load.policy


async def run_task(
    task: Task,
    file: Path,
    first: int | None,
    last: int | None,
    *,
    prompt: str | None,
    dry_run: bool,
    as_json: bool,
    root: Path | None,
    language: str | None,
    loaded: tuple[Path, Path, Any, Policy] | None = None,
    apply_unchecked: bool = False,
) -> int:
    from assistant_router.engine.policies import StaticPolicies

    loaded = loaded or _load(file, root)
    if loaded is None:
        return EXIT_FAILED
    file, root, registry, policy = loaded
    try:
        request = terminal_request(task, file, first, last, root=root, language=language, prompt=prompt,
                                   policies=StaticPolicies(root, policy))
    except (OSError, UnicodeDecodeError) as exc:
        return _unreadable(file, exc)
    except TaskError as exc:
        _err(f"assistant-router: {exc}")
        if as_json:
            print(json.dumps({"task": task.value, "status": exc.status.value, "message": str(exc)}, indent=2))
        return EXIT_CODES[exc.status]
    if dry_run:
        return await _dry_run(request, as_json)
    return await _run(request, registry, as_json, apply_unchecked)


def _unreadable(file: Path, exc: OSError | UnicodeDecodeError) -> int:
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8 text"
    _err(f"assistant-router: cannot read {file}: {reason}")
    return EXIT_USAGE


async def ask_task(request_text: str, file: Path, first: int | None, last: int | None, *, task: Task | None,
                   ask: bool, dry_run: bool, as_json: bool, root: Path | None, language: str | None,
                   apply_unchecked: bool = False) -> int:
    """``ask``: classify the request as the editor does; when unsure, the
    policy's second opinion, else a numbered list of the likely tasks with
    their models (``ask``: a terminal to ask in), else refuse (exit 3) unless
    ``task`` is given. Then ``run_task`` with the request as the prompt."""
    from assistant_router.engine import asking
    from assistant_router.engine.pipeline import Engine
    from assistant_router.engine.policies import StaticPolicies
    from assistant_router.engine.request import decide
    from assistant_router.engine.usage.service import UsageService
    from assistant_router.providers.registry import ProviderPool

    loaded = _load(file, root)
    if loaded is None:
        return EXIT_FAILED
    file, root, registry, policy = loaded
    try:
        document, span = terminal_document(file, first, last, root=root, language=language)
    except (OSError, UnicodeDecodeError) as exc:
        return _unreadable(file, exc)
    # The terminal always sends a selection: the lines given, or the whole file.
    facts = asking.Facts(has_selection=True, has_diagnostics=False, language=language or "", path=document.name)
    classification = asking.classify(request_text, facts)
    chosen, chosen_by = classification.task, "the classifier"
    if not classification.confident and task is not None:  # the answer to the question, given in advance
        chosen, chosen_by = task, "you (--task)"
    elif not classification.confident:
        engine = Engine(providers=ProviderPool(registry), usage=UsageService(lambda: policy.ledger_url))
        try:
            opinion = await asking.second_opinion(request_text, facts, policy, engine, str(root))
            if isinstance(opinion, asking.Opinion):
                chosen, chosen_by = opinion.task, opinion.reason
            else:
                if policy.classifier.second_opinion is not None:
                    _err(f"assistant-router: {opinion}")
                offered = asking.candidates(classification.likely, lambda t: decide(
                    t, document, span, StaticPolicies(root, policy)))
                if not ask:
                    return _refuse_to_guess(request_text, offered, classification, as_json)
                picked = _choose(request_text, offered)
                await engine.usage.record_choice(
                    asking.choice_row(str(root), request_text, offered, picked, classification))
                if picked is None:
                    _err("assistant-router: no task chosen; nothing was sent")
                    return EXIT_USAGE
                chosen, chosen_by = picked, "you"
        finally:
            await engine.usage.stop()
    _err(f"ask → {chosen.value} (chosen by {chosen_by}; the classifier: {classification.reason})")
    return await run_task(chosen, file, first, last, prompt=request_text, dry_run=dry_run, as_json=as_json,
                          root=root, language=language, loaded=loaded, apply_unchecked=apply_unchecked)


def _choose(request_text: str, offered: Sequence[Any]) -> Task | None:
    """A numbered list on stderr, an answer on stdin (a terminal)."""
    for number, candidate in enumerate(offered, 1):
        _err(f"  {number}) {candidate.title}")
    print(f"assistant-router: what should I do with \"{request_text}\"? [1-{len(offered)}] ", end="",
          file=sys.stderr, flush=True)
    answer = sys.stdin.readline().strip()
    if not answer.isdigit() or not 1 <= int(answer) <= len(offered):
        return None
    return offered[int(answer) - 1].task  # type: ignore[no-any-return]


def _refuse_to_guess(request_text: str, offered: Sequence[Any], classification: Any, as_json: bool) -> int:
    """No terminal to ask in (or --yes): nothing is guessed, nothing is sent."""
    listed = ", ".join(c.title for c in offered)
    _err(f"assistant-router: refused: not sure what \"{request_text}\" asks for (likely: {listed}); nothing was "
         f"sent. Add --task TASK, or use: assistant-router run TASK FILE")
    if as_json:
        print(json.dumps({"status": Status.REFUSED.value, "message": "not sure which task this is",
                          "candidates": [c.to_json() for c in offered],
                          "classification": classification.to_json()}, indent=2))
    return EXIT_REFUSED


async def _dry_run(request: TaskRequest, as_json: bool) -> int:
    from assistant_router.engine.assembly import preview_markdown
    from assistant_router.engine.pipeline import preview

    try:
        data = await preview(request)
    except TaskError as exc:
        _err(f"assistant-router: {exc}")
        return EXIT_CODES[exc.status]
    print(json.dumps(data, indent=2) if as_json else preview_markdown(data))
    return EXIT_OK


async def _run(request: TaskRequest, registry: Any, as_json: bool, apply_unchecked: bool = False) -> int:
    from assistant_router.engine.pipeline import Engine
    from assistant_router.engine.pipeline import run_task as pipeline_run
    from assistant_router.engine.usage.service import UsageService
    from assistant_router.providers.registry import ProviderPool

    policy = request.policy
    engine = Engine(providers=ProviderPool(registry), usage=UsageService(lambda: policy.ledger_url))
    # Documents stream as they arrive; an edit's code is printed only once its
    # checks passed (or --apply-unchecked): a script may redirect it to a file.
    progress = TerminalProgress(stream=not as_json and request.spec.delivery is Delivery.DOCUMENT)
    target = TerminalTarget(as_json, apply_unchecked)
    target.print_answer = not as_json and request.spec.delivery is Delivery.EDIT

    async def deliver(answer: Answer) -> Any:
        target.answer = answer.text
        return await delivery.deliver(answer, target)

    async def check(answer: Answer) -> Any:
        return await delivery.check(answer, target)

    try:
        result = await pipeline_run(request, engine, deliver=deliver, progress=progress, check=check)
    finally:
        await engine.usage.stop()
    if progress.streamed and not progress.streamed.endswith("\n"):
        print(flush=True)
    if result.message:
        _err(f"assistant-router: {result.message}")
    if as_json:
        data = result.to_json()
        if target.answer is not None:
            data["answer"] = target.answer
        print(json.dumps(data, indent=2))
    if request.spec.delivery is Delivery.INLINE and not as_json and result.status is Status.SHOWN:
        print((result.details or {}).get("text", ""), flush=True)  # the completion, for a script
    if result.status in (Status.APPLIED, Status.SHOWN):
        model, usage = result.model, result.usage
        assert model is not None
        about = "about " if usage.estimated else ""
        _err(f"{request.task.value} by {model_label(model)}: {about}{usage.input_tokens} tokens in, "
             f"{about}{usage.output_tokens} out, {result.elapsed_ms} ms" + (" (fallback)" if result.fallback else "")
             + (" (the server reported no usage: estimated)" if usage.estimated else ""))
    return EXIT_CODES[result.status]


def main_ask(args: Any) -> int:
    return asyncio.run(
        ask_task(args.request, args.file, args.first, args.last, task=args.task,
                 ask=not args.yes and sys.stdin.isatty(), dry_run=args.dry_run, as_json=args.json, root=args.root,
                 language=args.language, apply_unchecked=args.apply_unchecked)
    )


def main_run(args: Any) -> int:
    return asyncio.run(
        run_task(args.task, args.file, args.first, args.last, prompt=args.prompt, dry_run=args.dry_run,
                 as_json=args.json, root=args.root, language=args.language, apply_unchecked=args.apply_unchecked)
    )
