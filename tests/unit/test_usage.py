"""Prices, budgets, acceptance and the report, without a server."""

from __future__ import annotations

import json
import time

import pytest

from assistant_router.engine.usage.acceptance import AcceptanceTracker
from assistant_router.engine.usage.budgets import (
    BudgetExceeded,
    Spend,
    day_start,
    exhausted,
    month_start,
    verdict,
    within_budget,
)
from assistant_router.engine.usage.ledger import AttemptRow
from assistant_router.engine.usage.prices import cost_usd
from assistant_router.engine.usage.report import render_html, render_text, summarize
from assistant_router.providers.base import Usage
from assistant_router.routing.policy import BudgetSettings, Prices, PriceTier, TaskBudget, build_policy, builtin_layer
from assistant_router.routing.tasks import Task


@pytest.mark.parametrize(
    ("alias", "usage", "dollars"),
    [
        ("opus", Usage(1_000_000, 0), 5.0),
        ("opus", Usage(0, 1_000_000), 25.0),
        ("opus", Usage(12_000, 800), 12_000 * 5 / 1e6 + 800 * 25 / 1e6),
        ("codex", Usage(12_000, 800), 12_000 * 1.75 / 1e6 + 800 * 14 / 1e6),
    ],
)
def test_costs_from_the_shipped_prices(alias, usage, dollars):
    policy, _ = build_policy([builtin_layer()])
    assert cost_usd(policy.models[alias].prices, usage) == pytest.approx(dollars)


def test_cached_input_and_long_context_tiers():
    prices = Prices(input=3.0, output=15.0, cached_input=0.3,
                    tiers=[PriceTier(above_input_tokens=200_000, input=6.0, output=22.5, cached_input=0.6)])
    assert cost_usd(prices, Usage(100_000, 1000, cached_input_tokens=40_000)) == pytest.approx(
        (60_000 * 3.0 + 40_000 * 0.3 + 1000 * 15.0) / 1e6)
    # Above the threshold the tier's prices apply to the whole request.
    assert cost_usd(prices, Usage(300_000, 1000)) == pytest.approx((300_000 * 6.0 + 1000 * 22.5) / 1e6)


@pytest.mark.parametrize("input_tokens", [100_000, 300_000])  # below and above the long-context tier
def test_the_preview_and_the_budget_price_a_request_as_the_ledger_will(input_tokens):
    """One cost rule: the preview's estimate, the budget's and the ledger's cost agree, tiers included."""
    from assistant_router.engine.usage.prices import ASSUMED_OUTPUT_TOKENS, budget_estimate_usd, estimated_cost
    from assistant_router.routing.policy import ModelConfig

    prices = Prices(input=3.0, output=15.0,
                    tiers=[PriceTier(above_input_tokens=200_000, input=6.0, output=22.5)])
    config = ModelConfig(alias="m", provider="mock", model="m", max_output_tokens=8000, prices=prices)
    preview = estimated_cost(config, input_tokens, ASSUMED_OUTPUT_TOKENS)
    charged = cost_usd(prices, Usage(input_tokens, ASSUMED_OUTPUT_TOKENS))

    assert preview["input"] + preview["output_up_to"] == pytest.approx(charged)
    assert budget_estimate_usd(config, input_tokens) == pytest.approx(charged)


def test_an_unknown_price_is_unknown_not_zero():
    assert cost_usd(Prices(), Usage(10, 10)) is None
    assert cost_usd(Prices(input=1.0), Usage(10, 10)) is None


def budget(**values) -> BudgetSettings:
    return BudgetSettings(**values)


@pytest.mark.parametrize(
    ("settings", "spend", "estimate", "allowed", "reason"),
    [
        (budget(daily_usd=1.0), Spend(day=0.5), 0.4, True, None),
        (budget(daily_usd=1.0), Spend(day=0.5), 0.6, False, "budget today: $0.50 spent of $1.00"),
        (budget(monthly_usd=10.0), Spend(day=0, month=9.99), 0.02, False, "budget this month: $9.99 spent of $10.00"),
        (budget(tasks={Task.REVIEW: TaskBudget(daily_usd=0.1)}), Spend(task_day={"review": 0.1}), 0.01, False,
         "budget today for review: $0.10 spent of $0.10"),
        (budget(tasks={Task.EXPLAIN: TaskBudget(daily_usd=0.1)}), Spend(task_day={"review": 5.0}), 0.01, True, None),
        (budget(), Spend(day=1e9), 1.0, True, None),
    ],
)
def test_verdicts(settings, spend, estimate, allowed, reason):
    judged = verdict(settings, spend, Task.REVIEW, estimate)
    assert judged.allowed is allowed and judged.reason == reason


def test_downgrade_instead_of_refusing():
    policy, _ = build_policy([builtin_layer()])
    from dataclasses import replace

    from assistant_router.routing.matching import RouteRequest
    from assistant_router.routing.router import Router

    policy = replace(policy, budget=budget(daily_usd=1.0, on_exceed="downgrade", downgrade_to=("codex",)))
    decision = Router(policy).decide(RouteRequest(Task.REVIEW))
    downgraded = within_budget(policy, decision, Spend(day=0.99), 0.05)
    assert [m.alias for m in downgraded.chain] == ["codex"]
    assert downgraded.reason.startswith("budget today: $0.99 spent of $1.00; downgraded to codex")
    refusing = replace(policy, budget=budget(daily_usd=1.0))
    with pytest.raises(BudgetExceeded, match="not sent: budget today"):
        within_budget(refusing, decision, Spend(day=0.99), 0.05)
    assert exhausted(refusing.budget, Spend(day=1.0), Task.REVIEW).allowed is False
    assert exhausted(refusing.budget, Spend(day=0.99), Task.REVIEW).allowed is True


def test_day_and_month_are_utc():
    moment = 1_790_000_000  # 2026-09-21T12:53:20Z
    assert time.gmtime(day_start(moment))[:6] == (2026, 9, 21, 0, 0, 0)
    assert time.gmtime(month_start(moment))[:6] == (2026, 9, 1, 0, 0, 0)


def test_acceptance_judges_by_text_still_present():
    tracker = AcceptanceTracker(delay_s=60)
    tracker.watch(1, "file:///a.py", "def total(items):\n    return sum(items)\n")
    tracker.watch(2, "file:///b.py", "x = 1\n")
    (due,) = tracker.due("file:///a.py")  # a save of a.py
    assert tracker.judge("import os\n\ndef total(items):\n        return sum(items)\n", due)  # re-indented: kept
    assert not tracker.judge("def total(items):\n    return 0\n", due)
    assert tracker.due() == [] and len(tracker) == 1
    assert [e.row_id for e in tracker.due(everything=True)] == [2]


def rows_for_report() -> list[AttemptRow]:
    now = time.time()
    rows = []
    for index in range(10):  # codex: 9 of 10 refactors kept, cheap
        rows.append(AttemptRow(now, "/repo", "refactor", "codex", "openai", "gpt-5.3-codex", "ok", f"c{index}",
                               1000, 200, cost_usd=0.02, total_ms=900, ttft_ms=300, applied=True, kept=index < 9))
    for index in range(10):  # opus: 8 of 10 kept, dear
        rows.append(AttemptRow(now, "/repo", "refactor", "opus", "anthropic", "claude-opus-4-6", "ok", f"o{index}",
                               1000, 200, cost_usd=0.11, total_ms=2000, ttft_ms=800, applied=True, kept=index < 8))
    rows.append(AttemptRow(now, "/repo", "review", "opus", "anthropic", "claude-opus-4-6", "failed", "f1",
                           error_type="RetryableProviderError"))
    rows.append(AttemptRow(now, "/other", "review", "local", "openai", "qwen", "ok", "l1", 50, 50, cost_usd=None))
    return rows


def test_the_report_matches_the_ledger_and_suggests():
    summary = summarize(rows_for_report(), since=0)

    assert summary["requests"] == 21 and summary["cost_usd"] == pytest.approx(10 * 0.02 + 10 * 0.11)
    assert summary["unknown_cost_requests"] == 1
    opus = summary["by_model"]["opus (claude-opus-4-6)"]
    assert (opus["answered"], opus["failed"], opus["attempts"]) == (10, 1, 11)
    assert opus["avg_ms"] == 2000 and opus["avg_ttft_ms"] == 800
    codex_refactor = next(t for t in summary["by_task"] if t["task"] == "refactor" and t["model"].startswith("codex"))
    assert codex_refactor["acceptance"] == pytest.approx(0.9) and codex_refactor["avg_cost_usd"] == pytest.approx(0.02)
    assert summary["by_project"]["/other"]["cost_usd"] == 0
    assert summary["suggestions"][0] == (
        "refactor: codex (gpt-5.3-codex) edits kept 90% at $0.02 vs opus (claude-opus-4-6) 80% at $0.11 "
        "— consider routing refactor to codex"
    )
    assert "no known price (local (qwen))" in summary["suggestions"][1]
    json.dumps(summary)  # serialisable for --json and assistant.usage


def test_text_and_self_contained_html():
    summary = summarize(rows_for_report(), since=0)
    text = render_text(summary)
    (line,) = [line for line in text.splitlines() if line.startswith("refactor") and "codex (gpt-5.3-codex)" in line]
    assert line.rstrip().endswith("90%") and "Suggestions:" in text
    page = render_html(summary)
    assert page.startswith("<!doctype html>") and page.count("<svg") == 6
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in page
    assert "<script" not in page


# --------------------------------------------------------------------------- #
# An unknown price is never free under a budget


def unpriced_policy(user_budget: str = "", project: str = ""):
    from assistant_router.routing.policy import Layer

    layers = [builtin_layer(), Layer("user.toml", None, "[budget]\ndaily_usd = 1\n" + user_budget, "user"),
              Layer("project.toml", None, '[models.cheap]\nprovider = "anthropic"\nmodel = "claude-new"\n'
                    '[routes]\nreview = "cheap"\n' + project, "project")]
    policy, issues = build_policy(layers)
    assert policy is not None, issues
    return policy


def review_decision(policy):
    from assistant_router.routing.matching import RouteRequest
    from assistant_router.routing.router import Router

    return Router(policy).decide(RouteRequest(Task.REVIEW))


def test_an_unknown_price_counts_as_the_providers_most_expensive():
    from assistant_router.engine.usage.prices import budget_estimate_usd

    policy = unpriced_policy()
    cheap = policy.models["cheap"]
    assert budget_estimate_usd(cheap, 10_000) is None  # shown as unknown, never as zero
    # For the budget: as opus, anthropic's dearest known price ($5 in, $25 out).
    assert budget_estimate_usd(cheap, 10_000, policy) == pytest.approx((10_000 * 5 + 2000 * 25) / 1e6)
    decision = review_decision(policy)
    with pytest.raises(BudgetExceeded, match=r"not sent: budget today: \$0.95 spent of \$1.00"):
        within_budget(policy, decision, Spend(day=0.95), budget_estimate_usd(cheap, 10_000, policy))
    assert within_budget(policy, decision, Spend(day=0.5), budget_estimate_usd(cheap, 10_000, policy)) is decision


def test_an_unknown_price_of_an_unpriced_provider_counts_as_the_dearest_of_any():
    from assistant_router.engine.usage.prices import budget_estimate_usd
    from assistant_router.routing.policy import ModelConfig

    policy = unpriced_policy()
    local = ModelConfig(alias="local", provider="ollama", model="qwen")
    assert budget_estimate_usd(local, 0, policy) == pytest.approx(2000 * 25 / 1e6)


def test_the_user_config_may_refuse_unknown_prices_under_a_budget():
    from assistant_router.engine.usage.prices import budget_estimate_usd

    policy = unpriced_policy('unknown_price = "refuse"\n')
    decision = review_decision(policy)
    with pytest.raises(BudgetExceeded, match=r"the price of 'cheap' \(anthropic claude-new\) is unknown"):
        within_budget(policy, decision, Spend(), budget_estimate_usd(decision.primary, 10, policy))


def test_a_project_cannot_choose_how_unknown_prices_count():
    from assistant_router.routing.policy import Layer

    layers = [builtin_layer(), Layer("project.toml", None, '[budget]\nunknown_price = "refuse"\n', "project")]
    policy, issues = build_policy(layers)
    assert policy is not None and policy.budget.unknown_price == "most_expensive"
    assert [(i.key, i.severity) for i in issues] == [("budget.unknown_price", "warning")]


def test_the_budget_counts_a_recorded_unknown_cost_at_the_providers_dearest_price():
    from assistant_router.engine.usage.prices import counted_usd

    policy = unpriced_policy()
    assert counted_usd(0.25, "anthropic", Usage(1000, 1000), policy) == 0.25
    assert counted_usd(None, "anthropic", Usage(1000, 1000), policy) == pytest.approx((1000 * 5 + 1000 * 25) / 1e6)
    assert counted_usd(None, "anthropic", Usage(0, 0), policy) == 0  # nothing answered: nothing spent


def test_a_price_only_the_project_gives_counts_as_unknown_under_a_budget():
    from assistant_router.engine.usage.prices import budget_estimate_usd, counted_usd

    policy = unpriced_policy(project="[models.cheap.prices]\ninput = 0.0\noutput = 0.0\n")
    cheap = policy.models["cheap"]
    assert policy.unvouched_prices == {"cheap"} and budget_estimate_usd(cheap, 10_000) == 0.0  # shown as given
    assert budget_estimate_usd(cheap, 10_000, policy) == pytest.approx((10_000 * 5 + 2000 * 25) / 1e6)
    assert counted_usd(0.0, "anthropic", Usage(1000, 1000), policy, "cheap") == pytest.approx(0.03)
    refusing = unpriced_policy('unknown_price = "refuse"\n', "[models.cheap.prices]\ninput = 0.0\noutput = 0.0\n")
    with pytest.raises(BudgetExceeded, match="priced only by the project policy"):
        within_budget(refusing, review_decision(refusing), Spend(), 0.0)
    _, issues = build_policy([builtin_layer(), Layer_("[budget]\ndaily_usd = 1\n", "user"),
                              Layer_('[models.x]\nprovider = "openai"\nmodel = "gpt-9"\nprices = { input = 0, '
                                     'output = 0 }\n', "project")])
    assert [i.key for i in issues] == ["models.x.prices"] and "most expensive known price" in issues[0].message


def Layer_(text, role):  # noqa: N802
    from assistant_router.routing.policy import Layer

    return Layer(f"{role}.toml", None, text, role)


def test_the_report_marks_usage_the_router_estimated():
    now = time.time()
    rows = [
        AttemptRow(now, "/repo", "explain", "local", "openai", "llama", "ok", "e1", 400, 90, cost_usd=0.001,
                   estimated=True),
        AttemptRow(now, "/repo", "explain", "codex", "openai", "gpt-5.3-codex", "ok", "r1", 400, 90, cost_usd=0.002),
    ]
    summary = summarize(rows, since=0)
    assert summary["estimated_usage_answers"] == 1
    assert summary["by_model"]["local (llama)"]["estimated_usage"] == 1
    assert summary["by_model"]["codex (gpt-5.3-codex)"]["estimated_usage"] == 0
    text = render_text(summary)
    assert "~400" in text and "~90" in text
    assert "~ 1 answers came with no usage from the server: their tokens are the router's estimate" in text
    (codex_line,) = [line for line in text.splitlines() if line.startswith("codex (gpt-5.3-codex)")]
    assert "~" not in codex_line  # reported usage is not marked


def test_the_report_shows_where_the_classifier_hesitates():
    from assistant_router.engine.usage.ledger import ChoiceRow

    def choice(offered, chosen):
        return ChoiceRow(1000.0, "/repo", "0" * 64, offered, chosen, offered[0], 0.3)

    choices = [choice(("debug", "explain"), "explain"), choice(("debug", "explain"), "explain"),
               choice(("debug", "explain"), "debug"), choice(("test", "fix"), None)]
    summary = summarize([], since=0, choices=choices)

    assert summary["choices"] == {
        "asked": 4, "dismissed": 1, "top_task_chosen": 1, "top_task_rate": pytest.approx(1 / 3),
        "pairs": [{"offered": ["debug", "explain"], "chosen": "explain", "count": 2},
                  {"offered": ["debug", "explain"], "chosen": "debug", "count": 1},
                  {"offered": ["test", "fix"], "chosen": None, "count": 1}]}
    text = render_text(summary)
    assert "Asked to choose a task (the classifier was unsure): 4 times, 1 dismissed" in text
    assert "top task was chosen 1 of 3 times (33%)" in text and "none (dismissed)" in text
    assert 'id="choices"' in render_html(summary) and 'id="choices"' not in render_html(summarize([], since=0))
