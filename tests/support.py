"""What several test suites share (on sys.path through pytest's `pythonpath`)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

# The installed command, beside the interpreter running the tests.
EXE = str(Path(sys.executable).parent / "assistant-router")


async def terminal_run(*args: str, env: dict, cwd: Path) -> tuple[int, str, str]:
    """``assistant-router run ARGS`` in ``cwd``: exit code, stdout, stderr."""
    process = await asyncio.create_subprocess_exec(
        EXE, "run", *args, cwd=cwd, env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode, out.decode(), err.decode()

SAMPLE = textwrap.dedent(
    '''\
    import math


    def area(radius):
        # TODO: validate radius
        return math.pi * radius ** 2


    def perimeter(radius):
        return 2 * math.pi * radius
    '''
)

# The two default aliases keep their names and model IDs but answer offline.
MOCK_USER_CONFIG = textwrap.dedent(
    """\
    [models.codex]
    provider = "mock"
    model = "gpt-5.3-codex"

    [models.opus]
    provider = "mock"
    model = "claude-opus-4-6"

    [models.codex-mini]
    provider = "mock"
    model = "gpt-5.1-codex-mini"

    [models.haiku]
    provider = "mock"
    model = "claude-haiku-4-5"
    """
)

# A long Python module for the big-input tests: function N starts at line 5 N (0-based).
FUNCTION = "def helper_{n}(value):\n    total = value * {n}\n    return total + 1\n\n\n"


def long_module(chars: int) -> str:
    """At least ``chars`` characters of :data:`FUNCTION` s, numbered from 0."""
    out, n, size = [], 0, 0
    while size < chars:
        out.append(FUNCTION.format(n=n))
        size += len(out[-1])
        n += 1
    return "".join(out)


# ----------------------------------------------------------------------------- raw bytes on the wire

WAIT = 15.0  # seconds: the most any step may take before the test fails


def frame(message: Any) -> bytes:
    """One LSP frame: ``message`` (bytes as they are, anything else as JSON) after its header."""
    body = message if isinstance(message, bytes) else json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


class RawClient:
    """Raw bytes on the server's stdin, LSP frames parsed from its stdout."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.messages: list[dict[str, Any]] = []

    @classmethod
    async def start(cls, env: dict[str, str]) -> RawClient:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "assistant_router.server", "serve",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
            env={**os.environ, **env},
        )
        return cls(process)

    def send_bytes(self, data: bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(data)

    def send(self, message: dict[str, Any]) -> None:
        self.send_bytes(frame(message))

    async def _read_one(self) -> dict[str, Any] | None:
        assert self.process.stdout is not None
        length = None
        while True:
            line = await self.process.stdout.readline()
            if not line:
                return None
            if not line.strip():
                break
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        assert length is not None
        message = json.loads(await self.process.stdout.readexactly(length))
        if "method" in message and "id" in message:  # a request to the client: answer null
            self.send({"jsonrpc": "2.0", "id": message["id"], "result": None})
        return message

    async def response(self, msg_id: Any) -> dict[str, Any] | None:
        """The response to ``msg_id``, or None if the server exits first."""
        async def wait() -> dict[str, Any] | None:
            while True:
                message = await self._read_one()
                if message is None:
                    return None
                self.messages.append(message)
                if message.get("id") == msg_id and "method" not in message:
                    return message

        return await asyncio.wait_for(wait(), WAIT)

    async def initialize(self, root: Path) -> None:
        self.send({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                   "params": {"processId": None, "rootUri": root.as_uri(), "capabilities": {},
                              "workspaceFolders": [{"uri": root.as_uri(), "name": "project"}]}})
        assert "result" in (await self.response(1) or {})
        self.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})

    async def close(self) -> int:
        if self.process.returncode is None:
            self.send({"jsonrpc": "2.0", "id": "bye", "method": "shutdown"})
            self.send({"jsonrpc": "2.0", "method": "exit"})
            try:
                await asyncio.wait_for(self.process.wait(), WAIT)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        return self.process.returncode or 0


def code_action_request(msg_id: int, uri: str, only: Any = None) -> dict[str, Any]:
    context: dict[str, Any] = {"diagnostics": []}
    if only is not None:
        context["only"] = only
    return {"jsonrpc": "2.0", "id": msg_id, "method": "textDocument/codeAction",
            "params": {"textDocument": {"uri": uri},
                       "range": {"start": {"line": 3, "character": 0}, "end": {"line": 6, "character": 0}},
                       "context": context}}


@asynccontextmanager
async def raw_server(tmp_path: Path, workspace: Path, user_config: Path) -> AsyncIterator[RawClient]:
    """The real server on the mock provider, initialized on ``workspace``; shut down at the end."""
    client = await RawClient.start({
        "ASSISTANT_ROUTER_CONFIG": str(user_config),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
    })
    try:
        await client.initialize(workspace)
        yield client
    finally:
        await client.close()


# ----------------------------------------------------------------------------- fuzzing

FUZZ_EXAMPLES_ENV = "ASSISTANT_ROUTER_FUZZ_EXAMPLES"


def fuzz_examples(default: int = 50) -> int:
    """Examples per property: ``default``, or ``$ASSISTANT_ROUTER_FUZZ_EXAMPLES`` for a long run."""
    return int(os.environ.get(FUZZ_EXAMPLES_ENV) or default)


# ----------------------------------------------------------------------------- the secrets development set

SECRETS_DEV_GENERATOR = Path("/work/shared/data/secrets-dev/generate.py")


def secrets_dev_set(out: Path) -> list[dict[str, str]] | None:
    """Write the independent secrets development set (../shared/data) into
    ``out``; its manifest, or None where the generator or its tools are missing."""
    if not SECRETS_DEV_GENERATOR.exists() or not all(shutil.which(t) for t in ("ssh-keygen", "openssl", "gpg")):
        return None
    subprocess.run([sys.executable, str(SECRETS_DEV_GENERATOR), str(out)], check=True, capture_output=True, timeout=120)
    return json.loads((out / "manifest.json").read_text())


def leaked(secret: str, text: str) -> bool:
    """A secret survives if it does, or (for a multi-line block) if any line of its body does."""
    if secret in text:
        return True
    body = [line.strip() for line in secret.replace("\\n", "\n").splitlines()[1:-1]]
    return any(len(line) >= 8 and line in text for line in body)
