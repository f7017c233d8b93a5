"""Install paths that exist: no file tells a user to install `assistant-router`
from a package registry (no package of that name is published, and whoever
registered it would have their code run), and the wheel `make dist` builds
holds everything an installed server needs."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# pip/pipx/uv installing the bare name (not a path such as /path/to/assistant-router or a wheel).
REGISTRY_INSTALL = re.compile(
    r"\b(?:pipx|pip3?|uv(?:\s+tool|\s+pip)?|python3?\s+-m\s+pip|py\s+-m\s+pip)\s+install\s+(?:--?\S+\s+)*"
    r"assistant-router(?![\w./\\-])"
)
TEXT = {".md", ".json", ".ts", ".lua", ".el", ".toml", ".py", ".txt", ".yml", ".yaml", ".sh", ".vim", ""}
SKIP = {".git", ".venv", "node_modules", "dist", "build", ".cache", "test-artifacts"}


def user_facing_files() -> list[Path]:
    found = []
    for path in REPO.rglob("*"):
        parts = set(path.relative_to(REPO).parts)
        if parts & SKIP or not path.is_file() or path.suffix not in TEXT or path.name.startswith("."):
            continue
        found.append(path)
    return found


def test_no_file_installs_the_name_from_a_registry():
    files = user_facing_files()
    assert any(p.name == "README.md" for p in files) and any(p.name == "installer.json" for p in files)
    offenders = []
    for path in files:
        if path == Path(__file__):
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if REGISTRY_INSTALL.search(line):
                offenders.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert offenders == []


def test_the_pattern_tells_a_registry_name_from_a_path():
    for bad in ("pipx install assistant-router", "pip install --user assistant-router",
                "uv tool install assistant-router", "python3 -m pip install --user assistant-router",
                "`pipx install assistant-router`."):
        assert REGISTRY_INSTALL.search(bad), bad
    for fine in ("pipx install /path/to/assistant-router", "pipx install dist/assistant_router-0.1.0-py3-none-any.whl",
                 "pip install -e .", "pipx install ~/src/assistant-router", "pip install C:\\src\\assistant-router"):
        assert not REGISTRY_INSTALL.search(fine), fine


def test_the_wheel_holds_the_data_files_and_the_command(tmp_path):
    build = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(tmp_path), str(REPO)]
    subprocess.run(build, check=True, timeout=180, capture_output=True)
    (wheel,) = tmp_path.glob("assistant_router-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in ("assistant_router/engine/gitleaks.toml", "assistant_router/engine/prompts.toml",
                   "assistant_router/routing/defaults.toml", "assistant_router/routing/intent_model.bin",
                   "assistant_router/cli/demo/policy.toml",
                   "assistant_router/server/app.py", "assistant_router/testing/loopback.py"):
        assert needed in names, needed
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "assistant-router = assistant_router.cli.main:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
