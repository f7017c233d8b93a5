"""Anthropic Messages API adapter (official ``anthropic`` SDK, async, always streaming).

The SDK is imported on first use: it costs over a second to import. Its own
retries are off (``max_retries=0``): the router owns retries and fallbacks.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

from assistant_router.providers.base import (
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
from assistant_router.providers.sdk_support import SdkProvider

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


class AnthropicProvider(SdkProvider):
    """``provider = "anthropic"``. Honours ``ANTHROPIC_API_KEY`` and ``ANTHROPIC_BASE_URL``
    unless the alias sets ``api_key_env``/``api_key_command`` and ``base_url``."""

    sdk, client_class, key_env = "anthropic", "AsyncAnthropic", KEY_ENV
    rehearsal_apis = ("anthropic",)
    sdk_later = (*SdkProvider.sdk_later, "opentelemetry.propagate")  # its trace headers, on the first request

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
            counts = _UsageCounts()
            stop_reason: str | None = None
            finished = False
            try:
                stream = await client.messages.create(**arguments)
                async with stream:  # leaving it closes the HTTP response, also on cancel
                    async for event in stream:
                        match event.type:
                            case "message_start":
                                counts.update(event.message.usage)
                            case "content_block_delta" if event.delta.type == "text_delta":
                                yield TextDelta(event.delta.text)
                            case "message_delta":
                                stop_reason = event.delta.stop_reason
                                counts.update(event.usage)
                            case "message_stop":
                                finished = True
            except Exception as exc:  # CancelledError is not an Exception: it propagates
                raise self._map(exc, client) from None
            if not finished:
                raise StreamInterruptedError("the stream ended without message_stop (truncated)")
            yield Completion(counts.usage(), _STOP_REASONS.get(stop_reason or "", stop_reason))


class _UsageCounts:
    """Usage as the stream reports it: in ``message_start`` (Anthropic) and/or
    cumulatively in ``message_delta`` (Anthropic's own later counts; proxies
    such as LiteLLM send the input there only). Each field keeps the largest
    value seen: the counts are cumulative, and a 0 means "not reported here"."""

    _FIELDS = ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")

    def __init__(self) -> None:
        self.seen = dict.fromkeys(self._FIELDS, 0)

    def update(self, usage: Any) -> None:
        if usage is None:
            return
        for name in self._FIELDS:
            value = getattr(usage, name, None) or 0
            self.seen[name] = max(self.seen[name], value)

    def usage(self) -> Usage:
        seen = self.seen
        cached = seen["cache_read_input_tokens"]
        # Anthropic counts cache reads and writes apart from input_tokens.
        total_input = seen["input_tokens"] + cached + seen["cache_creation_input_tokens"]
        return Usage(total_input, seen["output_tokens"], cached)
