"""Which task a free-form request means: a small learned model.

A linear model over hashed features of the request (word unigrams and
bigrams, character 3–5-grams, its first and last words, its length and shape)
and of the editor's facts (a selection or not, diagnostics in the range, the
language), trained with scikit-learn on the corpus in ``training/intents/``
by ``training/train_classifier.py``. Only the weights ship
(``intent_model.bin``: int8, zlib-compressed); inference is this module, the
standard library only. The model loads on first use, never at import.

Its probabilities are calibrated (a temperature fitted on held-out
predictions); below the threshold stored with the model the caller asks the
user, offering the likely tasks. How it was trained and measured, with the
figures, is in docs/classifier.md.
"""

from __future__ import annotations

import array
import json
import math
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any, TypeVar

from assistant_router.routing.tasks import Task

FORMAT = 1  # of intent_model.bin; the trainer writes it, load() checks it
DIM = 1 << 18  # hashed feature buckets
MODEL_FILE = "intent_model.bin"
K = TypeVar("K")

# Long requests (a pasted stack trace) are read at their start and end, where
# the question is; this also bounds the time one prediction takes.
HEAD_WORDS, TAIL_WORDS = 80, 30
CHAR_HEAD, CHAR_TAIL = 160, 80
OFFERED_MASS = 0.99  # candidates offered when asking: three, or two when they hold this much probability

_WORD = re.compile(r"[a-z0-9_]+(?:'[a-z]+)?|[?!]")
_LETTER = re.compile(r"[a-zA-Z]")

# LSP language ids → the corpus's names (anything else: "none").
_LANGUAGES = {
    "typescriptreact": "typescript", "javascriptreact": "javascript", "sh": "shell", "bash": "shell",
    "shellscript": "shell", "zsh": "shell", "c++": "cpp", "cuda-cpp": "cpp", "objective-c": "c", "cs": "csharp",
    "kt": "kotlin", "py": "python", "rs": "rust", "ts": "typescript", "js": "javascript", "yml": "yaml",
    "rb": "ruby", "mysql": "sql", "postgres": "sql", "plsql": "sql",
}
KNOWN_LANGUAGES = frozenset({"python", "typescript", "javascript", "go", "rust", "java", "c", "cpp", "csharp",
                             "ruby", "php", "kotlin", "swift", "sql", "shell", "yaml"})


def language_name(language_id: str) -> str:
    """The corpus's name for an LSP language id ("none" when it has none)."""
    name = _LANGUAGES.get(language_id.lower(), language_id.lower())
    return name if name in KNOWN_LANGUAGES else "none"


def _shape(text: str) -> list[str]:
    """Coarse facts about the request's form: length, lines, pasted output."""
    lines = [line for line in text.splitlines() if line.strip()]
    words = len(text.split())
    shape = ["len:" + ("1" if words <= 1 else "2-3" if words <= 3 else "4-6" if words <= 6
                       else "7-15" if words <= 15 else "16-40" if words <= 40 else "41+")]
    if len(lines) >= 3:
        shape.append("multiline")
        # Lines that are mostly not letters (stack frames, compiler output, code).
        dense = sum(1 for line in lines if len(_LETTER.findall(line)) < 0.6 * len(line.strip()))
        shape.append("pasted:" + ("most" if dense * 2 >= len(lines) else "some" if dense else "none"))
    if text.rstrip().endswith("?"):
        shape.append("ends?")
    return shape


def feature_names(text: str, *, has_selection: bool, has_diagnostics: bool, language: str) -> list[str]:
    """The features of one request, as names (hashed by :func:`features`)."""
    words = _WORD.findall(text.lower())
    if len(words) > HEAD_WORDS + TAIL_WORDS:
        words = words[:HEAD_WORDS] + words[-TAIL_WORDS:]
    names = ["w:" + w for w in words]
    names += ["b:" + a + "_" + b for a, b in zip(words, words[1:], strict=False)]
    prose = " ".join(words)
    if len(prose) > CHAR_HEAD + CHAR_TAIL:
        prose = prose[:CHAR_HEAD] + " " + prose[-CHAR_TAIL:]
    padded = f" {prose} "
    names += ["c:" + padded[i:i + n] for n in (3, 4, 5) for i in range(len(padded) - n + 1)]
    if words:
        names += ["first:" + words[0], "first2:" + "_".join(words[:2]), "last:" + words[-1]]
    facts = ["sel:" + ("yes" if has_selection else "no"), "diag:" + ("yes" if has_diagnostics else "no"),
             "lang:" + language_name(language), *_shape(text)]
    names += ["s:" + fact for fact in facts]
    # The editor's facts with the first word: "why" with diagnostics is not "why" without.
    if words:
        names += [f"s:{facts[0]}&first:{words[0]}", f"s:{facts[1]}&first:{words[0]}"]
    return names


def features(text: str, *, has_selection: bool, has_diagnostics: bool, language: str) -> dict[int, float]:
    """Hashed, signed and L2-normalised features: the same code trains and predicts."""
    vector: dict[int, float] = {}
    for name in feature_names(text, has_selection=has_selection, has_diagnostics=has_diagnostics,
                              language=language):
        h = zlib.crc32(name.encode())
        index = h % DIM
        vector[index] = vector.get(index, 0.0) + (1.0 if h >> 31 else -1.0)
    norm = math.sqrt(sum(v * v for v in vector.values())) or 1.0
    return {k: v / norm for k, v in vector.items()}


class IntentModel:
    """The shipped weights: ``DIM`` rows of int8 per task, a scale, a bias,
    a temperature and the asking threshold (from the file's header)."""

    def __init__(self, blob: bytes) -> None:
        data = zlib.decompress(blob)
        size = int.from_bytes(data[:4], "little")
        self.header: dict[str, Any] = json.loads(data[4:4 + size])
        if self.header.get("format") != FORMAT or self.header.get("dim") != DIM:
            raise ValueError(f"{MODEL_FILE}: format {self.header.get('format')}, dim {self.header.get('dim')}; "
                             f"this code reads format {FORMAT}, dim {DIM}: retrain it")
        self.labels = [Task(label) for label in self.header["labels"]]
        self.scale = float(self.header["scale"])
        self.bias = [float(b) for b in self.header["bias"]]
        self.temperature = float(self.header["temperature"])
        self.threshold = float(self.header["threshold"])
        weights = array.array("b")
        weights.frombytes(data[4 + size:])  # DIM rows of one int8 per label
        k = len(self.labels)
        self.columns = [weights[j::k] for j in range(k)]  # one array per label: a sum per label is one pass

    @classmethod
    def shipped(cls) -> IntentModel:
        return cls(resources.files("assistant_router.routing").joinpath(MODEL_FILE).read_bytes())

    def probabilities(self, vector: dict[int, float]) -> dict[Task, float]:
        items = list(vector.items())
        scale = self.scale
        scores = [bias + scale * sum(column[index] * value for index, value in items)
                  for bias, column in zip(self.bias, self.columns, strict=True)]
        return softmax(dict(zip(self.labels, scores, strict=True)), self.temperature)


def softmax(scores: Mapping[K, float], temperature: float) -> dict[K, float]:
    """Scores as probabilities, sharpened or flattened by ``temperature``."""
    top = max(scores.values())
    exp = {key: math.exp((score - top) / temperature) for key, score in scores.items()}
    total = sum(exp.values())
    return {key: e / total for key, e in exp.items()}


def offered(probabilities: Mapping[K, float]) -> list[K]:
    """What to offer when asking, most likely first: three, or two when
    they hold OFFERED_MASS of the probability."""
    ranked = sorted(probabilities, key=probabilities.__getitem__, reverse=True)
    chosen: list[K] = []
    mass = 0.0
    for key in ranked:
        chosen.append(key)
        mass += probabilities[key]
        if len(chosen) >= 3 or (len(chosen) >= 2 and mass >= OFFERED_MASS):
            break
    return chosen


@cache
def model() -> IntentModel:
    """The shipped model, loaded on first use (about 10 ms)."""
    return IntentModel.shipped()


@dataclass(frozen=True)
class Classification:
    task: Task
    confidence: float  # 0..1, calibrated
    likely: tuple[Task, ...]  # what to offer when asking, most likely first
    reason: str
    threshold: float = 0.5  # below it, ask
    probabilities: dict[Task, float] = field(default_factory=dict, compare=False)

    @property
    def confident(self) -> bool:
        return self.confidence >= self.threshold

    def to_json(self) -> dict[str, Any]:
        return {
            "task": self.task.value,
            "confidence": round(self.confidence, 3),
            "likely": [t.value for t in self.likely],
            "reason": self.reason,
        }


def classify(text: str, *, has_selection: bool = True, has_diagnostics: bool = False,
             language: str = "") -> Classification:
    """The task ``text`` most likely means, given the editor's facts."""
    intent = model()
    vector = features(text, has_selection=has_selection, has_diagnostics=has_diagnostics, language=language)
    probabilities = intent.probabilities(vector)
    ranked = sorted(probabilities, key=probabilities.__getitem__, reverse=True)
    likely = offered(probabilities)
    best = ranked[0]
    name = language_name(language)
    facts = ", ".join(part for part in (
        "a selection" if has_selection else "no selection",
        "diagnostics in the range" if has_diagnostics else "",
        name if name != "none" else "",
    ) if part)
    reason = f"{probabilities[best]:.0%} {best.value} (then {ranked[1].value} {probabilities[ranked[1]]:.0%}); {facts}"
    return Classification(best, probabilities[best], tuple(likely), reason, intent.threshold, probabilities)
