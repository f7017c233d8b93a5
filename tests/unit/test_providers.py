"""The registry (built-ins, entry-point plugins, broken plugins) and the mock provider."""

from __future__ import annotations

import asyncio
import json
from importlib import metadata

import pytest
from pydantic import BaseModel

from assistant_router.providers.base import (
    Completion,
    FatalProviderError,
    ModelRequest,
    Provider,
    RetryableProviderError,
    StreamInterruptedError,
    TextDelta,
    Usage,
)
from assistant_router.providers.context import ProviderContext
from assistant_router.providers.mock import MockProvider
from assistant_router.providers.registry import ENTRY_POINT_GROUP, ProviderPool, ProviderRegistry
from assistant_router.routing.policy import ModelConfig


def config(provider="mock", **options) -> ModelConfig:
    return ModelConfig(alias="fast", provider=provider, model="m-1", options=options)


def request(task="refactor", **metadata) -> ModelRequest:
    meta = {"selection": "x = 1\ny = 2\n", "start_line": 3, "end_line": 4, "language": "python", "path": "a.py"}
    meta.update(metadata)
    return ModelRequest(model="m-1", system="sys", prompt="prompt", task=task, metadata=meta)


async def collect(provider, req):
    return [event async for event in provider.stream(req)]


async def test_mock_reply_is_derived_from_the_request_and_chunked():
    events = await collect(MockProvider(config(chunk_chars=5)), request())
    *deltas, done = events
    assert all(isinstance(d, TextDelta) and len(d.text) <= 5 for d in deltas)
    text = "".join(d.text for d in deltas)
    assert text == "```python\n# refactor by mock fast (m-1)\nx = 1\ny = 2\n```\n"
    assert isinstance(done, Completion) and done.usage.output_tokens == -(-len(text) // 4)


async def test_mock_review_answers_findings_json():
    events = await collect(MockProvider(config()), request("review", selection="a\n# TODO: x\n"))
    findings = json.loads("".join(e.text for e in events if isinstance(e, TextDelta)))["findings"]
    assert findings[0]["line"] == 3 and findings[0]["end_line"] == 4
    assert findings[1] == {
        "line": 4, "end_line": 4, "severity": "info", "category": "maintainability",
        "message": "unresolved TODO", "replacement": "# DONE: x",
    }


@pytest.mark.parametrize(
    ("fail", "error"),
    [("retryable", RetryableProviderError), ("fatal", FatalProviderError), ("midstream", StreamInterruptedError)],
)
async def test_mock_failures(fail, error):
    provider = MockProvider(config(fail=fail, chunk_chars=2))
    received = []
    with pytest.raises(error) as caught:
        async for event in provider.stream(request()):
            received.append(event)
    assert caught.value.retryable is (fail != "fatal")
    assert bool(received) is (fail == "midstream")


async def test_mock_stream_stops_when_cancelled():
    provider = MockProvider(config(delay_ms=20, chunk_chars=1))
    received = []

    async def consume():
        async for event in provider.stream(request()):
            received.append(event)

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    count = len(received)
    await asyncio.sleep(0.1)
    assert 0 < count == len(received) < 20


def test_registry_builtins_and_unknown_names():
    registry = ProviderRegistry(entry_points=False)
    assert registry.names() == ["anthropic", "mock", "openai"]
    assert isinstance(registry.create(config()), MockProvider)
    with pytest.raises(FatalProviderError, match="no provider adapter named 'nope' is installed"):
        registry.create(config("nope"))


class _FakeEntryPoint:
    def __init__(self, name, load):
        self.name, self.value, self._load = name, f"plugin:{name}", load

    def load(self):
        return self._load()


def _plugins(monkeypatch, *entries):
    def fake_entry_points(group):
        assert group == ENTRY_POINT_GROUP
        return list(entries)

    monkeypatch.setattr(metadata, "entry_points", fake_entry_points)


class Echo(Provider):
    """The smallest complete provider: only ``stream``."""

    async def stream(self, request):
        yield TextDelta(request.prompt)
        yield Completion(Usage())


def test_entry_point_plugins_are_discovered(monkeypatch):
    _plugins(monkeypatch, _FakeEntryPoint("echo", lambda: Echo))
    registry = ProviderRegistry()

    assert registry.names() == ["anthropic", "echo", "mock", "openai"]
    assert registry.create(config("echo")).config.model == "m-1"
    assert list(registry.check(config("echo", colour="red"))) == [
        (("options",), "provider 'echo' takes no options", "error")
    ]


def test_a_broken_plugin_is_blocked_not_fatal(monkeypatch, caplog):
    def explode():
        raise ImportError("no module named 'sdk'")

    _plugins(monkeypatch, _FakeEntryPoint("broken", explode))
    registry = ProviderRegistry()

    for _ in range(2):
        with pytest.raises(FatalProviderError, match="provider plugin 'broken' failed to load and is disabled"):
            registry.create(config("broken"))
    assert caplog.text.count("failed to load") == 1
    assert "broken" not in registry.names()
    assert isinstance(registry.create(config()), MockProvider)


class NoStream(Provider):
    pass


class OddOptions(Echo):
    Options = dict  # not a pydantic model


def not_a_class(cfg):
    return Echo(cfg)


class DuckTyped:  # the interface before the base class: has everything but the base
    Options = None

    def __init__(self, cfg):
        self.config = cfg

    async def prepare(self):
        pass

    async def stream(self, request):
        yield Completion(Usage())


@pytest.mark.parametrize(
    ("loaded", "reason"),
    [
        (DuckTyped, "plugin:odd is not a subclass of assistant_router.providers.base.Provider"),
        (not_a_class, "plugin:odd is not a subclass of assistant_router.providers.base.Provider"),
        (NoStream, "plugin:odd does not implement stream()"),
        (OddOptions, "plugin:odd.Options is not a pydantic model"),
    ],
    ids=["duck-typed", "function", "abstract", "options"],
)
def test_a_plugin_that_is_not_a_provider_is_blocked_with_the_reason(monkeypatch, caplog, loaded, reason):
    _plugins(monkeypatch, _FakeEntryPoint("odd", lambda: loaded))
    registry = ProviderRegistry()
    pool = ProviderPool(registry)

    for _ in range(2):
        with pytest.raises(FatalProviderError) as caught:
            pool.get(config("odd"))
        assert str(caught.value) == f"provider plugin 'odd' is disabled: {reason}" + (
            ' (see docs/providers.md, "Writing an adapter")' if "subclass" in reason else ""
        )
    assert caplog.text.count("is disabled") == 1
    assert "odd" not in registry.names()
    # At policy load it is a warning on the alias's provider key, not a crash.
    assert list(registry.check(config("odd"))) == [(("provider",), str(caught.value), "warning")]
    assert isinstance(pool.get(config()), MockProvider)


def test_register_refuses_what_is_not_a_provider():
    registry = ProviderRegistry(entry_points=False)
    with pytest.raises(TypeError, match="is not a subclass of"):
        registry.register("duck", DuckTyped)
    with pytest.raises(TypeError, match="does not implement stream"):
        registry.register("half", NoStream)
    registry.register("echo", Echo)
    assert "echo" in registry.names() and "duck" not in registry.names()


async def test_everything_the_pool_returns_has_prepare_and_stream():
    """engine/calling.py awaits ``prepare()`` unconditionally: the default is a no-op."""
    registry = ProviderRegistry(entry_points=False)
    registry.register("echo", Echo)
    pool = ProviderPool(registry)

    for provider in (pool.get(config()), pool.get(config("echo"))):
        assert isinstance(provider, Provider)
        assert await provider.prepare() is None
    echo = pool.get(config("echo"))
    assert echo is pool.get(config("echo"))  # one instance per alias configuration
    assert [e async for e in echo.stream(request())][0] == TextDelta("prompt")


def test_a_provider_that_fails_to_start_fails_its_alias_only(caplog):
    class Exploding(Echo):
        def __init__(self, cfg):
            raise KeyError("boom")

    registry = ProviderRegistry(entry_points=False)
    registry.register("exploding", Exploding)
    pool = ProviderPool(registry)

    with pytest.raises(FatalProviderError, match="provider 'exploding' failed to start for alias 'fast': KeyError"):
        pool.get(config("exploding"))
    assert isinstance(pool.get(config()), MockProvider)


def test_a_provider_is_created_with_its_pools_context():
    seen = []

    class Sharing(Echo):
        @classmethod
        def create(cls, cfg, context):
            seen.append(context)
            return cls(cfg)

    registry = ProviderRegistry(entry_points=False)
    registry.register("sharing", Sharing)
    first, second = ProviderPool(registry), ProviderPool(registry, ProviderContext())
    first.get(config("sharing"))
    first.get(ModelConfig(alias="other", provider="sharing", model="m-2"))
    second.get(config("sharing"))

    assert seen == [first.context, first.context, second.context]
    assert first.context is not second.context


def test_options_are_declared_not_probed():
    class Opts(BaseModel):
        size: int

    class Sized(Echo):
        Options = Opts

    registry = ProviderRegistry(entry_points=False)
    registry.register("sized", Sized)
    assert list(registry.check(ModelConfig(alias="a", provider="sized", model="m", options={"size": "x"}))) == [
        (("options", "size"), "Input should be a valid integer, unable to parse string as an integer", "error")
    ]
    assert list(registry.check(config("mock", fail="sometimes"))) == [
        (("options", "fail"), "Input should be 'none', 'retryable', 'fatal' or 'midstream'", "error")
    ]
    registry.register("echo", Echo)
    with pytest.raises(FatalProviderError, match="provider 'echo' takes no options"):
        registry.create(config("echo", colour="red"))


def test_an_empty_api_key_env_says_the_endpoint_takes_no_key(tmp_path):
    from assistant_router.routing.config import load_policy

    user = tmp_path / "config.toml"
    local = '[models.local]\nprovider = "openai"\napi = "chat"\nmodel = "qwen"\n' \
        'base_url = "http://127.0.0.1:8080/v1"\napi_key_env = ""\n'
    (tmp_path / "project").mkdir()
    user.write_text(local)

    load = load_policy(tmp_path / "project", user_config=user)

    assert not load.issues and load.policy.models["local"].api_key_env == ""
    user.write_text(local + '\n[models.bad]\nprovider = "openai"\nmodel = "m"\napi_key_env = "1 BAD"\n')
    load = load_policy(tmp_path / "project", user_config=user)
    assert [i.key for i in load.issues if i.severity == "error"] == ["models.bad.api_key_env"]


async def test_no_key_sends_the_placeholder_and_an_unset_variable_is_fatal(monkeypatch):
    from assistant_router.providers.sdk_support import PLACEHOLDER_KEY, resolve_api_key

    monkeypatch.delenv("NOPE_KEY", raising=False)
    local = ModelConfig(alias="local", provider="openai", model="m", base_url="http://x/v1", api_key_env="")
    proxy = ModelConfig(alias="proxy", provider="openai", model="m", base_url="http://x/v1", api_key_env="NOPE_KEY")

    assert await resolve_api_key(local, "OPENAI_API_KEY", ProviderContext()) == PLACEHOLDER_KEY
    with pytest.raises(FatalProviderError, match="NOPE_KEY is not set.*model alias 'proxy'"):
        await resolve_api_key(proxy, "OPENAI_API_KEY", ProviderContext())


def test_a_project_may_not_declare_that_an_endpoint_takes_no_key(tmp_path):
    """``api_key_env = ""`` is a user-config-only setting like any other value of it."""
    from assistant_router.routing.config import load_policy

    project = tmp_path / "project"
    project.mkdir()
    (project / ".assistant-router.toml").write_text('[models.codex]\napi_key_env = ""\n')
    user = tmp_path / "config.toml"
    user.write_text("")

    load = load_policy(project, user_config=user)

    assert load.policy.models["codex"].api_key_env is None
    assert [(i.key, i.severity) for i in load.issues] == [("models.codex.api_key_env", "warning")]
