"""The registry (built-ins, entry-point plugins, broken plugins) and the mock provider."""

from __future__ import annotations

import asyncio
import json
from importlib import metadata

import pytest

from assistant_router.providers.base import (
    Completion,
    FatalProviderError,
    ModelRequest,
    RetryableProviderError,
    StreamInterruptedError,
    TextDelta,
)
from assistant_router.providers.mock import MockProvider
from assistant_router.providers.registry import ENTRY_POINT_GROUP, ProviderRegistry
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


def test_entry_point_plugins_are_discovered(monkeypatch):
    class Echo:
        def __init__(self, cfg):
            self.cfg = cfg

    _plugins(monkeypatch, _FakeEntryPoint("echo", lambda: Echo))
    registry = ProviderRegistry()

    assert registry.names() == ["anthropic", "echo", "mock", "openai"]
    assert registry.create(config("echo")).cfg.model == "m-1"
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
