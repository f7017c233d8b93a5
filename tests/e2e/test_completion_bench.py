"""bench/completion.py's quick mode on a tiny scale: it runs, and its figures
are there and consistent with what it did. Outcomes, never timings: the
suite runs on loaded machines (the figures themselves: docs/benchmarks.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "completion.py"


def test_the_completion_benchmark_produces_sane_figures(tmp_path):
    out = tmp_path / "figures.json"
    run = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--no-warm-up", "--invoked", "4", "--words", "2", "--samples", "20",
         "--along", "1", "--json", str(out), "--timeout", "240"],
        capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    figures = json.loads(out.read_text())
    assert "goals:" in run.stdout and "Invoked: server overhead median" in run.stdout

    for kind in ("invoked", "invoked_bare"):
        invoked = figures[kind]
        assert invoked["problems"] == [] and invoked["n"] == 4  # one upstream request and one item each
        assert invoked["fake_first_token_median_ms"] >= 79  # the fake's 80 ms to first token
        assert invoked["fake"]["median"] >= 79 and invoked["e2e"]["median"] >= invoked["fake"]["min"]

    typing = figures["typing"]
    assert typing["pauses"] == 2 and typing["keystrokes"] >= 3
    assert sum(typing["outcomes"].values()) == typing["keystrokes"]
    assert typing["outcomes"]["error"] == typing["outcomes"]["no answer"] == 0
    # Every upstream request came from one keystroke; none opened twice for one.
    assert typing["upstream_matched"] == typing["upstream_opened"] <= typing["keystrokes"]
    assert typing["upstream_closed_early"] + typing["upstream_finished"] <= typing["upstream_opened"]
    assert typing["outcomes"]["items from the model"] <= typing["upstream_finished"]

    along = figures["along"]
    assert along["completions"] == 1 and along["typed"] == 20 and along["problems"] == []
    assert along["upstream_opened"] == 0  # typing along the shown completion never calls the model
    assert 1 <= along["hits"] == along["exact"]  # each hit offers exactly the rest of it

    assert figures["idle_code_action"]["n"] == 20 and figures["typing"]["code_action"]["n"] >= 1
    assert {g["metric"] for g in figures["goals"] if g["pass"] is not None} >= {
        "Invoked: server overhead median (ms)", "typing: pause latency p50 (ms)", "code action while typing p99 (ms)"}
    assert figures["notes"] == []
