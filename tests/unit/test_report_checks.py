"""The usage report's checked answers: whether starting cheap paid off, per
task and the model of each run's first answer (engine/usage/report.py
summarize_checks and its text, HTML and suggestions)."""

from __future__ import annotations

import calendar
import json
import re
import xml.etree.ElementTree as ET

import pytest

from assistant_router.engine.usage.ledger import AttemptRow
from assistant_router.engine.usage.report import MIN_CHECKED, render_html, render_text, suggestions, summarize

START = float(calendar.timegm((2026, 3, 2, 12, 0, 0)))
CODEX, OPUS = "codex (gpt-5.3-codex)", "opus (claude-opus-4-6)"
SVG = re.compile(r"<svg\b.*?</svg>", re.S)


def codex(run: str, **fields) -> AttemptRow:
    return AttemptRow(START + fields.pop("at", 0), "/repo", fields.pop("task", "fix"), "codex", "openai",
                      "gpt-5.3-codex", fields.pop("status", "ok"), run, 1000, 200, **fields)


def opus(run: str, **fields) -> AttemptRow:
    return AttemptRow(START + fields.pop("at", 0), "/repo", fields.pop("task", "fix"), "opus", "anthropic",
                      "claude-opus-4-6", fields.pop("status", "ok"), run, 1000, 200, **fields)


def ledger() -> list[AttemptRow]:
    """fix, first by codex: passed first time twice (once after opus failed
    and codex answered as a fallback), failed then saved by opus, failed then
    saved by an opus answer whose checks could not run but that was applied,
    failed twice (held: opus at an unknown price), failed with nowhere to
    escalate (held). refactor by opus: passed first time. Not counted: an
    explain (no checks), a fix whose checks did not run, a refusal, a
    second opinion."""
    return [
        codex("p1", cost_usd=0.002, check_outcome="passed", applied=True, kept=True),
        opus("p2", status="failed", error_type="RetryableProviderError"),
        codex("p2", cost_usd=0.002, check_outcome="passed", applied=True, fallback=True),
        codex("s1", cost_usd=0.002, check_outcome="failed", security_findings=1),
        opus("s1", cost_usd=0.05, check_outcome="passed", escalated=True, applied=True),
        codex("s2", cost_usd=0.002, check_outcome="failed"),
        opus("s2", cost_usd=0.04, check_outcome="not run", escalated=True, applied=True),
        codex("h1", cost_usd=0.002, check_outcome="failed", security_findings=2),
        opus("h1", cost_usd=None, check_outcome="failed", escalated=True, security_findings=1),
        codex("h2", cost_usd=0.002, check_outcome="failed"),
        opus("r1", task="refactor", cost_usd=0.03, check_outcome="passed", applied=True),
        codex("e1", task="explain", cost_usd=0.001),
        codex("n1", cost_usd=0.002, check_outcome="not run", applied=True),
        codex("x1", status="refused", cost_usd=0.0, error_type="Refused"),
        opus("c1", task="classify", cost_usd=0.0001),
    ]


def fix_row(summary):
    (row,) = [r for r in summary["checks"]["by_task"] if r["task"] == "fix"]
    return row


def test_checked_runs_per_task_and_first_model():
    summary = summarize(ledger(), since=START)
    checks = summary["checks"]

    assert [(r["task"], r["model"]) for r in checks["by_task"]] == [("fix", CODEX), ("refactor", OPUS)]
    fix = fix_row(summary)
    assert {k: fix[k] for k in ("checked", "passed_first", "failed_first", "saved", "held", "escalated_answers",
                                "escalation_unknown_cost", "security_findings")} == {
        "checked": 6, "passed_first": 2, "failed_first": 4, "saved": 2, "held": 2, "escalated_answers": 3,
        "escalation_unknown_cost": 1, "security_findings": 4}
    assert fix["pass_rate"] == pytest.approx(2 / 6) and fix["saved_rate"] == pytest.approx(2 / 4)
    assert fix["escalation_cost_usd"] == pytest.approx(0.09)  # opus's known answers; the unknown one apart
    assert fix["saved_by"] == {OPUS: 2}
    refactor = checks["by_task"][1]
    assert (refactor["checked"], refactor["passed_first"], refactor["pass_rate"], refactor["saved_rate"]) == (
        1, 1, 1.0, None)
    assert refactor["escalated_answers"] == 0 and refactor["escalation_cost_usd"] == 0
    total = checks["total"]
    assert (total["checked"], total["passed_first"], total["saved"], total["held"]) == (7, 3, 2, 2)
    assert total["checked"] == total["passed_first"] + total["saved"] + total["held"]
    assert total["pass_rate"] == pytest.approx(3 / 7) and total["security_findings"] == 4
    json.dumps(summary)  # --json and assistant.usage carry it


def test_no_checked_run_gives_zeros_and_no_section():
    rows = [codex("e1", task="explain", cost_usd=0.001), codex("n1", check_outcome="not run", applied=True)]
    summary = summarize(rows, since=START)

    assert summary["checks"]["by_task"] == []
    assert summary["checks"]["total"]["checked"] == 0 and summary["checks"]["total"]["pass_rate"] is None
    assert "Checked answers" not in render_text(summary)
    page = render_html(summary)
    assert "<strong>Checked runs per task and first model, by outcome</strong>: no edit&#x27;s first answer " \
           "was checked in this period" in page
    assert "security finding" not in " ".join(summary["suggestions"])


def test_the_text_report_has_a_checked_answers_section_with_a_total():
    text = render_text(summarize(ledger(), since=START))

    section = text[text.index("Checked answers"):text.index("Suggestions:")]
    lines = section.splitlines()
    assert "first model" in lines[1] and "saved by escalation" in lines[1] and "escalation cost" in lines[1]
    fix = next(line for line in lines if line.startswith("fix "))
    assert re.search(r"6\s+2\s+33%\s+2\s+2\s+\$0\.09 \+ 1 unknown\s+4$", fix), fix
    refactor = next(line for line in lines if line.startswith("refactor "))
    assert re.search(r"1\s+1\s+100%\s+0\s+0\s+—\s+0$", refactor), refactor
    total = next(line for line in lines if line.startswith("total "))
    assert re.search(r"7\s+3\s+43%\s+2\s+2\s+\$0\.09 \+ 1 unknown\s+4$", total), total


def test_the_page_has_a_checks_section_with_a_chart_and_a_table():
    page = render_html(summarize(ledger(), since=START))

    section = page[page.index('<section id="checks">'):]
    section = section[:section.index("</section>")]
    (svg,) = [ET.fromstring(s) for s in SVG.findall(section)]
    ns = "{http://www.w3.org/2000/svg}"
    assert svg.find(f"{ns}title").text == "Checked runs per task and first model, by outcome"
    tips = sorted(t.text for t in svg.iter(f"{ns}title") if t is not svg.find(f"{ns}title"))
    assert tips == ["fix · codex · held (no answer passed): 2", "fix · codex · passed first time: 2",
                    "fix · codex · saved by escalation: 2", "refactor · opus · passed first time: 1"]
    ticks = [t.text for t in svg.iter(f"{ns}text") if t.get("text-anchor") == "end" and t.get("x")]
    assert ticks == ["0", "2", "4", "6"]  # runs are counted on whole ticks
    assert "<caption>Checked answers, per task and the model of the first answer</caption>" in section
    assert section.count("<tr>") == 1 + 3  # the header, two rows and the total
    assert '<th scope="row">total</th>' in section and "<td>$0.09 + 1 unknown</td>" in section
    assert "<td>33%</td>" in section and "<td>43%</td>" in section


def test_escalation_at_unknown_prices_only_reads_unknown():
    rows = [codex("h1", cost_usd=0.002, check_outcome="failed"),
            opus("h1", cost_usd=None, check_outcome="passed", escalated=True)]
    summary = summarize(rows, since=START)

    assert fix_row(summary)["saved"] == 1 and fix_row(summary)["escalation_cost_usd"] == 0
    assert re.search(r"^fix .*\s1\s+0\s+unknown\s+0$", render_text(summary), re.M)


def often_failing(passed: int, saved: int, held: int) -> list[AttemptRow]:
    rows = [codex(f"p{n}", cost_usd=0.002, check_outcome="passed", applied=True) for n in range(passed)]
    for n in range(saved):
        rows += [codex(f"s{n}", cost_usd=0.002, check_outcome="failed"),
                 opus(f"s{n}", cost_usd=0.05, check_outcome="passed", escalated=True, applied=True)]
    for n in range(held):
        rows += [codex(f"h{n}", cost_usd=0.002, check_outcome="failed", security_findings=1),
                 opus(f"h{n}", cost_usd=0.05, check_outcome="failed", escalated=True)]
    return rows


def test_a_first_model_that_fails_its_checks_too_often_is_a_suggestion():
    advice = summarize(often_failing(passed=2, saved=2, held=1), since=START)["suggestions"]

    assert (f"fix by {CODEX} passed its checks only 40% of the time (2 of 5 first answers); escalating cost "
            "$0.15 and saved 2 of its 3 failures (1 held): consider routing fix to opus") in advice
    assert "1 security finding was caught before it was applied" in advice


@pytest.mark.parametrize(("passed", "saved", "held"), [
    (1, 2, 1),  # fewer than MIN_CHECKED checked runs: too few to tell
    (3, 2, 0),  # passed 60 % of the time
    (2, 0, 3),  # escalation never saved it: no model to suggest
])
def test_no_routing_suggestion_without_enough_evidence(passed, saved, held):
    summary = summarize(often_failing(passed, saved, held), since=START)

    assert not any("consider routing fix" in s for s in summary["suggestions"])
    assert suggestions(summary) == summary["suggestions"]
    assert MIN_CHECKED == 5


def test_security_findings_are_counted_over_every_answer():
    summary = summarize(ledger(), since=START)

    assert "4 security findings were caught before they were applied" in summary["suggestions"]
    assert "4 security findings were caught before they were applied" in render_text(summary)
