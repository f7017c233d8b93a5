"""Property-based fuzzing of the policy loader: ``routing/config.py load_policy``
(a file's bytes), ``engine/policies.py PolicyStore.validate`` (the unsaved text
``server/features/policy_files.py`` checks as the user types) and ``reload``.

Documents are built from the policy's own keys with random values, then
rendered as TOML (tables, arrays of tables, inline tables), sometimes with
one character changed, sometimes replaced by random bytes. Properties: a
load returns issues and never raises, and never fails as a bug of the
loader; every error in the project file names a line inside it; a failing
load keeps the last good policy serving. Sizes stay small: the limits
themselves are tests/unit/test_policy_limits.py."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from fuzz.strategies import TASK_NAMES
from hypothesis import example, given
from hypothesis import strategies as st

from assistant_router.engine.policies import PolicyStore
from assistant_router.providers.registry import ProviderRegistry
from assistant_router.routing.config import load_policy
from assistant_router.routing.policy import MAX_DEPTH
from assistant_router.routing.toml_locations import TomlLocations

BUG = "this is a bug in assistant-router"  # routing/config.py loader_failure()
GOOD = '[routes]\nreview = "codex"\n'


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("fuzz-policy")
    (base / "project").mkdir()
    (base / "user.toml").write_text('[models.codex]\nprovider = "mock"\n\n[models.opus]\nprovider = "mock"\n')
    with pytest.MonkeyPatch.context() as env:
        env.setenv("ASSISTANT_ROUTER_CONFIG", str(base / "user.toml"))
        yield base / "project"


# ----------------------------------------------------------------------------- documents

text = st.text(max_size=12)
toml_scalars = text | st.integers() | st.floats() | st.booleans()
toml_values = st.recursive(
    toml_scalars, lambda c: st.lists(c, max_size=3) | st.dictionaries(text, c, max_size=3), max_leaves=8)
numbers = st.integers(-5, 10**6) | st.floats(-1, 1e7)
aliases = st.sampled_from(["codex", "opus", "fast", ""]) | text
one_or_many = aliases | st.lists(aliases, max_size=3)
globs = st.sampled_from(["**/*.py", "legacy/**", "!x", "[", "\\", "a/**/b", "**"]) | text


def keys(schema: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """Some of ``schema``'s keys, each with a fitting or an arbitrary value, and now and then an unknown key."""
    return st.fixed_dictionaries({}, optional={k: v | toml_values for k, v in schema.items()}) \
        .flatmap(lambda d: st.one_of(st.just(d), st.tuples(text, toml_values).map(lambda kv: {**d, kv[0]: kv[1]})))


timeouts = keys({name: numbers for name in ("connect", "first_token", "idle", "total")})
prices = keys({"input": numbers, "output": numbers, "cached_input": numbers,
               "tiers": st.lists(keys({"above_input_tokens": numbers, "input": numbers, "output": numbers}),
                                 max_size=2)})
model = keys({
    "provider": st.sampled_from(["mock", "openai", "anthropic", "no-such"]), "model": text,
    "max_output_tokens": numbers, "temperature": numbers, "timeouts": timeouts, "retries": numbers,
    "retry_backoff": numbers, "max_concurrency": numbers, "context_budget": numbers, "context_window": numbers,
    "prices": prices, "api": st.sampled_from(["responses", "chat", "soap"]),
    "options": st.dictionaries(text, toml_values),
    "base_url": st.sampled_from(["http://127.0.0.1:1/v1", "ftp://x", ""]) | text,
    "api_key_env": st.sampled_from(["OPENAI_API_KEY", "", "1X"]) | text,
    "api_key_command": text | st.lists(text, max_size=2), "headers": st.dictionaries(text, text | toml_values),
})
when = keys({"task": st.sampled_from(TASK_NAMES) | st.lists(st.sampled_from(TASK_NAMES)), "paths": globs
             | st.lists(globs, max_size=3), "languages": text | st.lists(text), "min_lines": numbers,
             "max_lines": numbers})
document = keys({
    "models": st.dictionaries(aliases, model, max_size=3),
    "routes": st.dictionaries(st.sampled_from(TASK_NAMES) | text, one_or_many, max_size=3),
    "rules": st.lists(keys({"name": text, "when": when, "use": one_or_many}), max_size=3),
    "instructions": st.sampled_from(["AGENTS.md", "../../etc/passwd", "~/x.md", "/"]) | text,
    "privacy": keys({"exclude": globs | st.lists(globs, max_size=3), "gitignore": st.booleans(),
                     "redact_secrets": st.booleans()}),
    "budget": keys({"daily_usd": numbers, "monthly_usd": numbers, "on_exceed": st.sampled_from(["refuse", "downgrade"]),
                    "downgrade_to": one_or_many, "unknown_price": st.sampled_from(["most_expensive", "refuse"]),
                    "tasks": st.dictionaries(st.sampled_from(TASK_NAMES) | text,
                                             keys({"daily_usd": numbers, "monthly_usd": numbers}), max_size=2)}),
    "ledger_url": st.sampled_from(["sqlite:///tmp/x.db", "sqlite://~/x", "postgresql://u:pw@h/db", "mysql://x"]) | text,
    "trusted_projects": st.lists(text, max_size=2),
})


def toml(value: Any) -> str:
    """``value`` as a TOML value (inline)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, list):
        return "[" + ", ".join(toml(v) for v in value) + "]"
    return "{ " + ", ".join(f"{toml(str(k))} = {toml(v)}" for k, v in value.items()) + " }"


def render(doc: dict[str, Any]) -> str:
    """A policy file: scalars first, then ``[table]`` s, ``[models.NAME]`` and ``[[rules]]``."""
    inline = [k for k, v in doc.items() if not isinstance(v, (dict, list)) or k == "trusted_projects"]
    lines = [f"{toml(k)} = {toml(doc[k])}" for k in inline]
    for key, value in doc.items():
        if key == "models" and isinstance(value, dict):
            for name, entry in value.items():
                lines.append(f"\n[models.{toml(name)}]")
                lines.extend(f"{toml(k)} = {toml(v)}" for k, v in (entry.items() if isinstance(entry, dict) else ()))
        elif key == "rules" and isinstance(value, list):
            for rule in value:
                lines.append("\n[[rules]]")
                lines.extend(f"{toml(k)} = {toml(v)}" for k, v in (rule.items() if isinstance(rule, dict) else ()))
        elif isinstance(value, dict):
            lines.append(f"\n[{toml(key)}]")
            lines.extend(f"{toml(k)} = {toml(v)}" for k, v in value.items())
        elif isinstance(value, list) and key != "trusted_projects":
            lines.append(f"{toml(key)} = {toml(value)}")
    return "\n".join(lines) + "\n"


def edited(source: str) -> st.SearchStrategy[str]:
    """``source`` with one character inserted, deleted or replaced."""
    return st.tuples(st.integers(0, len(source)), st.integers(0, 1), st.sampled_from('"[]{}=,.#\n\'\\ x')).map(
        lambda e: source[: e[0]] + e[2] + source[e[0] + e[1]:])


nested = st.integers(0, MAX_DEPTH + 4).map(lambda depth: "a = " + "[" * depth + "]" * depth + "\n")
texts = document.map(render).flatmap(lambda source: st.just(source) | edited(source)) | nested \
    | st.text(max_size=200) | st.text(alphabet='[]{}="\'#.,\n abc1', max_size=80)


# ----------------------------------------------------------------------------- properties


def check(load_issues: Any, source: str, text: str) -> None:
    lines = text.count("\n") + 1
    for issue in load_issues:
        assert BUG not in issue.message, issue
        if issue.source == source and issue.severity == "error":
            assert issue.line is not None and 1 <= issue.line <= lines, (issue, text)


@given(data=texts.map(lambda t: t.encode()) | st.binary(max_size=200))
@example(data=b"0").via("found: invalid TOML at the end of the document had no line")
@example(data=b'"\'" = []\n').via("found: a quoted key's quote characters were all stripped (no line)")
@example(data=b"[[rules]]\n\n[[rulesx]]\n").via("found: an array of tables had no line of its own")
def test_a_policy_file_is_issues_with_their_line_never_an_exception(root, data):
    path = root / ".assistant-router.toml"
    path.write_bytes(data)
    load = load_policy(root, ProviderRegistry().check)
    assert (load.policy is None) == bool(load.errors)
    check(load.issues, str(path), data.decode("utf-8", "replace"))


@given(text=texts)
@example(text='\n[models."\\u001f"]\n').via("found: a key's escapes were not decoded (no line)")
@example(text='"\x85" = []\n').via("found: lines were split at \\x85 and \\u2028 as well as at \\n")
def test_unsaved_policy_text_is_issues_with_their_line_and_the_active_policy_stays(root, text):
    path = root / ".assistant-router.toml"
    path.write_text(GOOD)
    store = PolicyStore(ProviderRegistry(), lambda report: None)
    before = store.router(root)
    report = store.validate(root, text)
    check(report.issues, str(path), text)
    assert store.router(root) is before


@given(text=texts)
def test_a_failing_load_keeps_the_last_good_policy_serving(root, text):
    path = root / ".assistant-router.toml"
    path.write_text(GOOD)
    store = PolicyStore(ProviderRegistry(), lambda report: None)
    good = store.router(root)
    path.write_text(text)
    report = store.reload(root)
    if any(issue.severity == "error" for issue in report.issues):
        assert store.router(root) is good and report.message and "previous policy keeps serving" in report.message
    else:
        assert store.router(root) is not good and report.message is None


@given(text=st.text(max_size=300) | texts)
def test_locating_a_key_never_fails(text):
    locations = TomlLocations(text)
    for path in [("models",), ("rules", 0, "when"), ("a",), ()]:
        line = locations.line_of(path)
        assert line is None or 1 <= line <= text.count("\n") + 1
