"""Which task a free-form request means: structure first, then the words.

Offline and fast (a few regular expressions, microseconds): the editor's
structure gives strong hints (diagnostics in the range suggest a fix; no
selection suggests writing new code), then weighted patterns over the text
decide. The result carries a confidence; below ``CONFIDENT`` the caller asks
the user to pick among the likely tasks instead of guessing. Accuracy on the
labelled requests in ``tests/data/requests.tsv`` is reported in
docs/classifier.md.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from assistant_router.routing.tasks import Task

CONFIDENT = 0.5  # below this, ask the user

_RULES: dict[Task, list[tuple[str, float]]] = {
    Task.SCAFFOLD: [
        (r"\b(write|create|generate|implement|build|make|code up|add|need)\b.{0,40}\b(function|class|struct|"
         r"endpoint|handler|hook|component|enum|interface|record|model|module|cli|server|helper|method|cache|pool|"
         r"state machine|dataclass|route|type|script|search|parser)\b", 2.5),
        (r"\b(scaffold|stub( out)?|skeleton|boilerplate|template)\b", 3.0),
        (r"\b(implement|fill in|complete|finish( writing)?)\b", 1.5),
        (r"\bTODO\b", 1.0),
        (r"^\s*(write|create|generate|build|implement|add|make)\b", 1.0),
        (r"\bnew\b", 0.5),
        # Changing code that exists ("this function", "these") is not writing new code.
        (r"\b(this|these|that|existing)\b(?! ?(here|below))", -1.5),
    ],
    Task.TEST: [
        (r"\btests?\b|\btested\b|\btesting\b", 3.0),
        (r"\b(pytest|jest|vitest|junit|unittest|mocha|hypothesis|#\[test\]|table[- ]driven|property[- ]based)\b", 3.0),
        (r"\b(test cases?|coverage|spec|fixtures?|assertions?|regression)\b", 2.0),
        (r"\bmock(s|ing)?\b", 1.0),
        (r"\b(happy path|edge cases?)\b", 0.8),
    ],
    Task.FIX: [
        (r"\b(fix|fixes|repair|patch it|correct)\b", 2.5),
        (r"\b(compile|compiler|build passes|type checker|type error|lint(er)?|warnings?|squiggles?)\b", 2.0),
        (r"\b(error|errors|undefined name|missing (return|import)|mismatched|not assignable|cannot borrow|"
         r"expected `?\w+`?, found)\b", 1.5),
        (r"\b(resolve|address|get rid of|make .{0,20} happy)\b", 1.0),
        (r"\b(crash(es)?|throws?|wrong|bug)\b.{0,60}\b(fix|patch)\b", 1.5),
        (r"^quick fix", 2.0),
    ],
    Task.DEBUG: [
        (r"^\s*why\b|\bwhy (does|is|would|do|doesn't|isn't)\b|\bany idea why\b|, why\b|\bwhy\?", 3.0),
        (r"\b(debug|investigate|figure out|trace|find the cause|what's going on|what could cause|what's causing|"
         r"what's wrong)\b", 2.5),
        (r"\b(deadlocks?|race( condition)?|data race|leak|hangs?|flaky|intermittent|segfault|panics?|never exits?|"
         r"sometimes|only in production|fails in ci|twice|doubled|skips?|off by)\b", 1.8),
        (r"\b[A-Z][a-zA-Z]+(Exception|Error)\b", 0.8),
        (r"\b(slow|stuck|freezes?|logged out|never hits)\b", 1.0),
    ],
    Task.REVIEW: [
        (r"\breview\b", 3.5),
        (r"\b(any (issues|problems|bugs|edge cases)|anything wrong|look (over|for)|check (this|for)|sanity check|"
         r"audit|critique|feedback|code smells?|best practices?|approve|flag)\b", 2.5),
        (r"\b(is this|is my|is the) .{0,30}\b(ok|okay|safe|correct|secure|idiomatic|thread[- ]safe|right|good)\b", 2.5),
        (r"\b(security|vulnerabilit(y|ies)|injection|potential bugs)\b", 1.5),
        (r"\bbefore (i merge|release|merging)\b", 1.0),
        (r"\bmissed\b", 1.0),
    ],
    Task.EXPLAIN: [
        (r"\b(explain|eli5|walk me through|break down|overview|summari[sz]e|describe)\b", 3.5),
        (r"\bwhat (does|do|is|are|happens)\b|\bwhat's the\b|\bhow (does|do)\b", 2.0),
        (r"\b(understand|meaning|purpose|what .{0,20} for)\b", 2.0),
        (r"\btell me what\b", 2.0),
        (r"\bwhy is this written\b", 2.5),
        (r"\b(complexity|data flow)\b", 1.0),
    ],
    Task.REFACTOR: [
        (r"\b(refactor|clean (this|it)? ?up|tidy|simplify|restructure|reorgani[sz]e|dry)\b", 3.5),
        (r"\b(more readable|readability|idiomatic|concise(ly)?|modernize|flatten|make this function pure|"
         r"split (this|it) into|smaller functions|extract|rename|naming|duplication|type hints)\b", 2.5),
        (r"\b(convert|replace|use) .{0,40}\b(instead|to|with)\b", 1.5),
        (r"\b(optimi[sz]e|faster|improve)\b", 1.5),
        (r"\b(does too much|long if)\b", 1.0),
    ],
}
_COMPILED = {task: [(re.compile(p, re.IGNORECASE), w) for p, w in rules] for task, rules in _RULES.items()}


@dataclass(frozen=True)
class Classification:
    task: Task
    confidence: float  # 0..1
    likely: tuple[Task, ...]  # the best candidates, most likely first
    reason: str

    @property
    def confident(self) -> bool:
        return self.confidence >= CONFIDENT

    def to_json(self) -> dict[str, Any]:
        return {
            "task": self.task.value,
            "confidence": round(self.confidence, 3),
            "likely": [t.value for t in self.likely],
            "reason": self.reason,
        }


def classify(text: str, *, has_selection: bool = True, has_diagnostics: bool = False,
             language: str = "", path: str = "") -> Classification:
    del language, path  # accepted for the learned model of issue 12; the rules do not use them
    scores = {task: 0.0 for task in Task}
    hits: dict[Task, list[str]] = {task: [] for task in Task}
    for task, rules in _COMPILED.items():
        for pattern, weight in rules:
            if (found := pattern.search(text)) is not None:
                scores[task] += weight
                hits[task].append(found.group(0).strip())
    structure = []
    if has_diagnostics:
        scores[Task.FIX] += 1.5
        structure.append("diagnostics in the range")
    if not has_selection:
        scores[Task.SCAFFOLD] += 1.5
        for task in (Task.REVIEW, Task.REFACTOR, Task.EXPLAIN, Task.TEST):
            scores[task] -= 0.5
        structure.append("no selection")
    ranked = sorted(Task, key=lambda t: scores[t], reverse=True)
    # Softmax over the scores: a clear winner gets most of the mass.
    weights = {t: math.exp(1.2 * scores[t]) for t in Task}
    total = sum(weights.values())
    best = ranked[0]
    confidence = weights[best] / total if scores[best] > 0 else 0.0
    evidence = ", ".join(f"'{h}'" for h in hits[best][:3])
    reason = (
        "; ".join(filter(None, [", ".join(structure), f"words {evidence}" if evidence else ""])) or "no clear signal"
    )
    likely = tuple(t for t in ranked[:3] if scores[t] > 0) or tuple(Task)  # no signal: every task is a candidate
    return Classification(best, confidence, likely, reason)
