"""Shared fixtures: a workspace on disk and a user config that routes to the mock provider."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from support import MOCK_USER_CONFIG, SAMPLE  # noqa: E402,F401  (shared with the editor suites)

# Every server the suite starts lives a second or two: importing the SDKs, grammars and rules after
# `initialized` (seconds of CPU each) would only slow the others down. The warm-up's own tests
# (tests/e2e/test_sdk_warmup.py) and bench/run.py turn it back on.
os.environ.setdefault("ASSISTANT_ROUTER_WARM_UP", "0")


@pytest.fixture
def sample() -> str:
    """The text of geometry.py in the workspace."""
    return SAMPLE


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "legacy").mkdir(parents=True)
    (root / "geometry.py").write_text(SAMPLE)
    (root / "legacy" / "old.py").write_text(SAMPLE)
    return root


@pytest.fixture
def user_config(tmp_path: Path) -> Path:
    path = tmp_path / "user" / "config.toml"
    path.parent.mkdir()
    path.write_text(MOCK_USER_CONFIG)
    return path


# ----------------------------------------------------------------------------- PostgreSQL

import glob  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import uuid  # noqa: E402


def _as_postgres(*command: str) -> list[str]:
    """PostgreSQL refuses to run as root: run its tools as the postgres user then."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else list(command)


@pytest.fixture(scope="session")
def postgres_server():
    """A real PostgreSQL server on loopback for the session (Debian's postgresql)."""
    bindirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    if not bindirs:
        if os.environ.get("ASSISTANT_ROUTER_REQUIRE_EDITORS"):
            pytest.fail("PostgreSQL is not installed (Debian: apt-get install postgresql)")
        pytest.skip("PostgreSQL is not installed")
    bindir = Path(bindirs[-1])
    base = Path(tempfile.mkdtemp(prefix="assistant-router-pg-"))
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
    data = base / "data"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    subprocess.run(_as_postgres(str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"),
                   check=True, capture_output=True)
    subprocess.run(
        _as_postgres(str(bindir / "pg_ctl"), "-D", str(data), "-w", "-l", str(base / "log"), "-o",
                     f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off", "start"),
        check=True, capture_output=True,
    )
    try:
        yield {"bindir": bindir, "port": port}
    finally:
        subprocess.run(_as_postgres(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"),
                       capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server) -> str:
    """A fresh database on the session's server."""
    name = f"ledger_{uuid.uuid4().hex[:12]}"
    subprocess.run([str(postgres_server["bindir"] / "createdb"), "-h", "127.0.0.1", "-p",
                    str(postgres_server["port"]), "-U", "postgres", name], check=True, capture_output=True)
    return f"postgresql://postgres@127.0.0.1:{postgres_server['port']}/{name}"
