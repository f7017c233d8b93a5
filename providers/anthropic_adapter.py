"""Anthropic Messages API adapter (official ``anthropic`` SDK, async, always streaming).

The SDK is imported on first use: it costs over a second to import. Its own
retries are off (``max_retries=0``): the router owns retries and fallbacks.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from .base import (
    STOP_END,
    STOP_MAX_TOKENS,
    STOP_REFUSAL,
    Completion,
    ModelRequest,
    StreamEvent,
    StreamInterruptedError,
    TextDelta,
    Usage,
)
from .sdk_support import import_sdk, ConcurrencyLimit, Redactor, map_sdk_error, resolve_api_key, sdk_timeout

if TYPE_CHECKING:
    from ..routing.policy import ModelConfig

logger = logging.getLogger(__name__)

KEY_ENV = "ANTHROPIC_API_KEY"
# The Messages API requires max_tokens; used when the alias sets no max_output_tokens.
DEFAULT_MAX_TOKENS = 8192
_STOP_REASONS = {
    "end_turn": STOP_END,
    "stop_sequence": STOP_END,
    "max_tokens": STOP_MAX_TOKENS,
    "model_context_window_exceeded": STOP_MAX_TOKENS,
    "refusal": STOP_REFUSAL,
}


class AnthropicProvider:
    """``provider = "anthropic"``. Honours ``ANTHROPIC_API_KEY`` and ``ANTHROPIC_BASE_URL``
    unless the alias sets ``api_key_env``/``api_key_command`` and ``base_url``."""

    def __init__(self, config: ModelConfig) -> None:
        self.config = config
        self._client: Any = None
        self._limit = ConcurrencyLimit(config.max_concurrency)
        self._redact = Redactor(config.secrets())

    @property
    def key_name(self) -> str:
        return self.config.api_key_env or KEY_ENV

    async def prepare(self) -> None:
        """Import the SDK (off the event loop: it takes up to a second) and
        resolve the key, before the router starts the first-token clock."""
        await self._get_client()

    async def _get_client(self) -> Any:
        if self._client is None:
            key = await resolve_api_key(self.config, KEY_ENV)
            self._redact.add(key)
            anthropic = await import_sdk("anthropic")

            self._client = anthropic.AsyncAnthropic(
                api_key=key,
                base_url=self.config.base_url,  # None: the SDK reads ANTHROPIC_BASE_URL
                max_retries=0,
                timeout=sdk_timeout(self.config),
                default_headers=self.config.headers or None,
            )
        return self._client

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        async with self._limit.slot():
            client = await self._get_client()
            arguments: dict[str, Any] = {
                "model": request.model,
                "max_tokens": request.max_output_tokens or DEFAULT_MAX_TOKENS,
                "system": request.system,
                "messages": [{"role": "user", "content": request.prompt}],
                "stream": True,
            }
            if request.temperature is not None:
                # anthropic 2.x dropped the parameter from its signature; the
                # API still takes it for the models that support sampling.
                arguments["extra_body"] = {"temperature": request.temperature}
            input_tokens = output_tokens = 0
            stop_reason: str | None = None
            finished = False
            try:
                stream = await client.messages.create(**arguments)
                async with stream:  # leaving it closes the HTTP response, also on cancel
                    async for event in stream:
                        match event.type:
                            case "message_start":
                                input_tokens = event.message.usage.input_tokens or 0
                            case "content_block_delta" if event.delta.type == "text_delta":
                                yield TextDelta(event.delta.text)
                            case "message_delta":
                                stop_reason = event.delta.stop_reason
                                output_tokens = event.usage.output_tokens or output_tokens
                            case "message_stop":
                                finished = True
            except Exception as exc:  # CancelledError is not an Exception: it propagates
                raise map_sdk_error(exc, self.config, self.key_name, self._redact) from None
            if not finished:
                raise StreamInterruptedError("the stream ended without message_stop (truncated)")
            yield Completion(Usage(input_tokens, output_tokens), _STOP_REASONS.get(stop_reason or "", stop_reason))
