"""`assistant-router review`: a change reviewed as CI does, in temporary git
repositories, against the loopback fakes of the providers."""

from __future__ import annotations

import asyncio
import json
import os
import re
from pathlib import Path

import pytest
from review_repo import (
    APP,
    UTIL,
    answer_for_app,
    change_two_files,
    commit,
    findings_answer,
    git,
    new_repository,
    validate_sarif,
)
from support import EXE

from assistant_router.testing.loopback import Fault


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return new_repository(tmp_path / "repo")


def environment(loopback, user_config: Path) -> dict:
    return {**loopback.env, "ASSISTANT_ROUTER_CONFIG": str(user_config),
            "XDG_DATA_HOME": str(user_config.parent / "data"), "GITHUB_STEP_SUMMARY": ""}


async def review(*args: str, env: dict, cwd: Path) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        EXE, "review", *args, cwd=cwd, env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), 120)
    return process.returncode, out.decode(), err.decode()


def selection_of(prompt: str) -> list[str]:
    """The numbered lines of a review's selection, as sent."""
    block = re.search(r"Selection:\n```[^\n]*\n(.*)\n```", prompt, re.DOTALL)
    assert block is not None, prompt
    return block.group(1).splitlines()


async def test_a_commit_of_two_files_sends_only_its_hunks_and_reports_on_the_changed_lines(
        loopback, repo, user_config, tmp_path):
    change_two_files(repo)
    loopback.answer = answer_for_app
    sarif, markdown = tmp_path / "out.sarif", tmp_path / "summary.md"
    code, out, err = await review("--diff", "HEAD~1", "--format", "github", "--sarif", str(sarif),
                                  "--markdown", str(markdown), env=environment(loopback, user_config), cwd=repo)

    assert code == 1, err  # an error on a changed line; --fail-on error by default
    sent = {re.search(r"^File: (\S+)", r.prompt, re.MULTILINE).group(1): r for r in loopback.requests}
    assert set(sent) == {"app.py", "util.py"}  # README.md is unchanged: not sent
    assert selection_of(sent["app.py"].prompt) == [
        '13 +|         amount += line["price"] * line["quantity"]',
        '14 +|         amount -= line.get("discount")',
    ]
    assert "enclosing function definition `total`" in sent["app.py"].prompt  # the hunk's scope, as context
    assert "lines marked \"+|\" are new" in sent["app.py"].prompt
    assert selection_of(sent["util.py"].prompt)[-2:] == ["5 +| def ratio(a, b):", "6 +|     return a / b"]

    # The far finding on line 2 is not reported; the one on line 14 is, everywhere.
    github = [line for line in out.splitlines() if line.startswith("::")]
    assert any(line.startswith("::error file=app.py,line=14,") and "discount" in line for line in github)
    assert not any("unused import" in line for line in github)
    document = json.loads(sarif.read_text())
    assert validate_sarif(document) == []
    results = document["runs"][0]["results"]
    on_app = [r for r in results if r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "app.py"]
    assert [(r["ruleId"], r["level"], r["locations"][0]["physicalLocation"]["region"]["startLine"])
            for r in on_app if r["ruleId"] == "assistant-router/bug"] == [("assistant-router/bug", "error", 14)]
    assert all("unused import" not in r["message"]["text"] for r in results)
    assert document["runs"][0]["tool"]["driver"]["name"] == "assistant-router"
    assert on_app[0]["properties"]["model"].startswith("opus")
    summary = markdown.read_text()
    assert "discount" in summary and "unused import" not in summary and "app.py" in summary
    assert re.search(r"cost", summary, re.IGNORECASE)
    assert "review: " in err and "exit 1" in err


async def test_all_lines_reports_the_far_finding_too(loopback, repo, user_config):
    change_two_files(repo)
    loopback.answer = answer_for_app
    code, out, err = await review("--diff", "HEAD~1", "--all-lines", "--format", "json",
                                  env=environment(loopback, user_config), cwd=repo)
    assert code == 1, err
    messages = {f["message"] for f in json.loads(out)["findings"]}
    assert {"unused import", "line.get('discount') may be None"} <= messages


@pytest.mark.parametrize("fail_on, expected", [("never", 0), ("error", 0), ("warning", 1)])
async def test_fail_on_sets_the_exit_code(loopback, repo, user_config, fail_on, expected):
    change_two_files(repo)
    loopback.answer = lambda record: findings_answer(
        {"line": 14, "severity": "warning", "category": "bug", "message": "maybe None"}) \
        if "File: app.py" in record.prompt else findings_answer()
    code, out, err = await review("--diff", "HEAD~1", "--fail-on", fail_on, env=environment(loopback, user_config),
                                  cwd=repo)
    assert code == expected, err
    assert "app.py:14: warning:" in out


async def test_a_provider_outage_has_its_own_exit_code(loopback, repo, user_config):
    change_two_files(repo)
    for api in ("anthropic", "responses", "chat"):
        loopback.fail_next(api, *[Fault("status", 503, retry_after=0.01)] * 20)
    code, out, err = await review("--diff", "HEAD~1", "--format", "json", env=environment(loopback, user_config),
                                  cwd=repo)
    assert code == 4, err
    failed = json.loads(out)["failed"]
    assert {f["path"] for f in failed} == {"app.py", "util.py"}


async def test_rules_only_reports_what_the_change_added_and_sends_nothing(loopback, repo, user_config):
    (repo / "app.py").write_text(APP + "\n\ndef legacy(text):\n    return eval(text)\n")
    commit(repo, "old eval")
    (repo / "util.py").write_text(UTIL + "\n\ndef run(expression):\n    return eval(expression)\n")
    commit(repo)
    code, out, err = await review("--diff", "HEAD~1", "--rules-only", "--format", "json",
                                  env=environment(loopback, user_config), cwd=repo)
    assert code == 1, err
    findings = json.loads(out)["findings"]
    assert [(f["path"], f["line"], f["rule"]) for f in findings] == [("util.py", 6, "python.eval-non-literal")]
    assert loopback.requests == []


async def test_fingerprints_stay_when_lines_are_inserted_above(loopback, repo, user_config):
    (repo / "util.py").write_text(UTIL + "\n\ndef run(expression):\n    return eval(expression)\n")
    commit(repo)
    env = environment(loopback, user_config)
    _, before, _ = await review("--diff", "HEAD~1", "--rules-only", "--format", "sarif", env=env, cwd=repo)
    (repo / "util.py").write_text('"""Helpers."""\nimport math\n\n\n' + (repo / "util.py").read_text())
    commit(repo, "header")
    _, after, _ = await review("--diff", "HEAD~2", "--rules-only", "--format", "sarif", env=env, cwd=repo)

    def located(text: str) -> list[tuple[int, dict]]:
        results = json.loads(text)["runs"][0]["results"]
        return [(r["locations"][0]["physicalLocation"]["region"]["startLine"], r["partialFingerprints"])
                for r in results]

    (line_before, print_before), = located(before)
    (line_after, print_after), = located(after)
    assert (line_before, line_after) == (6, 10)
    assert print_before == print_after


async def test_max_usd_below_the_estimate_refuses_before_sending(loopback, repo, user_config):
    change_two_files(repo)
    code, out, err = await review("--diff", "HEAD~1", "--max-usd", "0.0001", env=environment(loopback, user_config),
                                  cwd=repo)
    assert code == 3, err
    assert "over --max-usd" in err and "nothing was sent" in err
    assert loopback.requests == []


async def test_excluded_and_ignored_files_are_not_sent_and_secrets_are_redacted(loopback, repo, user_config):
    (repo / ".assistant-router.toml").write_text('[privacy]\nexclude = ["private/**"]\n')
    (repo / ".gitignore").write_text("local_settings.py\n")
    commit(repo, "policy")
    (repo / "private").mkdir()
    (repo / "private" / "keys.py").write_text("KEY = 1\n")
    (repo / "local_settings.py").write_text("DEBUG = True\n")
    git(repo, "add", "-f", "local_settings.py")
    key = "AKIA" + "Z7QHK3NW5VJ2XRTM"
    (repo / "util.py").write_text(UTIL + f'\n\nAWS_ACCESS_KEY_ID = "{key}"\n')
    commit(repo)
    code, out, err = await review("--diff", "HEAD~1", "--format", "json", env=environment(loopback, user_config),
                                  cwd=repo)
    assert code == 0, err
    prompts = [r.prompt for r in loopback.requests]
    assert len(prompts) == 1 and "File: util.py" in prompts[0]
    assert key not in prompts[0] and "REDACTED_SECRET" in prompts[0]
    skipped = {s["path"]: s["reason"] for s in json.loads(out)["skipped"]}
    assert "excluded by privacy.exclude" in skipped["private/keys.py"]
    assert "ignored by git" in skipped["local_settings.py"]


async def test_generated_lock_and_binary_files_are_skipped(loopback, repo, user_config):
    (repo / "poetry.lock").write_text("[[package]]\n")
    (repo / "api_pb2.py").write_text("x = 1\n")
    (repo / "logo.png").write_bytes(b"\x89PNG\0\0binary")
    (repo / "gen.go").write_text("// Code generated by stringer. DO NOT EDIT.\npackage main\n")
    commit(repo)
    code, out, err = await review("--diff", "HEAD~1", "--format", "json", env=environment(loopback, user_config),
                                  cwd=repo)
    assert code == 0, err
    assert loopback.requests == []
    skipped = {s["path"]: s["reason"] for s in json.loads(out)["skipped"]}
    assert skipped == {"poetry.lock": "a lock file", "api_pb2.py": "generated", "logo.png": "binary",
                       "gen.go": "generated (its header says so)"}


@pytest.mark.parametrize("args, message", [
    (("--diff", "no-such-branch"), "'no-such-branch' is not a commit"),
    (("--diff", "HEAD~1", "--staged"), "not both"),
    (("--output", "x.json"), "add --format"),
])
async def test_usage_errors_exit_2_and_say_why(loopback, repo, user_config, args, message):
    code, out, err = await review(*args, env=environment(loopback, user_config), cwd=repo)
    assert code == 2
    assert message in err


async def test_outside_a_repository_is_a_usage_error(loopback, tmp_path, user_config):
    folder = tmp_path / "plain"
    folder.mkdir()
    code, _, err = await review("--diff", "HEAD~1", env=environment(loopback, user_config), cwd=folder)
    assert code == 2 and "not inside a git repository" in err


async def test_files_are_reviewed_concurrently_within_the_alias_limit(loopback, repo, user_config):
    user_config.write_text(user_config.read_text().replace("[models.opus]\n", "[models.opus]\nmax_concurrency = 2\n"))
    for name in ("a", "b", "c", "d"):
        (repo / f"{name}.py").write_text(f"def {name}():\n    return '{name}'\n")
    commit(repo)
    loopback.hold(2)  # the streams wait until two are open at once: a review one at a time would never end
    code, out, err = await review("--diff", "HEAD~1", "--jobs", "8", env=environment(loopback, user_config), cwd=repo)
    assert code == 0, err
    assert len(loopback.requests) == 4
    assert loopback.peak_open_streams == 2


async def test_the_run_s_cost_is_printed_and_recorded_in_the_ledger(loopback, repo, user_config):
    change_two_files(repo)
    env = environment(loopback, user_config)
    code, out, err = await review("--diff", "HEAD~1", env=env, cwd=repo)
    assert code == 0, err
    cost = re.search(r"; cost \$(\d+\.\d+);", err)
    assert cost is not None and float(cost.group(1)) > 0, err
    process = await asyncio.create_subprocess_exec(EXE, "usage", "--json", cwd=repo, env={**os.environ, **env},
                                                   stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    report, _ = await asyncio.wait_for(process.communicate(), 60)
    (row,) = json.loads(report)["by_task"]
    assert (row["task"], row["model"], row["answered"]) == ("review", "opus (claude-opus-4-6)", 2)
    assert abs(row["cost_usd"] - float(cost.group(1))) < 0.0001


async def test_the_policy_s_rules_by_path_choose_each_file_s_model(loopback, repo, user_config):
    (repo / ".assistant-router.toml").write_text(
        '[[rules]]\nname = "helpers"\nwhen = { task = "review", paths = ["util.py"] }\nuse = "codex"\n')
    commit(repo, "policy")
    change_two_files(repo)
    code, out, err = await review("--diff", "HEAD~1", "--format", "json", env=environment(loopback, user_config),
                                  cwd=repo)
    assert code == 0, err
    apis = {re.search(r"^File: (\S+)", r.prompt, re.MULTILINE).group(1): r.api for r in loopback.requests}
    assert apis == {"app.py": "anthropic", "util.py": "responses"}
    assert set(json.loads(out)["models"]) == {"opus (claude-opus-4-6)", "codex (gpt-5.3-codex)"}


async def test_dry_run_lists_the_requests_and_their_cost_and_sends_nothing(loopback, repo, user_config):
    change_two_files(repo)
    code, out, err = await review("--diff", "HEAD~1", "--dry-run", env=environment(loopback, user_config), cwd=repo)
    assert code == 0, err
    assert loopback.requests == []
    assert re.search(r"app\.py:13-14 → opus \([\d,]+ tokens, \$\d", err), err
    assert "2 requests to send" in err


async def test_a_budget_of_the_policy_refuses_with_its_own_exit_code(loopback, repo, user_config):
    user_config.write_text(user_config.read_text() + "\n[budget]\ndaily_usd = 0.001\n")
    change_two_files(repo)
    code, out, err = await review("--diff", "HEAD~1", "--format", "json", env=environment(loopback, user_config),
                                  cwd=repo)
    assert code == 3, err
    failed = json.loads(out)["failed"]
    assert {f["kind"] for f in failed} == {"refused"} and len(failed) == 2
    assert all("budget" in f["message"] for f in failed)
    assert loopback.requests == []


async def test_a_fallback_is_told_in_the_progress_and_its_model_named(loopback, repo, user_config):
    (repo / "util.py").write_text(UTIL + "\n\ndef ratio(a, b):\n    return a / b\n")
    commit(repo)
    loopback.fail_next("anthropic", *[Fault("status", 503, retry_after=0.01)] * 3)
    code, out, err = await review("--diff", "HEAD~1", "--format", "json", env=environment(loopback, user_config),
                                  cwd=repo)
    assert code == 0, err
    assert "(fallback: " in err
    assert json.loads(out)["models"] != ["opus (claude-opus-4-6)"]
