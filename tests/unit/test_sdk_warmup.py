"""ProviderPool.warm: the SDKs of the given aliases' providers, each imported
once and shared with the tasks; a failure is left for the task to report."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace

import pytest

from assistant_router.providers import context as context_module
from assistant_router.providers.registry import ProviderPool, ProviderRegistry
from assistant_router.routing.policy import ModelConfig


def alias(name: str, provider: str) -> ModelConfig:
    return ModelConfig(alias=name, provider=provider, model="m")


@pytest.fixture
def imports(monkeypatch) -> list[str]:
    """The names the context imports; ``broken`` fails."""
    seen: list[str] = []

    def fake_import(name: str):
        seen.append(name)
        if name == "broken":
            raise ImportError("no module named broken")
        return json

    monkeypatch.setattr(context_module, "importlib", SimpleNamespace(import_module=fake_import))
    return seen


async def test_warm_imports_each_sdk_of_the_aliases_once_and_tasks_reuse_it(imports):
    pool = ProviderPool(ProviderRegistry(entry_points=False))

    await asyncio.gather(
        pool.warm([alias("a", "openai"), alias("b", "openai"), alias("c", "mock")]),
        pool.context.import_sdk("openai"),  # a task starting during the warm-up
    )
    await pool.context.import_sdk("openai")

    # the SDK, and the transport and async back end it loads on its first request
    assert imports == ["openai", "httpcore2", "anyio._backends._asyncio"]


async def test_an_sdk_is_imported_with_the_garbage_collector_paused(monkeypatch):
    """A full collection during ``import anthropic`` held the loop for up to 80 ms."""
    import gc

    collector_on: list[bool] = []
    monkeypatch.setattr(context_module, "importlib",
                        SimpleNamespace(import_module=lambda name: collector_on.append(gc.isenabled()) or json))
    was_enabled = gc.isenabled()
    gc.enable()
    try:
        await context_module.ProviderContext().import_sdk("openai")
        assert collector_on == [False]
        assert gc.isenabled()
    finally:
        gc.unfreeze()
        if not was_enabled:
            gc.disable()


async def test_a_failed_warm_up_import_is_retried_and_reported_by_the_task(imports):
    context = context_module.ProviderContext()

    await context.warm(["broken"])  # logged, not raised
    with pytest.raises(ImportError, match="no module named broken"):
        await context.import_sdk("broken")

    assert imports == ["broken", "broken"]


@pytest.fixture
def no_network(monkeypatch) -> list[tuple]:
    """Every attempt to open a connection, refused and recorded."""
    import socket

    attempts: list[tuple] = []

    def refuse(self, address, *args):
        attempts.append(address)
        raise OSError("no network in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    return attempts


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
async def test_the_rehearsal_streams_an_answer_through_the_real_sdk_without_sending(provider, no_network, monkeypatch):
    """One request per wire API through the adapter and its SDK, answered by
    an in-process transport: no connection, no key read."""
    for name in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    registry = ProviderRegistry(entry_points=False)
    pool = ProviderPool(registry)
    events: list = []
    factory = registry.factory(provider)
    original = factory.stream

    async def recording(self, request):
        async for event in original(self, request):
            events.append(event)
            yield event

    monkeypatch.setattr(factory, "stream", recording)

    await pool.warm([alias("a", provider)])

    assert no_network == []
    assert len(events) >= len(factory.rehearsal_apis) and any(getattr(e, "text", "") for e in events), events


async def test_a_failed_rehearsal_is_logged_not_raised(monkeypatch, caplog):
    registry = ProviderRegistry(entry_points=False)

    async def broken(cls, provider, context):
        raise RuntimeError("the SDK changed its event format")

    monkeypatch.setattr(registry.factory("anthropic"), "rehearse", classmethod(broken))

    await ProviderPool(registry).warm([alias("a", "anthropic")])

    assert "rehearsing a request to anthropic failed: RuntimeError: the SDK changed its event format" in caplog.text


async def test_the_clients_of_a_pool_share_one_tls_context_built_at_warm_up(monkeypatch):
    """Loading the CA bundle takes about 30 ms: once per pool, at warm-up, not
    per client on the first task."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    pool = ProviderPool(ProviderRegistry(entry_points=False))
    await pool.warm([alias("a", "anthropic"), alias("b", "openai")])
    shared = await pool.context.tls_context()

    clients = [await pool.get(alias(name, provider))._get_client()
               for name, provider in (("a", "anthropic"), ("b", "openai"))]

    assert {id(client._client._transport._pool._ssl_context) for client in clients} == {id(shared)}


def test_the_messages_of_a_task_are_converted_in_advance():
    from lsprotocol import types
    from pygls.protocol import default_converter

    from assistant_router.server.features.lifecycle import _convert_task_messages

    converter = default_converter()
    _convert_task_messages(converter)  # every message type it builds is valid

    dispatch = converter._unstructure_func.dispatch  # cattrs's cache of generated functions
    for kind in (types.WorkDoneProgressCreateRequest, types.ProgressNotification, types.ApplyWorkspaceEditRequest,
                 types.PublishDiagnosticsNotification, types.ShowDocumentRequest):
        misses = dispatch.cache_info().misses
        dispatch(kind)
        assert dispatch.cache_info().misses == misses, f"{kind.__name__} is converted on first use"
