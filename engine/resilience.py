"""Retry timing and per-model cooldowns (a small circuit breaker).

The SDK clients are created with ``max_retries=0``: this is the only retry
policy, and it lives in the router so that it can also fall back to the next
model of a task's chain.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from assistant_router.routing.policy import ModelConfig

BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 8.0
# A provider asking us to wait longer than this is better served by the next model.
MAX_RETRY_AFTER_S = 20.0
FAILURES_TO_OPEN = 3
COOLDOWN_S = 30.0


def retry_delay(
    retry_number: int,
    retry_after: float | None,
    rand: Callable[[], float] = random.random,
    *,
    base: float = BACKOFF_BASE_S,
) -> float | None:
    """Seconds to wait before retry ``retry_number`` (0-based), or None to stop
    retrying this model. Honours the provider's ``retry-after`` up to a cap;
    otherwise exponential backoff from ``base`` with equal jitter."""
    if retry_after is not None:
        return retry_after if retry_after <= MAX_RETRY_AFTER_S else None
    ceiling = min(BACKOFF_CAP_S, base * 2**retry_number)
    return float(ceiling / 2 + rand() * ceiling / 2)


@dataclass
class _State:
    failures: int = 0
    open_until: float = 0.0


class CircuitBreaker:
    """Skips a model after FAILURES_TO_OPEN retryable failures in a row, for
    COOLDOWN_S seconds; one success closes it again."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._states: dict[tuple[str, str, str | None], _State] = {}

    @staticmethod
    def _key(config: ModelConfig) -> tuple[str, str, str | None]:
        return (config.provider, config.model, config.base_url)

    def cooling_for(self, config: ModelConfig) -> float:
        """Seconds left in this model's cooldown (0 when it may be used)."""
        state = self._states.get(self._key(config))
        return max(state.open_until - self._clock(), 0.0) if state else 0.0

    def failure(self, config: ModelConfig) -> None:
        state = self._states.setdefault(self._key(config), _State())
        state.failures += 1
        if state.failures >= FAILURES_TO_OPEN:
            state.open_until = self._clock() + COOLDOWN_S

    def success(self, config: ModelConfig) -> None:
        self._states.pop(self._key(config), None)
