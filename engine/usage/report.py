"""The usage report: spend and acceptance by model, task and project, with
suggestions drawn from the data. Text for the terminal, JSON for scripts, a
self-contained HTML page (inline SVG, no network) for people."""

from __future__ import annotations

import html
import math
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import date, timedelta
from typing import Any

from assistant_router.engine.usage import charts
from assistant_router.engine.usage.ledger import AttemptRow, ChoiceRow, CompletionRow
from assistant_router.engine.usage.prices import format_usd as _money
from assistant_router.routing.policy import shown_name

MIN_JUDGED = 5  # edits judged kept or undone before a model's acceptance counts in a suggestion
ACCEPTANCE_MARGIN = 0.10  # a cheaper model this close in acceptance is worth suggesting


def _percentile(values: list[int], share: float) -> int | None:
    """Nearest rank: the smallest value with at least ``share`` of them at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def _day(epoch: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(epoch))


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


MAX_CHOICE_PAIRS = 10  # the most common offered → chosen pairs the report lists


def summarize_choices(choices: Iterable[ChoiceRow]) -> dict[str, Any]:
    """The questions asked when the classifier was unsure: how often, how
    often its top task was the one chosen, and where it hesitates."""
    choices = list(choices)
    answered = [c for c in choices if c.chosen is not None]
    top = sum(1 for c in answered if c.chosen == c.top_task)
    pairs: dict[tuple[tuple[str, ...], str | None], int] = defaultdict(int)
    for choice in choices:
        pairs[(choice.offered, choice.chosen)] += 1
    common = sorted(pairs.items(), key=lambda item: (-item[1], item[0][0], item[0][1] or ""))[:MAX_CHOICE_PAIRS]
    return {
        "asked": len(choices),
        "dismissed": len(choices) - len(answered),
        "top_task_chosen": top,
        "top_task_rate": (top / len(answered)) if answered else None,
        "pairs": [{"offered": list(offered), "chosen": chosen, "count": count}
                  for (offered, chosen), count in common],
    }


MIN_CHECKED = 5  # checked runs of a task × first model before its pass rate counts in a suggestion
LOW_PASS_RATE = 0.5  # a first answer passing its checks less often than this is worth a suggestion
CHECKED = ("passed", "failed")


def _check_figures() -> dict[str, Any]:
    return {"checked": 0, "passed_first": 0, "failed_first": 0, "saved": 0, "held": 0, "escalated_answers": 0,
            "escalation_cost_usd": 0.0, "escalation_unknown_cost": 0, "security_findings": 0}


def _check_rates(figures: dict[str, Any]) -> dict[str, Any]:
    checked, failed = figures["checked"], figures["failed_first"]
    return {**figures, "escalation_cost_usd": round(figures["escalation_cost_usd"], 6),
            "pass_rate": figures["passed_first"] / checked if checked else None,
            "saved_rate": figures["saved"] / failed if failed else None}


def summarize_checks(rows: Iterable[AttemptRow], model_of: Callable[[AttemptRow], str]) -> dict[str, Any]:
    """Whether starting cheap paid off: per task and the model of each run's
    first answer (its first row with status ok), over the *checked* runs (that
    first answer's checks passed or failed; "not run" and unchecked answers,
    e.g. not an edit, are left out):

    - ``passed_first``: the first answer passed its checks (``pass_rate`` of ``checked``);
    - ``saved``: the first answer failed, and an escalated answer of the same
      run passed its checks or was applied (``saved_by``: the model of the
      first such answer; ``saved_rate`` of ``failed_first``);
    - ``held``: the first answer failed and no later answer passed or was
      applied: held back (or the run was cancelled during its escalation). A
      held answer the user applied later ("Apply unchecked answer") is not in
      the ledger; ``checked = passed_first + saved + held``;
    - ``escalation_cost_usd``: the known cost of the escalated answers (rows
      with ``escalated``, status ok), ``escalation_unknown_cost`` of them at
      no known price, out of ``escalated_answers``;
    - ``security_findings``: safety-rule findings in the run's answers, every
      one caught before anything was applied.

    ``total`` sums the rows; its ``security_findings`` counts every row of
    the period, checked run or not."""
    runs: dict[str, list[AttemptRow]] = defaultdict(list)
    findings = 0
    for row in rows:
        findings += row.security_findings
        runs[row.run_id].append(row)
    groups: dict[tuple[str, str], dict[str, Any]] = defaultdict(_check_figures)
    saved_by: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for attempts in runs.values():
        answers = [r for r in attempts if r.status == "ok"]
        if not answers or answers[0].check_outcome not in CHECKED:
            continue
        first, later = answers[0], answers[1:]
        key = (first.task, model_of(first))
        g = groups[key]
        g["checked"] += 1
        g["security_findings"] += sum(r.security_findings for r in attempts)
        escalated = [r for r in later if r.escalated]
        g["escalated_answers"] += len(escalated)
        for r in escalated:
            if r.cost_usd is None:
                g["escalation_unknown_cost"] += 1
            else:
                g["escalation_cost_usd"] += r.cost_usd
        if first.check_outcome == "passed":
            g["passed_first"] += 1
            continue
        g["failed_first"] += 1
        saviour = next((r for r in escalated if r.check_outcome == "passed" or r.applied), None)
        if saviour is None:
            g["held"] += 1
        else:
            g["saved"] += 1
            saved_by[key][model_of(saviour)] += 1
    total = _check_figures()
    for g in groups.values():
        for name, value in g.items():
            total[name] += value
    total["security_findings"] = findings
    by_task = [{"task": task, "model": model, **_check_rates(g),
                "saved_by": dict(sorted(saved_by[(task, model)].items()))}
               for (task, model), g in sorted(groups.items())]
    return {"by_task": by_task, "total": _check_rates(total)}


def summarize_completions(rows: Iterable[CompletionRow], model_of: Callable[[Any], str]) -> dict[str, Any]:
    """Inline completions per model: asked, served from the cache, upstream
    calls (and those closed early), shown, accepted (and how much), cost."""
    keys = ("requests", "cached", "calls", "cancelled", "failed", "refused", "shown", "accepted", "accepted_chars",
            "input_tokens", "output_tokens", "answered", "first_token_ms")
    models: dict[str, dict[str, Any]] = defaultdict(lambda: {**dict.fromkeys(keys, 0), "cost_usd": 0.0,
                                                            "unknown_cost": 0})
    for row in rows:
        m = models[model_of(row)]
        for key in keys:
            m[key] += getattr(row, key)
        if row.cost_usd is None:
            m["unknown_cost"] += row.answered
        else:
            m["cost_usd"] += row.cost_usd
    total: dict[str, Any] = {**dict.fromkeys(keys, 0), "cost_usd": 0.0, "unknown_cost": 0}
    for m in models.values():
        for key in total:
            total[key] += m[key]
    for m in [*models.values(), total]:
        m["acceptance"] = m["accepted"] / m["shown"] if m["shown"] else None
        m["cache_rate"] = m["cached"] / m["requests"] if m["requests"] else None
        m["avg_first_token_ms"] = round(m.pop("first_token_ms") / m["answered"]) if m["answered"] else None
        m["cost_usd"] = round(m["cost_usd"], 6)
    return {"by_model": dict(sorted(models.items())), "total": total}


def summarize(rows: Iterable[AttemptRow], since: float, until: float | None = None,
              choices: Iterable[ChoiceRow] = (), completions: Iterable[CompletionRow] = ()) -> dict[str, Any]:
    rows = list(rows)
    completions = list(completions)
    until = until or time.time()

    def model_of(row: AttemptRow | CompletionRow) -> str:
        return f"{row.alias} ({shown_name(row.provider, row.model)})"

    models: dict[str, dict[str, Any]] = defaultdict(lambda: {
        "answered": 0, "attempts": 0, "failed": 0, "input_tokens": 0, "output_tokens": 0, "cost_usd": 0.0,
        "unknown_cost": 0, "estimated_usage": 0, "fallback_answers": 0, "skipped": 0, "cancelled": 0,
        "_ms": [], "_ttft": []})
    tasks: dict[tuple[str, str], dict[str, Any]] = defaultdict(lambda: {
        "answered": 0, "cost_usd": 0.0, "applied": 0, "kept": 0, "undone": 0})
    projects: dict[str, dict[str, Any]] = defaultdict(lambda: {"answered": 0, "cost_usd": 0.0})
    days: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    # Per UTC day, what happened to the attempts: answers, failures, answers
    # by a fallback model, models skipped while cooling down, cancelled runs.
    outcomes: dict[str, dict[str, int]] = defaultdict(
        lambda: {"answers": 0, "failed": 0, "fallback_answers": 0, "skipped": 0, "cancelled": 0, "refused": 0})
    refused = 0
    runs = set()
    total_cost = 0.0
    unknown = 0
    for row in rows:
        if row.status == "refused":  # nothing was sent (a budget, most often): a run, not a model's attempt
            outcomes[_day(row.time)]["refused"] += 1
            refused += 1
            continue
        model = model_of(row)
        m = models[model]
        m["attempts"] += 1
        day = outcomes[_day(row.time)]
        if row.status != "ok":
            if row.status in ("failed", "skipped", "cancelled"):
                m[row.status] += 1
                day[row.status] += 1
            continue
        runs.add(row.run_id)
        m["answered"] += 1
        day["answers"] += 1
        if row.fallback:
            day["fallback_answers"] += 1
            m["fallback_answers"] += 1
        m["estimated_usage"] += row.estimated
        m["input_tokens"] += row.input_tokens
        m["output_tokens"] += row.output_tokens
        m["_ms"].append(row.total_ms)
        if row.ttft_ms is not None:
            m["_ttft"].append(row.ttft_ms)
        t = tasks[(row.task, model)]
        t["answered"] += 1
        p = projects[row.project or "(no project)"]
        p["answered"] += 1
        if row.cost_usd is None:
            m["unknown_cost"] += 1
            unknown += 1
        else:
            m["cost_usd"] += row.cost_usd
            t["cost_usd"] += row.cost_usd
            p["cost_usd"] += row.cost_usd
            days[_day(row.time)][model] += row.cost_usd
            total_cost += row.cost_usd
        if row.applied:
            t["applied"] += 1
            if row.kept is True:
                t["kept"] += 1
            elif row.kept is False:
                t["undone"] += 1
    for m in models.values():
        ms, ttft = m.pop("_ms"), m.pop("_ttft")
        m["avg_ms"] = round(sum(ms) / len(ms)) if ms else None
        m["avg_ttft_ms"] = round(sum(ttft) / len(ttft)) if ttft else None
        m["median_ms"], m["p90_ms"] = _percentile(ms, 0.5), _percentile(ms, 0.9)
        m["median_ttft_ms"], m["p90_ttft_ms"] = _percentile(ttft, 0.5), _percentile(ttft, 0.9)
    completion_acceptance: dict[str, float | None] = {}
    for crow in completions:  # their cost counts like any task's: in the totals, per day, per project
        model = model_of(crow)
        t = tasks[("complete", model)]
        t["answered"] += crow.answered
        projects[crow.project or "(no project)"]["answered"] += crow.answered
        if crow.cost_usd is None:
            unknown += crow.answered
        else:
            t["cost_usd"] += crow.cost_usd
            projects[crow.project or "(no project)"]["cost_usd"] += crow.cost_usd
            days[_day(crow.time)][model] += crow.cost_usd
            total_cost += crow.cost_usd
    completion_summary = summarize_completions(completions, model_of)
    for model, figures in completion_summary["by_model"].items():
        completion_acceptance[model] = figures["acceptance"]
    task_rows = []
    for (task, model), t in sorted(tasks.items()):
        judged = t["kept"] + t["undone"]
        priced = t["answered"] - sum(1 for r in rows if r.status == "ok" and r.task == task and model_of(r) == model
                                     and r.cost_usd is None)
        task_rows.append({
            "task": task, "model": model, **t,
            "avg_cost_usd": (t["cost_usd"] / priced) if priced else None,
            # Completions: the share of shown completions the user accepted.
            "acceptance": completion_acceptance.get(model) if task == "complete" else (t["kept"] / judged)
            if judged else None,
            # What one edit that stayed cost: all the answers' known cost over the edits kept.
            "cost_per_kept_usd": (t["cost_usd"] / t["kept"]) if t["kept"] and priced else None,
        })
    summary = {
        "since": since,
        "until": until,
        "requests": len(runs),
        "cost_usd": round(total_cost, 6),
        "unknown_cost_requests": unknown,
        "estimated_usage_answers": sum(m["estimated_usage"] for m in models.values()),
        "by_model": {k: {**v, "cost_usd": round(v["cost_usd"], 6)} for k, v in sorted(models.items())},
        "by_task": task_rows,
        "by_project": {k: {**v, "cost_usd": round(v["cost_usd"], 6)} for k, v in sorted(projects.items())},
        "by_day": {day: dict(per_model) for day, per_model in sorted(days.items())},
        "outcomes_by_day": dict(sorted(outcomes.items())),
        "refused_requests": refused,
        "projects": sorted({row.project or "(no project)" for row in rows}),
        "first_time": min((row.time for row in rows), default=None),
        "last_time": max((row.time for row in rows), default=None),
        "choices": summarize_choices(choices),
        "checks": summarize_checks(rows, model_of),
        "completions": completion_summary,
    }
    summary["suggestions"] = suggestions(summary)
    return summary


def suggestions(summary: dict[str, Any]) -> list[str]:
    """Plain advice drawn from the numbers: cheaper models that are kept as
    often, first answers that fail their checks too often, security findings caught."""
    advice = []
    by_task: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in summary["by_task"]:
        if (
            row["acceptance"] is not None
            and row["kept"] + row["undone"] >= MIN_JUDGED
            and row["avg_cost_usd"] is not None
        ):
            by_task[row["task"]].append(row)
    for task, candidates in sorted(by_task.items()):
        for cheap in candidates:
            for dear in candidates:
                if cheap is dear or cheap["avg_cost_usd"] >= dear["avg_cost_usd"]:
                    continue
                if cheap["acceptance"] + ACCEPTANCE_MARGIN >= dear["acceptance"]:
                    alias = cheap["model"].split(" ", 1)[0]
                    advice.append(
                        f"{task}: {cheap['model']} edits kept {_percent(cheap['acceptance'])} at "
                        f"{_money(cheap['avg_cost_usd'])} vs {dear['model']} {_percent(dear['acceptance'])} at "
                        f"{_money(dear['avg_cost_usd'])} — consider routing {task} to {alias}"
                    )
    advice += _check_suggestions(summary.get("checks"))
    unknown = [model for model, m in summary["by_model"].items() if m["unknown_cost"]]
    if unknown:
        advice.append(
            f"{summary['unknown_cost_requests']} answers have no known price ({', '.join(unknown)}): "
            "set [models.NAME].prices in your policy to see their cost"
        )
    return advice


def _escalation_cost(figures: dict[str, Any]) -> str:
    if not figures["escalated_answers"]:
        return "—"
    return _known_cost(figures["escalation_cost_usd"], figures["escalation_unknown_cost"],
                       figures["escalated_answers"])


def _check_suggestions(checks: dict[str, Any] | None) -> list[str]:
    """A task whose first model passed its checks less than LOW_PASS_RATE of
    at least MIN_CHECKED checked runs, where escalation saved some: route it to
    the model that saved it most often. And the security findings caught."""
    if not checks:
        return []
    advice = []
    for row in checks["by_task"]:
        if row["checked"] < MIN_CHECKED or row["pass_rate"] >= LOW_PASS_RATE or not row["saved_by"]:
            continue
        saviour = max(row["saved_by"].items(), key=lambda item: (item[1], item[0]))[0]
        if saviour == row["model"]:
            continue
        alias = saviour.split(" ", 1)[0]
        advice.append(
            f"{row['task']} by {row['model']} passed its checks only {_percent(row['pass_rate'])} of the time "
            f"({row['passed_first']} of {row['checked']} first answers); escalating cost "
            f"{_escalation_cost(row)} and saved {row['saved']} of its {row['failed_first']} failures "
            f"({row['held']} held): consider routing {row['task']} to {alias}"
        )
    found = checks["total"]["security_findings"]
    if found:
        advice.append(f"{found:,} security finding{'s were' if found != 1 else ' was'} caught before "
                      f"{'they were' if found != 1 else 'it was'} applied")
    return advice


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
             for r in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines


def render_text(summary: dict[str, Any]) -> str:
    start = time.strftime("%Y-%m-%d", time.gmtime(summary["since"]))
    end = time.strftime("%Y-%m-%d", time.gmtime(summary["until"]))
    out = [f"assistant-router usage, {start} to {end} (UTC): {summary['requests']} requests, "
           f"{_money(summary['cost_usd'])}" + (f" (+{summary['unknown_cost_requests']} at unknown prices)"
                                              if summary["unknown_cost_requests"] else ""), ""]
    def approx(m: dict[str, Any]) -> str:  # "~": some of these tokens are the router's estimate
        return "~" if m.get("estimated_usage") else ""

    out += _table(
        ["model", "answers", "failed", "tokens in", "tokens out", "cost", "avg ms", "first token ms"],
        [[k, str(m["answered"]), str(m["failed"]), f"{approx(m)}{m['input_tokens']:,}",
          f"{approx(m)}{m['output_tokens']:,}", approx(m) + _money(m["cost_usd"]) + ("*" if m["unknown_cost"] else ""),
          str(m["avg_ms"] or "—"), str(m["avg_ttft_ms"] or "—")] for k, m in summary["by_model"].items()],
    )
    notes = []
    if summary.get("estimated_usage_answers"):
        notes.append(f"~ {summary['estimated_usage_answers']} answers came with no usage from the server: their "
                     "tokens are the router's estimate, priced as such")
    if summary["unknown_cost_requests"]:
        notes.append("* some answers came from models without a known price: not in the cost")
    out += notes
    out.append("")
    out += _table(
        ["task", "model", "answers", "cost", "avg cost", "edits applied", "kept", "undone", "acceptance"],
        [[t["task"], t["model"], str(t["answered"]), _money(t["cost_usd"]), _money(t["avg_cost_usd"]),
          str(t["applied"]), str(t["kept"]), str(t["undone"]), _percent(t["acceptance"])] for t in summary["by_task"]],
    )
    out.append("")
    out += _table(["project", "answers", "cost"],
                  [[k, str(p["answered"]), _money(p["cost_usd"])] for k, p in summary["by_project"].items()])
    out += _checks_text(summary.get("checks"))
    out += _completions_text(summary.get("completions"))
    out += _choices_text(summary.get("choices"))
    if summary["suggestions"]:
        out += ["", "Suggestions:"] + [f"- {s}" for s in summary["suggestions"]]
    return "\n".join(out)


CHECK_HEADER = ["task", "first model", "checked runs", "passed first", "pass rate", "saved by escalation",
                "held", "escalation cost", "security findings"]


def _check_cells(figures: dict[str, Any]) -> list[str]:
    return [f"{figures['checked']:,}", f"{figures['passed_first']:,}", _percent(figures["pass_rate"]),
            f"{figures['saved']:,}", f"{figures['held']:,}", _escalation_cost(figures),
            f"{figures['security_findings']:,}"]


def _checks_text(checks: dict[str, Any] | None) -> list[str]:
    """The "Checked answers" section, when any run's first answer was checked."""
    if not checks or not checks["total"]["checked"]:
        return []
    total = checks["total"]
    rows = [[r["task"], r["model"], *_check_cells(r)] for r in checks["by_task"]]
    out = ["", "Checked answers (edits checked before they were applied), per task and the model of each run's "
           "first answer:"]
    out += _table(CHECK_HEADER, [*rows, ["total", "", *_check_cells(total)]])
    return out + ["saved by escalation: the first answer failed its checks, an escalated one passed (or was "
                  "applied); held: no answer passed, none was applied"]


COMPLETION_HEADER = ["model", "asked", "from the cache", "model calls", "closed early", "shown", "accepted",
                     "acceptance", "accepted characters", "first token ms", "cost"]


def _completion_cells(name: str, m: dict[str, Any]) -> list[str]:
    return [name, f"{m['requests']:,}", f"{m['cached']:,}", f"{m['calls']:,}", f"{m['cancelled']:,}",
            f"{m['shown']:,}", f"{m['accepted']:,}", _percent(m["acceptance"]), f"{m['accepted_chars']:,}",
            _ms(m["avg_first_token_ms"]), _money(m["cost_usd"]) + ("*" if m["unknown_cost"] else "")]


def _completions_text(completions: dict[str, Any] | None) -> list[str]:
    """The "Inline completions" section, when any was asked for."""
    if not completions or not completions["total"]["requests"]:
        return []
    rows = [_completion_cells(name, m) for name, m in completions["by_model"].items()]
    out = ["", "Inline completions (ghost text as you type), per model:"]
    out += _table(COMPLETION_HEADER, [*rows, _completion_cells("total", completions["total"])])
    return out + ["closed early: a newer keystroke (or the editor) cancelled it; acceptance: accepted of shown"]


def _offered_chosen(pair: dict[str, Any]) -> tuple[str, str]:
    return " / ".join(pair["offered"]), pair["chosen"] or "none (dismissed)"


def _choices_text(choices: dict[str, Any] | None) -> list[str]:
    if not choices or not choices["asked"]:
        return []
    answered = choices["asked"] - choices["dismissed"]
    out = ["", f"Asked to choose a task (the classifier was unsure): {choices['asked']} times, "
           f"{choices['dismissed']} dismissed; the classifier's top task was chosen {choices['top_task_chosen']} "
           f"of {answered} times ({_percent(choices['top_task_rate'])})"]
    return out + _table(["offered", "chosen", "times"],
                        [[*_offered_chosen(p), str(p["count"])] for p in choices["pairs"]])


# ------------------------------------------------------------------ the HTML page

_CSS = """
:root{color-scheme:light;--muted:#555;--rule:#d8d8d8}
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1f1f1f;background:#fff;
  max-width:1100px;margin:0 auto;padding:1.5em 16px 4em}
h1{font-size:1.6em;margin:0 0 .2em}h2{font-size:1.2em;margin:2.2em 0 .6em;border-bottom:1px solid var(--rule);
  padding-bottom:.2em}
.period,.note,.empty{color:var(--muted)}.empty{font-style:italic}
.totals{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:10px;margin:1.2em 0;padding:0}
.totals div{border:1px solid var(--rule);border-radius:6px;padding:.6em .8em}
.totals dt{font-size:.85em;color:var(--muted)}.totals dd{margin:0;font-size:1.35em;font-weight:600;
  font-variant-numeric:tabular-nums}
figure{margin:1em 0;overflow-x:auto}
/* A narrow window scrolls a chart sideways rather than shrink its labels past reading. */
figure svg{display:block;width:100%;min-width:600px;max-width:860px;height:auto}
.scroll{overflow-x:auto;margin:1em 0}
table{border-collapse:collapse;font-variant-numeric:tabular-nums;font-size:.92em}
caption{text-align:left;font-weight:600;padding:.3em 0}
th,td{padding:.3em .6em;border-bottom:1px solid var(--rule);text-align:right;white-space:nowrap}
thead th{white-space:normal;vertical-align:bottom}
th[scope=row],.label{text-align:left}thead th{border-bottom:2px solid #999}
tbody tr:nth-child(even){background:#f6f7f9}
ul.suggestions li{margin:.4em 0}
"""


def _axis_money(value: float) -> str:
    text = _money(value)
    return text.rstrip("0").rstrip(".") if "." in text and value < 1 else text


def _ms(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f} ms" if value < 10_000 else f"{value / 1000:,.1f} s"


def _known_cost(cost: float, unknown: int, answered: int) -> str:
    """What the priced answers cost, never "$0" for answers no price is known for."""
    if unknown and unknown == answered:
        return "unknown"
    return f"{_money(cost)} + {unknown:,} unknown" if unknown else _money(cost)


def _html_table(caption: str, header: list[str], rows: list[list[str]], labels: int = 1) -> str:
    """A captioned table; the first ``labels`` columns name the row (left-aligned), the rest are numbers."""
    if not rows:
        return charts.empty(caption)
    head = "".join(f'<th scope="col" class="{"label" if i < labels else "num"}">{html.escape(h)}</th>'
                   for i, h in enumerate(header))
    body = []
    for row in rows:
        cells = [f'<th scope="row">{html.escape(row[0])}</th>']
        cells += [f'<td class="label">{html.escape(c)}</td>' for c in row[1:labels]]
        cells += [f"<td>{html.escape(c)}</td>" for c in row[labels:]]
        body.append(f"<tr>{''.join(cells)}</tr>")
    return (f'<div class="scroll"><table><caption>{html.escape(caption)}</caption><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table></div>")


def _days_between(days: list[str]) -> list[str]:
    """Every UTC day from the first to the last given, so quiet days show as gaps."""
    if not days:
        return []
    first, last = date.fromisoformat(min(days)), date.fromisoformat(max(days))
    return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


def _per(rows: list[dict[str, Any]], key: str) -> tuple[list[str], dict[str, list[float | None]]]:
    """Tasks as categories, models as series, ``key`` of each task × model row as the values."""
    tasks = sorted({r["task"] for r in rows})
    models = sorted({r["model"] for r in rows})
    values = {(r["task"], r["model"]): r[key] for r in rows}
    return tasks, {m: [values.get((t, m)) for t in tasks] for m in models}


def _totals(summary: dict[str, Any]) -> str:
    models = summary["by_model"].values()
    cards = [
        ("Requests", f"{summary['requests']:,}"),
        ("Spend (known prices)", _money(summary["cost_usd"])),
        ("Answers at unknown price", f"{summary['unknown_cost_requests']:,}"),
        ("Answers with estimated usage", f"{summary['estimated_usage_answers']:,}"),
        ("Failed attempts", f"{sum(m['failed'] for m in models):,}"),
        ("Answers by a fallback", f"{sum(m['fallback_answers'] for m in models):,}"),
        ("Refused (nothing sent)", f"{summary.get('refused_requests', 0):,}"),
    ]
    return '<dl class="totals">' + "".join(
        f"<div><dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd></div>" for k, v in cards) + "</dl>"


# The outcomes of checked runs, in the order stacked, with colours that read as such (Okabe–Ito).
CHECK_SERIES = {"passed_first": ("passed first time", "#009E73"), "saved": ("saved by escalation", "#0072B2"),
                "held": ("held (no answer passed)", "#D55E00")}


def _checks_html(checks: dict[str, Any] | None) -> tuple[str, str]:
    """The chart (checked runs per task and first model, stacked by outcome)
    and the table, with a total row; an empty state when nothing was checked."""
    title = "Checked runs per task and first model, by outcome"
    if not checks or not checks["total"]["checked"]:
        why = "no edit's first answer was checked in this period"
        return charts.empty(title, why), ""
    rows = checks["by_task"]
    categories = [f"{r['task']} · {r['model'].split(' ', 1)[0]}" for r in rows]  # the alias: labels stay short
    if len(set(categories)) < len(categories):  # one alias for two models over the period
        categories = [f"{r['task']} · {r['model']}" for r in rows]
    series: dict[str, list[float | None]] = {label: [float(r[key]) for r in rows]
                                             for key, (label, _) in CHECK_SERIES.items()}
    colours = dict(CHECK_SERIES.values())
    chart = charts.stacked_bars(title, categories, series, lambda v: f"{v:g}", y_label="runs",
                                x_label="task · model of the first answer", colours=colours, whole=True)
    table = _html_table("Checked answers, per task and the model of the first answer", CHECK_HEADER,
                        [*([r["task"], r["model"], *_check_cells(r)] for r in rows),
                         ["total", "", *_check_cells(checks["total"])]], labels=2)
    note = ('<p class="note">Checked runs: the first answer (edits only) was checked. Saved by escalation: it '
            "failed, and the answer of a model it was escalated to passed its checks or was applied. Held: no "
            "answer passed; an answer the user applied anyway later is not in the ledger. Escalation cost: the "
            "escalated answers' known cost. Security findings: safety-rule findings in any answer, caught "
            "before anything was applied.</p>")
    return chart, table + note


def render_html(summary: dict[str, Any]) -> str:
    """The page: a header with the period and totals, then one section per
    question (spend, cost, acceptance, checked answers, failures, latency), each a chart and
    its numbers as a table, then the suggestions."""
    start = time.strftime("%Y-%m-%d %H:%M", time.gmtime(summary["since"]))
    end = time.strftime("%Y-%m-%d %H:%M", time.gmtime(summary["until"]))
    projects = ", ".join(summary["projects"]) or "none"
    by_model, by_task = summary["by_model"], summary["by_task"]
    models = list(by_model)
    outcomes = summary["outcomes_by_day"]
    days = _days_between(list(outcomes))
    short_days = [d[5:] for d in days]

    spend_series: dict[str, list[float | None]] = {
        m: [summary["by_day"].get(d, {}).get(m) for d in days] for m in models
        if any(m in summary["by_day"].get(d, {}) for d in days)}
    model_colours = {m: charts.colour(i) for i, m in enumerate(models)}
    spend = charts.stacked_bars("Spend per day, per model", short_days, spend_series, _axis_money,
                                y_label="US dollars", x_label="day (UTC)", colours=model_colours)
    tasks, avg_cost = _per(by_task, "avg_cost_usd")
    cost = charts.grouped_bars("Average cost of an answer, per task and model", tasks, avg_cost, _axis_money,
                               y_label="US dollars", x_label="task", colours=model_colours)
    _, per_kept = _per(by_task, "cost_per_kept_usd")
    kept_cost = charts.grouped_bars("Cost per kept edit, per task and model", tasks, per_kept, _axis_money,
                                    y_label="US dollars", x_label="task", colours=model_colours)
    if not any(v is not None for vs in per_kept.values() for v in vs):
        kept_cost = charts.empty("Cost per kept edit", "no applied edit has been judged kept in this period")
    _, accepted = _per(by_task, "acceptance")
    acceptance = charts.grouped_bars("Edits kept, of those judged, per task and model", tasks, accepted,
                                     _percent, y_label="share kept", x_label="task", top=1.0,
                                     colours=model_colours)
    if not any(v is not None for vs in accepted.values() for v in vs):
        acceptance = charts.empty("Edits kept", "no applied edit has been judged kept or undone in this period")
    checks_figure, checks_table = _checks_html(summary.get("checks"))
    outcome_names = {"failed": "failed attempts", "fallback_answers": "answers by a fallback",
                     "refused": "refused (a budget, nothing sent)", "skipped": "skipped (cooling down)",
                     "cancelled": "cancelled"}
    outcome_series: dict[str, list[float | None]] = {
        label: [float(outcomes.get(d, {}).get(key, 0)) for d in days] for key, label in outcome_names.items()
        if key in ("failed", "fallback_answers") or any(o.get(key) for o in outcomes.values())}
    failures = charts.lines("Failures and fallbacks per day", short_days, outcome_series, lambda v: f"{v:g}",
                            y_label="attempts", x_label="day (UTC)", whole=True)
    if days and not any(v for vs in outcome_series.values() for v in vs):
        failures = charts.empty("Failures and fallbacks per day", "none in this period: every attempt answered")
    latency_keys = {"median_ttft_ms": "first token, median", "p90_ttft_ms": "first token, p90",
                    "median_ms": "total, median", "p90_ms": "total, p90"}
    answered = [m for m in models if by_model[m]["answered"]]
    latency = charts.grouped_bars(
        "Latency per model", answered,
        {label: [by_model[m][key] for m in answered] for key, label in latency_keys.items()},
        _ms, y_label="milliseconds", x_label="model")

    model_table = _html_table(
        "Per model", ["model", "answers", "attempts", "failed", "by a fallback", "tokens in", "tokens out", "cost",
                      "unknown price", "estimated usage"],
        [[m, f"{v['answered']:,}", f"{v['attempts']:,}", f"{v['failed']:,}", f"{v['fallback_answers']:,}",
          f"{v['input_tokens']:,}", f"{v['output_tokens']:,}", _known_cost(v["cost_usd"], v["unknown_cost"],
                                                                        v["answered"]), f"{v['unknown_cost']:,}",
          f"{v['estimated_usage']:,}"] for m, v in by_model.items()])
    task_table = _html_table(
        "Per task and model", ["task", "model", "answers", "cost", "avg cost", "cost per kept edit", "edits applied",
                               "kept", "undone", "acceptance"],
        [[t["task"], t["model"], f"{t['answered']:,}",
          _money(t["cost_usd"]) if t["avg_cost_usd"] is not None or not t["answered"] else "unknown",
          _money(t["avg_cost_usd"]),
          _money(t["cost_per_kept_usd"]) if t["kept"] else "—", f"{t['applied']:,}", f"{t['kept']:,}",
          f"{t['undone']:,}", _percent(t["acceptance"])] for t in by_task], labels=2)
    latency_table = _html_table(
        "Latency per model", ["model", *latency_keys.values(), "answers"],
        [[m, *(_ms(by_model[m][k]) for k in latency_keys), f"{by_model[m]['answered']:,}"] for m in answered])
    day_table = _html_table(
        "Per day (UTC)", ["day", "spend", "answers", "failed attempts", "answers by a fallback", "refused",
                          "skipped", "cancelled"],
        [[d, _money(sum(summary["by_day"].get(d, {}).values())), *(f"{outcomes[d].get(k, 0):,}" for k in
          ("answers", "failed", "fallback_answers", "refused", "skipped", "cancelled"))]
         for d in days if d in outcomes])
    project_table = _html_table("Per project", ["project", "answers", "cost"],
                                [[k, f"{p['answered']:,}", _money(p["cost_usd"])]
                                 for k, p in summary["by_project"].items()])
    completions = summary.get("completions") or {}
    completion_section = ""
    if completions.get("total", {}).get("requests"):
        completion_section = ('<section id="completions"><h2>Inline completions</h2>' + _html_table(
            "Per model", COMPLETION_HEADER,
            [*(_completion_cells(name, m) for name, m in completions["by_model"].items()),
             _completion_cells("total", completions["total"])])
            + '<p class="note">Acceptance: the completions accepted, of those shown. Closed early: a newer '
            "keystroke, or the editor, cancelled it while the model answered.</p></section>")
    advice = "".join(f"<li>{html.escape(s)}</li>" for s in summary["suggestions"])
    choices = summary.get("choices") or {}
    unsure = ""
    if choices.get("asked"):
        unsure = ('<section id="choices"><h2>When the classifier was unsure</h2><p class="note">'
                  + html.escape(_choices_text(choices)[1]) + "</p>" + _html_table(
                      "Offered and chosen", ["offered", "chosen", "times"],
                      [[*_offered_chosen(p), f"{p['count']:,}"] for p in choices["pairs"]], labels=2)
                  + "</section>")
    estimated = (f'<p class="note">{summary["estimated_usage_answers"]:,} answers came with no usage from the '
                 "server: their tokens and cost are the router's estimate.</p>"
                 if summary["estimated_usage_answers"] else "")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>assistant-router usage, {start[:10]} to {end[:10]}</title><style>{_CSS}</style></head><body>
<header><h1>assistant-router usage</h1>
<p class="period">{start} to {end} UTC · {len(summary["projects"])} project(s): {html.escape(projects)}</p>
{_totals(summary)}{estimated}</header>
<main>
<section id="spend"><h2>What we spent</h2><figure>{spend}</figure>{day_table}</section>
<section id="cost"><h2>On what</h2><figure>{cost}</figure><figure>{kept_cost}</figure>{task_table}
{project_table}</section>
<section id="acceptance"><h2>Was it worth it: edits kept</h2><figure>{acceptance}</figure>
<p class="note">The share of applied edits still in the document at the next save (or five minutes later),
of those judged so far.</p></section>
{completion_section}
<section id="checks"><h2>Did starting cheap pay off: checked answers</h2><figure>{checks_figure}</figure>
{checks_table}</section>
<section id="failures"><h2>Failures and fallbacks</h2><figure>{failures}</figure>
<p class="note">Refused: requests a budget stopped before anything was sent; they cost nothing.</p>
</section>
<section id="latency"><h2>Latency</h2><figure>{latency}</figure>{latency_table}</section>
<section id="suggestions"><h2>Suggestions</h2>
{f'<ul class="suggestions">{advice}</ul>' if advice else charts.empty("Suggestions", "none yet")}</section>
<section id="models"><h2>Per model</h2>{model_table}</section>
{unsure}</main></body></html>
"""
