"""Budgets: per project, per UTC day and month, optionally per task.

The server keeps each project's spend from the ledger (refreshed in the
background, so other windows' and machines' spend counts) and asks
:func:`verdict` before a task runs and :func:`exhausted` when listing code
actions (cheap: cached numbers only).
"""

from __future__ import annotations

import calendar
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from assistant_router.engine.usage.prices import format_usd

if TYPE_CHECKING:
    from assistant_router.routing.policy import BudgetSettings, Policy
    from assistant_router.routing.router import Decision
    from assistant_router.routing.tasks import Task



def day_start(now: float | None = None) -> float:
    t = time.gmtime(now if now is not None else time.time())
    return float(calendar.timegm((t.tm_year, t.tm_mon, t.tm_mday, 0, 0, 0)))


def month_start(now: float | None = None) -> float:
    t = time.gmtime(now if now is not None else time.time())
    return float(calendar.timegm((t.tm_year, t.tm_mon, 1, 0, 0, 0)))


@dataclass
class Spend:
    """A project's known spend, in dollars, as last read from the ledger."""

    day: float = 0.0
    month: float = 0.0
    task_day: dict[str, float] = field(default_factory=dict)
    task_month: dict[str, float] = field(default_factory=dict)

    def add(self, task: str, dollars: float) -> None:
        self.day += dollars
        self.month += dollars
        self.task_day[task] = self.task_day.get(task, 0.0) + dollars
        self.task_month[task] = self.task_month.get(task, 0.0) + dollars


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    reason: str | None = None  # why not, or why downgraded
    downgrade_to: tuple[str, ...] = ()


def _limits(budget: BudgetSettings, spend: Spend, task: Task | None) -> list[tuple[str, float, float, str]]:
    """(label, limit, spent, key) for every limit that applies to ``task``
    (None: a call for no task of the table, such as a second opinion: the project's limits)."""
    limits = []
    if budget.daily_usd is not None:
        limits.append(("today", budget.daily_usd, spend.day, "daily_usd"))
    if budget.monthly_usd is not None:
        limits.append(("this month", budget.monthly_usd, spend.month, "monthly_usd"))
    per_task = budget.tasks.get(task) if task is not None else None
    if task is not None and per_task is not None:
        if per_task.daily_usd is not None:
            limits.append((f"today for {task.value}", per_task.daily_usd, spend.task_day.get(task.value, 0.0),
                           f"tasks.{task.value}.daily_usd"))
        if per_task.monthly_usd is not None:
            limits.append((f"this month for {task.value}", per_task.monthly_usd,
                           spend.task_month.get(task.value, 0.0), f"tasks.{task.value}.monthly_usd"))
    return limits


def verdict(budget: BudgetSettings, spend: Spend, task: Task | None, estimated_usd: float | None) -> Verdict:
    """May a request that should cost about ``estimated_usd`` run?"""
    if not budget.any:
        return Verdict(True)
    for label, limit, spent, key in _limits(budget, spend, task):
        if spent + (estimated_usd or 0.0) > limit:
            origin = budget.origins.get(key, budget.origin)
            where = f" (budget at {origin})" if origin else ""
            reason = f"budget {label}: {format_usd(spent)} spent of {format_usd(limit)}{where}"
            if budget.on_exceed == "downgrade" and budget.downgrade_to:
                return Verdict(True, f"{reason}; downgraded to {', '.join(budget.downgrade_to)}", budget.downgrade_to)
            return Verdict(False, reason)
    return Verdict(True)


# Any further request costs something: a limit reached exactly is exhausted.
_ANY_REQUEST_USD = 1e-9


def exhausted(budget: BudgetSettings, spend: Spend, task: Task) -> Verdict:
    """For code actions: is a limit already reached (no estimate: cached numbers only)?"""
    return verdict(budget, spend, task, _ANY_REQUEST_USD) if budget.any else Verdict(True)


class BudgetExceeded(Exception):
    """A request would exceed a budget and the policy says refuse."""


def within_budget(policy: Policy, decision: Decision, spend: Spend, estimated_usd: float | None,
                  *, per_task: bool = True) -> Decision:
    """The decision to run: as routed, or downgraded to the policy's cheaper
    chain; raises BudgetExceeded when the policy says refuse.

    ``estimated_usd`` is :func:`budget_estimate_usd` with the policy: an alias
    without a price counts at its provider's dearest known price. Under a
    budget, such an alias is refused instead when the user config says
    ``unknown_price = "refuse"``, and so is a request no price is known for."""
    from assistant_router.engine.usage.prices import budget_price_known

    primary = decision.primary
    if policy.budget.any and not budget_price_known(policy, primary):
        name = f"'{primary.alias}' ({primary.shown_provider_model})"
        if primary.alias in policy.unvouched_prices:
            name += ", priced only by the project policy,"
        if policy.budget.unknown_price == "refuse":
            raise BudgetExceeded(f"not sent: the price of {name} is unknown and your user config says "
                                 '[budget] unknown_price = "refuse". Give it prices in your user config')
        if estimated_usd is None:
            raise BudgetExceeded(f"not sent: the price of {name} is unknown and no price is known to count it "
                                 "at under the budget. Give it prices in your user config")
    judged = verdict(policy.budget, spend, decision.task if per_task else None, estimated_usd)
    if not judged.allowed:
        raise BudgetExceeded(f"not sent: {judged.reason}. Raise the budget in the policy, or wait")
    if judged.downgrade_to:
        from assistant_router.routing.router import Decision as RouterDecision

        chain = tuple(policy.models[alias] for alias in judged.downgrade_to)
        return RouterDecision(decision.task, chain, f"{judged.reason} (was: {decision.reason})")
    return decision
