"""The provider interface every adapter implements.

One call, :meth:`Provider.stream`, yields :class:`TextDelta` items and ends with
exactly one :class:`Completion` carrying usage. Adapters map their SDK's
failures onto :class:`RetryableProviderError` (the router may try again or fall
back to the next model) or :class:`FatalProviderError` (the user must fix
something; never retried).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Self

if TYPE_CHECKING:  # pydantic and the policy load later than this module (see docs/architecture.md)
    from pydantic import BaseModel

    from assistant_router.providers.context import ProviderContext
    from assistant_router.routing.policy import ModelConfig


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
    # Fill-in-the-middle (inline completion on ``api = "completions"``): the
    # code after the cursor; ``prompt`` is the code before it.
    suffix: str | None = None
    stop: tuple[str, ...] = ()  # stop sequences, where the wire API takes them


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0  # all input, cached reads included
    output_tokens: int = 0
    cached_input_tokens: int = 0  # the part of the input read from the provider's prompt cache
    # The provider reported no usage: the router estimated it from what was sent and received.
    estimated: bool = False

    @property
    def reported(self) -> bool:
        """Whether the provider reported any count (a server may report none)."""
        return bool(self.input_tokens or self.output_tokens or self.cached_input_tokens)

    def to_json(self) -> dict[str, int | bool]:
        data: dict[str, int | bool] = {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cached_input_tokens": self.cached_input_tokens,
        }
        if self.estimated:
            data["estimated"] = True
        return data


@dataclass(frozen=True)
class TextDelta:
    text: str


# Normalised reasons a stream ended; adapters map their provider's values.
STOP_END = "end"  # the model finished
STOP_MAX_TOKENS = "max_tokens"  # cut at max_output_tokens: the answer is truncated
STOP_REFUSAL = "refusal"  # declined by the model or a content filter


@dataclass(frozen=True)
class Completion:
    usage: Usage
    stop_reason: str | None = STOP_END


StreamEvent = TextDelta | Completion


class ProviderError(Exception):
    """A provider call failed. ``retryable`` says whether trying again may help.

    ``status`` is the HTTP status when there was one; ``retry_after`` the
    seconds the provider asked us to wait, when it said.
    """

    retryable = False

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class RetryableProviderError(ProviderError):
    """Overload, rate limit, timeout, connection trouble: try again or fall back."""

    retryable = True


class FatalProviderError(ProviderError):
    """Bad key, unknown model, invalid request: tell the user, do not fall back."""


class StreamInterruptedError(RetryableProviderError):
    """The stream broke: disconnect, malformed event, or no final event.

    Retryable while nothing has been received; once output has started the
    router ends the task instead (a half answer is never swapped).
    """


class Provider(ABC):
    """A configured model endpoint: the class every adapter subclasses.

    The registry instantiates it once per model alias configuration (through
    :meth:`create`) and checks the class when it loads: a plugin that does not
    subclass ``Provider`` or leaves :meth:`stream` abstract is blocked.
    """

    #: Validates the alias's ``options`` table when the policy loads (a typo is
    #: reported on its line); ``None``: the provider takes no options.
    Options: ClassVar[type[BaseModel] | None] = None
    #: The values ``api`` may take for this provider; empty: no choice of wire API.
    wire_apis: ClassVar[tuple[str, ...]] = ()
    #: Its clients use the pool's shared TLS context
    #: (:meth:`ProviderContext.tls_context`), which the warm-up builds.
    shares_tls: ClassVar[bool] = False

    def __init__(self, config: ModelConfig) -> None:
        self.config = config

    @classmethod
    def create(cls, config: ModelConfig, context: ProviderContext) -> Self:
        """How the pool makes an instance; override to use what the pool's
        providers share (``context``: key-command results, SDK imports)."""
        return cls(config)

    @classmethod
    def sdk_modules(cls) -> tuple[str, ...]:
        """The modules :meth:`prepare` imports through
        :meth:`ProviderContext.import_sdk`: the server imports them in the
        background after start-up, so the first task does not wait for them."""
        return ()

    async def prepare(self) -> None:  # noqa: B027 - optional, deliberately empty
        """Slow one-time set-up (importing an SDK, checking a binary, running a
        key command). The router awaits it before the first-token timeout
        starts, before every call: make the second call cheap."""

    @abstractmethod
    def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        """Stream the answer: text deltas, then one Completion.

        Must stop promptly (closing any upstream connection) when the consuming
        task is cancelled; ``asyncio.CancelledError`` propagates.
        """
