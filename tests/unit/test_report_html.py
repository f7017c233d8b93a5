"""The usage report's summary series and small money (engine/usage/report.py)."""

from __future__ import annotations

import calendar
import json

import pytest

from assistant_router.engine.usage.ledger import AttemptRow
from assistant_router.engine.usage.report import _money, render_html, render_text, summarize

DAY = 86400.0
START = float(calendar.timegm((2026, 3, 2, 12, 0, 0)))  # a Monday noon, UTC
CODEX, OPUS = "codex (gpt-5.3-codex)", "opus (claude-opus-4-6)"


def codex(at: float, run: str, **fields) -> AttemptRow:
    return AttemptRow(at, "/repo", fields.pop("task", "refactor"), "codex", "openai", "gpt-5.3-codex",
                      fields.pop("status", "ok"), run, 1000, 200, **fields)


def opus(at: float, run: str, **fields) -> AttemptRow:
    return AttemptRow(at, "/repo", fields.pop("task", "refactor"), "opus", "anthropic", "claude-opus-4-6",
                      fields.pop("status", "ok"), run, 1000, 200, **fields)


def two_days() -> list[AttemptRow]:
    """Day 1: three codex refactors (two kept, one undone) and an opus failure
    that codex answered as a fallback. Day 2: an opus review, a skip, a cancel."""
    day1, day2 = START, START + DAY
    return [
        codex(day1, "a", cost_usd=0.0012, ttft_ms=100, total_ms=1000, applied=True, kept=True),
        codex(day1 + 60, "b", cost_usd=0.0012, ttft_ms=200, total_ms=2000, applied=True, kept=True),
        codex(day1 + 120, "c", cost_usd=0.0012, ttft_ms=300, total_ms=3000, applied=True, kept=False),
        opus(day1 + 180, "d", status="failed", total_ms=500, error_type="RetryableProviderError"),
        codex(day1 + 181, "d", cost_usd=0.0014, ttft_ms=400, total_ms=4000, fallback=True, estimated=True),
        opus(day2, "e", task="review", cost_usd=0.05, ttft_ms=900, total_ms=9000),
        opus(day2 + 60, "f", task="review", status="skipped", error_type="CoolingDown"),
        codex(day2 + 120, "g", task="explain", status="cancelled", total_ms=300),
    ]


def test_the_summary_counts_outcomes_per_day_and_latency_percentiles():
    summary = summarize(two_days(), since=START - DAY, until=START + 2 * DAY)

    assert summary["outcomes_by_day"] == {
        "2026-03-02": {"answers": 4, "failed": 1, "fallback_answers": 1, "skipped": 0, "cancelled": 0},
        "2026-03-03": {"answers": 1, "failed": 0, "fallback_answers": 0, "skipped": 1, "cancelled": 1},
    }
    model = summary["by_model"][CODEX]
    assert (model["fallback_answers"], model["cancelled"], model["skipped"], model["failed"]) == (1, 1, 0, 0)
    assert summary["by_model"][OPUS]["skipped"] == 1 and summary["by_model"][OPUS]["failed"] == 1
    # Nearest rank over 1000, 2000, 3000, 4000 ms.
    assert (model["median_ms"], model["p90_ms"], model["median_ttft_ms"], model["p90_ttft_ms"]) == (2000, 4000,
                                                                                                   200, 400)
    refactor = next(t for t in summary["by_task"] if t["task"] == "refactor" and t["model"] == CODEX)
    assert refactor["cost_per_kept_usd"] == pytest.approx((3 * 0.0012 + 0.0014) / 2)  # four answers, two kept
    review = next(t for t in summary["by_task"] if t["task"] == "review")
    assert review["cost_per_kept_usd"] is None  # nothing judged
    assert summary["projects"] == ["/repo"]
    assert (summary["first_time"], summary["last_time"]) == (START, START + DAY + 120)
    # The keys other code reads are still there, with what they held.
    assert summary["requests"] == 5 and summary["by_day"]["2026-03-03"] == {OPUS: 0.05}
    assert summary["estimated_usage_answers"] == 1 and summary["unknown_cost_requests"] == 0
    assert {"by_model", "by_task", "by_project", "by_day", "suggestions"} <= summary.keys()
    json.dumps(summary)  # --json prints it


def test_money_under_a_cent_keeps_its_digits():
    assert _money(0.0034) == "$0.0034" and _money(0.02) == "$0.0200" and _money(0.11) == "$0.1100"
    assert _money(0.0000123) == "$0.000012" and _money(0.00004) == "$0.000040"
    assert _money(0) == "$0" and _money(None) == "unknown" and _money(1234.5) == "$1,234.50"
    rows = [codex(START, "a", cost_usd=0.0000123)]
    summary = summarize(rows, since=START)
    assert "$0.000012" in render_text(summary) and "$0.000012" in render_html(summary)
