"""Calling models, independent of any editor: retries with backoff, fallback
along the chain, cooldowns, first-token / idle / total timeouts, stop reasons.

:func:`call_models` is the pipeline's "call" step. Time and chance come in
through :class:`Timing` (the clock for elapsed times, the sleep between
retries, the random source of the jitter), so the unit tests drive retries
and cooldowns without waiting.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Protocol

from assistant_router.engine.assembly import Assembled, RequestTooLarge, TaskSource, assemble
from assistant_router.engine.resilience import CircuitBreaker, retry_delay
from assistant_router.engine.results import Attempt, Failed, Refused, model_label
from assistant_router.engine.tokens import estimate_tokens
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
from assistant_router.routing.tasks import Delivery, TaskSpec

if TYPE_CHECKING:
    from assistant_router.engine.checks.stage import CheckReport
    from assistant_router.routing.policy import ModelConfig
    from assistant_router.routing.router import Decision

logger = logging.getLogger(__name__)


class ProviderSource(Protocol):
    def get(self, config: ModelConfig) -> Provider: ...


class Report(Protocol):
    def __call__(self, message: str, *, force: bool = False) -> None: ...


@dataclass(frozen=True)
class Timing:
    """The clock, sleep and random source model calling uses (real ones by default)."""

    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    random: Callable[[], float] = random.random


class Assemblies:
    """The request for each model, assembled once per run (the budget check,
    the call and a fallback all reuse it)."""

    def __init__(self, source: TaskSource) -> None:
        self.source = source
        self._by_model: dict[int, Assembled | RequestTooLarge] = {}

    async def prepare(self, config: ModelConfig) -> None:
        """Assemble for ``config`` off the event loop: context, redaction and
        estimates over a long selection take tens of milliseconds, and the
        server keeps answering meanwhile (the slow steps run in slices)."""
        if id(config) not in self._by_model:
            try:
                found: Assembled | RequestTooLarge = await asyncio.to_thread(assemble, self.source, config)
            except RequestTooLarge as exc:
                found = exc
            self._by_model.setdefault(id(config), found)

    def get(self, config: ModelConfig) -> Assembled:
        """Raises RequestTooLarge when the selection does not fit the model
        (assembled here, on the caller's thread, unless :meth:`prepare` did)."""
        found = self._by_model.get(id(config))
        if found is None:
            try:
                found = assemble(self.source, config)
            except RequestTooLarge as exc:
                found = exc
            self._by_model[id(config)] = found
        if isinstance(found, RequestTooLarge):
            raise found
        return found

    def model_request(self, config: ModelConfig) -> ModelRequest:
        """Exactly what the provider adapter is given for ``config``."""
        assembled = self.get(config)
        return ModelRequest(
            model=config.model,
            system=assembled.system,
            prompt=assembled.prompt,
            max_output_tokens=assembled.sent_max_output_tokens or config.max_output_tokens,
            temperature=config.temperature,
            task=self.source.task.value,
            metadata=assembled.metadata,
            suffix=assembled.suffix,
            stop=assembled.stop,
        )


@dataclass
class AttemptLog:
    """The attempts of one run so far, appended only by :func:`call_models`
    (a cancelled run still reports and records them)."""

    attempts: list[Attempt] = field(default_factory=list)
    escalating: bool = False  # attempts from now on were asked for because an answer failed its checks

    def add(self, attempt: Attempt) -> None:
        self.attempts.append(replace(attempt, escalated=True) if self.escalating else attempt)

    def checked(self, config: ModelConfig, report: CheckReport | None) -> None:
        """Record the checks of ``config``'s answer (its last attempt with usage)."""
        if report is None:
            return
        for index in range(len(self.attempts) - 1, -1, -1):
            attempt = self.attempts[index]
            if attempt.config is config and attempt.usage is not None:
                self.attempts[index] = replace(attempt, check_outcome=report.outcome(),
                                               security_findings=report.security_findings)
                return

    def usage(self) -> Usage:
        """Every answer's tokens: an escalated task paid for both."""
        answered = [a.usage for a in self.attempts if a.usage is not None]
        if len(answered) == 1:
            return answered[0]
        return Usage(sum(u.input_tokens for u in answered), sum(u.output_tokens for u in answered),
                     sum(u.cached_input_tokens for u in answered), any(u.estimated for u in answered))


@dataclass(frozen=True)
class Answered:
    text: str  # as the model wrote it (placeholders not yet restored)
    config: ModelConfig  # the model that answered
    completion: Completion
    assembled: Assembled  # what it was sent


def with_usage(completion: Completion, assembled: Assembled, text: str) -> Completion:
    """A completion whose provider reported no usage at all (llama.cpp's server,
    some proxies) gets an estimate, marked as such, so the answer is priced
    instead of recorded as free: input from the assembled request's estimate,
    output from the answer's text."""
    if completion.usage.reported:
        return completion
    usage = Usage(assembled.input_tokens, estimate_tokens(text), estimated=True)
    return replace(completion, usage=usage)


def check_stop(spec: TaskSpec, text: str, config: ModelConfig, completion: Completion) -> str:
    """A truncated or refused answer is never applied as if it were whole."""
    if completion.stop_reason == STOP_REFUSAL:
        raise Failed(f"{model_label(config)} declined to answer (refusal or content filter); nothing was applied")
    if completion.stop_reason == STOP_MAX_TOKENS:
        if spec.delivery is Delivery.INLINE:  # a completion is cut at a line boundary when shown
            return text
        limit = config.max_output_tokens or "its default"
        if spec.delivery is not Delivery.DOCUMENT:
            raise Failed(
                f"{model_label(config)} hit the output limit ({limit} tokens) before finishing; the truncated "
                f"answer was not applied. Raise max_output_tokens of alias '{config.alias}' or select less code"
            )
        return text + f"\n\n---\n*Truncated: the answer hit the output limit ({limit} tokens).*\n"
    return text


async def call_models(
    decision: Decision,
    assemblies: Assemblies,
    log: AttemptLog,
    providers: ProviderSource,
    breaker: CircuitBreaker,
    report: Report,
    *,
    timing: Timing = Timing(),
    on_delta: Callable[[str], None] | None = None,
    deadline: float | None = None,
) -> Answered:
    """Walk the decision's chain: retry a model on retryable errors, then fall
    back to the next; never after output has started.

    With a ``deadline`` (``timing.clock()`` time; inline completions), a retry
    or the next model is tried only while its first token can still arrive
    before it: one that could not is skipped, so nothing arrives late.

    Raises Failed, or Refused when the selection fits no model of the chain.
    """
    cooling = {c.alias: breaker.cooling_for(c) for c in decision.chain}
    if all(cooling.values()):
        logger.warning("every model for %s is cooling down; trying them anyway", decision.task.value)
        cooling = dict.fromkeys(cooling, 0.0)
    last_error: str | None = None
    for position, config in enumerate(decision.chain):
        if cooling[config.alias]:
            log.add(Attempt(config, error=f"skipped: cooling down for {cooling[config.alias]:.0f} s after repeated "
                            "failures", error_type="CoolingDown", retryable=True))
            continue
        if position and not _in_time(config, deadline, timing):
            log.add(Attempt(config, error="skipped: its answer could not arrive before the completion's deadline",
                            error_type="TooLate", retryable=True))
            continue
        try:
            await assemblies.prepare(config)
            request = assemblies.model_request(config)
        except RequestTooLarge as exc:
            log.add(Attempt(config, error=str(exc), error_type="RequestTooLarge", retryable=False))
            continue
        for retry_number in range(config.retries + 1):
            started = timing.clock()
            first_token_ms: int | None = None
            received: list[str] = []

            def elapsed_ms(started: float = started) -> int:
                return int((timing.clock() - started) * 1000)

            try:
                provider = providers.get(config)
                await provider.prepare()
                completion = Completion(Usage(), None)
                chars = 0
                async for event in _with_timeouts(provider.stream(request), config, received):
                    if isinstance(event, TextDelta):
                        if not received:
                            first_token_ms = elapsed_ms()
                        received.append(event.text)
                        chars += len(event.text)
                        report(f"{config.alias}: ≈{max(chars // 4, 1)} tokens received")
                        if on_delta is not None:
                            on_delta(event.text)
                    elif isinstance(event, Completion):
                        completion = event
            except ProviderError as exc:
                log.add(Attempt(config, elapsed_ms(), first_token_ms, str(exc), type(exc).__name__, exc.status,
                                exc.retryable))
                last_error = str(exc)
                if received:
                    raise Failed(
                        f"{model_label(config)} stopped mid-answer ({exc}); the partial answer was discarded"
                    ) from None
                if not exc.retryable:
                    raise Failed(f"{model_label(config)}: {exc}") from None
                breaker.failure(config)
                delay = retry_delay(retry_number, exc.retry_after, timing.random, base=config.retry_backoff)
                if retry_number >= config.retries or delay is None or breaker.cooling_for(config):
                    break
                if deadline is not None and deadline - timing.clock() - delay < (config.timeouts.first_token or 0):
                    break
                report(
                    f"{config.alias}: {exc}; retrying in {delay:.1f} s ({retry_number + 2}/{config.retries + 1})",
                    force=True,
                )
                await timing.sleep(delay)
                continue
            except asyncio.CancelledError:
                log.add(Attempt(config, elapsed_ms(), first_token_ms))
                raise
            text = "".join(received)
            completion = with_usage(completion, assemblies.get(config), text)
            log.add(Attempt(config, elapsed_ms(), first_token_ms, usage=completion.usage))
            breaker.success(config)
            return Answered(text, config, completion, assemblies.get(config))
        if position + 1 < len(decision.chain):
            following = decision.chain[position + 1]
            logger.warning("%s failed (%s); falling back to %s", config.alias, last_error, following.alias)
            report(f"{config.alias} unavailable ({last_error}); trying {following.alias}", force=True)
    tried = ", ".join(f"{a.config.alias}: {a.error}" for a in log.attempts)
    if log.attempts and all(a.error_type == "RequestTooLarge" for a in log.attempts):
        raise Refused(f"nothing was sent: {log.attempts[0].error}")
    raise Failed(f"every model for {decision.task.value} failed ({tried})")


def _in_time(config: ModelConfig, deadline: float | None, timing: Timing) -> bool:
    """Whether ``config``'s first token can still arrive before ``deadline``."""
    return deadline is None or deadline - timing.clock() >= (config.timeouts.first_token or 0)


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
