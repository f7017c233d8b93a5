"""The usage report's page: the summary's per-day series, small money, the
sections and tables, escaping, the empty ledger, no network, and SVG that
parses as XML (engine/usage/report.py and engine/usage/charts.py)."""

from __future__ import annotations

import calendar
import json
import re
import xml.etree.ElementTree as ET

import pytest

from assistant_router.engine.usage import charts
from assistant_router.engine.usage.ledger import AttemptRow
from assistant_router.engine.usage.report import _money, render_html, render_text, summarize

DAY = 86400.0
START = float(calendar.timegm((2026, 3, 2, 12, 0, 0)))  # a Monday noon, UTC
CODEX, OPUS = "codex (gpt-5.3-codex)", "opus (claude-opus-4-6)"
SVG = re.compile(r"<svg\b.*?</svg>", re.S)
SECTIONS = ["spend", "cost", "acceptance", "checks", "failures", "latency", "suggestions", "models"]


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


def svgs(page: str) -> list[ET.Element]:
    return [ET.fromstring(fragment) for fragment in SVG.findall(page)]


def test_the_summary_counts_outcomes_per_day_and_latency_percentiles():
    summary = summarize(two_days(), since=START - DAY, until=START + 2 * DAY)

    assert summary["outcomes_by_day"] == {
        "2026-03-02": {"answers": 4, "failed": 1, "fallback_answers": 1, "skipped": 0, "cancelled": 0, "refused": 0},
        "2026-03-03": {"answers": 1, "failed": 0, "fallback_answers": 0, "skipped": 1, "cancelled": 1, "refused": 0},
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
    assert _money(0.0034) == "$0.0034" and _money(0.02) == "$0.02" and _money(0.11) == "$0.11"
    assert _money(0.015) == "$0.015" and _money(0.001) == "$0.001"  # a $0.001 budget is not "$0.00"
    assert _money(0.0000123) == "$0.000012" and _money(0.00004) == "$0.000040"
    assert _money(0) == "$0.00" and _money(None) == "unknown" and _money(1234.5) == "$1,234.50"
    rows = [codex(START, "a", cost_usd=0.0000123)]
    summary = summarize(rows, since=START)
    assert "$0.000012" in render_text(summary) and "$0.000012" in render_html(summary)


def test_the_page_has_every_section_with_its_chart_and_accessible_tables():
    page = render_html(summarize(two_days(), since=START - DAY, until=START + 2 * DAY))

    assert page.startswith("<!doctype html>") and "<pre" not in page
    assert re.findall(r'<section id="([a-z]+)"', page) == SECTIONS
    header = page[page.index("<header>"):page.index("</header>")]
    assert "2026-03-01 12:00 to 2026-03-04 12:00 UTC" in header and "/repo" in header
    for label, value in [("Requests", "5"), ("Spend (known prices)", "$0.055"),
                         ("Answers at unknown price", "0"), ("Answers with estimated usage", "1")]:
        assert f"<dt>{label}</dt><dd>{value}</dd>" in header
    for title in ["Spend per day, per model", "Average cost of an answer, per task and model",
                  "Cost per kept edit, per task and model", "Edits kept, of those judged, per task and model",
                  "Failures and fallbacks per day", "Latency per model"]:
        assert f"<title>{title}</title>" in page
    assert page.count("<table>") == page.count("<caption>") == 5
    assert page.count('<th scope="col"') > 30 and '<th scope="row">2026-03-02</th>' in page
    assert "<td>$0.0025</td>" in page  # codex's refactors: $0.0050 over two kept edits
    assert "<td>67%</td>" in page  # two of three judged refactors kept


def test_user_text_is_escaped_everywhere():
    evil = "<script>alert(1)</script>"
    rows = [AttemptRow(START, "/srv/<b>x</b>", "refactor", "local", "openai", evil, "ok", "r", 10, 10,
                       cost_usd=None, ttft_ms=5, total_ms=50, applied=True, kept=True)]
    page = render_html(summarize(rows, since=START))

    assert "<script" not in page and "<b>" not in page
    assert "local (&lt;script&gt;alert(1)&lt;/script&gt;)" in page and "/srv/&lt;b&gt;x&lt;/b&gt;" in page
    assert len(svgs(page)) >= 2  # the escaped names sit inside SVG too, and it still parses


def test_an_empty_ledger_says_so_instead_of_drawing():
    page = render_html(summarize([], since=START, until=START + DAY))

    assert "<svg" not in page and page.count("no data in this period") >= 4
    assert "none yet" in page and "0 project(s): none" in page
    assert re.findall(r'<section id="([a-z]+)"', page) == SECTIONS


def test_no_network_and_every_chart_is_xml_with_titles_and_a_legend():
    page = render_html(summarize(two_days(), since=START - DAY, until=START + 2 * DAY))

    assert re.findall(r"https?://[^\s\"'<>]*", page) == ["http://www.w3.org/2000/svg"] * len(svgs(page))
    assert "<script" not in page and "<link" not in page and "@import" not in page and "url(" not in page
    ns = "{http://www.w3.org/2000/svg}"
    for svg in svgs(page):
        assert svg.get("role") == "img" and svg.find(f"{ns}title") is not None
        marks = svg.findall(f".//{ns}rect[{ns}title]") + svg.findall(f".//{ns}circle[{ns}title]")
        assert marks, "every mark carries its tooltip"
        legend = [t.text for t in svg.iter(f"{ns}text")]
        assert any(name in legend for name in (CODEX, OPUS, "failed attempts", "first token, median"))


def test_charts_keep_colours_and_counts_on_whole_ticks():
    colours = {"a": "#111111", "b": "#222222"}
    chart = charts.grouped_bars("T", ["x", "y", "nothing"], {"b": [1.0, None, None], "a": [None, 2.0, None]}, str,
                                y_label="v", x_label="k", colours=colours)
    assert ">nothing<" not in chart  # a task no model has a value for takes no room
    svg = ET.fromstring(chart)
    fills = [r.get("fill") for r in svg.iter("{http://www.w3.org/2000/svg}rect") if r.find("*") is not None]
    assert fills == ["#222222", "#111111"]  # by name, whatever the order; no bar for a missing value
    line = charts.lines("Counts", ["d1", "d2"], {"failed": [0.0, 1.0]}, lambda v: f"{v:g}", y_label="n",
                        x_label="day", whole=True)
    assert ">0.5<" not in line and ">1<" in line
    assert charts.stacked_bars("Spend", ["d1"], {"m": [0.0]}, str, y_label="$", x_label="day") == (
        '<p class="empty"><strong>Spend</strong>: no data in this period</p>')
