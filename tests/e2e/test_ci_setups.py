"""The ready-made set-ups under ci/ and .pre-commit-hooks.yaml: linted
against their services' schemas, and the commands they contain run in a
temporary repository against the loopback fakes."""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from review_repo import answer_for_app, change_two_files, commit, git, new_repository, validate_sarif

REPOSITORY = Path(__file__).parents[2]
WORKFLOW = REPOSITORY / "ci" / "github" / "assistant-router-review.yml"
GITLAB_JOB = REPOSITORY / "ci" / "gitlab" / "assistant-router.gitlab-ci.yml"
HOOKS = REPOSITORY / ".pre-commit-hooks.yaml"
PRE_COMMIT_EXAMPLE = REPOSITORY / "ci" / "pre-commit-config.example.yaml"
BIN = Path(sys.executable).parent


def load_yaml(path: Path):
    from ruamel.yaml import YAML

    return YAML(typ="safe").load(path.read_text())


def tool(name: str) -> str:
    found = BIN / name
    assert found.exists(), f"{name} is a test dependency (pyproject.toml [test])"
    return str(found)


@pytest.mark.parametrize("schema, path", [("vendor.github-workflows", WORKFLOW), ("vendor.gitlab-ci", GITLAB_JOB)])
def test_the_pipelines_are_valid_for_their_service(schema, path):
    done = subprocess.run([tool("check-jsonschema"), "--builtin-schema", schema, str(path)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("command, path", [("validate-manifest", HOOKS), ("validate-config", PRE_COMMIT_EXAMPLE)])
def test_the_pre_commit_files_are_valid(command, path):
    done = subprocess.run([tool("pre-commit"), command, str(path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_workflow_uploads_sarif_with_the_permission_it_needs():
    workflow = load_yaml(WORKFLOW)
    assert list(workflow[True if True in workflow else "on"]) == ["pull_request"]  # YAML 1.1 reads `on` as true
    assert workflow["permissions"]["security-events"] == "write"
    steps = workflow["jobs"]["review"]["steps"]
    uses = [step.get("uses", "") for step in steps]
    assert any(u.startswith("github/codeql-action/upload-sarif@") for u in uses)
    assert any(u.startswith("actions/cache@") for u in uses)
    checkout = next(step for step in steps if step.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["fetch-depth"] == 0  # the base commit must be there


def step(name: str) -> dict:
    return next(s for s in load_yaml(WORKFLOW)["jobs"]["review"]["steps"] if s.get("name") == name)


async def bash(script: str, *, env: dict, cwd: Path) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        "bash", "-e", "-c", script, cwd=cwd, env={**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", **env},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), 180)
    return process.returncode, out.decode(), err.decode()


def pull_request(tmp_path: Path) -> tuple[Path, str]:
    """A repository whose last commit is a pull request's change; its base commit."""
    root = new_repository(tmp_path / "repo")
    base = git(root, "rev-parse", "HEAD")
    change_two_files(root)
    return root, base


def provider_env(loopback, user_config: Path, keys: bool = True) -> dict:
    env = {"ASSISTANT_ROUTER_CONFIG": str(user_config), "XDG_DATA_HOME": str(user_config.parent / "data")}
    if keys:
        return {**env, **loopback.env}
    return {**env, "ANTHROPIC_API_KEY": "", "OPENAI_API_KEY": ""}


async def test_the_workflow_review_step_annotates_uploads_and_summarises(loopback, user_config, tmp_path):
    repo, base = pull_request(tmp_path)
    loopback.answer = answer_for_app
    summary = tmp_path / "step_summary.md"
    summary.write_text("earlier step output\n")
    review = step("Review the change")
    env = {**provider_env(loopback, user_config), "BASE_SHA": base, "MAX_USD": "1.00",
           "GITHUB_STEP_SUMMARY": str(summary)}
    assert set(review["env"]) == {"ANTHROPIC_API_KEY", "OPENAI_API_KEY", "BASE_SHA", "MAX_USD"}

    code, out, err = await bash(review["run"], env=env, cwd=repo)

    assert code == 1, err  # the fake's error on a changed line fails the job (--fail-on error)
    assert any(line.startswith("::error file=app.py,line=14,") for line in out.splitlines())
    assert {r.body["model"] for r in loopback.requests} == {"claude-opus-4-6"}  # the policy's review model
    document = json.loads((repo / "assistant-router.sarif").read_text())
    assert validate_sarif(document) == []
    assert document["runs"][0]["results"]
    text = summary.read_text()
    assert text.startswith("earlier step output\n")  # appended, as GitHub's summary file expects
    assert "## assistant-router review" in text and "discount" in text


async def test_the_workflow_reviews_a_fork_s_pull_request_with_the_rules_alone(loopback, user_config, tmp_path):
    repo, base = pull_request(tmp_path)
    (repo / "util.py").write_text((repo / "util.py").read_text() + "\n\ndef run(text):\n    return eval(text)\n")
    commit(repo, "eval")
    summary = tmp_path / "step_summary.md"
    env = {**provider_env(loopback, user_config, keys=False), "BASE_SHA": base, "MAX_USD": "1.00",
           "GITHUB_STEP_SUMMARY": str(summary)}
    code, out, err = await bash(step("Review the change")["run"], env=env, cwd=repo)
    assert code == 1, err
    assert loopback.requests == []
    assert "::notice title=assistant-router::no provider keys" in out
    assert any("python.eval-non-literal" in line for line in out.splitlines() if line.startswith("::error"))


@pytest.mark.parametrize("ledger", ["postgresql://ci@db.example.com/ledger", ""])
async def test_the_workflow_writes_a_user_config_the_pull_request_cannot_change(tmp_path, ledger):
    github_env = tmp_path / "github_env"
    env = {"LEDGER_URL": ledger, "RUNNER_TEMP": str(tmp_path), "GITHUB_ENV": str(github_env)}
    code, _, err = await bash(step("User config")["run"], env=env, cwd=tmp_path)
    assert code == 0, err
    config = tmp_path / "assistant-router.toml"
    assert github_env.read_text() == f"ASSISTANT_ROUTER_CONFIG={config}\n"
    assert (f'ledger_url = "{ledger}"' in config.read_text()) is bool(ledger)
    # A project policy that switches a shipped rule off is overruled by it.
    project = tmp_path / "project"
    project.mkdir()
    (project / ".assistant-router.toml").write_text('[checks]\ndisable_rules = ["python.eval-non-literal"]\n')
    code, out, err = await bash("assistant-router check .", env={"ASSISTANT_ROUTER_CONFIG": str(config)},
                                cwd=project)
    assert code == 0 and "disable_rules" in out and "ignored" in out, out + err


async def test_the_gitlab_job_writes_code_quality_and_a_summary(loopback, user_config, tmp_path):
    repo, base = pull_request(tmp_path)
    loopback.answer = answer_for_app
    job = load_yaml(GITLAB_JOB)["assistant-router-review"]
    assert job["artifacts"]["reports"]["codequality"] == "gl-code-quality-report.json"
    env = {**provider_env(loopback, user_config), "CI_MERGE_REQUEST_DIFF_BASE_SHA": base}
    code, out, err = await bash("\n".join(job["script"]), env=env, cwd=repo)
    assert code == 1, err
    issues = json.loads((repo / "gl-code-quality-report.json").read_text())
    assert {(i["location"]["path"], i["location"]["lines"]["begin"], i["severity"]) for i in issues} >= {
        ("app.py", 14, "critical")}
    assert all(i["fingerprint"] for i in issues) and len({i["fingerprint"] for i in issues}) == len(issues)
    assert "## assistant-router review" in (repo / "assistant-router-summary.md").read_text()


@pytest.mark.parametrize("hook_id", ["assistant-router-review", "assistant-router-check-code"])
async def test_each_pre_commit_hook_fails_on_an_insecure_staged_line(hook_id, tmp_path, user_config):
    repo, _ = pull_request(tmp_path)
    hook = next(h for h in load_yaml(HOOKS) if h["id"] == hook_id)
    env = {"ASSISTANT_ROUTER_CONFIG": str(user_config)}
    files = ["util.py"] if hook["pass_filenames"] else []
    command = " ".join([hook["entry"], *files])
    code, out, err = await bash(command, env=env, cwd=repo)
    assert code == 0, out + err  # clean
    (repo / "util.py").write_text((repo / "util.py").read_text() + "\n\ndef run(text):\n    return eval(text)\n")
    git(repo, "add", "util.py")
    code, out, err = await bash(command, env=env, cwd=repo)
    assert code == 1, out + err
    assert "python.eval-non-literal" in out


async def test_pre_commit_runs_the_review_hook_from_the_example_config(tmp_path, user_config):
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo, _ = pull_request(tmp_path)
    shutil.copy(PRE_COMMIT_EXAMPLE, repo / ".pre-commit-config.yaml")
    (repo / "util.py").write_text((repo / "util.py").read_text() + "\n\ndef run(text):\n    return eval(text)\n")
    git(repo, "add", "-A")
    env = {"ASSISTANT_ROUTER_CONFIG": str(user_config), "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home")}
    code, out, err = await bash(f"{shlex.quote(tool('pre-commit'))} run assistant-router-review", env=env, cwd=repo)
    assert code == 1, out + err
    assert "python.eval-non-literal" in out and "Failed" in out
