"""`assistant-router run`: a task from the terminal, with the editor's routing, context and privacy."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

from support import EXE, terminal_run

from assistant_router.testing.loopback import Fault


def environment(loopback, user_config: Path) -> dict:
    return {**loopback.env, "ASSISTANT_ROUTER_CONFIG": str(user_config),
            "XDG_DATA_HOME": str(user_config.parent / "data")}


async def test_review_prints_findings_for_ci(loopback, workspace, user_config):
    (workspace / ".git").mkdir()
    code, out, err = await terminal_run("review", "geometry.py:4-6", env=environment(loopback, user_config),
                                        cwd=workspace)

    assert code == 0, err
    assert out.splitlines() == [
        "geometry.py:4: warning: [style] claude-opus-4-6 (loopback anthropic) reviewed lines 4-6 (3 lines)",
        "geometry.py:5: info: [maintainability] unresolved TODO",
    ]
    assert "review → opus (claude-opus-4-6): built-in default route" in err
    assert "review by opus (claude-opus-4-6):" in err
    (request,) = loopback.requests
    assert request.api == "anthropic" and "### imports" in request.prompt


async def test_usage_a_server_did_not_report_is_shown_as_estimated(loopback, workspace, user_config):
    loopback.usage = "none"  # llama.cpp's server, for one
    env = environment(loopback, user_config)
    code, out, err = await terminal_run("explain", "geometry.py:9-10", env=env, cwd=workspace)
    assert code == 0, err
    assert "explain by opus (claude-opus-4-6): about " in err and "(the server reported no usage: estimated)" in err
    process = await asyncio.create_subprocess_exec(EXE, "usage", cwd=workspace, env={**os.environ, **env},
                                                   stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    report, _ = await asyncio.wait_for(process.communicate(), 60)
    assert "~ 1 answers came with no usage from the server" in report.decode()


async def test_explain_streams_the_answer(loopback, workspace, user_config):
    code, out, err = await terminal_run("explain", "geometry.py:9-10", "--prompt", "keep it short",
                               env=environment(loopback, user_config), cwd=workspace)
    assert code == 0, err
    assert out.startswith("# Explanation: `geometry.py` lines 9-10")
    assert "The user adds: keep it short" in loopback.requests[0].prompt


async def test_fallback_and_json_result(loopback, workspace, user_config):
    loopback.fail_next("responses", *[Fault("status", 503, retry_after=0.01)] * 3)
    code, out, err = await terminal_run("scaffold", "geometry.py:9", "--json", env=environment(loopback, user_config),
                               cwd=workspace)
    result = json.loads(out)
    assert code == 0, err
    assert result["alias"] == "opus" and result["fallback"] is True and result["status"] == "shown"
    assert "def perimeter(radius):" in result["answer"]
    assert "trying opus" in err


async def test_dry_run_sends_nothing(loopback, workspace, user_config):
    code, out, err = await terminal_run("test", "geometry.py:4-6", "--dry-run", "--json",
                               env=environment(loopback, user_config), cwd=workspace)
    preview = json.loads(out)
    assert code == 0, err
    assert preview["sent"] is False and preview["alias"] == "codex"
    assert "Task: test." in preview["prompt"]
    assert loopback.requests == []


async def test_excluded_files_are_refused(loopback, workspace, user_config):
    (workspace / ".assistant-router.toml").write_text('[privacy]\nexclude = ["legacy/"]\n')
    code, out, err = await terminal_run("explain", "legacy/old.py", env=environment(loopback, user_config),
                                        cwd=workspace)
    assert code == 3 and out == ""
    assert "nothing was sent: legacy/old.py is excluded by privacy.exclude" in err
    assert loopback.requests == []


async def test_a_failure_exits_non_zero_with_the_reason(loopback, workspace, user_config):
    loopback.fail_next("anthropic", Fault("status", 401))
    code, out, err = await terminal_run("review", "geometry.py", env=environment(loopback, user_config), cwd=workspace)
    assert code == 1
    assert "the API key was rejected (401); check ANTHROPIC_API_KEY" in err
    assert loopback.key not in err + out


async def test_runs_are_in_the_ledger_and_the_usage_report(loopback, workspace, user_config, tmp_path):
    env = environment(loopback, user_config)
    for task in ("review", "explain"):
        code, _, err = await terminal_run(task, "geometry.py:4-6", env=env, cwd=workspace)
        assert code == 0, err

    process = await asyncio.create_subprocess_exec(
        EXE, "usage", "--json", "--html", str(tmp_path / "report.html"), env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, _ = await process.communicate()
    summary = json.loads(out)

    assert summary["requests"] == 2
    assert {t["task"] for t in summary["by_task"]} == {"review", "explain"}
    opus = summary["by_model"]["opus (claude-opus-4-6)"]
    assert opus["answered"] == 2 and opus["cost_usd"] > 0  # the default opus prices apply
    page = (tmp_path / "report.html").read_text()
    assert "<svg" in page and "assistant-router usage" in page


async def test_a_budget_refuses_in_the_terminal_too(loopback, workspace, user_config):
    (workspace / ".assistant-router.toml").write_text("[budget]\ndaily_usd = 0.000001\n")
    code, out, err = await terminal_run("review", "geometry.py:4-6", env=environment(loopback, user_config),
                                        cwd=workspace)
    assert code == 3 and "not sent: budget today: $0.00 spent of $0.00" in err
    assert loopback.requests == []


async def test_an_edit_that_fails_its_checks_prints_its_problems_and_exits_1(loopback, workspace, user_config):
    (workspace / ".git").mkdir()
    (workspace / ".assistant-router.toml").write_text('[checks]\non_check_failure = "ask"\n')
    unsafe = "```python\ndef area(radius):\n    return eval(input())\n```"
    loopback.reply_next("responses", unsafe, unsafe)
    env = environment(loopback, user_config)

    code, out, err = await terminal_run("fix", "geometry.py:4-6", env=env, cwd=workspace)
    forced, forced_out, _ = await terminal_run("fix", "geometry.py:4-6", "--apply-unchecked", env=env, cwd=workspace)

    assert code == 1 and out == ""
    assert "geometry.py: line 5 of the proposed edit: error: [python.eval-non-literal]" in err
    assert "failed its checks" in err and "--apply-unchecked" in err
    assert forced == 0 and "eval(input())" in forced_out


async def test_complete_prints_the_completion_and_counts_it(loopback, workspace, user_config):
    user_config.write_text(user_config.read_text() + f'\n[models.codex-mini]\nbase_url = "{loopback.openai_url}"\n')
    loopback.reply_next("responses", "\n    return width * height")
    (workspace / "area.py").write_text("def area(width, height):\n\nprint(area(2, 3))\n")
    env = environment(loopback, user_config)
    code, out, err = await terminal_run("complete", "area.py:1", env=env, cwd=workspace)

    assert code == 0, err
    assert out == "\n    return width * height\n"
    (request,) = loopback.requests
    assert "def area(width, height):<CURSOR>\n\nprint(area(2, 3))" in request.prompt
    process = await asyncio.create_subprocess_exec(EXE, "usage", "--json", cwd=workspace, env={**os.environ, **env},
                                                   stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    report, _ = await asyncio.wait_for(process.communicate(), 60)
    completions = json.loads(report)["completions"]["total"]
    assert (completions["requests"], completions["calls"], completions["shown"]) == (1, 1, 1)
