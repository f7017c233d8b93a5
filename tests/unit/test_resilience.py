"""Retry timing and the per-model circuit breaker."""

import pytest

from assistant_router.engine.resilience import (
    BACKOFF_CAP_S,
    COOLDOWN_S,
    FAILURES_TO_OPEN,
    MAX_RETRY_AFTER_S,
    CircuitBreaker,
    retry_delay,
)
from assistant_router.routing.policy import ModelConfig


@pytest.mark.parametrize(
    ("retry_number", "low", "high"),
    [(0, 0.25, 0.5), (1, 0.5, 1.0), (2, 1.0, 2.0), (10, BACKOFF_CAP_S / 2, BACKOFF_CAP_S)],
)
@pytest.mark.parametrize("rand", [0.0, 0.5, 0.999])
def test_backoff_is_exponential_with_jitter_and_capped(retry_number, low, high, rand):
    delay = retry_delay(retry_number, None, rand=lambda: rand)
    assert low <= delay <= high


@pytest.mark.parametrize("base", [0.01, 0.5, 3.0])
def test_the_backoff_starts_from_the_alias_base_and_the_jitter_comes_from_rand(base):
    assert retry_delay(0, None, lambda: 0.0, base=base) == pytest.approx(base / 2)
    assert retry_delay(0, None, lambda: 0.5, base=base) == pytest.approx(base * 3 / 4)
    assert retry_delay(1, None, lambda: 0.5, base=base) == pytest.approx(min(BACKOFF_CAP_S, base * 2) * 3 / 4)
    assert retry_delay(20, None, lambda: 0.0, base=base) == pytest.approx(BACKOFF_CAP_S / 2)  # capped
    assert retry_delay(0, 1.5, lambda: 0.0, base=base) == 1.5  # retry-after wins over the backoff


def test_retry_after_is_honoured_up_to_a_cap():
    assert retry_delay(0, 3.0) == 3.0
    assert retry_delay(5, 0.0) == 0.0
    assert retry_delay(0, MAX_RETRY_AFTER_S) == MAX_RETRY_AFTER_S
    assert retry_delay(0, MAX_RETRY_AFTER_S + 1) is None  # better to try the next model


def test_breaker_opens_after_repeated_failures_and_closes_after_cooldown():
    now = [100.0]
    breaker = CircuitBreaker(clock=lambda: now[0])
    opus = ModelConfig(alias="opus", provider="anthropic", model="claude-opus-4-6")
    other_alias_same_model = ModelConfig(alias="deep", provider="anthropic", model="claude-opus-4-6")
    codex = ModelConfig(alias="codex", provider="openai", model="gpt-5.3-codex")

    for _ in range(FAILURES_TO_OPEN - 1):
        breaker.failure(opus)
    assert breaker.cooling_for(opus) == 0
    breaker.failure(opus)

    assert breaker.cooling_for(opus) == COOLDOWN_S
    assert breaker.cooling_for(other_alias_same_model) == COOLDOWN_S  # keyed by the endpoint, not the alias
    assert breaker.cooling_for(codex) == 0
    now[0] += COOLDOWN_S / 2
    assert breaker.cooling_for(opus) == COOLDOWN_S / 2
    now[0] += COOLDOWN_S
    assert breaker.cooling_for(opus) == 0


def test_one_success_resets_the_count():
    breaker = CircuitBreaker(clock=lambda: 0.0)
    model = ModelConfig(alias="a", provider="p", model="m")
    for _ in range(FAILURES_TO_OPEN - 1):
        breaker.failure(model)
    breaker.success(model)
    breaker.failure(model)
    assert breaker.cooling_for(model) == 0
