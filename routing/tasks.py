"""The fixed task taxonomy and how each task's result reaches the user."""

from __future__ import annotations

import enum


class Delivery(enum.Enum):
    """How a task's answer is delivered to the editor."""

    EDIT = "edit"  # a workspace/applyEdit
    DIAGNOSTICS = "diagnostics"  # review findings as diagnostics
    DOCUMENT = "document"  # a Markdown document (window/showDocument)


class EditPlacement(enum.Enum):
    """Where an edit task's answer goes relative to the selection."""

    REPLACE = "replace"
    INSERT_AFTER = "insert_after"


class Task(enum.StrEnum):
    SCAFFOLD = "scaffold"
    TEST = "test"
    FIX = "fix"
    REFACTOR = "refactor"
    DEBUG = "debug"
    REVIEW = "review"
    EXPLAIN = "explain"

    @property
    def delivery(self) -> Delivery:
        return _DELIVERY[self]

    @property
    def placement(self) -> EditPlacement:
        """Only meaningful for tasks delivered as edits."""
        return EditPlacement.INSERT_AFTER if self is Task.TEST else EditPlacement.REPLACE

    @property
    def verb(self) -> str:
        """The start of a code-action title, e.g. ``Review``."""
        return _VERB[self]


_DELIVERY = {
    Task.SCAFFOLD: Delivery.EDIT,
    Task.TEST: Delivery.EDIT,
    Task.FIX: Delivery.EDIT,
    Task.REFACTOR: Delivery.EDIT,
    Task.DEBUG: Delivery.DOCUMENT,
    Task.REVIEW: Delivery.DIAGNOSTICS,
    Task.EXPLAIN: Delivery.DOCUMENT,
}

_VERB = {
    Task.SCAFFOLD: "Scaffold code for",
    Task.TEST: "Write tests for",
    Task.FIX: "Fix",
    Task.REFACTOR: "Refactor",
    Task.DEBUG: "Debug",
    Task.REVIEW: "Review",
    Task.EXPLAIN: "Explain",
}
