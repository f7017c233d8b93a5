"""OpenAI adapter (official ``openai`` SDK): the Responses API or Chat Completions.

``api = "responses"`` (the default) is what the Codex models are served on.
``api = "chat"`` speaks Chat Completions, for OpenAI-compatible servers
(Ollama, vLLM, llama.cpp server, LiteLLM proxy, OpenRouter) via ``base_url``.
``api = "completions"`` speaks the legacy Completions API with ``prompt`` and
``suffix``: fill-in-the-middle for inline completion (Ollama serves it for
code models; docs/completion.md says which servers take ``suffix``).
The SDK is imported on first use; its own retries are off.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from typing import TYPE_CHECKING, Any

from assistant_router.providers.base import (
    STOP_END,
    STOP_MAX_TOKENS,
    STOP_REFUSAL,
    Completion,
    FatalProviderError,
    ModelRequest,
    ProviderError,
    RetryableProviderError,
    StreamEvent,
    StreamInterruptedError,
    TextDelta,
    Usage,
)
from assistant_router.providers.sdk_support import RETRYABLE_TYPES, SdkProvider, body_error

if TYPE_CHECKING:
    from assistant_router.providers.context import ProviderContext
    from assistant_router.routing.policy import ModelConfig

logger = logging.getLogger(__name__)

KEY_ENV = "OPENAI_API_KEY"
_INCOMPLETE = {"max_output_tokens": STOP_MAX_TOKENS, "content_filter": STOP_REFUSAL}
_FINISH = {"stop": STOP_END, "length": STOP_MAX_TOKENS, "content_filter": STOP_REFUSAL, "tool_calls": STOP_END}


class OpenAIProvider(SdkProvider):
    """``provider = "openai"``. Honours ``OPENAI_API_KEY`` and ``OPENAI_BASE_URL``
    unless the alias sets ``api_key_env``/``api_key_command`` and ``base_url``."""

    sdk, client_class, key_env = "openai", "AsyncOpenAI", KEY_ENV
    rehearsal_apis = ("responses", "chat")
    wire_apis = ("responses", "chat", "completions")

    def __init__(self, config: ModelConfig, context: ProviderContext | None = None) -> None:
        super().__init__(config, context)
        self.api = config.api or "responses"

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        events = {"responses": self._responses, "chat": self._chat, "completions": self._completions}[self.api]
        async with self._limit.slot():
            client = await self._get_client()
            try:
                async for event in events(client, request):
                    yield event
            except Exception as exc:  # CancelledError is not an Exception: it propagates
                raise self._map(exc, client) from None

    async def _responses(self, client: Any, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        arguments: dict[str, Any] = {
            "model": request.model,
            "instructions": request.system,
            "input": request.prompt,
            "stream": True,
        }
        if request.max_output_tokens:
            arguments["max_output_tokens"] = request.max_output_tokens
        if request.temperature is not None:
            arguments["temperature"] = request.temperature
        completion: Completion | None = None
        answered = False
        stream = await client.responses.create(**arguments)
        async with stream:
            async for event in stream:
                match event.type:
                    case "response.output_text.delta":
                        answered = True
                        yield TextDelta(event.delta)
                    case "response.completed":
                        completion = Completion(_responses_usage(event.response), STOP_END)
                    case "response.incomplete":
                        details = event.response.incomplete_details
                        reason = details.reason if details else None
                        if not answered and reason != "content_filter":
                            raise RetryableProviderError(f"the response ended incomplete before any output ({reason})")
                        completion = Completion(_responses_usage(event.response), _INCOMPLETE.get(reason or "", reason))
                    case "response.failed":
                        error = event.response.error
                        raise self._stream_error(error.code if error else None, error.message if error else "failed")
                    case "error":
                        raise self._stream_error(event.code, event.message)
        if completion is None:
            raise StreamInterruptedError("the stream ended without response.completed (truncated)")
        yield completion

    def _map(self, exc: Exception, client: Any) -> ProviderError:
        """A 404 from the Responses API may mean the server has none (llama.cpp,
        Ollama, vLLM and LiteLLM serve Chat Completions): say so, and how to switch."""
        error = super()._map(exc, client)
        if self.api != "responses" or error.status != 404:
            return error
        config = self.config
        switch = f"set api = \"chat\" for model alias '{config.alias}' in your user config"
        _, message = body_error(exc)
        if "model" in (message or "").lower():  # OpenAI's own: "The model `x` does not exist …"
            if config.base_url:
                return FatalProviderError(f"{error}; if {config.base_url} has no Responses API, {switch}", status=404)
            return error
        where = f" at {config.base_url}" if config.base_url else ""
        return FatalProviderError(
            f"the Responses API was not found{where} (404): if this server speaks only Chat Completions "
            f"(llama.cpp, Ollama, vLLM, a LiteLLM proxy), {switch}; otherwise check 'model' of alias "
            f"'{config.alias}' ({config.model})",
            status=404,
        )

    def _stream_error(self, code: str | None, message: str | None) -> Exception:
        """The SDK does not raise for error events inside a Responses stream: we do."""
        text = self._redact(f"error event in the stream: {code or 'error'}: {message or ''}".rstrip(": "))
        if code is None or code in RETRYABLE_TYPES:
            return RetryableProviderError(text)
        return FatalProviderError(text)

    async def _chat(self, client: Any, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        arguments: dict[str, Any] = {
            "model": request.model,
            "messages": [
                {"role": "system", "content": request.system},
                {"role": "user", "content": request.prompt},
            ],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        _limits(arguments, request)
        stream = await client.chat.completions.create(**arguments)
        text_of = lambda choice: choice.delta.content if choice.delta is not None else None  # noqa: E731
        async with contextlib.aclosing(_choices(stream, text_of)) as events:  # closed with us: the HTTP stream too
            async for event in events:
                yield event

    async def _completions(self, client: Any, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        """Fill-in-the-middle: ``prompt`` is the code before the cursor,
        ``suffix`` the code after it (sent only when there is one)."""
        arguments: dict[str, Any] = {
            "model": request.model,
            "prompt": request.prompt,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if request.suffix:
            arguments["suffix"] = request.suffix
        if request.stop:
            arguments["stop"] = list(request.stop)
        _limits(arguments, request)
        stream = await client.completions.create(**arguments)
        async with contextlib.aclosing(_choices(stream, lambda choice: choice.text)) as events:
            async for event in events:
                yield event


def _limits(arguments: dict[str, Any], request: ModelRequest) -> None:
    """The answer's length and temperature, as Chat Completions and Completions name them."""
    if request.max_output_tokens:
        arguments["max_tokens"] = request.max_output_tokens
    if request.temperature is not None:
        arguments["temperature"] = request.temperature


async def _choices(stream: Any, text_of: Any) -> AsyncGenerator[StreamEvent, None]:
    """A Chat Completions or Completions stream: each choice's text (``text_of``),
    the usage chunk, and the finish reason, which a whole stream must have."""
    finish: str | None = None
    usage = Usage()
    async with stream:
        async for chunk in stream:
            if chunk.usage is not None:
                details = getattr(chunk.usage, "prompt_tokens_details", None)
                cached = getattr(details, "cached_tokens", None) or 0
                usage = Usage(chunk.usage.prompt_tokens or 0, chunk.usage.completion_tokens or 0, cached)
            for choice in chunk.choices or ():
                if text := text_of(choice):
                    yield TextDelta(text)
                if choice.finish_reason:
                    finish = choice.finish_reason
    if finish is None:
        raise StreamInterruptedError("the stream ended without a finish_reason (truncated)")
    yield Completion(usage, _FINISH.get(finish, finish))


def _responses_usage(response: Any) -> Usage:
    usage = getattr(response, "usage", None)
    if usage is None:
        return Usage()
    details = getattr(usage, "input_tokens_details", None)
    return Usage(usage.input_tokens or 0, usage.output_tokens or 0, getattr(details, "cached_tokens", None) or 0)
