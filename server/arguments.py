"""Typed arguments of the workspace commands (pydantic, unknown keys rejected)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, Field, ValidationError, model_validator

from assistant_router.engine.limits import MAX_DIAGNOSTIC_CHARS, MAX_DIAGNOSTICS, MAX_PROMPT_CHARS
from assistant_router.routing.strict import StrictModel as _Strict
from assistant_router.routing.strict import describe
from assistant_router.routing.tasks import ACTION_TASKS, Task


def _action(task: Task) -> Task:
    if not task.spec.is_action:
        raise ValueError(f"'{task.value}' is not run as a command: it answers textDocument/inlineCompletion")
    return task


# A task run on a selection (every task but inline completion).
ActionTask = Annotated[Task, AfterValidator(_action)]


class PositionArg(_Strict):
    line: int = Field(ge=0)
    character: int = Field(ge=0)


class RangeArg(_Strict):
    start: PositionArg
    end: PositionArg


class DiagnosticArg(_Strict):
    """A diagnostic the ``fix`` task should address (what the code action saw)."""

    message: str = Field(max_length=MAX_DIAGNOSTIC_CHARS)
    line: int = Field(ge=0, description="0-based start line")
    source: str | None = None


class TaskArgs(_Strict):
    """The one argument of ``assistant.run`` and ``assistant.route``."""

    task: ActionTask
    uri: str
    range: RangeArg
    prompt: str | None = Field(default=None, max_length=MAX_PROMPT_CHARS,
                               description="extra instructions from the user")
    diagnostics: list[DiagnosticArg] = Field(default=[], max_length=MAX_DIAGNOSTICS)


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
    prompt: str = Field(min_length=1, max_length=MAX_PROMPT_CHARS)
    diagnostics: list[DiagnosticArg] = Field(default=[], max_length=MAX_DIAGNOSTICS)
    # The user's answer to a "needs_choice" result (a client without
    # window/showMessageRequest asked them): run this task, and record the choice.
    task: ActionTask | None = None


class UsageArgs(_Strict):
    """``assistant.usage``: the period, and whether to include every project."""

    days: int = Field(default=30, gt=0, le=3660)
    all_projects: bool = False


class HeldArgs(_Strict):
    """``assistant.applyUnchecked``: which held answer (the code action gives the id)."""

    id: str = Field(min_length=1, max_length=64, pattern=r"^[0-9a-f]+$")


class ArgumentError(ValueError):
    """Bad command arguments; the message says which key and why."""


def parse_task_args(raw: Any, model: type[_Strict] = TaskArgs) -> Any:
    diagnostics = raw.get("diagnostics") if isinstance(raw, dict) else None
    if isinstance(diagnostics, list) and len(diagnostics) > MAX_DIAGNOSTICS:
        # Said before validating each of them, which costs time in proportion.
        raise ArgumentError(f"invalid command argument: diagnostics: at most {MAX_DIAGNOSTICS} "
                            f"(got {len(diagnostics):,})")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise ArgumentError(f"invalid command argument: {describe(exc)}") from None


class ClientOptions(_Strict):
    """``initializationOptions``: what the editor client asks of the server.

    Bad values never stop the server: they are reported and the defaults used.
    """

    tasks: list[Task] = Field(default_factory=lambda: list(ACTION_TASKS),
                             description="the tasks offered as code actions")
    status_notifications: bool = Field(default=True, description="send assistant/status after each task")


def parse_client_options(raw: Any) -> tuple[ClientOptions, str | None]:
    """The options, and a message naming what was ignored.

    A newer client may send options this server does not know, and a setting
    may hold a task this server does not have: each bad part is ignored (and
    reported once), the rest applies.
    """
    if raw is None:
        return ClientOptions(), None
    if not isinstance(raw, dict):
        return ClientOptions(), (f"assistant-router: ignored initializationOptions ({type(raw).__name__}, "
                                 "expected an object); using the defaults")
    fields = ClientOptions.model_fields
    problems = [f"{key}: unknown option" for key in raw if key not in fields]
    kept: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in fields:
            continue
        if key == "tasks" and isinstance(value, list):
            names = [t.value for t in ACTION_TASKS]  # in the table's order, for the message
            for number, item in enumerate(value, 1):
                if item not in names:
                    problems.append(f"tasks[{number}]: {item!r} is not a task (tasks: {', '.join(names)})")
            value = [item for item in value if item in names]
            if not value:
                continue  # nothing valid left: every task, as when the option is absent
        try:
            ClientOptions.model_validate({key: value})
        except ValidationError as exc:
            problems.append(describe(exc, what=key))
            continue
        kept[key] = value
    options = ClientOptions.model_validate(kept)
    if not problems:
        return options, None
    return options, f"assistant-router: ignored part of initializationOptions ({'; '.join(problems)}); the rest applies"
