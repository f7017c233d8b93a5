"""The worked example in docs/providers.md works as the page says."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from pathlib import Path

import pytest

from assistant_router.providers.base import (
    FatalProviderError,
    ModelRequest,
    Provider,
    RetryableProviderError,
    TextDelta,
)
from assistant_router.providers.registry import ProviderRegistry
from assistant_router.routing.config import load_policy
from assistant_router.routing.policy import ModelConfig

EXAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "command_provider" / "command_provider.py"


@pytest.fixture(scope="module")
def example():
    spec = importlib.util.spec_from_file_location("command_provider", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def registry(example, monkeypatch) -> ProviderRegistry:
    """Registered exactly as its pyproject.toml's entry point would register it."""

    class EntryPoint:
        name, value = "command", "command_provider:CommandProvider"

        def load(self):
            return example.CommandProvider

    import importlib.metadata

    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group: [EntryPoint()])
    return ProviderRegistry()


def script(tmp_path: Path, body: str) -> list[str]:
    path = tmp_path / "model.py"
    path.write_text(body)
    return [sys.executable, str(path)]


def config(argv, **options) -> ModelConfig:
    return ModelConfig(alias="local", provider="command", model="tiny", options={"argv": argv, **options})


async def collect(provider) -> list:
    return [e async for e in provider.stream(ModelRequest(model="tiny", system="be brief", prompt="say hi"))]


async def test_streams_the_commands_output(registry, tmp_path):
    argv = script(tmp_path, "import sys\ndata = sys.stdin.read()\nprint('héllo ' + str(len(data)))\n")
    provider = registry.create(config(argv))
    await provider.prepare()

    *deltas, done = await collect(provider)

    assert "".join(d.text for d in deltas) == f"héllo {len('be brief') + 2 + len('say hi')}\n"
    assert done.usage.output_tokens > 0


def test_options_are_validated_at_policy_load(registry, tmp_path):
    problems = list(registry.check(config(["x"], colour="red")))
    assert problems == [(("options", "colour"), "unknown option 'colour'", "error")]

    policy = tmp_path / "project" / ".assistant-router.toml"
    policy.parent.mkdir()
    policy.write_text('[models.local]\nprovider = "command"\nmodel = "m"\noptions = { argv = ["ok", 3] }\n')
    load = load_policy(policy.parent, registry.check, user_config=tmp_path / "none.toml")
    (issue,) = load.errors
    assert (issue.line, issue.key, issue.message) == (
        4,
        "models.local.options.argv[2]",
        "Input should be a valid string",
    )


def test_the_example_subclasses_the_provider_base(example):
    assert issubclass(example.CommandProvider, Provider)
    assert example.CommandProvider.Options is example.CommandOptions


async def test_exit_codes_map_to_the_error_classes(registry, tmp_path):
    argv = script(tmp_path, "import sys\nprint('busy', file=sys.stderr)\nsys.exit(75)\n")
    with pytest.raises(RetryableProviderError, match="exited with 75: busy"):
        await collect(registry.create(config(argv, retry_exit_codes=[75])))
    with pytest.raises(FatalProviderError, match="exited with 75"):
        await collect(registry.create(config(argv)))


async def test_a_missing_command_is_fatal_before_anything_runs(registry):
    with pytest.raises(FatalProviderError, match="command not found: no-such-model-runner"):
        await registry.create(config(["no-such-model-runner"])).prepare()


async def test_cancelling_kills_the_command(registry, tmp_path):
    argv = script(tmp_path, "import time\nfor i in range(100):\n    print(i, flush=True)\n    time.sleep(0.05)\n")
    provider = registry.create(config(argv))
    received: list = []

    async def consume():
        async for event in provider.stream(ModelRequest(model="tiny", system="", prompt="")):
            received.append(event)

    task = asyncio.create_task(consume())
    while not received:
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    count = len(received)
    await asyncio.sleep(0.2)
    assert len(received) == count and all(isinstance(e, TextDelta) for e in received)
