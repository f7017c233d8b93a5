"""Typed arguments of the workspace commands (pydantic, unknown keys rejected)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from assistant_router.routing.tasks import Task


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


class RouteArgs(TaskArgs):
    """``assistant.route``: the task may be left out when a ``prompt`` says it."""

    task: Task | None = None

    @model_validator(mode="after")
    def _task_or_prompt(self) -> RouteArgs:
        if self.task is None and not self.prompt:
            raise ValueError("give a task, or a prompt to classify")
        return self


class AskArgs(_Strict):
    """``assistant.ask``: a free-form request about a range."""

    uri: str
    range: RangeArg
    prompt: str = Field(min_length=1)
    diagnostics: list[DiagnosticArg] = []


class UsageArgs(_Strict):
    """``assistant.usage``: the period, and whether to include every project."""

    days: int = Field(default=30, gt=0, le=3660)
    all_projects: bool = False


class ArgumentError(ValueError):
    """Bad command arguments; the message says which key and why."""


def parse_task_args(raw: Any, model: type[_Strict] = TaskArgs) -> Any:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'argument'}: "
            + ("unknown key" if e["type"] == "extra_forbidden" else e["msg"].removeprefix("Value error, "))
            for e in exc.errors(include_url=False)
        )
        raise ArgumentError(f"invalid command argument: {problems}") from None


class ClientOptions(_Strict):
    """``initializationOptions``: what the editor client asks of the server.

    Bad values never stop the server: they are reported and the defaults used.
    """

    tasks: list[Task] = Field(default_factory=lambda: list(Task), description="the tasks offered as code actions")
    status_notifications: bool = Field(default=True, description="send assistant/status after each task")


def parse_client_options(raw: Any) -> tuple[ClientOptions, str | None]:
    """The options, and a message when some were rejected (defaults then apply)."""
    if raw is None:
        return ClientOptions(), None
    try:
        return ClientOptions.model_validate(raw), None
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'initializationOptions'}: "
            + ("unknown option" if e["type"] == "extra_forbidden" else e["msg"])
            for e in exc.errors(include_url=False)
        )
        return ClientOptions(), f"assistant-router: ignored invalid initializationOptions ({problems}); using the defaults"
