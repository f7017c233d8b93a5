"""Keys from api_key_command belong to one provider pool, and a 401 drops them.

The SDK adapters run against the loopback fakes (testing/loopback.py) with the
real SDKs; the key command is a small script that prints the key from a file
and counts its runs, so a test can rotate the key as a password manager would.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from assistant_router.providers.base import FatalProviderError, ModelRequest, TextDelta
from assistant_router.providers.context import ProviderContext
from assistant_router.providers.registry import ProviderPool, ProviderRegistry
from assistant_router.routing.policy import ModelConfig
from assistant_router.testing.loopback import LoopbackProviders

OLD, NEW = "sk-old-0123456789abcdef", "sk-new-fedcba9876543210"
APIS = ["anthropic", "responses", "chat"]

KEY_SCRIPT = """\
import pathlib, sys
here = pathlib.Path(sys.argv[1])
with (here / "runs").open("a") as runs:
    runs.write("run\\n")
print((here / "key").read_text())
"""


class KeyCommand:
    """A password manager stand-in: prints the key in ``key``, counts its runs."""

    def __init__(self, directory: Path, key: str) -> None:
        self.directory = directory
        (directory / "kc.py").write_text(KEY_SCRIPT)
        self.rotate(key)
        self.argv = (sys.executable, str(directory / "kc.py"), str(directory))

    def rotate(self, key: str) -> None:
        (self.directory / "key").write_text(key)

    @property
    def runs(self) -> int:
        path = self.directory / "runs"
        return len(path.read_text().splitlines()) if path.exists() else 0


@pytest.fixture
async def fake():
    async with LoopbackProviders(key=OLD, chunk_chars=50) as server:
        yield server


@pytest.fixture(autouse=True)
def no_keys_in_the_environment(monkeypatch):
    for name in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "ANTHROPIC_BASE_URL", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


def alias(api: str, fake: LoopbackProviders, command: tuple[str, ...], name: str = "main") -> ModelConfig:
    if api == "anthropic":
        return ModelConfig(alias=name, provider="anthropic", model="claude-opus-4-6", base_url=fake.anthropic_url,
                           api_key_command=command)
    return ModelConfig(alias=name, provider="openai", model="gpt-5.3-codex", base_url=fake.openai_url, api=api,
                       api_key_command=command)


async def ask(pool: ProviderPool, config: ModelConfig) -> str:
    provider = pool.get(config)
    await provider.prepare()  # what engine/calling.py does before every call
    request = ModelRequest(model=config.model, system="s", prompt="say something")
    return "".join([e.text async for e in provider.stream(request) if isinstance(e, TextDelta)])


def sent_key(fake: LoopbackProviders, index: int = -1) -> str:
    headers = fake.requests[index].headers
    return headers.get("x-api-key") or headers["authorization"].removeprefix("Bearer ")


@pytest.mark.parametrize("api", APIS)
async def test_a_rotated_key_works_after_one_401_without_a_restart(fake, api, tmp_path):
    command = KeyCommand(tmp_path, OLD)
    pool = ProviderPool(ProviderRegistry(entry_points=False))
    config = alias(api, fake, command.argv)

    assert await ask(pool, config)
    assert await ask(pool, config)
    assert command.runs == 1  # cached in the pool

    command.rotate(NEW)
    fake.key = NEW  # the service now refuses the old key
    with pytest.raises(FatalProviderError) as caught:
        await ask(pool, config)
    assert str(caught.value) == "the API key was rejected (401); check the api_key_command of 'main'"
    assert OLD not in str(caught.value) and sent_key(fake) == OLD

    assert await ask(pool, config)  # the command runs again; a new client carries the new key
    assert command.runs == 2 and sent_key(fake) == NEW
    assert await ask(pool, config)
    assert command.runs == 2


async def test_two_pools_do_not_share_cached_keys(fake, tmp_path):
    command = KeyCommand(tmp_path, OLD)
    registry = ProviderRegistry(entry_points=False)
    first, second = ProviderPool(registry), ProviderPool(registry)

    # Two aliases with the same command share its key within a pool…
    assert await ask(first, alias("anthropic", fake, command.argv, "opus"))
    assert await ask(first, alias("responses", fake, command.argv, "codex"))
    assert command.runs == 1
    # …but another pool runs the command itself.
    assert await ask(second, alias("anthropic", fake, command.argv, "opus"))
    assert command.runs == 2


async def test_a_401_on_one_alias_lets_the_other_pick_up_the_new_key(fake, tmp_path):
    command = KeyCommand(tmp_path, OLD)
    pool = ProviderPool(ProviderRegistry(entry_points=False))
    opus, codex = alias("anthropic", fake, command.argv, "opus"), alias("chat", fake, command.argv, "codex")
    assert await ask(pool, opus) and await ask(pool, codex)

    command.rotate(NEW)
    fake.key = NEW
    with pytest.raises(FatalProviderError, match="401"):
        await ask(pool, opus)
    assert await ask(pool, opus)
    # codex's client still had the old key: prepare() sees the new one and rebuilds it, no second 401.
    assert await ask(pool, codex)
    assert command.runs == 2 and sent_key(fake) == NEW


async def test_concurrent_first_calls_run_the_command_once(fake, tmp_path):
    command = KeyCommand(tmp_path, OLD)
    pool = ProviderPool(ProviderRegistry(entry_points=False))
    configs = [alias(api, fake, command.argv, f"alias-{api}") for api in APIS]

    answers = await asyncio.gather(*(ask(pool, c) for c in configs))

    assert all(answers) and command.runs == 1


async def test_an_env_key_rejected_is_reported_and_the_client_rebuilt(fake, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong-0123456789")
    pool = ProviderPool(ProviderRegistry(entry_points=False))
    config = ModelConfig(alias="codex", provider="openai", model="m", base_url=fake.openai_url)
    with pytest.raises(FatalProviderError, match=r"rejected \(401\); check OPENAI_API_KEY"):
        await ask(pool, config)
    monkeypatch.setenv("OPENAI_API_KEY", OLD)
    assert await ask(pool, config) and sent_key(fake) == OLD


def test_forgetting_a_key_keeps_a_newer_one():
    context = ProviderContext()
    context._command_keys[("pass", "show", "x")] = NEW
    context.forget_key(("pass", "show", "x"), OLD)  # a late 401 from a request that used the old key
    assert context._command_keys == {("pass", "show", "x"): NEW}
    context.forget_key(("pass", "show", "x"), NEW)
    assert context._command_keys == {}


async def test_a_cancelled_key_command_is_killed(tmp_path):
    started = tmp_path / "pid"
    script = tmp_path / "slow.py"
    script.write_text(f"import os, pathlib, time\npathlib.Path({str(started)!r}).write_text(str(os.getpid()))\n"
                      "time.sleep(60)\n")
    context = ProviderContext()
    task = asyncio.create_task(context.command_key((sys.executable, str(script)), "opus"))
    while not started.exists() or not started.read_text():
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    with pytest.raises(ProcessLookupError):
        os.kill(int(started.read_text()), 0)


async def test_an_sdk_is_imported_once_per_context():
    first, second = ProviderContext(), ProviderContext()
    module = await first.import_sdk("json")
    assert module is await first.import_sdk("json") is await second.import_sdk("json")  # Python's own cache
    assert list(first._imported) == ["json"] and list(second._imported) == ["json"]
