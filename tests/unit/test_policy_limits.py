"""Hostile or broken policy files are issues with their line, never exceptions;
the limits are documented in README.md's policy reference."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from assistant_router.engine.policies import PolicyStore
from assistant_router.providers.registry import ProviderRegistry
from assistant_router.routing import config
from assistant_router.routing.config import load_policy
from assistant_router.routing.policy import (
    MAX_DEPTH,
    MAX_ENTRIES,
    MAX_FILE_BYTES,
    MAX_STRING_CHARS,
    Layer,
    build_policy,
    builtin_layer,
)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "project").mkdir()
    return tmp_path / "project"


@pytest.fixture
def user(tmp_path: Path) -> Path:
    return tmp_path / "user.toml"  # absent unless a test writes it


def load_bytes(root: Path, user: Path, data: bytes):
    (root / ".assistant-router.toml").write_bytes(data)
    return load_policy(root, user_config=user)


def only_error(load):
    assert load.policy is None
    (error,) = load.errors
    return error


@pytest.mark.parametrize(
    "text",
    [
        "a = " + "[" * 2000 + "]" * 2000 + "\n",  # deeper than the TOML parser can go
        "x = " + "{a = " * 2000 + "1" + "}" * 2000 + "\n",
        "[models.m.options]\nx = " + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1) + "\n",  # parses, too deep
        "[models.m.options]\n" + ".".join(["k"] * 40) + " = 1\n",  # dotted keys nest too
    ],
    ids=["arrays-2000", "inline-tables-2000", "arrays-17", "dotted-keys-40"],
)
def test_nesting_depth(root, user, text):
    error = only_error(load_bytes(root, user, text.encode()))
    assert f"nested deeper than the limit of {MAX_DEPTH} levels" in error.message
    assert error.line == (2 if text.startswith("[models") and "x =" in text else 1)  # dotted: the table's line


def test_invalid_utf8_names_the_file_and_the_line(root, user):
    error = only_error(load_bytes(root, user, b'[routes]\nreview = "codex"\n\xff\n'))
    assert error.source == str(root / ".assistant-router.toml")
    assert error.message == ".assistant-router.toml is not valid UTF-8: byte 0xFF at line 3, column 1"
    assert error.line == 3


def test_file_size(root, user):
    error = only_error(load_bytes(root, user, b'instructions = "' + b"a" * 10_000_000 + b'"\n'))
    assert error.message == f"the file is larger than the limit of {MAX_FILE_BYTES:,} bytes"


def test_unsaved_text_has_the_same_size_limit(root, user):
    load = load_policy(root, project_text="# " + "x" * MAX_FILE_BYTES, user_config=user)
    assert "larger than the limit" in only_error(load).message


def test_long_string(root, user):
    error = only_error(load_bytes(root, user, b'[privacy]\nexclude = ["' + b"a" * (MAX_STRING_CHARS + 1) + b'"]\n'))
    assert error.message == f"a string of {MAX_STRING_CHARS + 1:,} characters; the limit is {MAX_STRING_CHARS:,}"
    assert error.line == 2


@pytest.mark.parametrize(
    ("text", "line", "what"),
    [
        ("[privacy]\nexclude = [" + '"x",' * 200_000 + "]\n", 2, "200,000 items in privacy.exclude"),
        ("".join('[[rules]]\nuse = "opus"\n' for _ in range(20_000)), 1, "20,000 items in rules"),
        ("".join(f'[models.m{i}]\nprovider = "mock"\nmodel = "m"\n' for i in range(MAX_ENTRIES + 1)), 1,
         f"{MAX_ENTRIES + 1:,} keys in models"),
    ],
    ids=["excludes", "rules", "aliases"],
)
def test_counts(root, user, text, line, what):
    error = only_error(load_bytes(root, user, text.encode()))
    assert error.message == f"{what}; the limit is {MAX_ENTRIES:,}"
    assert error.line == line


def test_within_the_limits_loads(root, user):
    text = "".join(f'[[rules]]\nwhen = {{ paths = ["p{i}/**"] }}\nuse = "opus"\n' for i in range(MAX_ENTRIES))
    load = load_bytes(root, user, text.encode())
    assert load.policy is not None and len(load.policy.rules) == MAX_ENTRIES


@pytest.mark.parametrize("value", ["a" * 300, "a/" * 3000 + "x", "a\\u0000b", "~no-such-user-h7/x.md"],
                         ids=["name-too-long", "path-too-long", "nul", "unknown-user"])
def test_an_instructions_value_that_is_no_path(root, user, value):
    error = only_error(load_bytes(root, user, f'# the instructions\ninstructions = "{value}"\n'.encode()))
    assert error.message.startswith("instructions is not a valid path: ")
    assert error.line == 2 and error.key == "instructions"


def test_a_policy_file_that_is_a_directory(root, user):
    (root / ".assistant-router.toml").mkdir()
    error = only_error(load_policy(root, user_config=user))
    assert error.message.startswith("cannot read the file: ")


def test_the_unsaved_text_is_checked_as_strictly():
    text = "a = " + "[" * 2000 + "]" * 2000 + "\n"
    policy, issues = build_policy([builtin_layer(), Layer("unsaved", Path("p.toml"), text)])
    assert policy is None and "nested deeper" in issues[0].message


def test_a_bug_in_the_loader_is_an_issue_not_an_exception(root, user, monkeypatch):
    (root / ".assistant-router.toml").write_text('[routes]\nreview = "codex"\n')

    def broken(*args, **kwargs):
        raise KeyError("oops")

    monkeypatch.setattr(config, "build_policy", broken)
    error = only_error(load_policy(root, user_config=user))
    assert error.source == str(root / ".assistant-router.toml")
    assert "could not load the policy (KeyError: 'oops')" in error.message


def test_the_store_keeps_the_last_good_policy_whatever_the_loader_does(root, user, monkeypatch):
    monkeypatch.setenv("ASSISTANT_ROUTER_CONFIG", str(user))
    policy_file = root / ".assistant-router.toml"
    policy_file.write_text('[routes]\nreview = "codex"\n')
    reports = []
    store = PolicyStore(ProviderRegistry(), reports.append)
    assert store.router(root).policy.routes["review"].chain == ("codex",)

    for hostile in (b"a = " + b"[" * 2000 + b"]" * 2000, b"\xff", b'instructions = "' + b"a" * 300 + b'"'):
        policy_file.write_bytes(hostile)
        report = store.reload(root)
        assert report.message and "the previous policy keeps serving" in report.message
        assert store.router(root).policy.routes["review"].chain == ("codex",)

    import assistant_router.engine.policies as policies

    monkeypatch.setattr(policies, "load_policy", lambda *a, **k: 1 / 0)
    report = store.reload(root)
    assert "ZeroDivisionError" in report.issues[0].message
    assert store.router(root).policy.routes["review"].chain == ("codex",)
    # At first load, a broken loader leaves the defaults serving.
    fresh = PolicyStore(ProviderRegistry(), reports.append)
    assert fresh.router(root).policy.sources == ("built-in defaults",)


CLI = "from assistant_router.cli.main import main; raise SystemExit(main())"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"a = " + b"[" * 2000 + b"]" * 2000 + b"\n", "nested deeper than the limit of 16 levels"),
        (b"\xff\n", "is not valid UTF-8: byte 0xFF at line 1, column 1"),
        (b'instructions = "' + b"a" * 300 + b'"\n', ":1: error [instructions]: instructions is not a valid path"),
    ],
    ids=["deep", "0xff", "long-instructions"],
)
def test_check_reports_the_same_problems(root, user, data, expected):
    (root / ".assistant-router.toml").write_bytes(data)
    result = subprocess.run(
        [sys.executable, "-c", CLI, "check", str(root)],
        capture_output=True, timeout=60, env={"ASSISTANT_ROUTER_CONFIG": str(user), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 1, result.stderr
    assert expected in result.stdout.decode()
    assert b"Traceback" not in result.stderr


def test_the_depth_limit_counts_the_top_level_table(root, user):
    def options(arrays: int) -> bytes:
        value = "[" * arrays + "]" * arrays
        return f'[models.m]\nprovider = "mock"\nmodel = "m"\n[models.m.options]\nx = {value}\n'.encode()

    # The top-level table, models, m, options and 12 arrays: 16 levels.
    assert load_bytes(root, user, options(12)).policy is not None
    assert "nested deeper" in only_error(load_bytes(root, user, options(13))).message
