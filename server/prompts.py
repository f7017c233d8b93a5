"""What each task asks the model, and the output contract it states."""

from __future__ import annotations

from dataclasses import dataclass

from ..routing.tasks import Task

SYSTEM = (
    "You are a coding assistant inside the user's editor. Answer exactly in the "
    "format the task asks for, with no preamble."
)

_CODE_ONLY = "Answer with one fenced code block and nothing else."

INSTRUCTIONS: dict[Task, str] = {
    Task.SCAFFOLD: "Write the code the selection describes or begins. It replaces the selection. " + _CODE_ONLY,
    Task.TEST: "Write unit tests for the selected code, in the project's test style. They are inserted after the selection. "
    + _CODE_ONLY,
    Task.FIX: "Fix the listed problems in the selected code, changing nothing else. Your code replaces the selection. "
    + _CODE_ONLY,
    Task.REFACTOR: "Refactor the selected code for clarity without changing behaviour. Your code replaces the selection. "
    + _CODE_ONLY,
    Task.DEBUG: "Find the likely causes of bugs in the selected code and how to confirm and fix each. Answer in Markdown.",
    Task.REVIEW: (
        "Review the selected code. Answer with JSON only: "
        '{"findings": [{"line": N, "end_line": N, "severity": "error|warning|info|hint", '
        '"category": "bug|security|performance|style|maintainability", "message": "...", "replacement": "optional"}]} '
        "with 1-based line numbers within the whole document."
    ),
    Task.EXPLAIN: "Explain what the selected code does and why, for a developer new to it. Answer in Markdown.",
}


@dataclass(frozen=True)
class TaskInput:
    task: Task
    path: str
    language: str
    selection: str
    start_line: int  # 1-based
    end_line: int  # 1-based, inclusive
    user_prompt: str | None = None
    diagnostics: tuple[str, ...] = ()


def build_prompt(item: TaskInput) -> str:
    parts = [
        f"Task: {item.task.value}. {INSTRUCTIONS[item.task]}",
        f"File: {item.path} (language: {item.language or 'unknown'}), lines {item.start_line}-{item.end_line}.",
    ]
    if item.diagnostics:
        parts.append("Problems reported by the editor:\n" + "\n".join(f"- {d}" for d in item.diagnostics))
    if item.user_prompt:
        parts.append(f"The user adds: {item.user_prompt}")
    parts.append(f"Selection:\n```{item.language}\n{item.selection}\n```")
    return "\n\n".join(parts)
