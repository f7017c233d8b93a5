"""The provider interface every adapter implements.

One call, :meth:`Provider.stream`, yields :class:`TextDelta` items and ends with
exactly one :class:`Completion` carrying usage. Adapters map their SDK's
failures onto :class:`RetryableProviderError` (the router may try again or fall
back to the next model) or :class:`FatalProviderError` (the user must fix
something; never retried).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class ModelRequest:
    model: str
    system: str
    prompt: str
    max_output_tokens: int | None = None
    temperature: float | None = None
    # What the request is for; adapters may ignore it (the mock uses it).
    task: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0

    def to_json(self) -> dict[str, int]:
        return {"input_tokens": self.input_tokens, "output_tokens": self.output_tokens}


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class Completion:
    usage: Usage
    stop_reason: str | None = None


StreamEvent = TextDelta | Completion


class ProviderError(Exception):
    """A provider call failed. ``retryable`` says whether trying again may help."""

    retryable = False

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class RetryableProviderError(ProviderError):
    """Overload, rate limit, timeout, connection trouble: try again or fall back."""

    retryable = True


class FatalProviderError(ProviderError):
    """Bad key, unknown model, invalid request: tell the user, do not fall back."""


class StreamInterruptedError(ProviderError):
    """The stream broke after output had started; the partial answer is discarded."""


@runtime_checkable
class Provider(Protocol):
    """A configured model endpoint."""

    def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        """Stream the answer: text deltas, then one Completion.

        Must stop promptly (closing any upstream connection) when the consuming
        task is cancelled; ``asyncio.CancelledError`` propagates.
        """
        ...
