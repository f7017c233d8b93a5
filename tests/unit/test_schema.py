"""The shipped JSON Schema: in sync with the models, accepting every documented
policy, rejecting what the loader calls an error."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import jsonschema
import pytest

from assistant_router.routing import schema
from assistant_router.routing.policy import Layer, PolicyFile, build_policy, builtin_layer

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_FENCE = re.compile(r"^```toml\n(.*?)^```", re.M | re.S)


def validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema.policy_schema())


def documented_policies() -> list[tuple[str, str]]:
    """(file:line, text) of every TOML block in README.md and docs/ that is a
    policy (pyproject.toml entry points are not)."""
    blocks = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for found in _FENCE.finditer(text):
            if "[project." not in found.group(1):
                blocks.append((f"{doc.name}:{text.count(chr(10), 0, found.start()) + 1}", found.group(1)))
    return blocks


def test_the_shipped_schema_is_what_the_models_generate():
    shipped = schema.shipped_path()
    assert shipped.is_file(), f"{shipped} is missing; run: {schema.REGENERATE}"
    assert shipped.read_text(encoding="utf-8") == schema.generated_text(), (
        f"{shipped} differs from the models in routing/policy.py; run: {schema.REGENERATE}")
    jsonschema.Draft202012Validator.check_schema(schema.policy_schema())


def test_the_readme_and_docs_have_policy_examples():
    names = [where for where, _ in documented_policies()]
    assert any(n.startswith("README.md") for n in names) and any(n.startswith("usage.md") for n in names)
    assert len(names) >= 6


@pytest.mark.parametrize(("where", "text"), documented_policies(), ids=[w for w, _ in documented_policies()])
def test_every_documented_policy_is_valid(where, text):
    data = tomllib.loads(text)
    errors = [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator().iter_errors(data)]
    assert not errors, f"{where}: {errors}"
    PolicyFile.model_validate(data)  # and the loader agrees


def test_the_builtin_defaults_are_valid():
    assert not list(validator().iter_errors(tomllib.loads(builtin_layer().text)))


@pytest.mark.parametrize(
    "text",
    [
        'modles = {}\n',
        '[models.codex]\nprovder = "openai"\n',
        '[models.codex.timeouts]\nconect = 5\n',
        '[routes]\nreveiw = "codex"\n',
        '[[rules]]\nuse = "codex"\nwhen = { task = "refactor", pathz = ["legacy/**"] }\n',
        '[budget.tasks.reveiw]\ndaily_usd = 1\n',
        '[privacy]\nredact = false\n',
    ],
    ids=["top-level", "model", "timeouts", "task-name", "when", "budget-task", "privacy"],
)
def test_an_unknown_key_is_rejected_like_the_loader_does(text):
    data = tomllib.loads(text)
    errors = list(validator().iter_errors(data))
    assert errors and all(e.validator == "additionalProperties" for e in errors)
    with pytest.raises(ValueError, match="Extra inputs|extra_forbidden|not a valid enumeration|Input should be"):
        PolicyFile.model_validate(data)


@pytest.mark.parametrize(
    "text",
    ['[models.x]\ntemperature = 3\n', '[routes]\nreview = []\n', '[[rules]]\nname = "no use"\n',
     '[[rules]]\nuse = "codex"\nwhen = { task = "deploy" }\n', '[models.x]\napi = "fim"\n',
     '[models.x]\napi_key_env = "NOT-A-NAME"\n'],
    ids=["range", "empty-chain", "required", "task-enum", "literal", "pattern"],
)
def test_a_wrong_value_is_rejected_by_both(text):
    data = tomllib.loads(text)
    assert list(validator().iter_errors(data))
    with pytest.raises(ValueError):
        PolicyFile.model_validate(data)


def test_one_string_where_a_list_is_allowed():
    data = {"routes": {"review": "codex"}, "rules": [{"when": {"task": "fix", "paths": "a/**"}, "use": "opus"}],
            "privacy": {"exclude": "*.pem"}, "models": {"x": {"api_key_command": "pass show x"}}}
    assert not list(validator().iter_errors(data))


def test_the_user_config_only_notes_match_what_a_project_file_is_warned_about(tmp_path):
    """Every key the schema calls user-config-only draws a warning in an untrusted project file."""
    project = tmp_path / ".assistant-router.toml"
    text = ('ledger_url = "sqlite:///tmp/l.sqlite3"\ntrusted_projects = ["~"]\n'
            '[models.codex]\nbase_url = "http://x/v1"\napi_key_env = "K"\napi_key_command = "true"\n'
            'headers = { a = "b" }\n[budget]\nunknown_price = "refuse"\n'
            '[privacy]\ngitignore = false\nredact_secrets = false\n')
    _, issues = build_policy([builtin_layer(), Layer(str(project), project, text)])
    warned = {i.key for i in issues if i.severity == "warning" and "ignored" in i.message}
    noted = {".".join(p).replace("*", "codex") for p in schema.USER_CONFIG_NOTES}
    assert warned == noted
    described = schema.policy_schema()["properties"]["models"]["additionalProperties"]["properties"]
    assert "User config only" in described["base_url"]["description"]


def test_the_shown_defaults_are_the_effective_ones():
    from assistant_router.routing.policy import DEFAULT_TIMEOUTS, BudgetSettings, ModelConfig, PrivacySettings

    props = schema.policy_schema()["properties"]
    model = props["models"]["additionalProperties"]["properties"]
    for key in ("retries", "retry_backoff", "context_budget", "context_window"):
        assert model[key]["default"] == getattr(ModelConfig, key), key
    assert {k: v["default"] for k, v in model["timeouts"]["properties"].items()} == DEFAULT_TIMEOUTS
    for key in ("gitignore", "redact_secrets"):
        assert props["privacy"]["properties"][key]["default"] == getattr(PrivacySettings, key)
    for key in ("on_exceed", "unknown_price"):
        assert props["budget"]["properties"][key]["default"] == getattr(BudgetSettings, key)


def test_the_check_command_says_how_to_regenerate(tmp_path, monkeypatch, capsys):
    stale = tmp_path / schema.SCHEMA_FILENAME
    stale.write_text("{}\n")
    monkeypatch.setattr(schema, "shipped_path", lambda: stale)
    assert schema.main(["--check"]) == 1
    assert schema.REGENERATE in capsys.readouterr().out
    assert schema.main(["--write"]) == 0 and schema.main(["--check"]) == 0


def test_the_command_line_prints_the_schema_and_its_path(capsys):
    from assistant_router.cli.main import main

    assert main(["schema", "--path"]) == 0
    assert capsys.readouterr().out.strip() == str(schema.shipped_path())
    assert main(["schema"]) == 0
    assert capsys.readouterr().out == schema.generated_text()
