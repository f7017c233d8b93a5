"""The task table: every task, what it is called, and how its result reaches the user.

Adding a task is a member of :class:`Task`, a row in :data:`TASKS`, its prompt
in ``engine/prompts.toml`` and its default route in ``routing/defaults.toml``.
Call sites read the row (``task.spec``); none tests for a particular task.
Editor clients get this table from the server (``assistant.tasks`` and
``ServerCapabilities.experimental``), so they never copy it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any


class Delivery(enum.Enum):
    """How a task's answer is delivered (one module per kind in ``delivery/``)."""

    EDIT = "edit"  # a change to the code
    DIAGNOSTICS = "diagnostics"  # review findings on the document's lines
    DOCUMENT = "document"  # a Markdown document
    INLINE = "inline"  # ghost text at the cursor (textDocument/inlineCompletion), not a code action


class EditPlacement(enum.Enum):
    """Where an edit task's answer goes."""

    REPLACE = "replace"  # replaces the selection (inserted at a bare cursor)
    INSERT_AFTER = "insert_after"  # inserted after the selection
    TEST_FILE = "test_file"  # the conventional test file, else after the selection


class EmptySelection(enum.Enum):
    """What a bare cursor means for the task."""

    CURSOR = "cursor"  # insert at the cursor
    LINE = "line"  # the cursor's whole line


class Task(enum.StrEnum):
    SCAFFOLD = "scaffold"
    TEST = "test"
    FIX = "fix"
    REFACTOR = "refactor"
    DEBUG = "debug"
    REVIEW = "review"
    EXPLAIN = "explain"
    COMPLETE = "complete"  # inline completion as you type

    @property
    def spec(self) -> TaskSpec:
        return TASKS[self]

    @property
    def delivery(self) -> Delivery:
        return TASKS[self].delivery

    @property
    def verb(self) -> str:
        return TASKS[self].verb


# Code-action kinds: ``quickfix`` or a sub-kind of ``refactor.rewrite`` /
# ``refactor``, so every client lists them in its default code-action menu.
ASSISTANT_KIND = "assistant"
_QUICKFIX = "quickfix"
_REWRITE = "refactor.rewrite." + ASSISTANT_KIND
_REFACTOR = "refactor." + ASSISTANT_KIND
ADVERTISED_KINDS = (_QUICKFIX, _REWRITE, _REFACTOR)


@dataclass(frozen=True)
class TaskSpec:
    """One row of the task table."""

    task: Task
    verb: str  # the start of a code-action title: "Write tests for"
    delivery: Delivery
    result: str  # what the user gets, in words a menu can show
    code_action_kind: str | None  # None: not offered as a code action (inline completion)
    placement: EditPlacement | None = None  # edits only
    needs_diagnostics: bool = False  # offered only where the editor reports problems
    empty_selection: EmptySelection = EmptySelection.LINE

    @property
    def name(self) -> str:
        return self.task.value

    @property
    def title(self) -> str:
        return self.task.value.capitalize()

    @property
    def is_action(self) -> bool:
        """Offered as a code action and run by ``assistant.run``."""
        return self.code_action_kind is not None

    @property
    def new_module(self) -> bool:
        """The answer is code of its own (tests), which may repeat the code it is about."""
        return self.placement is EditPlacement.TEST_FILE

    def to_json(self) -> dict[str, Any]:
        """The row as editor clients receive it."""
        return {
            "name": self.name,
            "title": self.title,
            "verb": self.verb,
            "delivery": self.delivery.value,
            "placement": self.placement.value if self.placement else None,
            "result": self.result,
            "codeActionKind": self.code_action_kind,
            "needsDiagnostics": self.needs_diagnostics,
            "emptySelection": self.empty_selection.value,
        }


def _kind(base: str, task: Task) -> str:
    return f"{base}.{task.value}"


TASKS: dict[Task, TaskSpec] = {
    spec.task: spec
    for spec in (
        TaskSpec(Task.SCAFFOLD, "Scaffold code for", Delivery.EDIT,
                 "an edit replacing the selection, or inserted at the cursor",
                 _kind(_REWRITE, Task.SCAFFOLD), EditPlacement.REPLACE, empty_selection=EmptySelection.CURSOR),
        TaskSpec(Task.TEST, "Write tests for", Delivery.EDIT,
                 "tests in the conventional test file, or inserted after the selection",
                 _kind(_REWRITE, Task.TEST), EditPlacement.TEST_FILE),
        TaskSpec(Task.FIX, "Fix", Delivery.EDIT, "an edit replacing the selection",
                 _QUICKFIX, EditPlacement.REPLACE, needs_diagnostics=True),
        TaskSpec(Task.REFACTOR, "Refactor", Delivery.EDIT, "an edit replacing the selection",
                 _kind(_REWRITE, Task.REFACTOR), EditPlacement.REPLACE),
        TaskSpec(Task.DEBUG, "Debug", Delivery.DOCUMENT, "a Markdown document", _kind(_REFACTOR, Task.DEBUG)),
        TaskSpec(Task.REVIEW, "Review", Delivery.DIAGNOSTICS, "diagnostics on the document",
                 _kind(_REFACTOR, Task.REVIEW)),
        TaskSpec(Task.EXPLAIN, "Explain", Delivery.DOCUMENT, "a Markdown document", _kind(_REFACTOR, Task.EXPLAIN)),
        TaskSpec(Task.COMPLETE, "Complete", Delivery.INLINE, "ghost text at the cursor, accepted with a key",
                 None, empty_selection=EmptySelection.CURSOR),
    )
}

# The tasks a user runs on a selection (code actions, ``assistant.run``, the
# classifier's labels), in the table's order; completion comes as you type.
ACTION_TASKS: tuple[Task, ...] = tuple(task for task, spec in TASKS.items() if spec.is_action)


def task_table() -> list[dict[str, Any]]:
    """Every row a client offers as an action, in the table's order, as editor
    clients receive it (completion is the standard inlineCompletion request)."""
    return [TASKS[task].to_json() for task in ACTION_TASKS]
