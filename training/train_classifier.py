"""Train the request classifier and measure it honestly.

    .venv/bin/python training/train_classifier.py            # evaluate, train, write routing/intent_model.bin
    .venv/bin/python training/train_classifier.py --check    # evaluate only; write nothing

The corpus is every source in training/intents/*.jsonl plus
tests/data/requests.tsv (see training/intents/README.md). The features are
``routing/classify.py``'s own (the same code predicts at run time); the model
is scikit-learn's multinomial logistic regression; only its weights ship,
quantised to int8. Hyper-parameters, the temperature and the asking
threshold are chosen on leave-one-source-out predictions (train on all
sources but one, predict the one left out), never on the development set.

The evaluation (``evaluate``) is what bench/classifier.py prints and
docs/classifier.md reports: leave-one-source-out and a held-out split,
per task, style and language, the confusion matrix, calibration (ECE), the
share of asked requests and whether the right task is among the offered ones.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys
import zlib

# One thread for BLAS and OpenMP: on 2 cores with other work running, their
# threads made each fit six times slower.
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant_router.routing.classify import DIM, FORMAT, IntentModel, features, offered, softmax

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "training" / "intents"
SEED = ROOT / "tests" / "data" / "requests.tsv"
MODEL = ROOT / "routing" / "intent_model.bin"
DEV_SET = ROOT.parent / "shared" / "data" / "intents-dev.jsonl"  # measured on, never trained on

C_GRID = (10.0, 30.0, 100.0)
TEMPERATURES = [round(0.5 + 0.05 * i, 2) for i in range(51)]  # 0.5 … 3.0
TARGET_ASKED = 0.08  # the share of requests asked about, on held-out predictions (goal: under 10 %)
HELDOUT_SHARE = 0.2
SPLIT_SEED = 20261202


@dataclass(frozen=True)
class Example:
    prompt: str
    task: str
    also_ok: tuple[str, ...]
    has_selection: bool
    has_diagnostics: bool
    lang: str
    style: str
    source: str

    def accepts(self, task: str) -> bool:
        return task == self.task or task in self.also_ok

    @property
    def key(self) -> str:
        """The text as a group: the same request never sits on both sides of a split."""
        return " ".join(self.prompt.lower().split())


def _example(row: dict[str, Any], source: str) -> Example:
    return Example(row["prompt"], row["task"], tuple(row.get("also_ok") or ()), bool(row["has_selection"]),
                   bool(row["has_diagnostics"]), row.get("lang") or "none", row.get("style") or "unknown", source)


def load_corpus() -> list[Example]:
    examples = []
    for path in sorted(CORPUS.glob("*.jsonl")):
        examples += [_example(json.loads(line), path.stem) for line in path.read_text().splitlines() if line.strip()]
    for line in SEED.read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        task, selection, diagnostics, _split, text = line.split("\t", 4)
        examples.append(Example(text, task, (), selection == "y", diagnostics == "y", "unknown", "unknown",
                                "requests.tsv"))
    return examples


def load_dev() -> list[Example]:
    return [_example(json.loads(line), "dev") for line in DEV_SET.read_text().splitlines() if line.strip()]


def corpus_digest() -> str:
    digest = hashlib.sha256()
    for path in [*sorted(CORPUS.glob("*.jsonl")), SEED]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


# --------------------------------------------------------------------------- #
# Features and the model

_MATRICES: dict[int, Any] = {}


def matrix(examples: Sequence[Example]) -> Any:
    from scipy.sparse import csr_matrix

    rows, cols, values = [], [], []
    for i, ex in enumerate(examples):
        for index, value in features(ex.prompt, has_selection=ex.has_selection, has_diagnostics=ex.has_diagnostics,
                                     language=ex.lang).items():
            rows.append(i)
            cols.append(index)
            values.append(value)
    return csr_matrix((values, (rows, cols)), shape=(len(examples), DIM))


class Model:
    """A logistic regression fitted on the feature columns its examples use
    (about 80k of the 2^18: each fit takes seconds, not minutes), with its
    coefficients in the full hashed space."""

    def __init__(self, examples: Sequence[Example], c: float) -> None:
        import numpy as np
        from sklearn.linear_model import LogisticRegression
        from threadpoolctl import threadpool_limits

        x = matrix(examples)
        self.columns = np.flatnonzero(np.diff(x.tocsc().indptr))
        with threadpool_limits(1):  # also where numpy was imported before the variables above were set
            fitted = LogisticRegression(C=c, max_iter=5000).fit(x[:, self.columns], [ex.task for ex in examples])
        self.classes_ = list(fitted.classes_)
        self.coef_ = np.zeros((len(self.classes_), x.shape[1]))
        self.coef_[:, self.columns] = fitted.coef_
        self.intercept_ = fitted.intercept_

    def logits(self, examples: Sequence[Example]) -> list[dict[str, float]]:
        scores = matrix(examples) @ self.coef_.T + self.intercept_
        return [dict(zip(self.classes_, map(float, row), strict=True)) for row in scores]


def fit(examples: Sequence[Example], c: float) -> Model:
    return Model(examples, c)


def logits(model: Model, examples: Sequence[Example]) -> list[dict[str, float]]:
    return model.logits(examples)


# --------------------------------------------------------------------------- #
# Measures

def ece(confidences: Sequence[float], correct: Sequence[bool], bins: int = 10) -> float:
    n, total = len(confidences), 0.0
    for b in range(bins):
        idx = [i for i, c in enumerate(confidences) if b / bins < c <= (b + 1) / bins]
        if idx:
            accuracy = sum(correct[i] for i in idx) / len(idx)
            confidence = sum(confidences[i] for i in idx) / len(idx)
            total += len(idx) / n * abs(accuracy - confidence)
    return total


def report(examples: Sequence[Example], probabilities: Sequence[dict[str, float]], threshold: float) -> dict[str, Any]:
    """Every figure docs/classifier.md gives, for predictions on ``examples``."""
    tasks = sorted({ex.task for ex in examples} | {t for p in probabilities for t in p})
    best = [max(p, key=p.__getitem__) for p in probabilities]
    right = [ex.accepts(b) for ex, b in zip(examples, best, strict=True)]
    exact = [ex.task == b for ex, b in zip(examples, best, strict=True)]
    confidence = [p[b] for p, b in zip(probabilities, best, strict=True)]
    asked = [c < threshold for c in confidence]
    offers = [offered(p) for p in probabilities]
    covered = [any(ex.accepts(t) for t in o) for ex, o in zip(examples, offers, strict=True)]

    def share(flags: Iterable[bool]) -> float:
        flags = list(flags)
        return sum(flags) / len(flags) if flags else float("nan")

    def by(attribute: str) -> dict[str, dict[str, float]]:
        groups: dict[str, list[int]] = defaultdict(list)
        for i, ex in enumerate(examples):
            groups[getattr(ex, attribute)].append(i)
        return {name: {"n": len(idx), "accuracy": share(right[i] for i in idx)} for name, idx in sorted(groups.items())}

    confusion = {t: Counter() for t in tasks}
    for ex, b in zip(examples, best, strict=True):
        confusion[ex.task][b] += 1
    asked_idx = [i for i, a in enumerate(asked) if a]
    kept_idx = [i for i, a in enumerate(asked) if not a]
    return {
        "n": len(examples),
        "accuracy": share(right),  # the right task or an acceptable alternative
        "exact": share(exact),
        "by_task": by("task"),
        "by_style": by("style"),
        "by_lang": by("lang"),
        "by_source": by("source"),
        "confusion": {t: dict(confusion[t]) for t in tasks},
        "ece": ece(confidence, right),
        "asked": share(asked),
        "offered_covers_when_asked": share(covered[i] for i in asked_idx),
        "accuracy_when_not_asked": share(right[i] for i in kept_idx),
        "wrong_and_not_asked": sum(1 for i in kept_idx if not right[i]) / len(examples),
    }


def leave_one_source_out(examples: Sequence[Example], c: float) -> list[dict[str, float]]:
    """Out-of-fold logits: each source predicted by a model trained on the others."""
    out: list[dict[str, float] | None] = [None] * len(examples)
    for source in sorted({ex.source for ex in examples}):
        train = [ex for ex in examples if ex.source != source]
        test = [i for i, ex in enumerate(examples) if ex.source == source]
        model = fit(train, c)
        for i, scores in zip(test, logits(model, [examples[i] for i in test]), strict=True):
            out[i] = scores
    return out  # type: ignore[return-value]


def heldout_split(examples: Sequence[Example]) -> tuple[list[Example], list[Example]]:
    """A stratified split by task, grouped by text, from a fixed seed."""
    keys_by_task: dict[str, list[str]] = defaultdict(list)
    seen: set[str] = set()
    for ex in examples:
        if ex.key not in seen:
            seen.add(ex.key)
            keys_by_task[ex.task].append(ex.key)
    rng = random.Random(SPLIT_SEED)
    held: set[str] = set()
    for keys in keys_by_task.values():
        rng.shuffle(keys)
        held.update(keys[: round(len(keys) * HELDOUT_SHARE)])
    return [ex for ex in examples if ex.key not in held], [ex for ex in examples if ex.key in held]


def heldout_report(examples: Sequence[Example], c: float, temperature: float, threshold: float) -> dict[str, Any]:
    """The held-out split, predicted by a model trained on the rest."""
    train_part, held_part = heldout_split(examples)
    model = fit(train_part, c)
    return report(held_part, [softmax(s, temperature) for s in logits(model, held_part)], threshold)


def probabilities_of(model: IntentModel, examples: Sequence[Example]) -> list[dict[str, float]]:
    """A shipped-format model's probabilities for ``examples``, by task name."""
    return [{task.value: p for task, p in model.probabilities(features(
                ex.prompt, has_selection=ex.has_selection, has_diagnostics=ex.has_diagnostics,
                language=ex.lang)).items()}
            for ex in examples]


def nll(examples: Sequence[Example], scores: Sequence[dict[str, float]], temperature: float) -> float:
    import math

    return -sum(math.log(max(softmax(s, temperature)[ex.task], 1e-12))
                for ex, s in zip(examples, scores, strict=True)) / len(examples)


def choose_threshold(examples: Sequence[Example], probabilities: Sequence[dict[str, float]]) -> float:
    """The confidence below which TARGET_ASKED of held-out requests are asked about."""
    confidences = sorted(max(p.values()) for p in probabilities)
    return round(confidences[int(len(confidences) * TARGET_ASKED)], 4)


# --------------------------------------------------------------------------- #
# Writing the model

def write_model(model: Any, temperature: float, threshold: float, extra: dict[str, Any]) -> bytes:
    import numpy as np

    weights = model.coef_.T  # DIM × labels
    scale = float(np.abs(weights).max() / 127)
    quantised = np.round(weights / scale).astype(np.int8)
    header = {"format": FORMAT, "dim": DIM, "labels": list(model.classes_), "scale": scale,
              "bias": [float(b) for b in model.intercept_], "temperature": temperature, "threshold": threshold,
              **extra}
    head = json.dumps(header, sort_keys=True).encode()
    return zlib.compress(len(head).to_bytes(4, "little") + head + quantised.tobytes(), 9)


def train(check: bool = False, log: Any = print) -> dict[str, Any]:
    import sklearn

    examples = load_corpus()
    log(f"corpus: {len(examples)} requests from {len({ex.source for ex in examples})} sources")
    best_c, best_accuracy, loso = None, -1.0, {}
    for c in C_GRID:
        scores = leave_one_source_out(examples, c)
        accuracy = report(examples, [softmax(s, 1.0) for s in scores], 0.0)["accuracy"]
        log(f"  C={c:g}: leave-one-source-out accuracy {accuracy:.3f}")
        loso[c] = scores
        if accuracy > best_accuracy:
            best_c, best_accuracy = c, accuracy
    scores = loso[best_c]
    temperature = min(TEMPERATURES, key=lambda t: nll(examples, scores, t))
    probabilities = [softmax(s, temperature) for s in scores]
    threshold = choose_threshold(examples, probabilities)
    log(f"chosen: C={best_c:g}, temperature {temperature}, asking threshold {threshold}")
    evaluation: dict[str, Any] = {"C": best_c, "temperature": temperature, "threshold": threshold,
                                  "leave_one_source_out": report(examples, probabilities, threshold)}

    evaluation["heldout"] = heldout_report(examples, best_c, temperature, threshold)

    final = fit(examples, best_c)
    blob = write_model(final, temperature, threshold, {
        "corpus_sha256": corpus_digest(), "trained_on": len(examples), "C": best_c,
        "sklearn": sklearn.__version__,
    })
    if DEV_SET.exists():
        dev = load_dev()
        evaluation["dev"] = report(dev, probabilities_of(IntentModel(blob), dev), threshold)
    if not check:
        MODEL.write_bytes(blob)
        log(f"wrote {MODEL.relative_to(ROOT)} ({len(blob):,} bytes)")
    return evaluation


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="evaluate only; do not write the model")
    parser.add_argument("--json", type=Path, help="also write the evaluation as JSON to this file")
    args = parser.parse_args(argv)
    evaluation = train(check=args.check, log=lambda m: print(m, file=sys.stderr))
    for name in ("leave_one_source_out", "heldout", "dev"):
        if name in evaluation:
            r = evaluation[name]
            print(f"{name:22s} n={r['n']:5d} accuracy {r['accuracy']:.3f} exact {r['exact']:.3f} "
                  f"asked {r['asked']:.3f} covered-when-asked {r['offered_covers_when_asked']:.3f} "
                  f"ece {r['ece']:.3f}  " + " ".join(f"{t}={v['accuracy']:.2f}" for t, v in r["by_task"].items()))
    if args.json:
        args.json.write_text(json.dumps(evaluation, indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
