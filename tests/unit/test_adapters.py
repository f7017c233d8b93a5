"""The anthropic and openai adapters, with the real SDKs, against loopback fakes.

Each case runs for the three wire formats: Anthropic Messages, OpenAI
Responses and OpenAI Chat Completions.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time

import pytest

from assistant_router.engine.prompts import build_prompt
from assistant_router.providers.anthropic_adapter import AnthropicProvider
from assistant_router.providers.base import (
    STOP_END,
    STOP_MAX_TOKENS,
    Completion,
    FatalProviderError,
    ModelRequest,
    RetryableProviderError,
    StreamInterruptedError,
    TextDelta,
    Usage,
)
from assistant_router.providers.openai_adapter import OpenAIProvider
from assistant_router.routing.policy import ModelConfig
from assistant_router.routing.tasks import Task
from assistant_router.testing.loopback import Fault, LoopbackProviders, reply_to_prompt

KEY = "sk-test-0123456789abcdef"
APIS = ["anthropic", "responses", "chat"]
PROMPT = build_prompt(Task.REVIEW, "src/a.py", "python", 3, 4, "x = 1\n# TODO: y\n")


@pytest.fixture
async def fake():
    async with LoopbackProviders(key=KEY, chunk_chars=8) as server:
        yield server


@pytest.fixture(autouse=True)
def keys(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


def provider(api: str, fake: LoopbackProviders, **settings):
    if api == "anthropic":
        config = ModelConfig(alias="opus", provider="anthropic", model="claude-opus-4-6",
                             base_url=fake.anthropic_url, **settings)
        return AnthropicProvider(config)
    config = ModelConfig(alias="codex", provider="openai", model="gpt-5.3-codex", base_url=fake.openai_url,
                         api=api, **settings)
    return OpenAIProvider(config)


async def run(adapter, prompt: str = PROMPT, **request) -> tuple[str, Completion]:
    model = adapter.config.model
    events = [e async for e in adapter.stream(ModelRequest(model=model, system="sys", prompt=prompt, **request))]
    *deltas, completion = events
    assert all(isinstance(d, TextDelta) for d in deltas)
    assert isinstance(completion, Completion)
    return "".join(d.text for d in deltas), completion


@pytest.mark.parametrize("api", APIS)
async def test_streams_the_answer_with_usage(fake, api):
    adapter = provider(api, fake)

    text, completion = await run(adapter, max_output_tokens=500, temperature=0.1)

    expected = reply_to_prompt(PROMPT, f"{adapter.config.model} (loopback {api})")
    assert text == expected
    assert json.loads(text)["findings"][1]["message"] == "unresolved TODO"
    assert completion.stop_reason == STOP_END
    assert completion.usage.input_tokens > 0 and completion.usage.output_tokens == -(-len(text) // 4)
    (request,) = fake.requests
    body = request.body
    assert body["stream"] is True and body["model"] == adapter.config.model and body["temperature"] == 0.1
    if api == "anthropic":
        assert body["system"] == "sys" and body["max_tokens"] == 500
    elif api == "responses":
        assert body["instructions"] == "sys" and body["max_output_tokens"] == 500
    else:
        assert body["messages"][0] == {"role": "system", "content": "sys"} and body["max_tokens"] == 500
        assert body["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize(
    ("fault", "error", "message", "status"),
    [
        (Fault("status", 429, retry_after=1.5), RetryableProviderError, "rate limited (429)", 429),
        (Fault("status", 529), RetryableProviderError, "overloaded (529)", 529),
        (Fault("status", 500), RetryableProviderError, "server error (500)", 500),
        (Fault("status", 503), RetryableProviderError, "unavailable (503)", 503),
        (Fault("status", 408), RetryableProviderError, "request timeout (408)", 408),
        (Fault("status", 400, message="messages: field required"), FatalProviderError,
         "request rejected (400): messages: field required", 400),
        (Fault("status", 403, message="no access"), FatalProviderError, "this key may not use the model (403)", 403),
        (Fault("status", 404, message="The model `gpt-x` does not exist"), FatalProviderError,
         "was not found for this key (404)", 404),
        (Fault("status", 413), FatalProviderError, "the request is too large (413)", 413),
        (Fault("status", 400, error_type="invalid_request_error", message="output blocked by content_filter"),
         FatalProviderError, "refused by content policy", 400),
        (Fault("error_event"), RetryableProviderError, "error event in the stream", None),
        (Fault("disconnect", after=2), StreamInterruptedError, "the connection dropped mid-stream", None),
        (Fault("malformed", after=1), StreamInterruptedError, "malformed stream event", None),
        (Fault("no_final"), StreamInterruptedError, "(truncated)", None),
    ],
    ids=lambda value: (
        value.kind + (str(value.status) if value.kind == "status" else "") if isinstance(value, Fault) else None
    ),
)
async def test_faults_map_to_retryable_or_fatal(fake, api, fault, error, message, status):
    fake.fail_next(api, fault)

    with pytest.raises(error) as caught:
        await run(provider(api, fake))

    assert message in str(caught.value)
    assert caught.value.status in {status, 200}
    if fault.retry_after is not None:
        assert caught.value.retry_after == fault.retry_after
    assert KEY not in str(caught.value)


@pytest.mark.parametrize("base_url", [True, False], ids=["base_url", "default_url"])
async def test_a_server_without_the_responses_api_suggests_api_chat(fake, base_url, monkeypatch):
    """llama.cpp's server answers /v1/responses with a 404 that is not about the model."""
    fake.unserved.add("responses")
    adapter = provider("responses", fake)
    if not base_url:
        monkeypatch.setenv("OPENAI_BASE_URL", fake.openai_url)
        object.__setattr__(adapter.config, "base_url", None)

    with pytest.raises(FatalProviderError) as caught:
        await run(adapter)

    message = str(caught.value)
    assert caught.value.status == 404 and "the Responses API was not found" in message
    assert "set api = \"chat\" for model alias 'codex'" in message and "not found for this key" not in message
    assert (fake.openai_url in message) is base_url
    chat = provider("chat", fake)
    assert (await run(chat))[0]  # the advice works


async def test_a_missing_model_on_a_custom_server_also_mentions_api_chat(fake):
    fake.fail_next("responses", Fault("status", 404, message="model 'gpt-x' not found"))
    with pytest.raises(FatalProviderError, match=r"not found for this key \(404\).*set api = \"chat\""):
        await run(provider("responses", fake))


@pytest.mark.parametrize("api", ["responses"])
async def test_openai_response_failed_event_is_raised(fake, api):
    """The openai SDK does not raise for response.failed; the adapter does."""
    fake.fail_next(api, Fault("error_event", error_type="response.failed", message="boom"))
    with pytest.raises(RetryableProviderError, match="server_error: boom"):
        await run(provider(api, fake))


@pytest.mark.parametrize("api", APIS)
async def test_max_tokens_stop_is_reported(fake, api):
    fake.fail_next(api, Fault("max_tokens"))
    _, completion = await run(provider(api, fake))
    assert completion.stop_reason == STOP_MAX_TOKENS


@pytest.mark.parametrize("api", APIS)
async def test_a_rejected_key_is_named_and_never_shown(fake, api, monkeypatch, caplog):
    wrong = "sk-wrong-key-that-must-stay-secret"
    monkeypatch.setenv("ANTHROPIC_API_KEY", wrong)
    monkeypatch.setenv("OPENAI_API_KEY", wrong)
    caplog.set_level(logging.DEBUG)

    with pytest.raises(FatalProviderError) as caught:
        await run(provider(api, fake))

    key_name = "ANTHROPIC_API_KEY" if api == "anthropic" else "OPENAI_API_KEY"
    assert str(caught.value) == f"the API key was rejected (401); check {key_name}"
    assert wrong not in caplog.text and wrong not in repr(caught.value)


@pytest.mark.parametrize("api", APIS)
async def test_a_missing_key_says_what_to_do(fake, api, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    monkeypatch.delenv("OPENAI_API_KEY")
    adapter = provider(api, fake)
    object.__setattr__(adapter.config, "base_url", None)  # a hosted service: a key is required

    with pytest.raises(FatalProviderError, match=r"(ANTHROPIC|OPENAI)_API_KEY is not set: export it"):
        await run(adapter)
    assert not fake.requests


@pytest.mark.parametrize(("api", "variable"), [("anthropic", "ANTHROPIC_BASE_URL"), ("responses", "OPENAI_BASE_URL")])
async def test_the_sdks_own_environment_keeps_working(fake, api, variable, monkeypatch):
    url = fake.anthropic_url if api == "anthropic" else fake.openai_url
    monkeypatch.setenv(variable, url)
    adapter = provider(api, fake)
    object.__setattr__(adapter.config, "base_url", None)

    text, _ = await run(adapter)
    assert text and fake.requests[0].headers.get(
        "x-api-key", fake.requests[0].headers.get("authorization", "")
    ).endswith(KEY)


@pytest.mark.parametrize("api", APIS)
async def test_key_variable_command_and_headers_from_the_alias(fake, api, monkeypatch, tmp_path):
    monkeypatch.setenv("MY_KEY", KEY)
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    monkeypatch.delenv("OPENAI_API_KEY")
    by_variable = provider(api, fake, api_key_env="MY_KEY", headers={"X-Team": "editors"})
    script = tmp_path / "key.py"
    script.write_text(f"print({KEY!r})\n")
    by_command = provider(api, fake, api_key_command=(sys.executable, str(script)))

    await run(by_variable)
    await run(by_command)

    assert fake.requests[0].headers["x-team"] == "editors"
    assert len(fake.requests) == 2


@pytest.mark.parametrize("api", APIS)
async def test_local_servers_need_no_key_when_the_config_says_so(api, monkeypatch):
    """An OpenAI-compatible local server (Ollama, llama.cpp) checks no key: ``api_key_env = ""``."""
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    monkeypatch.delenv("OPENAI_API_KEY")
    async with LoopbackProviders(key=None) as open_server:
        text, _ = await run(provider(api, open_server, api_key_env=""))
    assert text


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("value", [None, "", "  "], ids=["unset", "empty", "blank"])
async def test_an_unset_key_with_a_base_url_is_an_error_not_a_placeholder(fake, api, value, monkeypatch):
    """A proxy (LiteLLM) needs the key: an unset variable is never silently replaced."""
    monkeypatch.delenv("PROXY_KEY", raising=False)
    if value is not None:
        monkeypatch.setenv("PROXY_KEY", value)
    adapter = provider(api, fake, api_key_env="PROXY_KEY")

    state = "is not set" if value is None else "is empty"
    with pytest.raises(FatalProviderError, match=rf'PROXY_KEY {state}: export it.*api_key_env = ""') as caught:
        await run(adapter)
    assert "'opus'" in str(caught.value) or "'codex'" in str(caught.value)
    assert not fake.requests


@pytest.mark.parametrize("api", APIS)
async def test_cancelling_closes_the_http_stream_within_100_ms(api):
    async with LoopbackProviders(key=KEY, chunk_chars=2, delay_s=0.02) as slow:
        adapter = provider(api, slow)
        received = []

        async def consume():
            async for event in adapter.stream(ModelRequest(model=adapter.config.model, system="s", prompt=PROMPT)):
                received.append(event)

        task = asyncio.create_task(consume())
        while len(received) < 3:
            await asyncio.sleep(0.005)
        cancelled_at = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        (request,) = slow.requests
        disconnected = await slow.wait_for_disconnect(request, timeout=2)

    assert disconnected - cancelled_at < 0.1
    assert request.finished is None and request.chunks_sent < 40


@pytest.mark.parametrize("api", [*APIS, "completions"])
async def test_first_token_delay_comes_before_the_first_text_chunk(api):
    async with LoopbackProviders(key=KEY, chunk_chars=4, first_token_s=0.05) as slow:
        text, _ = await run(provider(api, slow), suffix="\n" if api == "completions" else None)
        (request,) = slow.requests

    assert text and request.disconnected is None
    assert request.first_text - request.started >= 0.05  # the delay, once: the rest follows at once
    assert request.finished >= request.first_text


@pytest.mark.parametrize("api", APIS)
async def test_a_client_gone_during_the_first_token_delay_ends_it(api):
    async with LoopbackProviders(key=KEY, first_token_s=30) as slow:
        adapter = provider(api, slow)

        async def consume():
            async for _ in adapter.stream(ModelRequest(model=adapter.config.model, system="s", prompt=PROMPT)):
                pass

        task = asyncio.create_task(consume())
        while not slow.requests:
            await asyncio.sleep(0.005)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        (request,) = slow.requests
        await slow.wait_for_disconnect(request, timeout=5)
        while slow.open_streams:  # the stream's handler returned, well before the 30 s
            await asyncio.sleep(0.005)

    assert request.first_text is None and request.finished is None and request.chunks_sent == 0


@pytest.mark.parametrize("api", APIS)
async def test_concurrency_limit_per_alias(api):
    async with LoopbackProviders(key=KEY, chunk_chars=50, delay_s=0.05) as slow:
        adapter = provider(api, slow, max_concurrency=2)
        running = 0
        peak = 0

        async def one():
            nonlocal running, peak
            async for event in adapter.stream(ModelRequest(model=adapter.config.model, system="s", prompt=PROMPT)):
                if isinstance(event, TextDelta) and event is not None:
                    running_now = sum(r.finished is None and r.disconnected is None for r in slow.requests)
                    peak = max(peak, running_now)
            running += 1

        await asyncio.gather(*(one() for _ in range(5)))

    assert running == 5 and peak == 2


def test_sdks_are_not_imported_until_an_adapter_runs():
    import subprocess

    code = (
        "import sys\n"
        "from assistant_router.server.app import build_server\n"
        "from assistant_router.providers.registry import ProviderRegistry\n"
        "build_server(); ProviderRegistry().factory('anthropic'); ProviderRegistry().factory('openai')\n"
        "print(sorted(m for m in ('anthropic', 'openai', 'httpx2', 'pydantic') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("usage", ["standard", "delta_only", "none"])
@pytest.mark.parametrize("api", APIS)
async def test_fake_events_follow_the_sdk_types(fake, api, usage):
    """Every event the fake sends validates against the SDK's own types, wherever it reports usage."""
    import httpx2
    from pydantic import TypeAdapter

    fake.usage = usage
    if api == "anthropic":
        from anthropic.types import RawMessageStreamEvent

        adapter = TypeAdapter(RawMessageStreamEvent)
        url, headers = fake.anthropic_url + "/v1/messages", {"x-api-key": KEY}
    elif api == "responses":
        from openai.types.responses import ResponseStreamEvent

        adapter = TypeAdapter(ResponseStreamEvent)
        url, headers = fake.openai_url + "/responses", {"authorization": f"Bearer {KEY}"}
    else:
        from openai.types.chat import ChatCompletionChunk

        adapter = TypeAdapter(ChatCompletionChunk)
        url, headers = fake.openai_url + "/chat/completions", {"authorization": f"Bearer {KEY}"}
    body = {"model": "m", "input": PROMPT, "messages": [{"role": "user", "content": PROMPT}], "stream": True}

    async with httpx2.AsyncClient() as client:
        response = await client.post(url, json=body, headers=headers)
    events = [line[6:] for line in response.text.splitlines() if line.startswith("data: ")]

    payloads = [json.loads(data) for data in events if data != "[DONE]"]
    # Anthropic's keep-alive `ping` is not a message event; its SDK skips it.
    validated = [adapter.validate_python(p) for p in payloads if p.get("type") != "ping"]
    kinds = [getattr(event, "type", getattr(event, "object", None)) for event in validated]
    assert len(validated) > 5
    if api == "anthropic":
        assert {"type": "ping"} in payloads
        assert kinds[:2] == ["message_start", "content_block_start"] and kinds[-1] == "message_stop"
    elif api == "responses":
        assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
        assert [e.sequence_number for e in validated] == list(range(len(validated)))
    else:
        assert events[-1] == "[DONE]"
        assert (validated[-1].usage is not None) is (usage != "none")


async def test_anthropic_usage_reported_in_message_delta_only_is_read(fake):
    """A proxy (LiteLLM) sends message_start with zero counts and the real ones in message_delta."""
    standard = (await run(provider("anthropic", fake)))[1].usage
    fake.usage = "delta_only"

    text, completion = await run(provider("anthropic", fake))

    assert completion.usage == standard and completion.usage.input_tokens > 0
    assert completion.usage.output_tokens == -(-len(text) // 4)


def test_anthropic_usage_keeps_the_largest_count_of_each_field():
    from types import SimpleNamespace

    from assistant_router.providers.anthropic_adapter import _UsageCounts

    counts = _UsageCounts()
    counts.update(SimpleNamespace(input_tokens=0, output_tokens=1, cache_read_input_tokens=None))
    counts.update(SimpleNamespace(input_tokens=120, output_tokens=40, cache_read_input_tokens=1000,
                                  cache_creation_input_tokens=50))
    counts.update(SimpleNamespace(input_tokens=None, output_tokens=42))
    counts.update(None)

    assert counts.usage() == Usage(120 + 1000 + 50, 42, 1000)


@pytest.mark.parametrize("api", APIS)
async def test_a_server_that_reports_no_usage_completes_with_zero_usage(fake, api):
    """llama.cpp's server reports none; the router estimates it (tests/unit/test_calling.py)."""
    fake.usage = "none"

    text, completion = await run(provider(api, fake))

    assert text and completion.stop_reason == STOP_END and completion.usage == Usage()


async def test_openai_incomplete_before_any_output_is_retryable(fake):
    fake.fail_next("responses", Fault("max_tokens", cut_at=0))
    with pytest.raises(RetryableProviderError, match="ended incomplete before any output"):
        await run(provider("responses", fake))


def test_every_alias_gets_timeouts_so_nothing_hangs_forever():
    from assistant_router.routing.policy import build_policy, builtin_layer

    policy, _ = build_policy([builtin_layer()])
    for model in policy.models.values():
        timeouts = model.timeouts
        assert None not in (timeouts.connect, timeouts.first_token, timeouts.idle, timeouts.total)
