"""Calling models for a task, independent of the editor: retries, fallback
along the chain, timeouts, stop reasons, and the record of every attempt.

The language server's runner and the ``assistant-router run`` command both
use :func:`call_models`; they differ only in how progress is shown and the
answer delivered.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from assistant_router.providers.base import (
    STOP_MAX_TOKENS,
    STOP_REFUSAL,
    Completion,
    ModelRequest,
    Provider,
    ProviderError,
    RetryableProviderError,
    StreamEvent,
    TextDelta,
    Usage,
)
from assistant_router.routing.tasks import Delivery, Task
from assistant_router.engine.assembly import Assembled, RequestTooLarge, TaskSource, assemble
from assistant_router.engine.resilience import CircuitBreaker, retry_delay

if TYPE_CHECKING:
    from assistant_router.routing.policy import ModelConfig
    from assistant_router.routing.router import Decision

logger = logging.getLogger(__name__)


class ProviderSource(Protocol):
    def get(self, config: ModelConfig) -> Provider: ...


class Report(Protocol):
    def __call__(self, message: str, *, force: bool = False) -> None: ...


class TaskFailed(Exception):
    """The task cannot complete; the message is shown to the user as is."""


@dataclass
class Attempt:
    """One call to one model (or a skipped one), as the result reports it."""

    config: ModelConfig
    started: float = field(default_factory=time.monotonic)
    error: str | None = None
    error_type: str | None = None
    status: int | None = None
    retryable: bool | None = None
    elapsed_ms: int = 0
    first_token_ms: int | None = None
    usage: Usage | None = None  # the answer's usage, on the attempt that answered

    def finish(self, error: ProviderError | None = None) -> None:
        self.elapsed_ms = int((time.monotonic() - self.started) * 1000)
        if error is not None:
            self.error, self.error_type = str(error), type(error).__name__
            self.status, self.retryable = error.status, error.retryable

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "alias": self.config.alias,
            "provider": self.config.provider,
            "model": self.config.model,
            "elapsed_ms": self.elapsed_ms,
        }
        if self.error is not None:
            data.update(error=self.error, error_type=self.error_type, status=self.status, retryable=self.retryable)
        return data


@dataclass
class Outcome:
    """Everything the command returns, filled in as the task goes."""

    task: Task
    decision: Decision | None = None
    answered_by: ModelConfig | None = None
    status: str = "failed"
    message: str | None = None
    attempts: list[Attempt] = field(default_factory=list)
    usage: Usage = Usage()
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self, elapsed_ms: int) -> dict[str, Any]:
        model = self.answered_by or (self.decision.primary if self.decision else None)
        data: dict[str, Any] = {
            "task": self.task.value,
            "alias": model.alias if model else None,
            "provider": model.provider if model else None,
            "model": model.model if model else None,
            "status": self.status,
            "reason": self.decision.reason if self.decision else None,
            "fallback": bool(self.answered_by and self.decision and self.answered_by is not self.decision.primary),
            "attempts": [a.to_json() for a in self.attempts],
            "usage": self.usage.to_json(),
            "elapsed_ms": elapsed_ms,
        }
        if self.message:
            data["message"] = self.message
        data.update(self.details)
        return data


def model_label(config: ModelConfig) -> str:
    return f"{config.alias} ({config.model})"


@dataclass(frozen=True)
class Answered:
    text: str
    config: ModelConfig  # the model that answered
    completion: Completion
    assembled: Assembled  # what it was sent


def check_stop(task: Task, text: str, config: ModelConfig, completion: Completion) -> str:
    """A truncated or refused answer is never applied as if it were whole."""
    if completion.stop_reason == STOP_REFUSAL:
        raise TaskFailed(f"{model_label(config)} declined to answer (refusal or content filter); nothing was applied")
    if completion.stop_reason == STOP_MAX_TOKENS:
        limit = config.max_output_tokens or "its default"
        if task.delivery is not Delivery.DOCUMENT:
            raise TaskFailed(
                f"{model_label(config)} hit the output limit ({limit} tokens) before finishing; the truncated "
                f"answer was not applied. Raise max_output_tokens of alias '{config.alias}' or select less code"
            )
        return text + f"\n\n---\n*Truncated: the answer hit the output limit ({limit} tokens).*\n"
    return text

async def call_models(
    decision: Decision,
    source: TaskSource,
    outcome: Outcome,
    providers: ProviderSource,
    breaker: CircuitBreaker,
    report: Report,
    on_delta: Callable[[str], None] | None = None,
) -> Answered:
    """Walk the decision's chain: retry a model on retryable errors, then fall
    back to the next; never after output has started. Raises TaskFailed."""
    cooling = {c.alias: breaker.cooling_for(c) for c in decision.chain}
    if all(cooling.values()):
        logger.warning("every model for %s is cooling down; trying them anyway", decision.task.value)
        cooling = dict.fromkeys(cooling, 0.0)
    for position, config in enumerate(decision.chain):
        if cooling[config.alias]:
            outcome.attempts.append(
                Attempt(config, error=f"skipped: cooling down for {cooling[config.alias]:.0f} s after repeated failures",
                        error_type="CoolingDown", retryable=True)
            )
            continue
        try:
            assembled = assemble(source, config)
        except RequestTooLarge as exc:
            outcome.attempts.append(Attempt(config, error=str(exc), error_type="RequestTooLarge", retryable=False))
            continue
        for retry_number in range(config.retries + 1):
            attempt = Attempt(config)
            outcome.attempts.append(attempt)
            received: list[str] = []
            try:
                provider = providers.get(config)
                if (prepare := getattr(provider, "prepare", None)) is not None:
                    await prepare()
                request = ModelRequest(
                    model=config.model,
                    system=assembled.system,
                    prompt=assembled.prompt,
                    max_output_tokens=config.max_output_tokens,
                    temperature=config.temperature,
                    task=source.task.value,
                    metadata=assembled.metadata,
                )
                completion = Completion(Usage(), None)
                chars = 0
                async for event in _with_timeouts(provider.stream(request), config, received):
                    if isinstance(event, TextDelta):
                        if not received:
                            attempt.first_token_ms = int((time.monotonic() - attempt.started) * 1000)
                        received.append(event.text)
                        chars += len(event.text)
                        report(f"{config.alias}: ≈{max(chars // 4, 1)} tokens received")
                        if on_delta is not None:
                            on_delta(event.text)
                    elif isinstance(event, Completion):
                        completion = event
                attempt.finish()
                breaker.success(config)
                outcome.usage = attempt.usage = completion.usage
                return Answered("".join(received), config, completion, assembled)
            except ProviderError as exc:
                attempt.finish(exc)
                if received:
                    raise TaskFailed(
                        f"{model_label(config)} stopped mid-answer ({exc}); the partial answer was discarded"
                    ) from None
                if not exc.retryable:
                    raise TaskFailed(f"{model_label(config)}: {exc}") from None
                breaker.failure(config)
                delay = retry_delay(retry_number, exc.retry_after)
                if retry_number >= config.retries or delay is None or breaker.cooling_for(config):
                    break
                report(
                    f"{config.alias}: {exc}; retrying in {delay:.1f} s ({retry_number + 2}/{config.retries + 1})",
                    force=True,
                )
                await asyncio.sleep(delay)
        if position + 1 < len(decision.chain):
            following = decision.chain[position + 1]
            logger.warning("%s failed (%s); falling back to %s", config.alias, attempt.error, following.alias)
            report(f"{config.alias} unavailable ({attempt.error}); trying {following.alias}", force=True)
    tried = ", ".join(f"{a.config.alias}: {a.error}" for a in outcome.attempts)
    raise TaskFailed(f"every model for {decision.task.value} failed ({tried})")

async def _with_timeouts(
    stream: AsyncIterator[StreamEvent], config: ModelConfig, received: list[str]
) -> AsyncIterator[StreamEvent]:
    """Enforce the alias's first-token, idle and total timeouts on any adapter.

    A timeout is retryable (the chain may fall back) as long as nothing has
    been received; the caller turns it into a failure once output has started.
    """
    timeouts = config.timeouts
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeouts.total if timeouts.total else None
    try:
        while True:
            limit, which = (timeouts.idle, "idle") if received else (timeouts.first_token, "first_token")
            if deadline is not None:
                remaining = max(deadline - loop.time(), 0)
                if limit is None or remaining < limit:
                    limit, which = remaining, "total"
            try:
                event = await asyncio.wait_for(anext(stream), limit) if limit is not None else await anext(stream)
            except StopAsyncIteration:
                return
            except TimeoutError:
                seconds = getattr(timeouts, which)
                raise RetryableProviderError(f"timed out: no {_TIMEOUT_WHAT[which]} within {seconds:g} s") from None
            yield event
    finally:
        close = getattr(stream, "aclose", None)
        if close is not None:
            await close()


_TIMEOUT_WHAT = {"first_token": "first token", "idle": "new output", "total": "complete answer"}
