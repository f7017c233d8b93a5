"""What the SDK-based adapters share: keys, error mapping, limits, redaction.

The mapping is written against the attributes both official SDKs expose
(``status_code``, ``response``, ``body``) and the names of exception classes
in their hierarchy, so this module imports neither SDK nor ``httpx2``.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Iterable
from typing import TYPE_CHECKING, Any

from assistant_router.providers.base import FatalProviderError, ProviderError, RetryableProviderError, StreamInterruptedError

if TYPE_CHECKING:
    from assistant_router.routing.policy import ModelConfig

logger = logging.getLogger(__name__)

KEY_COMMAND_TIMEOUT_S = 15
DEFAULT_CONNECT_TIMEOUT_S = 10.0
# A local OpenAI-compatible server (Ollama, llama.cpp, vLLM) checks no key; the SDK insists on one.
PLACEHOLDER_KEY = "no-key-needed"

RETRYABLE_STATUS = {408, 409, 429, 500, 502, 503, 504, 529}
# In-body error types (Anthropic's ``error.type``; OpenAI's ``code``) that are transient.
RETRYABLE_TYPES = {
    "overloaded_error", "api_error", "rate_limit_error", "timeout_error",
    "rate_limit_exceeded", "server_error", "server_is_overloaded", "slow_down", "internal_error",
}
CONTENT_POLICY_MARKERS = ("content_policy", "content_filter", "safety", "refus")


class Redactor:
    """Removes secrets (keys, header values) from text before anyone sees it."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self._secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def add(self, secret: str | None) -> None:
        if secret and len(secret) >= 4 and secret not in self._secrets:
            self._secrets = sorted([*self._secrets, secret], key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


_command_keys: dict[tuple[str, ...], str] = {}


async def resolve_api_key(config: ModelConfig, default_env: str, user_config: str = "your user config") -> str:
    """The alias's key: from ``api_key_command`` (run once, cached) or the environment.

    Raises FatalProviderError with what to do when there is none.
    """
    if config.api_key_command:
        command = config.api_key_command
        if command in _command_keys:
            return _command_keys[command]
        try:
            process = await asyncio.create_subprocess_exec(
                *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
                stdin=asyncio.subprocess.DEVNULL,
            )
            try:
                out, _ = await asyncio.wait_for(process.communicate(), KEY_COMMAND_TIMEOUT_S)
            except TimeoutError:
                process.kill()
                await process.wait()
                raise FatalProviderError(
                    f"the api_key_command of '{config.alias}' ({command[0]}) did not answer within {KEY_COMMAND_TIMEOUT_S} s"
                ) from None
        except OSError as exc:
            raise FatalProviderError(
                f"the api_key_command of '{config.alias}' could not start ({command[0]}: {exc.strerror})"
            ) from None
        key = out.decode(errors="replace").strip()
        if process.returncode != 0 or not key:
            raise FatalProviderError(
                f"the api_key_command of '{config.alias}' ({command[0]}) "
                + (f"failed with exit code {process.returncode}" if process.returncode else "printed no key")
            )
        _command_keys[command] = key
        return key
    name = config.api_key_env or default_env
    key = os.environ.get(name, "").strip()
    if key:
        return key
    if config.base_url:
        return PLACEHOLDER_KEY
    raise FatalProviderError(
        f"{name} is not set: export it before starting your editor, or set api_key_env or "
        f"api_key_command for model alias '{config.alias}' in {user_config}"
    )


def retry_after_seconds(headers: Any) -> float | None:
    """``retry-after-ms`` or ``retry-after`` (seconds or an HTTP date)."""
    if headers is None:
        return None
    with contextlib.suppress(TypeError, ValueError):
        if (ms := headers.get("retry-after-ms")) is not None:
            return max(float(ms) / 1000, 0.0)
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        return max(parsed.timestamp() - time.time(), 0.0) if parsed else None


def _class_names(exc: BaseException) -> set[str]:
    """Class names of the exception and of what it wraps (the openai SDK wraps
    transport errors met mid-stream in APIConnectionError)."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    if exc.__cause__ is not None:
        names |= {cls.__name__ for cls in type(exc.__cause__).__mro__}
    return names


def _body_error(exc: Any) -> tuple[str | None, str | None]:
    """(error type or code, message) from an SDK error's body."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict):
            kind = error.get("type") or error.get("code")
            return (str(kind) if kind else None, error.get("message"))
    return (getattr(exc, "type", None) or getattr(exc, "code", None), None)


def map_sdk_error(exc: Exception, config: ModelConfig, key_name: str, redact: Redactor) -> ProviderError:
    """One SDK or transport exception → our small error hierarchy, with a message
    that says what happened and, for the fatal ones, what to do."""
    names = _class_names(exc)
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, json.JSONDecodeError):
        return StreamInterruptedError("malformed stream event")
    if not {"APIError", "TransportError", "HTTPError"} & names:
        # Not the SDK's nor the HTTP layer's: a bug (ours or the SDK's), never retried.
        logger.error("unexpected error in the %s adapter", config.provider, exc_info=exc)
        return FatalProviderError(f"unexpected {type(exc).__name__} in the {config.provider} adapter: {redact(str(exc))}")
    status = getattr(exc, "status_code", None)
    kind, body_message = _body_error(exc)
    detail = redact(str(body_message or getattr(exc, "message", None) or exc))
    if "APITimeoutError" in names or "TimeoutException" in names:
        return RetryableProviderError("the request timed out")
    if {"RemoteProtocolError", "ReadError", "StreamError"} & names:
        return StreamInterruptedError("the connection dropped mid-stream")
    if {"APIConnectionError", "ConnectError", "TransportError"} & names:
        return RetryableProviderError(f"could not connect to {config.base_url or 'the provider'}")
    if status is None or status == 200:
        # An error event inside a 200 stream: classify by its type.
        if kind in RETRYABLE_TYPES or kind is None:
            return RetryableProviderError(f"error event in the stream: {kind or detail}", status=status)
        return FatalProviderError(f"error event in the stream: {kind}: {detail}", status=status)
    retry_after = retry_after_seconds(getattr(getattr(exc, "response", None), "headers", None))
    if status in RETRYABLE_STATUS or status >= 500:
        label = {429: "rate limited", 529: "overloaded", 503: "unavailable", 408: "request timeout"}.get(status, "server error")
        return RetryableProviderError(f"{label} ({status})", status=status, retry_after=retry_after)
    if status == 401:
        return FatalProviderError(f"the API key was rejected (401); check {key_name}", status=status)
    if status == 403:
        return FatalProviderError(f"this key may not use the model (403): {detail}", status=status)
    if status == 404:
        return FatalProviderError(f"the model {config.model} was not found for this key (404); check 'model' of alias '{config.alias}'", status=status)
    if status == 413:
        return FatalProviderError("the request is too large (413); select less code", status=status)
    if any(marker in (kind or "") + detail.lower() for marker in CONTENT_POLICY_MARKERS):
        return FatalProviderError(f"refused by content policy: {detail}", status=status)
    return FatalProviderError(f"request rejected ({status}): {detail}", status=status)


class ConcurrencyLimit:
    """At most N streams at once for one alias (None: unlimited)."""

    def __init__(self, limit: int | None) -> None:
        self._limit = limit
        self._semaphore: asyncio.Semaphore | None = None

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        if self._limit is None:
            yield
            return
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self._limit)
        async with self._semaphore:
            yield


_imported: dict[str, Any] = {}
_import_lock: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None


async def import_sdk(name: str) -> Any:
    """Import a provider SDK in a worker thread, so the event loop keeps
    answering code actions meanwhile (``anthropic`` takes about a second).
    Concurrent first tasks wait for the one import."""
    global _import_lock
    if (module := _imported.get(name)) is not None:
        return module
    import importlib

    loop = asyncio.get_running_loop()
    if _import_lock is None or _import_lock[0] is not loop:
        _import_lock = (loop, asyncio.Lock())
    async with _import_lock[1]:
        if name not in _imported:
            _imported[name] = await asyncio.to_thread(importlib.import_module, name)
            # The SDK raises its own and httpx2's log level from ANTHROPIC_LOG /
            # OPENAI_LOG at import; their debug output can carry keys.
            for logger_name in (name, "httpx2"):
                logging.getLogger(logger_name).setLevel(logging.WARNING)
    return _imported[name]


class SdkProvider:
    """What the SDK adapters share: one lazily created client per alias, its
    key, its concurrency limit and the redaction of its secrets.

    Subclasses name the SDK module, its client class and the default key
    variable; the client is created with ``max_retries=0`` (the router owns
    retries) and ``base_url=None`` unless the alias sets one, so the SDK's own
    ``*_BASE_URL`` variable keeps working.
    """

    sdk: str
    client_class: str
    key_env: str

    def __init__(self, config: ModelConfig) -> None:
        self.config = config
        self._client: Any = None
        self._limit = ConcurrencyLimit(config.max_concurrency)
        self._redact = Redactor(config.secrets())

    @property
    def key_name(self) -> str:
        return self.config.api_key_env or self.key_env

    async def prepare(self) -> None:
        """Import the SDK (off the event loop: it takes up to a second) and
        resolve the key, before the router starts the first-token clock."""
        await self._get_client()

    async def _get_client(self) -> Any:
        if self._client is None:
            key = await resolve_api_key(self.config, self.key_env)
            self._redact.add(key)
            module = await import_sdk(self.sdk)
            self._client = getattr(module, self.client_class)(
                api_key=key,
                base_url=self.config.base_url,
                max_retries=0,
                timeout=sdk_timeout(self.config),
                default_headers=self.config.headers or None,
            )
        return self._client

    def _map(self, exc: Exception) -> ProviderError:
        return map_sdk_error(exc, self.config, self.key_name, self._redact)


def sdk_timeout(config: ModelConfig) -> Any:
    """httpx2 timeouts for the SDK client: connect from the alias; reads are
    policed by the router (first-token, idle and total timeouts)."""
    import httpx2

    return httpx2.Timeout(None, connect=config.timeouts.connect or DEFAULT_CONNECT_TIMEOUT_S)
