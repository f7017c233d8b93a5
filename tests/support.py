"""What several test suites share (on sys.path through pytest's `pythonpath`)."""

import asyncio
import os
import sys
import textwrap
from pathlib import Path

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
