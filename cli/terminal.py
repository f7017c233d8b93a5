"""``assistant-router run``: a task outside the editor, for scripts and CI.

The same routing, context, privacy rules, retries and fallbacks as in the
editor; the answer streams to stdout (review findings are printed as
``path:line: severity: message`` lines), progress and the summary go to
stderr. Nothing is applied to files.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from assistant_router.providers.registry import ProviderPool, ProviderRegistry
from assistant_router.routing.config import find_project_root, load_policy
from assistant_router.routing.matching import RouteRequest
from assistant_router.routing.router import Router
from assistant_router.routing.tasks import Delivery, Task
from assistant_router.delivery import review
from assistant_router.engine.assembly import RequestTooLarge, TaskSource, assemble, preview, preview_markdown
from assistant_router.engine.calling import Outcome, TaskFailed, call_models, check_stop
from assistant_router.engine.privacy import ExclusionRules
from assistant_router.engine.resilience import CircuitBreaker

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_REFUSED = 0, 1, 2, 3


def _err(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


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
) -> int:
    file = file.resolve()
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        _err(f"assistant-router: cannot read {file}: {exc.strerror or exc}")
        return EXIT_USAGE
    root = (root or find_project_root(file)).resolve()
    registry = ProviderRegistry()
    load = load_policy(root, registry.check)
    for issue in load.issues:
        _err(str(issue))
    if load.policy is None:
        _err("assistant-router: the policy has errors; run 'assistant-router check' for details")
        return EXIT_FAILED
    policy = load.policy
    relative = file.relative_to(root).as_posix() if file.is_relative_to(root) else None
    reason = ExclusionRules(root, policy.privacy, policy.sources[-1]).reason(relative)
    if reason is not None:
        _err(f"assistant-router: nothing was sent: {relative} is {reason}")
        return EXIT_REFUSED

    lines = text.splitlines()
    first = first or 1
    last = min(last or len(lines), len(lines))
    end = (last, 0) if last < len(lines) or text.endswith("\n") else (last - 1, len(lines[-1]) if lines else 0)
    instructions = policy.instructions.read_text(encoding="utf-8") if policy.instructions else None
    source = TaskSource(
        task=task,
        path=relative or str(file),
        language=language or "",
        text=text,
        start=(first - 1, 0),
        end=end,
        user_prompt=prompt,
        instructions=instructions,
        redact_secrets=policy.privacy.redact_secrets,
    )
    decision = Router(policy).decide(RouteRequest(task, relative, language, last - first + 1))
    if policy.budget.any and not dry_run:
        from assistant_router.engine.usage.budgets import BudgetExceeded, within_budget
        from assistant_router.engine.usage.service import UsageService, estimate_usd

        usage = UsageService(lambda: policy.ledger_url)
        try:
            spend = await usage.refresh(str(root))
            tokens = assemble(source, decision.primary).input_tokens
            decision = within_budget(policy, decision, spend, estimate_usd(decision.primary, tokens))
        except (BudgetExceeded, RequestTooLarge) as exc:
            _err(f"assistant-router: {exc}")
            return EXIT_REFUSED
        finally:
            await usage.stop()

    if dry_run:
        try:
            assembled = assemble(source, decision.primary)
        except RequestTooLarge as exc:
            _err(f"assistant-router: {exc}")
            return EXIT_REFUSED
        data = preview(decision.to_json(), decision.primary, assembled)
        print(json.dumps(data, indent=2) if as_json else preview_markdown(data))
        return EXIT_OK

    outcome = Outcome(task, decision)
    started = time.monotonic()
    stream_out = not as_json and task.delivery is not Delivery.DIAGNOSTICS

    def report(message: str, *, force: bool = False) -> None:
        if force:  # retries and fallbacks, not every token count
            _err(f"… {message}")

    _err(f"{task.value} → {decision.primary.alias} ({decision.primary.model}): {decision.reason}")
    try:
        answered = await call_models(
            decision, source, outcome, ProviderPool(registry), CircuitBreaker(), report,
            on_delta=(lambda chunk: print(chunk, end="", flush=True)) if stream_out else None,
        )
        outcome.answered_by = answered.config
        answer = check_stop(task, answered.assembled.redactions.restore(answered.text), answered.config,
                            answered.completion)
        outcome.status = "shown"
        outcome.details["context"] = answered.assembled.summary()
    except TaskFailed as exc:
        outcome.status, outcome.message = "failed", str(exc)
        await _record(policy, root, outcome)
        if stream_out:
            print(flush=True)
        _err(f"assistant-router: {exc}")
        if as_json:
            print(json.dumps(outcome.to_json(int((time.monotonic() - started) * 1000)), indent=2))
        return EXIT_FAILED

    if task.delivery is Delivery.DIAGNOSTICS:
        try:
            findings, notes = review.parse_review(answer)
        except review.InvalidReview as exc:
            _err(f"assistant-router: {exc}")
            return EXIT_FAILED
        for note in notes:
            _err(f"assistant-router: {note}")
        outcome.details["findings"] = [f.model_dump(exclude_none=True) for f in findings]
        if not as_json:
            for finding in findings:
                print(f"{source.path}:{finding.line}: {finding.severity}: [{finding.category}] {finding.message}")
    elif stream_out and not answer.endswith("\n"):
        print()
    elapsed = int((time.monotonic() - started) * 1000)
    result: dict[str, Any] = outcome.to_json(elapsed)
    result["cost_usd"] = await _record(policy, root, outcome)
    if as_json:
        print(json.dumps({**result, "answer": answer}, indent=2))
    usage = result["usage"]
    _err(f"{task.value} by {result['alias']} ({result['model']}): {usage['input_tokens']} tokens in, "
         f"{usage['output_tokens']} out, {elapsed} ms" + (" (fallback)" if result["fallback"] else ""))
    return EXIT_OK


async def _record(policy: Any, root: Path, outcome: Outcome) -> float:
    """Runs from the terminal count in the ledger (and budgets) like the editor's."""
    from assistant_router.engine.usage.service import UsageService

    usage = UsageService(lambda: policy.ledger_url)
    try:
        return await usage.record(str(root), outcome, None, None)
    finally:
        await usage.stop()


def main_run(args: Any) -> int:
    return asyncio.run(
        run_task(args.task, args.file, args.first, args.last, prompt=args.prompt, dry_run=args.dry_run,
                 as_json=args.json, root=args.root, language=args.language)
    )
