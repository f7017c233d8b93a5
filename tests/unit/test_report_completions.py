"""The usage report's inline completions: per model, asked, served from the
cache, calls and those closed early, shown, accepted and the cost, in text,
HTML and JSON, and their cost in the totals next to the other tasks."""

from __future__ import annotations

import calendar
import json

from assistant_router.engine.usage.ledger import AttemptRow, CompletionRow
from assistant_router.engine.usage.report import render_html, render_text, summarize

HOUR = float(calendar.timegm((2026, 3, 2, 12, 0, 0)))
MINI = "codex-mini (gpt-5.1-codex-mini)"


def _rows() -> list[CompletionRow]:
    return [
        CompletionRow(HOUR, "/repo", "codex-mini", "openai", "gpt-5.1-codex-mini", requests=40, cached=10, calls=30,
                      cancelled=12, shown=25, accepted=10, accepted_chars=420, input_tokens=30_000,
                      output_tokens=1_500, cost_usd=0.0105, first_token_ms=2_700, answered=18),
        CompletionRow(HOUR + 3600, "/repo", "codex-mini", "openai", "gpt-5.1-codex-mini", requests=10, calls=10,
                      shown=5, accepted=5, accepted_chars=80, cost_usd=0.002, first_token_ms=900, answered=10,
                      refused=0),
        CompletionRow(HOUR, "/repo", "local", "openai", "qwen-coder", requests=4, calls=4, shown=4, accepted=1,
                      accepted_chars=7, cost_usd=None, answered=4),
    ]


def test_completions_per_model_with_acceptance():
    review = AttemptRow(HOUR, "/repo", "review", "opus", "anthropic", "claude-opus-4-6", "ok", "r1", 1000, 200,
                        cost_usd=0.01)
    summary = summarize([review], HOUR - 1, HOUR + 86400, completions=_rows())

    mini = summary["completions"]["by_model"][MINI]
    assert (mini["requests"], mini["cached"], mini["calls"], mini["cancelled"], mini["shown"], mini["accepted"],
            mini["accepted_chars"]) == (50, 10, 40, 12, 30, 15, 500)
    assert mini["acceptance"] == 0.5 and mini["cache_rate"] == 0.2 and mini["avg_first_token_ms"] == 129
    assert summary["completions"]["total"]["accepted"] == 16
    assert summary["cost_usd"] == round(0.01 + 0.0125, 6)  # completions count in the totals
    assert summary["unknown_cost_requests"] == 4  # the local model has no price
    complete = next(t for t in summary["by_task"] if t["task"] == "complete" and t["model"] == MINI)
    assert complete["acceptance"] == 0.5 and complete["answered"] == 28
    json.dumps(summary)  # the JSON report

    text = render_text(summary)
    assert "Inline completions (ghost text as you type), per model:" in text
    line = next(line for line in text.splitlines() if line.startswith(MINI) and "50" in line)
    assert "50.0%" in line or "50%" in line
    page = render_html(summary)
    assert '<section id="completions">' in page and MINI in page


def test_no_completions_no_section():
    summary = summarize([], 0, 1)
    assert "Inline completions" not in render_text(summary)
    assert 'id="completions"' not in render_html(summary)
