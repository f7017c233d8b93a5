"""Builds the text sent to a model from the task's data file and the context.

The wording lives in ``prompts.toml`` (one table per task, each with its
output contract); this module only lays the parts out.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from assistant_router.routing.tasks import Task


@dataclass(frozen=True)
class TaskPrompts:
    system: str
    context_heading: str
    change_note: str
    instructions: dict[Task, str]
    output: dict[Task, str]


@cache
def task_prompts() -> TaskPrompts:
    data: dict[str, Any] = tomllib.loads(resources.files(__package__).joinpath("prompts.toml").read_text("utf-8"))
    tasks = data["tasks"]
    return TaskPrompts(
        system=data["system"].strip(),
        context_heading=data["context_heading"],
        change_note=data["change_note"].strip(),
        instructions={task: tasks[task.value]["instructions"].strip() for task in Task},
        output={task: tasks[task.value]["output"].strip() for task in Task},
    )


def numbered(text: str, first_line: int, changed: frozenset[int] | None = None) -> str:
    """``text`` with each line after its number (from ``first_line``) and
    ``|``; with ``changed``, those lines marked ``+|``."""
    lines = text.split("\n")
    width = len(str(first_line + len(lines) - 1))
    marks = changed or frozenset()
    return "\n".join(f"{number:>{width}} {'+' if number in marks else ' '}| {line}"
                     for number, line in enumerate(lines, first_line))


@dataclass(frozen=True)
class PromptSection:
    title: str
    body: str
    fence: str | None = None  # a language for a fenced code block, or None for prose


def build_prompt(
    task: Task,
    path: str,
    language: str,
    start_line: int,
    end_line: int,
    selection: str,
    *,
    project_instructions: str | None = None,
    diagnostics: Sequence[str] = (),
    user_prompt: str | None = None,
    context: Sequence[PromptSection] = (),
    escalation: str | None = None,
    changed_lines: frozenset[int] | None = None,
) -> str:
    """The prompt. A review's selection is shown with the file's own line
    numbers (models count lines badly) and, for a change under review
    (``changed_lines``), the lines it added marked with ``+``."""
    prompts = task_prompts()
    parts = [
        f"Task: {task.value}. {prompts.instructions[task]}",
        f"Output contract: {prompts.output[task]}",
        f"File: {path} (language: {language or 'unknown'}), lines {start_line}-{end_line}.",
    ]
    if project_instructions:
        parts.append(f"Project instructions:\n{project_instructions.strip()}")
    if diagnostics:
        parts.append("Problems reported by the editor:\n" + "\n".join(f"- {d}" for d in diagnostics))
    if user_prompt:
        parts.append(f"The user adds: {user_prompt}")
    if context:
        sections = [prompts.context_heading]
        for section in context:
            body = f"```{section.fence}\n{section.body.rstrip()}\n```" if section.fence is not None else section.body
            sections.append(f"### {section.title}\n{body}")
        parts.append("\n\n".join(sections))
    body = selection.rstrip("\n")
    if task is Task.REVIEW:
        body = numbered(body, start_line, changed_lines)
        if changed_lines is not None:
            parts.append(prompts.change_note)
    parts.append(f"Selection:\n```{language}\n{body}\n```")
    if escalation:
        parts.append(escalation.strip())
    return "\n\n".join(parts)
