"""Print the Markdown tables of docs/classifier.md from the trainer's JSON
(``training/train_classifier.py --json FILE``), so the page's figures are
the measured ones, not copied by hand.

    .venv/bin/python training/classifier_tables.py FILE
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

TASKS = ("debug", "explain", "fix", "refactor", "review", "scaffold", "test")
SETS = (("leave_one_source_out", "leave-one-source-out"), ("heldout", "held-out split"), ("dev", "development set"))


def pct(value: float) -> str:
    return f"{value * 100:.1f} %"


def row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def tables(figures: dict[str, Any]) -> str:
    present = [(key, name) for key, name in SETS if key in figures]
    out = [row(["measure", *[name for _, name in present]]), row(["---", *["---:" for _ in present]])]
    measures = [("requests", "n", lambda v: f"{v:,}"),
                ("**accuracy** (right task or an acceptable alternative)", "accuracy", lambda v: f"**{pct(v)}**"),
                ("exactly the labelled task", "exact", pct),
                ("asked about (confidence below the threshold)", "asked", pct),
                ("right task among the offered ones, when asked", "offered_covers_when_asked", pct),
                ("accuracy when not asked", "accuracy_when_not_asked", pct),
                ("wrong and not asked (of all)", "wrong_and_not_asked", pct),
                ("expected calibration error", "ece", lambda v: f"{v:.3f}")]
    for title, key, shown in measures:
        out.append(row([title, *[shown(figures[k][key]) for k, _ in present]]))
    out += ["", "Per task:", "", row(["task", *TASKS]), row(["---", *["---:" for _ in TASKS]])]
    for key, name in present:
        out.append(row([name, *[pct(figures[key]["by_task"][t]["accuracy"]) for t in TASKS]]))
    loso = figures["leave_one_source_out"]
    sources = sorted(loso["by_source"])
    out += ["", "Leave-one-source-out, per source left out:", "", row(["source", *sources]),
            row(["---", *["---:" for _ in sources]]),
            row(["accuracy", *[pct(loso["by_source"][s]["accuracy"]) for s in sources]])]
    for group, title in (("by_style", "style"), ("by_lang", "language")):
        keys = sorted(loso[group])
        out += ["", f"Per {title} (accuracy, requests):", "", row([title, *keys]),
                row(["---", *["---:" for _ in keys]])]
        for key, name in (("leave_one_source_out", "leave-one-source-out"), ("dev", "development set")):
            if key in figures:
                cells = figures[key][group]
                out.append(row([name, *[f"{cells[k]['accuracy'] * 100:.0f} % ({cells[k]['n']})" if k in cells else "·"
                                        for k in keys]]))
    for key, name in (("leave_one_source_out", "leave-one-source-out"), ("dev", "development set")):
        if key not in figures:
            continue
        confusion = figures[key]["confusion"]
        out += ["", f"Confusion matrix, {name} (rows: label; columns: predicted):", "",
                row(["label \\ predicted", *TASKS]), row(["---", *["---:" for _ in TASKS]])]
        for label in TASKS:
            out.append(row([label, *[str(confusion.get(label, {}).get(p, 0) or "·") for p in TASKS]]))
    return "\n".join(out)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    print(tables(json.loads(Path(argv[0]).read_text(encoding="utf-8"))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
