"""What a run of the pipeline ends with: a status, an immutable result, typed errors.

Every front end reports the same :class:`TaskResult` (the editor as the
command's answer and ``assistant/status``, the terminal as its summary and
``--json``), so a refusal reads the same everywhere.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from assistant_router.providers.base import Usage

if TYPE_CHECKING:
    from assistant_router.engine.checks.stage import CheckReport
    from assistant_router.routing.policy import ModelConfig
    from assistant_router.routing.router import Decision
    from assistant_router.routing.tasks import Task


class Status(enum.StrEnum):
    APPLIED = "applied"  # an edit the editor took
    SHOWN = "shown"  # diagnostics, a document, or an answer printed
    REFUSED = "refused"  # nothing was sent: an excluded file, a budget, a selection too large, a bad range
    FAILED = "failed"  # sent, but no usable answer
    CANCELLED = "cancelled"  # stopped by the user, or an edit declined in the editor
    HELD = "held"  # an edit that failed its checks: shown with its problems, applied only if the user asks


class TaskError(Exception):
    """The run ends here; the message is shown to the user as it is."""

    status: ClassVar[Status] = Status.FAILED


class Refused(TaskError):
    """Nothing was sent, by rule: the user or the policy decided so."""

    status = Status.REFUSED


class Failed(TaskError):
    """The models did not produce a usable answer, or it could not be delivered."""

    status = Status.FAILED


class Declined(TaskError):
    """The editor (or the user, in its preview) did not take the edit; not an error."""

    status = Status.CANCELLED


def model_label(config: ModelConfig) -> str:
    return f"{config.alias} ({config.shown_model})"


@dataclass(frozen=True)
class Attempt:
    """One call to one model (or a skipped one), as the result reports it."""

    config: ModelConfig
    elapsed_ms: int = 0
    first_token_ms: int | None = None
    error: str | None = None
    error_type: str | None = None
    status: int | None = None  # the HTTP status, when there was one
    retryable: bool | None = None
    usage: Usage | None = None  # the answer's usage, on the attempt that answered
    check_outcome: str | None = None  # its answer's checks: "passed", "failed", "not run"; None: not checked
    security_findings: int = 0  # safety-rule findings in its answer
    escalated: bool = False  # called because an answer before it failed its checks

    @property
    def skipped(self) -> bool:
        return self.error_type in {"CoolingDown", "TooLate"}

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "alias": self.config.alias,
            "provider": self.config.provider,
            "model": self.config.shown_model,
            "elapsed_ms": self.elapsed_ms,
        }
        if self.error is not None:
            data.update(error=self.error, error_type=self.error_type, status=self.status, retryable=self.retryable)
        if self.check_outcome is not None:
            data["checks"] = self.check_outcome
        if self.escalated:
            data["escalated"] = True
        return data


@dataclass(frozen=True)
class Delivered:
    """What a delivery did: its status, a note for the user, and details for the result."""

    status: Status
    details: Mapping[str, Any] = field(default_factory=dict)
    message: str | None = None


@dataclass(frozen=True)
class TaskResult:
    """One finished run, whatever its end."""

    task: Task
    status: Status
    elapsed_ms: int
    decision: Decision | None = None
    answered_by: ModelConfig | None = None
    message: str | None = None
    attempts: tuple[Attempt, ...] = ()
    usage: Usage = Usage()
    context: Mapping[str, Any] | None = None  # what was sent, summarised
    details: Mapping[str, Any] = field(default_factory=dict)  # from the delivery
    cost_usd: float = 0.0  # known prices only; set once the ledger has the run
    checks: CheckReport | None = None  # the delivered answer's checks (None: not checked)
    escalated: bool = False  # the delivered answer came from a model the task was escalated to

    @property
    def model(self) -> ModelConfig | None:
        return self.answered_by or (self.decision.primary if self.decision else None)

    @property
    def fallback(self) -> bool:
        """Another model than the primary answered because the primary failed (not escalated)."""
        return bool(self.answered_by and self.decision and self.answered_by is not self.decision.primary
                    and not self.escalated)

    @property
    def fallback_error(self) -> str | None:
        """Why the primary model did not answer, when another one did."""
        if not self.fallback or self.decision is None:
            return None
        return next((a.error for a in self.attempts if a.config is self.decision.primary), None)

    @property
    def edit(self) -> Mapping[str, Any] | None:
        """The applied edit (uri, range, new_text), for acceptance tracking."""
        edit = self.details.get("edit")
        return edit if self.status is Status.APPLIED and isinstance(edit, Mapping) else None

    def to_json(self) -> dict[str, Any]:
        model = self.model
        data: dict[str, Any] = {
            "task": self.task.value,
            "alias": model.alias if model else None,
            "provider": model.provider if model else None,
            "model": model.shown_model if model else None,
            "status": self.status.value,
            "reason": self.decision.reason if self.decision else None,
            "fallback": self.fallback,
            "attempts": [a.to_json() for a in self.attempts],
            "usage": self.usage.to_json(),
            "elapsed_ms": self.elapsed_ms,
        }
        if self.message:
            data["message"] = self.message
        if self.context is not None:
            data["context"] = dict(self.context)
        if self.checks is not None:
            data["checks"] = self.checks.to_json()
        data["escalated"] = self.escalated
        data.update(self.details)
        data["cost_usd"] = self.cost_usd
        return data
