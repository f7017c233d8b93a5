"""The model-calling core (engine/calling.py), without a server and without waiting.

Time and chance are injected: a fake clock (elapsed times, cooldowns), a fake
sleep that records each delay and returns at once, and a scripted random
source for the jitter. Timeouts use a few milliseconds against a provider
that hangs on an event nobody sets, so their outcome never depends on the
machine's speed: a hang always times out.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from support import SAMPLE

from assistant_router.engine.assembly import TaskSource
from assistant_router.engine.calling import Answered, Assemblies, AttemptLog, Timing, call_models, check_stop
from assistant_router.engine.resilience import COOLDOWN_S, FAILURES_TO_OPEN, MAX_RETRY_AFTER_S, CircuitBreaker
from assistant_router.engine.results import Failed, Refused
from assistant_router.engine.tokens import estimate_tokens
from assistant_router.providers.base import (
    STOP_END,
    STOP_MAX_TOKENS,
    STOP_REFUSAL,
    Completion,
    FatalProviderError,
    ModelRequest,
    Provider,
    ProviderError,
    RetryableProviderError,
    StreamEvent,
    StreamInterruptedError,
    TextDelta,
    Usage,
)
from assistant_router.routing.policy import ModelConfig, Timeouts
from assistant_router.routing.router import Decision
from assistant_router.routing.tasks import Task

# --------------------------------------------------------------------------- fakes

HANG_BOUND_S = 30.0  # a hang that nothing ends fails the test after this long


class FakeTime:
    """The clock, the sleep and the random source of :class:`Timing`."""

    def __init__(self, *randoms: float) -> None:
        self.now = 1000.0
        self.delays: list[float] = []
        self._randoms = itertools.cycle(randoms or (0.5,))

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.delays.append(seconds)  # and returns at once: the clock moves, nobody waits
        self.now += seconds

    def random(self) -> float:
        return next(self._randoms)

    def timing(self) -> Timing:
        return Timing(clock=self.clock, sleep=self.sleep, random=self.random)


@dataclass
class Step:
    """What one call to a fake provider does, in order."""

    chunks: tuple[str, ...] = ("ok",)
    error: ProviderError | None = None  # raised after the chunks
    hang: bool = False  # after the chunks, wait on an event nobody sets
    stop: str | None = STOP_END
    wait_s: float = 0.0  # fake-clock seconds before the first chunk
    tail_s: float = 0.0  # fake-clock seconds after the last chunk
    usage: Usage | None = None  # what the completion reports (default: 11 in, one per chunk out)


def failing(error: ProviderError) -> Step:
    """A call that fails before any output."""
    return Step(chunks=(), error=error)


def overloaded(**kwargs) -> RetryableProviderError:
    return RetryableProviderError("overloaded (529)", status=529, **kwargs)


class FakeProvider(Provider):
    """Follows its steps, one per call (then answers "ok"); records what it was sent."""

    def __init__(self, config: ModelConfig, *steps: Step, time: FakeTime | None = None) -> None:
        super().__init__(config)
        self.steps = deque(steps)
        self.time = time
        self.requests: list[ModelRequest] = []
        self.prepared = 0
        self.open = 0  # streams started and not yet closed
        self.hanging = asyncio.Event()  # set once a stream hangs

    async def prepare(self) -> None:
        self.prepared += 1

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        self.requests.append(request)
        step = self.steps.popleft() if self.steps else Step()
        self.open += 1
        try:
            self._advance(step.wait_s)
            for chunk in step.chunks:
                yield TextDelta(chunk)
            self._advance(step.tail_s)
            if step.error is not None:
                raise step.error
            if step.hang:
                self.hanging.set()
                # Nobody sets this event: the caller must time out or cancel. The
                # bound only turns a regression into a failure instead of a hang.
                await asyncio.wait_for(asyncio.Event().wait(), HANG_BOUND_S)
            usage = step.usage if step.usage is not None else Usage(input_tokens=11, output_tokens=len(step.chunks))
            yield Completion(usage, step.stop)
        finally:
            self.open -= 1

    def _advance(self, seconds: float) -> None:
        if seconds and self.time is not None:
            self.time.now += seconds


class Pool:
    """A provider pool: anything with ``get(config)``."""

    def __init__(self, *providers: FakeProvider) -> None:
        self._by_alias = {p.config.alias: p for p in providers}

    def get(self, config: ModelConfig) -> Provider:
        return self._by_alias[config.alias]


def model(alias: str, **settings) -> ModelConfig:
    return ModelConfig(alias=alias, provider="fake", model=f"{alias}-model", **settings)


def source(task: Task = Task.REVIEW) -> TaskSource:
    return TaskSource(task=task, path="geometry.py", language="python", text=SAMPLE, start=(3, 0), end=(6, 0))


@dataclass
class Harness:
    time: FakeTime = field(default_factory=FakeTime)
    breaker: CircuitBreaker | None = None
    log: AttemptLog = field(default_factory=AttemptLog)
    reports: list[tuple[str, bool]] = field(default_factory=list)
    deltas: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.breaker is None:
            self.breaker = CircuitBreaker(clock=self.time.clock)

    def report(self, message: str, *, force: bool = False) -> None:
        self.reports.append((message, force))

    def forced(self) -> list[str]:
        return [message for message, force in self.reports if force]

    def provider(self, alias: str, *steps: Step, **settings) -> FakeProvider:
        return FakeProvider(model(alias, **settings), *steps, time=self.time)

    async def call(
        self, *chain: FakeProvider, task: Task = Task.REVIEW, assemblies: Assemblies | None = None
    ) -> Answered:
        self.log = AttemptLog()
        decision = Decision(task, tuple(p.config for p in chain), "a test chain")
        return await call_models(
            decision, assemblies or Assemblies(source(task)), self.log, Pool(*chain), self.breaker, self.report,
            timing=self.time.timing(), on_delta=self.deltas.append,
        )

    def errors(self) -> list[tuple[str, str | None]]:
        return [(a.config.alias, a.error) for a in self.log.attempts]


# --------------------------------------------------------------------------- retries


@pytest.mark.parametrize("base", [0.5, 0.01])
@pytest.mark.parametrize("randoms", [(0.0, 0.5), (0.999, 0.25)])
async def test_retryable_errors_are_retried_after_jittered_exponential_backoff(base, randoms):
    run = Harness(FakeTime(*randoms))
    opus = run.provider("opus", failing(overloaded()), failing(overloaded()), Step(chunks=("fine",)),
                        retries=2, retry_backoff=base)
    codex = run.provider("codex")

    answered = await run.call(opus, codex)

    assert answered.config is opus.config and answered.text == "fine"
    first, second = randoms  # equal jitter: half the ceiling, plus up to the other half
    assert run.time.delays == pytest.approx([base / 2 + first * base / 2, base + second * base])
    assert len(opus.requests) == 3 and opus.prepared == 3 and not codex.requests
    assert [(a.error_type, a.status, a.retryable) for a in run.log.attempts] == [
        ("RetryableProviderError", 529, True), ("RetryableProviderError", 529, True), (None, None, None)]
    retrying = [m for m in run.forced() if "retrying in" in m]
    assert [m.startswith("opus: overloaded (529); retrying in ") for m in retrying] == [True, True]
    assert [m.rsplit(" ", 1)[-1] for m in retrying] == ["(2/3)", "(3/3)"]


async def test_a_stream_broken_before_any_output_is_retried():
    run = Harness()
    opus = run.provider("opus", failing(StreamInterruptedError("the connection dropped mid-stream")))

    answered = await run.call(opus, run.provider("codex"))

    assert answered.config is opus.config and len(opus.requests) == 2 and len(run.time.delays) == 1


async def test_when_the_retries_run_out_the_next_model_answers_and_says_so(caplog):
    run = Harness()
    opus = run.provider("opus", failing(overloaded()), failing(overloaded()), retries=1, retry_backoff=0.5)
    codex = run.provider("codex", Step(chunks=("from codex",)))

    with caplog.at_level(logging.WARNING, logger="assistant_router.engine.calling"):
        answered = await run.call(opus, codex)

    assert answered.config is codex.config and answered.text == "from codex"
    assert len(run.time.delays) == 1  # between the two tries of opus; none before the fallback
    assert run.errors() == [("opus", "overloaded (529)"), ("opus", "overloaded (529)"), ("codex", None)]
    assert "opus unavailable (overloaded (529)); trying codex" in run.forced()
    assert "opus failed (overloaded (529)); falling back to codex" in caplog.text


async def test_every_model_failing_says_what_each_said():
    run = Harness()
    opus = run.provider("opus", failing(overloaded()), retries=0)
    codex = run.provider("codex", failing(RetryableProviderError("server error (500)", status=500)), retries=0)

    with pytest.raises(Failed) as failed:
        await run.call(opus, codex)

    assert str(failed.value) == "every model for review failed (opus: overloaded (529), codex: server error (500))"
    assert run.time.delays == []


async def test_retry_after_is_honoured_on_the_same_model():
    run = Harness(FakeTime(0.999))
    opus = run.provider("opus", failing(RetryableProviderError("rate limited (429)", status=429, retry_after=3.0)))

    answered = await run.call(opus, run.provider("codex"))

    assert answered.config is opus.config
    assert run.time.delays == [3.0]  # what the provider asked for, no jitter
    assert run.log.attempts[0].status == 429


@pytest.mark.parametrize("retry_after", [MAX_RETRY_AFTER_S + 0.5, 3600.0])
async def test_a_retry_after_too_long_moves_to_the_next_model_at_once(retry_after):
    run = Harness()
    opus = run.provider("opus", failing(overloaded(retry_after=retry_after)), retries=2)
    codex = run.provider("codex")

    answered = await run.call(opus, codex)

    assert answered.config is codex.config
    assert run.time.delays == [] and len(opus.requests) == 1


# --------------------------------------------------------------------------- cooldowns


async def test_a_model_that_keeps_failing_cools_down_then_is_tried_again():
    run = Harness()
    failures = [failing(overloaded()) for _ in range(FAILURES_TO_OPEN)]
    opus = run.provider("opus", *failures, Step(chunks=("opus again",)), retries=5, retry_backoff=0.5)
    codex = run.provider("codex")

    first = await run.call(opus, codex)
    # The breaker opened at the third failure: no more retries of opus, even with retries left.
    assert first.config is codex.config
    assert len(opus.requests) == FAILURES_TO_OPEN and len(run.time.delays) == FAILURES_TO_OPEN - 1

    second = await run.call(opus, codex)
    skipped, answered = run.log.attempts
    assert second.config is codex.config and len(opus.requests) == FAILURES_TO_OPEN  # not called
    assert skipped.config is opus.config and skipped.skipped and skipped.error_type == "CoolingDown"
    assert skipped.error == f"skipped: cooling down for {COOLDOWN_S:.0f} s after repeated failures"
    assert skipped.retryable is True and answered.config is codex.config and answered.error is None

    run.time.now += COOLDOWN_S / 2
    await run.call(opus, codex)
    assert run.log.attempts[0].error == f"skipped: cooling down for {COOLDOWN_S / 2:.0f} s after repeated failures"

    run.time.now += COOLDOWN_S / 2
    third = await run.call(opus, codex)
    assert third.config is opus.config and third.text == "opus again"
    assert [a.error for a in run.log.attempts] == [None]
    assert run.breaker.cooling_for(opus.config) == 0


async def test_when_every_model_is_cooling_down_they_are_tried_anyway(caplog):
    run = Harness()
    opus, codex = run.provider("opus"), run.provider("codex")
    for config in (opus.config, codex.config):
        for _ in range(FAILURES_TO_OPEN):
            run.breaker.failure(config)

    with caplog.at_level(logging.WARNING, logger="assistant_router.engine.calling"):
        answered = await run.call(opus, codex)

    assert answered.config is opus.config and len(opus.requests) == 1
    assert not any(a.skipped for a in run.log.attempts)
    assert "every model for review is cooling down; trying them anyway" in caplog.text
    assert run.breaker.cooling_for(opus.config) == 0  # its success closed it


async def test_fatal_errors_do_not_count_towards_a_cooldown():
    run = Harness()
    opus = run.provider("opus", *[failing(FatalProviderError("request rejected (400)", status=400))] * 4)

    for _ in range(FAILURES_TO_OPEN + 1):
        with pytest.raises(Failed):
            await run.call(opus, run.provider("codex"))

    assert run.breaker.cooling_for(opus.config) == 0 and len(opus.requests) == FAILURES_TO_OPEN + 1


# --------------------------------------------------------------------------- timeouts


@pytest.mark.parametrize(
    ("timeouts", "error"),
    [
        (Timeouts(first_token=0.005), "timed out: no first token within 0.005 s"),
        (Timeouts(first_token=60, total=0.005), "timed out: no complete answer within 0.005 s"),
    ],
    ids=["first_token", "total"],
)
async def test_silence_before_the_first_token_times_out_and_falls_back(timeouts, error):
    run = Harness()
    opus = run.provider("opus", Step(chunks=(), hang=True), Step(chunks=(), hang=True), retries=1, timeouts=timeouts)
    codex = run.provider("codex", Step(chunks=("codex",)))

    answered = await run.call(opus, codex)

    assert answered.config is codex.config
    assert run.errors() == [("opus", error), ("opus", error), ("codex", None)]  # retried, then the fallback
    assert [a.error_type for a in run.log.attempts[:2]] == ["RetryableProviderError"] * 2
    assert len(run.time.delays) == 1
    assert opus.open == 0  # each hung stream was closed, not leaked


@pytest.mark.parametrize(
    ("timeouts", "error"),
    [
        (Timeouts(idle=0.005), "timed out: no new output within 0.005 s"),
        (Timeouts(total=0.01), "timed out: no complete answer within 0.01 s"),
    ],
    ids=["idle", "total"],
)
async def test_silence_after_output_started_fails_without_retry_or_fallback(timeouts, error):
    run = Harness()
    opus = run.provider("opus", Step(chunks=("half an ", "answer"), hang=True), retries=2, timeouts=timeouts)
    codex = run.provider("codex")

    with pytest.raises(Failed) as failed:
        await run.call(opus, codex)

    assert str(failed.value) == f"opus (opus-model) stopped mid-answer ({error}); the partial answer was discarded"
    assert run.errors() == [("opus", error)]
    assert not codex.requests and run.time.delays == [] and opus.open == 0


async def test_an_answer_within_its_timeouts_is_not_cut():
    run = Harness()
    opus = run.provider("opus", Step(chunks=("a", "b", "c")), timeouts=Timeouts(first_token=5, idle=5, total=5))

    answered = await run.call(opus)

    assert answered.text == "abc" and run.errors() == [("opus", None)]


# --------------------------------------------------------------------------- failures


async def test_a_stream_broken_after_output_fails_and_the_partial_answer_is_discarded():
    run = Harness()
    broken = StreamInterruptedError("the connection dropped mid-stream")
    opus = run.provider("opus", Step(chunks=("def area(", "radius):"), error=broken), retries=2)
    codex = run.provider("codex")

    with pytest.raises(Failed) as failed:
        await run.call(opus, codex)

    assert str(failed.value) == ("opus (opus-model) stopped mid-answer (the connection dropped mid-stream); "
                                 "the partial answer was discarded")
    assert len(opus.requests) == 1 and not codex.requests and run.time.delays == []  # no retry, no fallback
    (attempt,) = run.log.attempts
    assert attempt.error_type == "StreamInterruptedError" and attempt.first_token_ms is not None


@pytest.mark.parametrize("retries", [0, 2])
async def test_a_fatal_error_ends_the_chain_at_once(retries):
    run = Harness()
    fatal = FatalProviderError("the API key was rejected (401); check OPUS_KEY", status=401)
    opus = run.provider("opus", failing(fatal), retries=retries)
    codex = run.provider("codex")

    with pytest.raises(Failed) as failed:
        await run.call(opus, codex)

    assert str(failed.value) == "opus (opus-model): the API key was rejected (401); check OPUS_KEY"
    assert len(opus.requests) == 1 and not codex.requests and run.time.delays == []
    (attempt,) = run.log.attempts
    assert (attempt.error_type, attempt.status, attempt.retryable) == ("FatalProviderError", 401, False)


async def test_a_selection_too_large_for_every_model_is_refused_and_nothing_is_sent():
    run = Harness()
    tiny = {"context_window": 1000, "max_output_tokens": 900}
    opus, codex = run.provider("opus", **tiny), run.provider("codex", **tiny)

    with pytest.raises(Refused) as refused:
        await run.call(opus, codex)

    assert str(refused.value).startswith("nothing was sent: the selection (about ")
    assert "does not fit the 1000-token window of opus (opus-model)" in str(refused.value)
    assert [(a.config.alias, a.error_type, a.retryable) for a in run.log.attempts] == [
        ("opus", "RequestTooLarge", False), ("codex", "RequestTooLarge", False)]
    assert not opus.requests and not codex.requests and not opus.prepared


async def test_a_model_too_small_for_the_selection_is_passed_over():
    run = Harness()
    opus = run.provider("opus", context_window=1000, max_output_tokens=900)
    codex = run.provider("codex")

    answered = await run.call(opus, codex)

    assert answered.config is codex.config and not opus.requests
    assert [a.error_type for a in run.log.attempts] == ["RequestTooLarge", None]


# --------------------------------------------------------------------------- output


async def test_the_text_goes_to_on_delta_as_it_arrives():
    run = Harness()
    opus = run.provider("opus", Step(chunks=("def ", "area(radius):", "\n    return 1\n")))
    assemblies = Assemblies(source())

    answered = await run.call(opus, assemblies=assemblies)

    assert run.deltas == ["def ", "area(radius):", "\n    return 1\n"]
    assert answered.text == "".join(run.deltas)
    assert answered.completion == Completion(Usage(input_tokens=11, output_tokens=3), STOP_END)
    assert answered.assembled is assemblies.get(opus.config)  # assembled once, reused
    assert run.log.attempts[0].usage == answered.completion.usage
    assert [m for m, force in run.reports if not force][-1].startswith("opus: ≈")
    (request,) = opus.requests
    assert request.model == "opus-model" and request.task == "review" and "area(radius)" in request.prompt


async def test_elapsed_times_come_from_the_injected_clock():
    run = Harness()
    opus = run.provider("opus", Step(chunks=("a", "b"), wait_s=0.25, tail_s=0.125))

    await run.call(opus)

    (attempt,) = run.log.attempts
    assert (attempt.first_token_ms, attempt.elapsed_ms) == (250, 375)


@pytest.mark.parametrize("chunks", [(), ("partial ",)], ids=["before-output", "mid-answer"])
async def test_cancelling_propagates_and_logs_the_attempt(chunks):
    run = Harness()
    opus = run.provider("opus", Step(chunks=chunks, hang=True))
    codex = run.provider("codex")
    call = asyncio.create_task(run.call(opus, codex))
    await opus.hanging.wait()

    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call

    (attempt,) = run.log.attempts
    assert attempt.config is opus.config and attempt.error is None
    assert (attempt.first_token_ms is None) == (not chunks)
    assert opus.open == 0 and not codex.requests  # the stream was closed; no fallback
    assert run.breaker.cooling_for(opus.config) == 0 and run.time.delays == []


# --------------------------------------------------------------------------- stop reasons


def test_a_refused_answer_is_never_delivered():
    with pytest.raises(Failed, match=r"opus \(m\) declined to answer \(refusal or content filter\)"):
        check_stop(Task.REFACTOR.spec, "text", ModelConfig(alias="opus", provider="p", model="m"),
                   Completion(Usage(), STOP_REFUSAL))


def test_a_truncated_edit_is_not_applied():
    config = ModelConfig(alias="opus", provider="p", model="m", max_output_tokens=4000)
    with pytest.raises(Failed) as failed:
        check_stop(Task.REFACTOR.spec, "def f(", config, Completion(Usage(), STOP_MAX_TOKENS))
    assert "hit the output limit (4000 tokens)" in str(failed.value)
    assert "Raise max_output_tokens of alias 'opus'" in str(failed.value)


def test_a_truncated_document_is_shown_with_a_note():
    config = ModelConfig(alias="opus", provider="p", model="m")
    text = check_stop(Task.EXPLAIN.spec, "# Explanation", config, Completion(Usage(), STOP_MAX_TOKENS))
    assert text.startswith("# Explanation\n\n---\n*Truncated: the answer hit the output limit (its default tokens)")
    assert check_stop(Task.EXPLAIN.spec, "whole", config, Completion(Usage(), STOP_END)) == "whole"


# --------------------------------------------------------------------------- usage


async def test_an_answer_without_usage_gets_an_estimate_marked_as_such():
    """A server that reports no usage (llama.cpp) must not make the answer free."""
    run = Harness()
    assemblies = Assemblies(source())
    opus = run.provider("opus", Step(chunks=("def area(r):\n", "    return 3.14 * r * r\n"), usage=Usage()))

    answered = await run.call(opus, assemblies=assemblies)

    usage = answered.completion.usage
    assert usage.estimated and usage.input_tokens == assemblies.get(opus.config).input_tokens > 0
    assert usage.output_tokens == estimate_tokens(answered.text) > 0 and usage.cached_input_tokens == 0
    assert run.log.attempts[0].usage == usage
    assert usage.to_json()["estimated"] is True


@pytest.mark.parametrize("reported", [Usage(11, 2), Usage(0, 7), Usage(0, 0, 5)])
async def test_reported_usage_is_kept_as_it_is(reported):
    run = Harness()
    answered = await run.call(run.provider("opus", Step(chunks=("ok",), usage=reported)))
    assert answered.completion.usage == reported and not reported.estimated
    assert "estimated" not in reported.to_json()
