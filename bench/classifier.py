#!/usr/bin/env python3
"""The request classifier, measured: accuracy, calibration, questions, speed.

    .venv/bin/python bench/classifier.py            # everything (about 3 minutes: 21 trainings)
    .venv/bin/python bench/classifier.py --quick    # no leave-one-source-out
    .venv/bin/python bench/classifier.py --json out.json

Prints, for leave-one-source-out predictions (train on all sources but one,
predict the one left out), a held-out split (20 % of the requests, grouped by
text, stratified by task) and the independent development set
(../shared/data/intents-dev.jsonl, never trained on; the shipped model):
accuracy (the right task or an acceptable alternative), per task, style,
language and source, the confusion matrix, expected calibration error, the
share of requests the router asks about and how often the right task is
among the offered ones then. Then the shipped model's size, load time and
latency (median, p99) over every corpus request.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def trainer() -> Any:
    spec = importlib.util.spec_from_file_location("train_classifier", ROOT / "training" / "train_classifier.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def speed(examples: list[Any]) -> dict[str, float]:
    from assistant_router.routing import classify as classifier

    classifier.model.cache_clear()
    started = time.perf_counter()
    classifier.model()
    load_ms = (time.perf_counter() - started) * 1000
    times = []
    for ex in examples:
        began = time.perf_counter()
        classifier.classify(ex.prompt, has_selection=ex.has_selection, has_diagnostics=ex.has_diagnostics,
                            language=ex.lang)
        times.append((time.perf_counter() - began) * 1e6)
    times.sort()
    path = ROOT / "routing" / classifier.MODEL_FILE
    return {"model_bytes": path.stat().st_size, "load_ms": load_ms, "median_us": statistics.median(times),
            "p99_us": times[int(len(times) * 0.99)], "max_us": times[-1]}


def evaluate(quick: bool = False) -> dict[str, Any]:
    from assistant_router.routing import classify as classifier

    t = trainer()
    examples = t.load_corpus()
    shipped = classifier.model()
    c, temperature, threshold = shipped.header["C"], shipped.temperature, shipped.threshold
    figures: dict[str, Any] = {"corpus": len(examples), "C": c, "temperature": temperature, "threshold": threshold}
    if not quick:
        scores = t.leave_one_source_out(examples, c)
        figures["leave_one_source_out"] = t.report(examples, [t.softmax(s, temperature) for s in scores], threshold)
    figures["heldout"] = t.heldout_report(examples, c, temperature, threshold)
    if t.DEV_SET.exists():
        dev = t.load_dev()
        figures["dev"] = t.report(dev, t.probabilities_of(shipped, dev), threshold)
    figures["speed"] = speed(examples)
    return figures


def print_report(name: str, r: dict[str, Any]) -> None:
    print(f"\n## {name}: {r['n']} requests")
    print(f"accuracy {r['accuracy']:.1%} (exact task {r['exact']:.1%}); ECE {r['ece']:.3f}; asked {r['asked']:.1%}, "
          f"right task offered when asked {r['offered_covers_when_asked']:.1%}; accuracy when not asked "
          f"{r['accuracy_when_not_asked']:.1%}; wrong without asking {r['wrong_and_not_asked']:.1%} of all")
    for group in ("by_task", "by_style", "by_lang", "by_source"):
        items = r[group]
        if len(items) > 1:
            print(f"{group[3:]:>6}: " + ", ".join(f"{k} {v['accuracy']:.0%} ({v['n']})" for k, v in items.items()))
    tasks = sorted(r["confusion"])
    print("confusion (rows: label, columns: predicted)")
    print("          " + " ".join(f"{t[:8]:>8}" for t in tasks))
    for label in tasks:
        print(f"{label:>9} " + " ".join(f"{r['confusion'][label].get(t, 0) or '·':>8}" for t in tasks))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="skip leave-one-source-out (7 trainings)")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    args = parser.parse_args(argv)
    figures = evaluate(args.quick)
    print(f"corpus {figures['corpus']} requests; C={figures['C']:g}, temperature {figures['temperature']}, "
          f"asking below {figures['threshold']:.2f}")
    for name in ("leave_one_source_out", "heldout", "dev"):
        if name in figures:
            print_report(name, figures[name])
    s = figures["speed"]
    print(f"\nmodel {s['model_bytes']:,} bytes; loads in {s['load_ms']:.1f} ms; per request median "
          f"{s['median_us']:.0f} µs, p99 {s['p99_us']:.0f} µs, max {s['max_us']:.0f} µs")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
