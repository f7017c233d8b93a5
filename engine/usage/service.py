"""The server's side of cost and usage: records every attempt, keeps each
project's spend for budgets, judges whether applied edits were kept.

Ledger calls run on one worker thread; a failing ledger is logged and never
fails a task.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from assistant_router.engine.usage.acceptance import AcceptanceTracker
from assistant_router.engine.usage.budgets import Spend, day_start, month_start
from assistant_router.engine.usage.ledger import AttemptRow, ChoiceRow, CompletionRow, LedgerWorker, open_ledger
from assistant_router.engine.usage.prices import cost_usd, counted_usd
from assistant_router.providers.base import Usage
from assistant_router.routing.tasks import Delivery

if TYPE_CHECKING:
    from assistant_router.engine.results import TaskResult
    from assistant_router.routing.policy import ModelConfig, Policy

logger = logging.getLogger(__name__)

REFRESH_S = float(os.environ.get("ASSISTANT_ROUTER_SPEND_REFRESH_S", 15))


class UsageService:
    def __init__(self, ledger_url: Callable[[], str | None]) -> None:
        self._ledger_url = ledger_url
        self._worker: LedgerWorker | None = None
        self.spend: dict[str, Spend] = {}
        self._refreshed: dict[str, float] = {}  # monotonic time of each project's last read
        self._writes: set[asyncio.Task[None]] = set()  # completion counts on their way to the ledger
        self.acceptance = AcceptanceTracker()
        self._loop_task: asyncio.Task[None] | None = None

    @property
    def worker(self) -> LedgerWorker:
        if self._worker is None:
            self._worker = LedgerWorker(open_ledger(self._ledger_url()))
        return self._worker

    # ---------------------------------------------------------------- spend
    async def refresh(self, project: str, policy: Policy | None = None, max_age_s: float = 0.0) -> Spend:
        """Read a project's spend from the ledger (other windows' and machines' too),
        unless it was read less than ``max_age_s`` ago (inline completions, many a
        minute, take the spend of the last read plus what this process added since).

        With the ``policy``, an attempt recorded at an unknown price counts at
        its provider's most expensive known price (budgets never treat it as free)."""
        if max_age_s and project in self.spend and time.monotonic() - self._refreshed.get(project, -1e9) < max_age_s:
            return self.spend[project]
        now = time.time()
        day, month = day_start(now), month_start(now)
        rows = await self.worker.call("rows", month, project, default=None)
        completions = await self.worker.call("completions", month, project, default=None)
        if rows is None or completions is None:  # the ledger failed: keep what we knew
            return self.spend.setdefault(project, Spend())
        spend = Spend()  # one read: the month's rows give every total
        for row in [*rows, *completions]:
            usage = Usage(row.input_tokens, row.output_tokens, cached_input_tokens=row.cached_input_tokens)
            dollars = counted_usd(row.cost_usd, row.provider, usage, policy, row.alias)
            task = getattr(row, "task", "complete")
            if dollars:
                spend.month += dollars
                spend.task_month[task] = spend.task_month.get(task, 0.0) + dollars
                if row.time >= day:
                    spend.day += dollars
                    spend.task_day[task] = spend.task_day.get(task, 0.0) + dollars
        self.spend[project] = spend
        self._refreshed[project] = time.monotonic()
        return spend

    def cached(self, project: str) -> Spend:
        return self.spend.get(project) or Spend()

    # -------------------------------------------------------------- records
    async def record(self, project: str, result: TaskResult, policy: Policy | None = None) -> float:
        """One ledger row per attempt; returns the dollars this run cost (known
        prices). The project's spend grows by what its budget counts (see refresh)."""
        from assistant_router.engine.results import Status

        decision = result.decision
        if decision is None:
            return 0.0
        if result.task.spec.delivery is Delivery.INLINE:
            return await self._record_completion(project, result, policy)
        run_id = uuid.uuid4().hex
        if not result.attempts:
            if result.status is Status.REFUSED:  # a budget refused it: one row, so the report can show when
                primary = decision.primary
                await self.worker.call("record", [AttemptRow(
                    time=time.time(), project=project, task=result.task.value, alias=primary.alias,
                    provider=primary.provider, model=primary.model, status="refused", run_id=run_id,
                    cost_usd=0.0, error_type="Refused")], default=None)
            return 0.0
        primary = decision.primary
        rows = []
        total = counted = 0.0
        # The attempt whose answer was delivered: the last of the model that
        # answered (an escalated task has an earlier answer that failed its checks).
        answering = next((a for a in reversed(result.attempts) if a.usage is not None
                          and (result.answered_by is None or a.config is result.answered_by)), None)
        for attempt in result.attempts:
            usage = attempt.usage
            cost = cost_usd(attempt.config.prices, usage) if usage is not None else None
            if attempt is answering or (attempt.usage is not None and attempt.error is None):
                status = "ok"  # it answered (an answer that failed its checks too)
            elif attempt.skipped:
                status = "skipped"
            else:
                status = "cancelled" if result.status is Status.CANCELLED and attempt.error is None else "failed"
            applied = attempt is answering and result.status is Status.APPLIED
            rows.append(AttemptRow(
                time=time.time(), project=project, task=result.task.value, alias=attempt.config.alias,
                provider=attempt.config.provider, model=attempt.config.model, status=status, run_id=run_id,
                input_tokens=usage.input_tokens if usage else 0, output_tokens=usage.output_tokens if usage else 0,
                cached_input_tokens=usage.cached_input_tokens if usage else 0, cost_usd=cost,
                ttft_ms=attempt.first_token_ms, total_ms=attempt.elapsed_ms, error_type=attempt.error_type,
                fallback=attempt.config is not primary and not attempt.escalated, applied=applied,
                estimated=usage.estimated if usage else False, check_outcome=attempt.check_outcome,
                escalated=attempt.escalated, security_findings=attempt.security_findings,
            ))
            total += cost or 0.0
            if usage is not None:
                counted += counted_usd(cost, attempt.config.provider, usage, policy, attempt.config.alias)
        ids = await self.worker.call("record", rows, default=None)
        spend = self.spend.setdefault(project, Spend())
        spend.add(result.task.value, counted)
        edit = result.edit
        if ids and edit and edit.get("uri") and edit.get("new_text"):
            for row, row_id in zip(rows, ids, strict=True):
                if row.applied:
                    self.acceptance.watch(row_id, edit["uri"], edit["new_text"])
        return total

    async def _record_completion(self, project: str, result: TaskResult, policy: Policy | None) -> float:
        """A completion's calls, added to their hour's rows (ledger schema 5)."""
        from assistant_router.engine.results import Status

        decision = result.decision
        assert decision is not None
        hour = time.time() // 3600 * 3600
        total = 0.0
        shown = bool((result.details or {}).get("shown"))
        if not result.attempts:
            primary = decision.primary
            self.add_later(CompletionRow(
                hour, project, primary.alias, primary.provider, primary.model, requests=1,
                refused=int(result.status is Status.REFUSED), failed=int(result.status is Status.FAILED)))
            return 0.0
        for index, attempt in enumerate(result.attempts):
            usage = attempt.usage
            cost = cost_usd(attempt.config.prices, usage) if usage is not None else 0.0
            config = attempt.config
            last = index == len(result.attempts) - 1
            row = CompletionRow(
                hour, project, config.alias, config.provider, config.model, requests=int(index == 0),
                calls=int(not attempt.skipped), shown=int(last and shown),
                cancelled=int(result.status is Status.CANCELLED and usage is None and not attempt.skipped),
                failed=int(attempt.error is not None and not attempt.skipped),
                input_tokens=usage.input_tokens if usage else 0, output_tokens=usage.output_tokens if usage else 0,
                cached_input_tokens=usage.cached_input_tokens if usage else 0, cost_usd=cost,
                first_token_ms=attempt.first_token_ms or 0, answered=int(usage is not None))
            self.add_later(row)  # a completion is not kept waiting for the disk
            total += cost or 0.0
            if usage is not None:
                self.spend.setdefault(project, Spend()).add(
                    "complete", counted_usd(cost, config.provider, usage, policy, config.alias))
        return total

    async def add_completions(self, row: CompletionRow) -> None:
        """Counts of inline completions (a cache hit, an accepted item) into their hour's row."""
        await self.worker.call("add_completions", row, default=None)

    def add_later(self, row: CompletionRow) -> None:
        """Queue ``row`` for the ledger's thread (which keeps the order) without waiting for it."""
        write = asyncio.get_running_loop().create_task(self.add_completions(row))
        self._writes.add(write)
        write.add_done_callback(self._writes.discard)

    async def record_call(self, project: str, task: str, config: ModelConfig, usage: Usage | None, *,
                          total_ms: int, error_type: str | None = None, policy: Policy | None = None) -> float:
        """One row for a call outside a task's run (a second opinion: task
        "classify"); returns its known cost. Budgets count it like any other."""
        cost = cost_usd(config.prices, usage) if usage is not None else None
        await self.worker.call("record", [AttemptRow(
            time=time.time(), project=project, task=task, alias=config.alias, provider=config.provider,
            model=config.model, status="ok" if error_type is None else "failed", run_id=uuid.uuid4().hex,
            input_tokens=usage.input_tokens if usage else 0, output_tokens=usage.output_tokens if usage else 0,
            cached_input_tokens=usage.cached_input_tokens if usage else 0, cost_usd=cost, total_ms=total_ms,
            error_type=error_type, estimated=usage.estimated if usage else False)], default=None)
        if usage is not None:
            self.spend.setdefault(project, Spend()).add(task, counted_usd(cost, config.provider, usage, policy,
                                                                         config.alias))
        return cost or 0.0

    async def record_choice(self, row: ChoiceRow) -> None:
        """A question asked when the classifier was unsure, and the answer."""
        await self.worker.call("record_choice", row, default=None)

    async def judge(self, read_text: Callable[[str], str | None], uri: str | None = None,
                    everything: bool = False) -> None:
        """Record kept/undone for the edits due now (``uri``: that document was
        saved; ``everything``: the server is stopping)."""
        for edit in self.acceptance.due(uri, everything):
            kept = self.acceptance.judge(read_text(edit.uri), edit)
            await self.worker.call("mark_kept", edit.row_id, kept)

    # ----------------------------------------------------------- background
    def start(self, projects: Callable[[], list[tuple[str, Policy]]], read_text: Callable[[str], str | None]) -> None:
        """Refresh the projects' spend (budgets and the status line read it,
        whether or not a budget is set) and judge due edits, every REFRESH_S."""

        async def loop() -> None:
            while True:
                await asyncio.sleep(REFRESH_S)
                try:
                    for project, policy in projects():
                        await self.refresh(project, policy)
                    await self.judge(read_text)
                except Exception:  # keep the loop alive; the next round may work
                    logger.exception("usage refresh failed")

        if self._loop_task is None:
            self._loop_task = asyncio.get_running_loop().create_task(loop(), name="usage refresh")

    async def stop(self) -> None:
        if self._loop_task is not None:
            self._loop_task.cancel()
        if self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)
        if self._worker is not None:
            self._worker.close()

    def today(self, project: str) -> dict[str, Any]:
        spend = self.cached(project)
        return {"project": project, "usd": round(spend.day, 6), "month_usd": round(spend.month, 6)}
