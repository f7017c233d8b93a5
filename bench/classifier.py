#!/usr/bin/env python3
"""Accuracy of the free-form request classifier on the labelled requests.

    .venv/bin/python bench/classifier.py [--markdown]

Prints accuracy (all, tune split, holdout split), the share of requests the
router would ask about (confidence below the threshold) and how often the
right task is among the choices offered then, and a confusion matrix.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path

from assistant_router.routing.classify import CONFIDENT, classify
from assistant_router.routing.tasks import Task

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "requests.tsv"


def load(path: Path = DATA) -> list[dict]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        task, selection, diagnostics, split, text = line.split("\t")
        rows.append({"task": Task(task), "selection": selection == "y", "diagnostics": diagnostics == "y",
                     "split": split, "text": text})
    return rows


def evaluate(rows: list[dict]) -> dict:
    results = []
    started = time.perf_counter()
    for row in rows:
        result = classify(row["text"], has_selection=row["selection"], has_diagnostics=row["diagnostics"])
        results.append((row, result))
    elapsed = time.perf_counter() - started

    def accuracy(split: str | None) -> float:
        chosen = [(r, c) for r, c in results if split is None or r["split"] == split]
        return sum(c.task == r["task"] for r, c in chosen) / len(chosen)

    asked = [(r, c) for r, c in results if not c.confident]
    confident = [(r, c) for r, c in results if c.confident]
    return {
        "n": len(rows),
        "accuracy": accuracy(None),
        "tune": accuracy("tune"),
        "holdout": accuracy("holdout"),
        "asked": len(asked) / len(rows),
        "right_among_choices_when_asked": (sum(r["task"] in c.likely for r, c in asked) / len(asked)) if asked else 1.0,
        "confident_accuracy": sum(c.task == r["task"] for r, c in confident) / max(len(confident), 1),
        "per_request_us": elapsed / len(rows) * 1e6,
        "confusion": Counter((r["task"], c.task) for r, c in results),
        "errors": [(r, c) for r, c in results if c.task != r["task"]],
    }


def render(report: dict, markdown: bool) -> str:
    tasks = list(Task)
    header = ["label \\ predicted", *[t.value for t in tasks]]
    rows = [[t.value, *[str(report["confusion"][(t, p)] or "·") for p in tasks]] for t in tasks]
    lines = [
        f"requests: {report['n']}   accuracy: {report['accuracy']:.1%}   tune split: {report['tune']:.1%}   "
        f"holdout split: {report['holdout']:.1%}",
        f"asked the user (confidence < {CONFIDENT}): {report['asked']:.1%}; right task among the choices then: "
        f"{report['right_among_choices_when_asked']:.1%}; accuracy when confident: {report['confident_accuracy']:.1%}",
        f"time per request: {report['per_request_us']:.0f} µs",
        "",
    ]
    if markdown:
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "---|" * len(header))
        lines += ["| " + " | ".join(row) + " |" for row in rows]
    else:
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
        lines += ["  ".join(cell.rjust(w) for cell, w in zip(row, widths)) for row in [header, *rows]]
    lines += ["", "misclassified:"]
    lines += [f"- {r['task'].value} → {c.task.value} ({c.confidence:.2f}): {r['text']}" for r, c in report["errors"]]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    print(render(evaluate(load()), args.markdown))


if __name__ == "__main__":
    main()
