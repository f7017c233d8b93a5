"""Typed arguments of the workspace commands (pydantic, unknown keys rejected)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..routing.tasks import Task


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PositionArg(_Strict):
    line: int = Field(ge=0)
    character: int = Field(ge=0)


class RangeArg(_Strict):
    start: PositionArg
    end: PositionArg


class DiagnosticArg(_Strict):
    """A diagnostic the ``fix`` task should address (what the code action saw)."""

    message: str
    line: int = Field(ge=0, description="0-based start line")
    source: str | None = None


class TaskArgs(_Strict):
    """The one argument of ``assistant.run`` and ``assistant.route``."""

    task: Task
    uri: str
    range: RangeArg
    prompt: str | None = Field(default=None, description="extra instructions from the user")
    diagnostics: list[DiagnosticArg] = []


class ArgumentError(ValueError):
    """Bad command arguments; the message says which key and why."""


def parse_task_args(raw: Any) -> TaskArgs:
    try:
        return TaskArgs.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'argument'}: "
            + ("unknown key" if e["type"] == "extra_forbidden" else e["msg"])
            for e in exc.errors(include_url=False)
        )
        raise ArgumentError(f"invalid command argument: {problems}") from None
