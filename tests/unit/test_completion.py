"""Shell completion, generated from the parser: sub-commands, their options,
option values and task names complete in a real bash; zsh and fish scripts
name the same things (checked by the shell itself where it is installed)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXE = str(Path(sys.executable).parent / "assistant-router")


def completion(shell: str) -> str:
    return subprocess.run([EXE, "completion", shell], capture_output=True, text=True, timeout=30, check=True).stdout


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("ro", ["route"]),
        ("run re", ["refactor", "review"]),
        ("serve --log-level d", ["debug"]),
        ("serve --of", ["--offline"]),
        ("route --task ex", ["explain"]),
        ("completion f", ["fish"]),
    ],
)
def test_bash_completes_commands_options_values_and_tasks(words, expected):
    script = completion("bash")
    parts = words.split(" ")
    line = " ".join(f"'{w}'" for w in ["assistant-router", *parts])
    probe = f'{script}\nCOMP_WORDS=({line}); COMP_CWORD={len(parts)}; _assistant_router; echo "${{COMPREPLY[*]}}"'
    done = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == expected


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_zsh_and_fish_scripts(shell):
    script = completion(shell)
    for word in ("serve", "run", "offline", "explain"):
        assert word in script
    if shutil.which(shell):
        check = ["zsh", "-n", "-c", script] if shell == "zsh" else ["fish", "--no-execute", "-c", script]
        assert subprocess.run(check, capture_output=True, timeout=30).returncode == 0
