"""The usage report: spend and acceptance by model, task and project, with
suggestions drawn from the data. Text for the terminal, JSON for scripts, a
self-contained HTML page (inline SVG, no network) for people."""

from __future__ import annotations

import html
import math
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from assistant_router.engine.usage.ledger import AttemptRow

MIN_JUDGED = 5  # edits judged kept or undone before a model's acceptance counts in a suggestion
ACCEPTANCE_MARGIN = 0.10  # a cheaper model this close in acceptance is worth suggesting


def _money(value: float | None) -> str:
    """Cents to four places, and amounts under a hundredth of a cent to two
    significant digits ($0.000034), so a cheap model never reads as free."""
    if value is None:
        return "unknown"
    if value == 0:
        return "$0"
    if abs(value) >= 1:
        return f"${value:,.2f}"
    if abs(value) >= 0.0001:
        return f"${value:.4f}"
    return f"${value:.{1 - math.floor(math.log10(abs(value)))}f}"


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


def summarize(rows: Iterable[AttemptRow], since: float, until: float | None = None) -> dict[str, Any]:
    rows = list(rows)
    until = until or time.time()

    def model_of(row: AttemptRow) -> str:
        return f"{row.alias} ({row.model})"

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
        lambda: {"answers": 0, "failed": 0, "fallback_answers": 0, "skipped": 0, "cancelled": 0})
    runs = set()
    total_cost = 0.0
    unknown = 0
    for row in rows:
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
    task_rows = []
    for (task, model), t in sorted(tasks.items()):
        judged = t["kept"] + t["undone"]
        priced = t["answered"] - sum(1 for r in rows if r.status == "ok" and r.task == task and model_of(r) == model
                                     and r.cost_usd is None)
        task_rows.append({
            "task": task, "model": model, **t,
            "avg_cost_usd": (t["cost_usd"] / priced) if priced else None,
            "acceptance": (t["kept"] / judged) if judged else None,
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
        "projects": sorted({row.project or "(no project)" for row in rows}),
        "first_time": min((row.time for row in rows), default=None),
        "last_time": max((row.time for row in rows), default=None),
    }
    summary["suggestions"] = suggestions(summary)
    return summary


def suggestions(summary: dict[str, Any]) -> list[str]:
    """Plain advice drawn from the numbers: cheaper models that are kept as often."""
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
    unknown = [model for model, m in summary["by_model"].items() if m["unknown_cost"]]
    if unknown:
        advice.append(
            f"{summary['unknown_cost_requests']} answers have no known price ({', '.join(unknown)}): "
            "set [models.NAME].prices in your policy to see their cost"
        )
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
    if summary["suggestions"]:
        out += ["", "Suggestions:"] + [f"- {s}" for s in summary["suggestions"]]
    return "\n".join(out)


_COLOURS = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#9c755f"]


def _legend(names: list[str], height: int) -> list[str]:
    """A colour swatch and name per series below the chart, and the end of the SVG."""
    parts = []
    for index, name in enumerate(names):
        colour = _COLOURS[index % len(_COLOURS)]
        parts.append(f'<rect x="{60 + index * 150}" y="{height + 28}" width="10" height="10" fill="{colour}"/>'
                     f'<text x="{74 + index * 150}" y="{height + 37}">{html.escape(name)}</text>')
    parts.append("</svg>")
    return parts


def _bar_chart(series: dict[str, dict[str, float]], title: str, fmt: Callable[[float], str]) -> str:
    """Stacked bars, one per key of ``series`` (e.g. a day), a colour per inner key."""
    keys = list(series)
    names = sorted({n for values in series.values() for n in values})
    if not keys:
        return f"<p><em>{html.escape(title)}: no data</em></p>"
    top = max(sum(v.values()) for v in series.values()) or 1.0
    width, height, bar = max(360, 48 * len(keys) + 80), 220, 32
    y: float
    parts = [f'<svg role="img" aria-label="{html.escape(title)}" width="{width}" height="{height + 60}" '
             f'xmlns="http://www.w3.org/2000/svg" font-family="sans-serif" font-size="11">']
    for index, key in enumerate(keys):
        x, y = 60 + index * 48, height
        for name in names:
            value = series[key].get(name, 0.0)
            h = value / top * (height - 20)
            if h <= 0:
                continue
            y -= h
            colour = _COLOURS[names.index(name) % len(_COLOURS)]
            parts.append(f'<rect x="{x}" y="{y:.1f}" width="{bar}" height="{h:.1f}" fill="{colour}">'
                         f'<title>{html.escape(key)} · {html.escape(name)}: {html.escape(fmt(value))}</title></rect>')
        parts.append(f'<text x="{x + bar / 2}" y="{height + 14}" text-anchor="middle">{html.escape(key[-5:])}</text>')
    parts.append(f'<text x="4" y="14">{html.escape(fmt(top))}</text><line x1="56" y1="{height}" x2="{width}" '
                 f'y2="{height}" stroke="#888"/>')
    parts.extend(_legend(names, height))
    return "".join(parts)


def render_html(summary: dict[str, Any]) -> str:
    acceptance: dict[str, dict[str, float]] = defaultdict(dict)
    for row in summary["by_task"]:
        if row["acceptance"] is not None:
            acceptance[row["task"]][row["model"]] = row["acceptance"]
    text = html.escape(render_text(summary))
    suggestions = "".join(f"<li>{html.escape(s)}</li>" for s in summary["suggestions"]) or "<li>None yet.</li>"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>assistant-router usage</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}}
pre{{background:#f6f6f6;padding:1em;overflow:auto}} h2{{margin-top:2em}}</style></head><body>
<h1>assistant-router usage</h1>
<h2>Spend per day, per model</h2>
{_bar_chart(summary["by_day"], "Spend per day per model", _money)}
<h2>Edits kept, per task and model</h2>
{_grouped_acceptance(acceptance)}
<h2>Suggestions</h2><ul>{suggestions}</ul>
<h2>Numbers</h2><pre>{text}</pre>
</body></html>
"""


def _grouped_acceptance(acceptance: dict[str, dict[str, float]]) -> str:
    """One bar per task and model, height the share of edits kept."""
    if not acceptance:
        return "<p><em>No edits judged yet: acceptance appears once applied edits have been kept or undone.</em></p>"
    names = sorted({m for models in acceptance.values() for m in models})
    tasks = sorted(acceptance)
    width, height = max(360, len(tasks) * (len(names) * 26 + 30) + 80), 200
    parts = [f'<svg role="img" aria-label="Edits kept per task and model" width="{width}" height="{height + 60}" '
             'xmlns="http://www.w3.org/2000/svg" font-family="sans-serif" font-size="11">']
    x = 60
    for task in tasks:
        for index, name in enumerate(names):
            value = acceptance[task].get(name)
            if value is not None:
                h = value * (height - 20)
                colour = _COLOURS[index % len(_COLOURS)]
                parts.append(f'<rect x="{x + index * 26}" y="{height - h:.1f}" width="22" height="{h:.1f}" '
                             f'fill="{colour}"><title>{html.escape(task)} · {html.escape(name)}: {value:.0%}'
                             '</title></rect>')
        parts.append(f'<text x="{x + len(names) * 13}" y="{height + 14}" text-anchor="middle">'
                     f'{html.escape(task)}</text>')
        x += len(names) * 26 + 30
    parts.append(f'<text x="4" y="14">100%</text>'
                 f'<line x1="56" y1="{height}" x2="{width}" y2="{height}" stroke="#888"/>')
    parts.extend(_legend(names, height))
    return "".join(parts)
