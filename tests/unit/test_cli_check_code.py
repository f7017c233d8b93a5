"""``assistant-router check-code``: the safety rules alone, for a pre-commit
hook; and ``check`` reporting rule files that cannot be used."""

from __future__ import annotations

import json

import pytest

from tests.unit.test_cli import run

UNSAFE = 'import subprocess\n\n\ndef run(cmd):\n    subprocess.run(cmd, shell=True)\n\n\nx = eval("1")\n'


@pytest.fixture
def repo(workspace, user_config):
    (workspace / ".git").mkdir()
    (workspace / "tool.py").write_text(UNSAFE)
    return workspace, {"ASSISTANT_ROUTER_CONFIG": str(user_config)}


def test_findings_are_one_line_each_and_fail_the_hook(repo):
    root, env = repo
    result = run("check-code", "tool.py", "geometry.py", cwd=root, env=env)

    assert result.returncode == 1
    (line,) = result.stdout.decode().splitlines()
    assert line.startswith("tool.py:5:5: error: [python.subprocess-shell-true] shell=True")
    assert "1 finding (1 error or warning) in 2 files" in result.stderr.decode()


def test_a_line_range_outside_the_findings_passes_and_json_lists_them(repo):
    root, env = repo
    clean = run("check-code", "tool.py:8", cwd=root, env=env)
    listed = run("check-code", "tool.py", "--json", cwd=root, env=env)

    assert clean.returncode == 0
    findings = json.loads(listed.stdout)["findings"]
    assert [(f["rule"], f["line"]) for f in findings] == [("python.subprocess-shell-true", 5)]


def test_a_project_may_switch_a_shipped_rule_off_unless_the_user_forbids_it(repo, user_config):
    root, env = repo
    (root / ".assistant-router.toml").write_text('[checks]\ndisable_rules = ["python.subprocess-shell-true"]\n')
    assert run("check-code", "tool.py", cwd=root, env=env).returncode == 0

    user_config.write_text(user_config.read_text() + "\n[checks]\nallow_project_disable = false\n")
    forbidden = run("check-code", "tool.py", cwd=root, env=env)
    assert forbidden.returncode == 1 and b"allow_project_disable = false" in forbidden.stderr


def test_an_unreadable_file_is_a_usage_error(repo):
    root, env = repo
    result = run("check-code", "missing.py", cwd=root, env=env)
    assert result.returncode == 2 and b"cannot read missing.py" in result.stderr and b"Traceback" not in result.stderr


def test_check_reports_a_rule_file_that_cannot_be_used(repo):
    root, env = repo
    rules = root / ".assistant-router" / "rules"
    rules.mkdir(parents=True)
    (rules / "team.yml").write_text("id: team.x\nlanguage: python\nrule:\n  pattern: print($A)\nseverty: error\n")

    result = run("check", str(root), env=env)

    assert result.returncode == 1
    assert f"{rules / 'team.yml'}:5: error:" in result.stdout.decode() and "severty" in result.stdout.decode()


def test_the_users_own_rules_next_to_the_user_config_run_too(repo, user_config):
    root, env = repo
    rules = user_config.parent / "rules"
    rules.mkdir()
    (rules / "mine.yml").write_text("id: me.no-print\nlanguage: python\nseverity: error\nmessage: no print\n"
                                    "rule:\n  pattern: print($$$A)\n")
    (root / "loud.py").write_text("def f():\n    print('hi')\n")

    result = run("check-code", "loud.py", cwd=root, env=env)

    assert result.returncode == 1 and "loud.py:2:5: error: [me.no-print] no print" in result.stdout.decode()
