"""``assistant-router`` (serve, ask, …) with the classifier's answer fixed for
requests that start with "unsure:" or "sure:", so the tests of what happens
when it is unsure do not depend on the classifier's model (issue 12).

The fixed answers name the editor's facts in their reason, so a test can
check what the front end passed. Other requests go to the real classifier.
Run as ``python tests/e2e/fixed_classifier.py serve``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

from assistant_router.routing import classify as module
from assistant_router.routing.tasks import Task

UNSURE_LIKELY = (Task.DEBUG, Task.EXPLAIN, Task.REVIEW)


@dataclass(frozen=True)
class Fixed:
    task: Task
    confidence: float
    likely: tuple[Task, ...]
    reason: str

    @property
    def confident(self) -> bool:
        return self.confidence >= 0.5

    def to_json(self) -> dict[str, Any]:
        return {"task": self.task.value, "confidence": self.confidence, "likely": [t.value for t in self.likely],
                "reason": self.reason}


_real = module.classify


def classify(text: str, **facts: Any) -> Any:
    reason = "fixed: " + "; ".join(f"{key}={value}" for key, value in sorted(facts.items()))
    if text.startswith("unsure:"):
        return Fixed(Task.DEBUG, 0.3, UNSURE_LIKELY, reason)
    if text.startswith("sure:"):
        return Fixed(Task.EXPLAIN, 0.9, (Task.EXPLAIN, Task.DEBUG), reason)
    return _real(text, **facts)


module.classify = classify  # type: ignore[assignment]

if __name__ == "__main__":
    from assistant_router.cli.main import main

    sys.exit(main(sys.argv[1:]))
