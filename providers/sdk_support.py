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
from typing import TYPE_CHECKING, Any, ClassVar, Self, cast

from assistant_router.providers.base import (
    FatalProviderError,
    Provider,
    ProviderError,
    RetryableProviderError,
    StreamInterruptedError,
)
from assistant_router.providers.context import ProviderContext

if TYPE_CHECKING:
    from assistant_router.routing.policy import ModelConfig

logger = logging.getLogger(__name__)

DEFAULT_CONNECT_TIMEOUT_S = 10.0
# Sent when the alias says its endpoint takes no key (``api_key_env = ""``): a
# local server (Ollama, llama.cpp, vLLM) checks none, but the SDKs insist on one.
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


async def resolve_api_key(config: ModelConfig, default_env: str, context: ProviderContext) -> str:
    """The alias's key: from ``api_key_command`` (run once per pool, cached in
    ``context``) or the environment; ``api_key_env = ""`` says the endpoint
    takes no key (a placeholder is sent: the SDKs insist on one).

    Raises FatalProviderError naming the variable when it is unset or empty,
    also for an alias with a ``base_url``: a key is never silently replaced.
    """
    if config.api_key_command:
        return await context.command_key(config.api_key_command, config.alias)
    if config.api_key_env == "":
        return PLACEHOLDER_KEY
    name = config.api_key_env or default_env
    key = os.environ.get(name, "").strip()
    if key:
        return key
    state = "is empty" if name in os.environ else "is not set"
    hint = (
        f'; if {config.base_url} takes no key, set api_key_env = "" for it' if config.base_url else ""
    )
    raise FatalProviderError(
        f"{name} {state}: export it before starting your editor, or set api_key_env or "
        f"api_key_command for model alias '{config.alias}' in your user config{hint}"
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


def body_error(exc: Any) -> tuple[str | None, str | None]:
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
        return FatalProviderError(
            f"unexpected {type(exc).__name__} in the {config.provider} adapter: {redact(str(exc))}"
        )
    status = getattr(exc, "status_code", None)
    kind, body_message = body_error(exc)
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
        label = {429: "rate limited", 529: "overloaded", 503: "unavailable", 408: "request timeout"}.get(
            status, "server error"
        )
        return RetryableProviderError(f"{label} ({status})", status=status, retry_after=retry_after)
    if status == 401:
        return FatalProviderError(f"the API key was rejected (401); check {key_name}", status=status)
    if status == 403:
        return FatalProviderError(f"this key may not use the model (403): {detail}", status=status)
    if status == 404:
        return FatalProviderError(
            f"the model {config.model} was not found for this key (404); check 'model' of alias '{config.alias}'",
            status=status,
        )
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


class SdkProvider(Provider):
    """What the SDK adapters share: one lazily created client per alias, its
    key, its concurrency limit and the redaction of its secrets.

    Subclasses name the SDK module, its client class and the default key
    variable; the client is created with ``max_retries=0`` (the router owns
    retries) and ``base_url=None`` unless the alias sets one, so the SDK's own
    ``*_BASE_URL`` variable keeps working. Key-command results and the
    imported SDK come from the pool's :class:`ProviderContext`; a 401 drops
    the key (and the client built with it), so the next call runs the key
    command again.
    """

    sdk: ClassVar[str]
    client_class: ClassVar[str]
    key_env: ClassVar[str]
    #: What the SDK imports only once a client sends (the HTTP transport):
    #: imported at warm-up too, or the first task still waits for it.
    #: anyio loads its asyncio back end on the first lock httpcore2 takes.
    sdk_later: ClassVar[tuple[str, ...]] = ("httpcore2", "anyio._backends._asyncio")
    shares_tls = True
    #: The loopback fake's names (``testing.loopback.Api``) of the wire APIs
    #: :meth:`rehearse` streams one answer of.
    rehearsal_apis: ClassVar[tuple[str, ...]]

    def __init__(self, config: ModelConfig, context: ProviderContext | None = None) -> None:
        super().__init__(config)
        self._context = context if context is not None else ProviderContext()
        self._client: Any = None
        self._client_key: str | None = None
        self._transport: Any = None  # an httpx2 transport instead of the network (the rehearsal's)
        self._limit = ConcurrencyLimit(config.max_concurrency)
        self._redact = Redactor(config.secrets())

    @classmethod
    def create(cls, config: ModelConfig, context: ProviderContext) -> Self:
        return cls(config, context)

    @classmethod
    def sdk_modules(cls) -> tuple[str, ...]:
        return (cls.sdk, *cls.sdk_later)

    @property
    def key_name(self) -> str:
        """Where the key comes from, for messages."""
        if self.config.api_key_command:
            return f"the api_key_command of '{self.config.alias}'"
        if self.config.api_key_env == "":
            return f"whether the endpoint of '{self.config.alias}' needs a key (api_key_env = \"\" sends none)"
        return self.config.api_key_env or self.key_env

    @classmethod
    async def rehearse(cls, provider: str, context: ProviderContext) -> None:
        """Stream one answer of each wire API through this adapter and its SDK,
        from an in-process transport that answers in the API's format (the
        loopback fake's events): nothing is sent, no key is read. The SDK's
        first request builds what it builds lazily, so the user's first task
        does not pay for it."""
        import httpx2

        from assistant_router.providers.base import ModelRequest
        from assistant_router.routing.policy import ModelConfig
        from assistant_router.testing.loopback import canned_stream

        for api in cls.rehearsal_apis:
            body = canned_stream(api, "warm-up", "warm", "up")  # type: ignore[arg-type]
            config = ModelConfig(alias="warm-up", provider=provider, model="warm-up", api_key_env="",
                                 base_url="http://warm-up.invalid/v1",
                                 api=cast(Any, api) if api in cls.wire_apis else None)
            adapter = cls(config, context)
            adapter._transport = httpx2.MockTransport(
                lambda _request, body=body: httpx2.Response(200, headers={"content-type": "text/event-stream"},
                                                            content=body))
            async for _event in adapter.stream(ModelRequest(model="warm-up", system="warm", prompt="warm")):
                pass

    async def prepare(self) -> None:
        """Import the SDK (off the event loop: it takes up to a second) and
        resolve the key, before the router starts the first-token clock."""
        await self._get_client()

    async def _get_client(self) -> Any:
        key = await resolve_api_key(self.config, self.key_env, self._context)
        if self._client is None or key != self._client_key:
            # First use, or the key command printed a new key after a 401.
            self._redact.add(key)
            module = await self._context.import_sdk(self.sdk)
            timeout = sdk_timeout(self.config)
            self._client = getattr(module, self.client_class)(
                api_key=key,
                base_url=self.config.base_url,
                max_retries=0,
                timeout=timeout,
                default_headers=self.config.headers or None,
                http_client=(
                    _http_client(module, timeout, await self._context.tls_context())
                    if self._transport is None else module.DefaultAsyncHttpxClient(transport=self._transport)
                ),
            )
            self._client_key = key
        return self._client

    def _map(self, exc: Exception, client: Any) -> ProviderError:
        """Map an error of a call made with ``client``; a 401 drops its key."""
        error = map_sdk_error(exc, self.config, self.key_name, self._redact)
        if error.status == 401 and client is self._client:
            self._key_rejected()
        return error

    def _key_rejected(self) -> None:
        """Drop the rejected key and the client built with it (the SDK closes a
        client it collects): the next call resolves the key again, running the
        key command, and builds a new client. A call that was still using an
        older client changes nothing."""
        if self.config.api_key_command and self._client_key is not None:
            self._context.forget_key(self.config.api_key_command, self._client_key)
        self._client = self._client_key = None


def _http_client(module: Any, timeout: Any, tls: Any) -> Any:
    """The HTTP client the SDK would build for itself, with the pool's shared
    TLS context instead of a new one per client (``ssl.create_default_context``
    reads the CA bundle: about 30 ms on each first task). The SDK's own wrapper
    class closes the client when it is collected, as a dropped client (after a
    401) needs; its public base class, if the wrapper ever moves."""
    wrapper = getattr(getattr(module, "_base_client", None), "AsyncHttpxClientWrapper", None)
    return (wrapper or module.DefaultAsyncHttpxClient)(timeout=timeout, verify=tls)


def sdk_timeout(config: ModelConfig) -> Any:
    """httpx2 timeouts for the SDK client: connect from the alias; reads are
    policed by the router (first-token, idle and total timeouts)."""
    import httpx2

    return httpx2.Timeout(None, connect=config.timeouts.connect or DEFAULT_CONNECT_TIMEOUT_S)
