"""The offline token estimator, measured against the real o200k_base encoding."""

from __future__ import annotations

import random
import statistics
import sys
from pathlib import Path

import pytest

from assistant_router.engine.tokens import SAFETY, estimate_tokens

REPO = Path(__file__).parents[2]


def corpus() -> list[tuple[str, str]]:
    """Real source: this repository, the installed libraries, the samples."""
    files = [p for p in REPO.glob("[a-z]*/**/*.py") if ".venv" not in p.parts]
    site = Path(pytest.__file__).parents[1]
    libraries = sorted(site.glob("*/**/*.py"))
    random.Random(7).shuffle(libraries)
    files += libraries[:250]
    files += [p for p in (REPO / "tests" / "data" / "context").iterdir() if p.is_file()]
    windows = []
    rng = random.Random(11)
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        if len(text) < 400:
            continue
        start = rng.randrange(0, max(1, len(text) - 3000))
        windows.append((path.name, text[start : start + 3000]))
    return windows


def test_the_estimate_is_close_to_o200k_base():
    bpe_openai = pytest.importorskip("bpe_openai")
    encoding = bpe_openai.get_encoding("o200k_base")
    errors = []
    for _, text in corpus():
        real = len(encoding.encode(text, disallowed_special=()))
        errors.append((estimate_tokens(text) - real) / real)
    absolute = sorted(abs(e) for e in errors)
    p95 = absolute[int(len(absolute) * 0.95)]
    report = f"n={len(errors)} mean={statistics.mean(errors):+.3f} p95={p95:.3f} max={absolute[-1]:.3f}"
    print(report, file=sys.stderr)
    assert len(errors) > 200
    assert abs(statistics.mean(errors)) < 0.05, report
    assert p95 < 0.15, report
    # The window check assumes the real count is at most SAFETY times the estimate.
    assert all(e > 1 / SAFETY - 1 for e in errors), report


@pytest.mark.parametrize("text", ["", "x", "def f():\n    return 1\n", "ünïcödé " * 10])
def test_small_inputs(text):
    assert estimate_tokens(text) >= (1 if text else 0)
