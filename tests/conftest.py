"""Shared fixtures: a workspace on disk and a user config that routes to the mock provider."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

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
