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

    assert imports == ["openai", "httpcore2"]  # the SDK and the transport it loads on its first request


async def test_a_failed_warm_up_import_is_retried_and_reported_by_the_task(imports):
    context = context_module.ProviderContext()

    await context.warm(["broken"])  # logged, not raised
    with pytest.raises(ImportError, match="no module named broken"):
        await context.import_sdk("broken")

    assert imports == ["broken", "broken"]
