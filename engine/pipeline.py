"""The task pipeline: the one place the order of a run's steps is written.

    request (engine/request.py: built once by the front end)
      1. budget          refuse, or downgrade to the policy's cheaper chain
      2. assemble        once per model: context, budget and window, redaction
      3. call            retries, fallback, timeouts (engine/calling.py)
      4. restore         put the redacted secrets back into the answer
      5. stop checks     never deliver a truncated or refused answer as whole
      6. check           an edit's syntax, safety rules and check commands
                         (engine/checks/); a failure escalates to the next
                         model of the chain with the problems (steps 1-6
                         again), or, when no answer passes, is held back
      7. deliver         the front end's delivery (delivery/, against its
                         target); an answer that failed its checks is shown
                         with its problems, applied only if the user asks
      8. ledger          one row per attempt, whatever the end
      → TaskResult       immutable, with a Status

Every front end (the language server's runner, ``assistant-router run``, the
demo through the server) calls :func:`run_task`; the preview and the route
estimate use the same request and the same assembly.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol

from assistant_router.engine.assembly import RequestTooLarge, preview_data
from assistant_router.engine.calling import Assemblies, AttemptLog, ProviderSource, Timing, call_models, check_stop
from assistant_router.engine.resilience import CircuitBreaker
from assistant_router.engine.results import Delivered, Refused, Status, TaskError, TaskResult, model_label

if TYPE_CHECKING:
    from assistant_router.engine.calling import Answered
    from assistant_router.engine.checks.stage import CheckReport
from assistant_router.engine.usage.prices import ASSUMED_OUTPUT_TOKENS, budget_estimate_usd
from assistant_router.routing.tasks import Delivery

if TYPE_CHECKING:
    from assistant_router.engine.request import TaskRequest
    from assistant_router.engine.usage.service import UsageService
    from assistant_router.routing.policy import ModelConfig
    from assistant_router.routing.router import Decision
    from assistant_router.routing.tasks import TaskSpec

logger = logging.getLogger(__name__)

CANCELLED_MESSAGE = "cancelled; nothing was applied"


class Progress(Protocol):
    """How a front end shows a run while it goes."""

    async def begin(self, spec: TaskSpec, decision: Decision) -> None:
        """The run starts, with the decision it will follow (after the budget check)."""
        ...

    def report(self, message: str, *, force: bool = False) -> None: ...

    def delta(self, text: str) -> None: ...


class NoProgress:
    """A run that shows nothing as it goes (an inline completion: the ghost
    text is its progress; a CI review: told when each span ends)."""

    async def begin(self, spec: TaskSpec, decision: Decision) -> None:
        return None

    def report(self, message: str, *, force: bool = False) -> None:
        return None

    def delta(self, text: str) -> None:
        return None


@dataclass
class Engine:
    """What the pipeline needs, built once by each front end's composition root."""

    providers: ProviderSource
    usage: UsageService
    breaker: CircuitBreaker = field(default_factory=CircuitBreaker)
    timing: Timing = Timing()


@dataclass(frozen=True)
class Answer:
    """A complete answer, ready for delivery (or for its checks)."""

    request: TaskRequest
    text: str  # secrets restored
    config: ModelConfig  # the model that answered
    checks: CheckReport | None = None  # None: not checked (not an edit, or checks off)
    escalated: bool = False  # the answer of a model the task was escalated to

    @property
    def label(self) -> str:
        return model_label(self.config)


Deliver = Callable[[Answer], Awaitable[Delivered]]
# The check step: what the answer's edit would do, checked; None when there
# is nothing to check (the front end's delivery knows where an edit goes).
Check = Callable[[Answer], Awaitable["CheckReport | None"]]


@dataclass
class Run:
    """One run's log: the attempts so far and, once it ends, its result (also
    when it was cancelled, so the front end can report it)."""

    log: AttemptLog = field(default_factory=AttemptLog)
    result: TaskResult | None = None


async def run_task(
    request: TaskRequest,
    engine: Engine,
    *,
    deliver: Deliver,
    progress: Progress,
    run: Run | None = None,
    check: Check | None = None,
) -> TaskResult:
    """Run one task through every step; returns its result. A cancelled run
    is recorded (``run.result``) and ``asyncio.CancelledError`` propagates."""
    run = run if run is not None else Run()
    started = engine.timing.clock()
    assemblies = Assemblies(request.source)
    decision = request.decision
    outcome: dict[str, Any] = {}

    def result(status: Status, message: str | None, **values: Any) -> TaskResult:
        return TaskResult(
            request.task, status, int((engine.timing.clock() - started) * 1000), decision=decision,
            message=message, attempts=tuple(run.log.attempts), **{**outcome, **values},
        )

    try:
        decision = await _within_budget(request, engine, assemblies, decision)  # 1
        await progress.begin(request.spec, decision)
        # A completion not shown by its deadline is useless: no retry or model
        # of the chain is started that could not answer before it.
        completion = request.spec.delivery is Delivery.INLINE
        deadline = started + request.policy.completion.deadline_s if completion else None
        answered = await call_models(  # 2, 3
            decision, assemblies, run.log, engine.providers, engine.breaker, progress.report,
            timing=engine.timing, on_delta=progress.delta, deadline=deadline,
        )
        answer = _answer(request, answered)  # 4, 5
        if check is not None:
            answer = await _checked(answer, answered, request, engine, decision, run, progress, check)  # 6
        config = answer.config
        outcome = {"answered_by": config, "usage": run.log.usage(), "context": answered.assembled.summary(),
                   "checks": answer.checks, "escalated": answer.escalated}
        if answer.checks is not None and not answer.checks.passed:
            progress.report(f"{config.alias}: {answer.checks.summary()}; nothing applied", force=True)
        else:
            progress.report(f"{config.alias}: answer complete, delivering", force=True)
        delivered = await deliver(answer)  # 7
        finished = result(delivered.status, delivered.message, details=delivered.details)
    except TaskError as exc:
        finished = result(exc.status, str(exc))
    except asyncio.CancelledError:
        run.result = await _record(engine, request, result(Status.CANCELLED, CANCELLED_MESSAGE))  # 8
        raise
    run.result = await _record(engine, request, finished)  # 8
    return run.result


def _answer(request: TaskRequest, answered: Answered, escalated: bool = False) -> Answer:
    # 4: a completion keeps its placeholders, so one that would put a secret
    # back into the file is not shown (engine/completion.py shown_text).
    inline = request.spec.delivery is Delivery.INLINE
    text = answered.text if inline else answered.assembled.redactions.restore(answered.text)
    text = check_stop(request.spec, text, answered.config, answered.completion)  # 5
    return Answer(request, text, answered.config, escalated=escalated)


async def _checked(answer: Answer, answered: Answered, request: TaskRequest, engine: Engine, decision: Decision,
                   run: Run, progress: Progress, check: Check) -> Answer:
    """Step 6: check the answer; while it fails and the policy escalates, ask
    the next model of the chain, told what failed. Returns the answer that
    passed, or the best one (fewest problems; the later on a tie)."""
    from assistant_router.engine.checks.stage import escalation_note

    async def checked(answer: Answer) -> Answer:
        if request.spec.delivery is Delivery.EDIT:
            progress.report(f"{answer.config.alias}: checking the edit", force=True)
        report = await check(answer)
        run.log.checked(answer.config, report)
        return replace(answer, checks=report)

    answer = await checked(answer)
    report = answer.checks
    settings, task = request.policy.checks, request.task
    best = answer
    escalations = 0
    while report is not None and not report.passed and settings.failure_action(task) == "escalate" \
            and escalations < settings.escalations(task):
        rest = decision.chain[decision.chain.index(answer.config) + 1:] if answer.config in decision.chain else ()
        if not rest:
            break
        escalations += 1
        run.log.escalating = True
        progress.report(f"{report.summary()}: escalating to {rest[0].alias}", force=True)
        source = replace(request.source, escalation=escalation_note(report, answered.text, answer.label))
        assemblies = Assemblies(source)
        escalated_decision = replace(decision, chain=rest, reason=f"{decision.reason}; escalated: "
                                     f"{answer.config.alias}'s answer failed its checks")
        try:
            escalated_decision = await _within_budget(request, engine, assemblies, escalated_decision)  # 1
            answered = await call_models(  # 2, 3
                escalated_decision, assemblies, run.log, engine.providers, engine.breaker, progress.report,
                timing=engine.timing, on_delta=progress.delta,
            )
            answer = _answer(request, answered, escalated=True)  # 4, 5
        except TaskError as exc:  # the first answer is still there, held back with its problems
            logger.warning("escalating %s failed: %s", task.value, exc)
            progress.report(f"escalation failed: {exc}", force=True)
            break
        answer = await checked(answer)
        report = answer.checks
        if report is None or report.passed or len(report.findings) <= len(best.checks.findings if best.checks
                                                                             else ()):
            best = answer
        if report is None or report.passed:
            break
    return best


async def _within_budget(request: TaskRequest, engine: Engine, assemblies: Assemblies, decision: Decision) -> Decision:
    """Refuse, or downgrade to the policy's cheaper chain, a request that
    would exceed a budget (spend read fresh from the shared ledger)."""
    from assistant_router.engine.usage.budgets import BudgetExceeded, within_budget
    from assistant_router.engine.usage.service import REFRESH_S

    policy = request.policy
    if not policy.budget.any:
        return decision
    # Completions, many a minute, read the ledger at most every REFRESH_S.
    max_age = REFRESH_S if request.spec.delivery is Delivery.INLINE else 0.0
    spend = await engine.usage.refresh(request.project, policy, max_age)
    await assemblies.prepare(decision.primary)
    try:
        tokens = assemblies.get(decision.primary).input_tokens
    except RequestTooLarge:
        tokens = 0
    try:
        decided = within_budget(policy, decision, spend, budget_estimate_usd(decision.primary, tokens, policy))
    except BudgetExceeded as exc:
        raise Refused(str(exc)) from None
    if decided is not decision:
        logger.warning("%s", decided.reason)
    return decided


async def _record(engine: Engine, request: TaskRequest, result: TaskResult) -> TaskResult:
    cost = await engine.usage.record(request.project, result, request.policy)
    return replace(result, cost_usd=cost)


async def preview(request: TaskRequest) -> dict[str, Any]:
    """Exactly what a run would send to the primary model, and what it may
    cost; nothing is sent. Raises Refused when the selection does not fit."""
    decision = request.decision
    assemblies = Assemblies(request.source)
    await assemblies.prepare(decision.primary)
    try:
        assembled = assemblies.get(decision.primary)
    except RequestTooLarge as exc:
        raise Refused(str(exc)) from None
    return preview_data(decision.to_json(), decision.primary, assembled)


async def estimate(request: TaskRequest) -> dict[str, Any]:
    """What a run would send and cost, in numbers (``assistant.route``)."""
    primary = request.decision.primary
    assemblies = Assemblies(request.source)
    await assemblies.prepare(primary)
    try:
        tokens = assemblies.get(primary).input_tokens
    except RequestTooLarge as exc:
        return {"input_tokens": None, "cost_usd": None, "note": str(exc)}
    cost = budget_estimate_usd(primary, tokens)
    note = "unknown price" if cost is None else f"input plus an answer of up to {ASSUMED_OUTPUT_TOKENS:,} tokens"
    return {"input_tokens": tokens, "cost_usd": cost, "note": note}
