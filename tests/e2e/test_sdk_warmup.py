"""The SDK warm-up after ``initialized``: the real server imports, in a
worker thread, the SDKs of the providers its policies use, and nothing else.

Stand-in ``openai`` and ``anthropic`` packages on the server's PYTHONPATH
(ahead of the real ones) leave a file when the server process executes them,
so the tests see what the server imported; one holds its import until the
test releases it, one fails.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from support import WAIT, RawClient

FAKE_SDK = """\
import os, pathlib, time
marks = pathlib.Path(os.environ["FAKE_SDK_MARKS"])
(marks / "{name}.started").touch()
if os.environ.get("FAKE_SDK_MODE") == "hold":  # until the test releases it
    deadline = time.monotonic() + float(os.environ.get("FAKE_SDK_HOLD_S", {wait}))
    while not (marks / "release").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
if os.environ.get("FAKE_SDK_MODE") == "broken":
    raise ImportError("this {name} SDK is broken")
(marks / "{name}.imported").touch()
"""

OPENAI_ONLY = """\
[models.codex]
provider = "openai"
model = "gpt-5.3-codex"
base_url = "http://127.0.0.1:9/v1"

[models.opus]
provider = "openai"
model = "gpt-5.3-codex"
base_url = "http://127.0.0.1:9/v1"
"""


@pytest.fixture
def fake_sdks(tmp_path: Path, user_config: Path):
    """Stand-in SDKs, a policy routing only to openai; returns (marks, env)."""
    packages, marks = tmp_path / "fake_sdks", tmp_path / "marks"
    marks.mkdir()
    for name in ("openai", "anthropic"):
        (packages / name).mkdir(parents=True)
        (packages / name / "__init__.py").write_text(FAKE_SDK.format(name=name, wait=WAIT))
    user_config.write_text(OPENAI_ONLY)
    pythonpath = os.pathsep.join(p for p in (str(packages), os.environ.get("PYTHONPATH")) if p)
    return marks, {"PYTHONPATH": pythonpath, "FAKE_SDK_MARKS": str(marks), "OPENAI_API_KEY": "sk-unused",
                   "ASSISTANT_ROUTER_WARM_UP": "1"}  # tests/conftest.py turns it off for the rest of the suite


async def test_only_the_sdks_the_policy_uses_are_imported(start_session, fake_sdks):
    marks, env = fake_sdks
    session = await start_session("vscode", env=env)

    await session.wait_for(lambda: (marks / "openai.imported").exists(), timeout=WAIT)
    session.open("geometry.py")
    await session.code_actions(session.uri("geometry.py"), 3, 6)  # the server has handled everything before

    assert sorted(p.name for p in marks.iterdir()) == ["openai.imported", "openai.started"]


async def test_code_actions_are_answered_while_the_import_runs(start_session, fake_sdks):
    marks, env = fake_sdks
    session = await start_session("vscode", env={**env, "FAKE_SDK_MODE": "hold"})
    await session.wait_for(lambda: (marks / "openai.started").exists(), timeout=WAIT)
    uri = session.open("geometry.py")

    actions = await session.code_actions(uri, 3, 6)

    assert not (marks / "openai.imported").exists()  # the import is still held
    assert any(a.title.startswith("Explain selection · opus") for a in actions)
    (marks / "release").touch()
    await session.wait_for(lambda: (marks / "openai.imported").exists(), timeout=WAIT)


async def test_a_broken_sdk_is_reported_by_the_task_not_the_server(start_session, fake_sdks):
    marks, env = fake_sdks
    session = await start_session("vscode", env={**env, "FAKE_SDK_MODE": "broken"})
    await session.wait_for(lambda: "importing the SDK openai in advance failed" in session.logs(), timeout=WAIT)
    uri = session.open("geometry.py")

    before = await session.code_actions(uri, 3, 6)
    result = await session.execute("assistant.run", session.task_argument("explain", uri, 3, 6))
    after = await session.code_actions(uri, 3, 6)

    assert result["status"] == "failed" and "this openai SDK is broken" in result["message"], result
    assert before and after == before


async def test_quitting_during_the_warm_up_does_not_wait_for_the_import(tmp_path, workspace, user_config, fake_sdks):
    marks, env = fake_sdks
    client = await RawClient.start({**env, "FAKE_SDK_MODE": "hold", "FAKE_SDK_HOLD_S": str(4 * WAIT),
                                    "ASSISTANT_ROUTER_CONFIG": str(user_config),
                                    "XDG_CACHE_HOME": str(tmp_path / "cache"), "XDG_DATA_HOME": str(tmp_path / "data")})
    await client.initialize(workspace)
    deadline = asyncio.get_running_loop().time() + WAIT
    while not (marks / "openai.started").exists():
        assert asyncio.get_running_loop().time() < deadline, "the warm-up did not start"
        await asyncio.sleep(0.02)

    exit_code = await client.close()  # kills the server if it has not exited within WAIT

    assert exit_code == 0 and not (marks / "openai.imported").exists()  # it left while the import was held
