"""Checked answers, end to end: the real server, the real adapters and SDKs
against the loopback fakes. An edit that does not parse, or adds what a
safety rule forbids, never reaches the file unless the user chooses it: the
task is escalated to the next model of its chain with the problems spelt
out, or held back with its problems as diagnostics and an "Apply unchecked
answer" code action."""

from __future__ import annotations

import json
import re
import sys
import textwrap

import pytest
from lsprotocol import types

from tests.support import SAMPLE

FIX_LINES = (3, 7)  # def area(...) … return: what the fix replaces

BROKEN = "```python\ndef area(radius:\n    return math.pi * radius ** 2\n```"
GOOD = ("```python\ndef area(radius):\n    if radius < 0:\n        raise ValueError('negative radius')\n"
        "    return math.pi * radius ** 2\n```")
SHELL = ("```python\ndef area(radius):\n    import subprocess\n    subprocess.run(f'echo {radius}', shell=True)\n"
         "    return math.pi * radius ** 2\n```")
PRINTS = "```python\ndef area(radius):\n    print(radius)\n    return math.pi * radius ** 2\n```"


@pytest.fixture(autouse=True)
def quick_retries(loopback, user_config):
    text = user_config.read_text()
    user_config.write_text(re.sub(r"^(base_url = .*)$", r"\1\nretry_backoff = 0.01", text, flags=re.MULTILINE))


async def start(start_session, loopback, workspace, policy: str = ""):
    if policy:
        (workspace / ".assistant-router.toml").write_text(policy)
    session = await start_session("vscode", env=loopback.env)
    return session, session.open("geometry.py")


def fix(session, uri):
    return session.execute("assistant.run", session.task_argument("fix", uri, *FIX_LINES))


async def test_a_fast_answer_that_does_not_parse_is_escalated_and_the_strong_answer_applied(
        start_session, loopback, workspace):
    session, uri = await start(start_session, loopback, workspace)
    loopback.reply_next("responses", BROKEN)
    loopback.reply_next("anthropic", GOOD)

    result = await fix(session, uri)

    assert (result["status"], result["alias"], result["escalated"]) == ("applied", "opus", True)
    assert [r.api for r in loopback.requests] == ["responses", "anthropic"]
    second = loopback.requests[1].prompt
    assert "failed these checks" in second and "syntax error at line 4" in second and "def area(radius:" in second
    assert "raise ValueError('negative radius')" in session.applied_edits[0].edit.document_changes[0].edits[0].new_text
    assert [(a["alias"], a.get("checks"), a.get("escalated", False)) for a in result["attempts"]] == [
        ("codex", "failed", False), ("opus", "passed", True)]
    assert result["fallback"] is False  # escalated, not a fallback after an error
    assert result["usage"]["input_tokens"] > 0

    usage = await session.execute("assistant.usage", {"days": 1})  # the ledger, as the report reads it
    (fix_row,) = usage["checks"]["by_task"]
    assert (fix_row["task"], fix_row["checked"], fix_row["saved"], fix_row["held"]) == ("fix", 1, 1, 0)
    assert fix_row["escalation_cost_usd"] > 0 and fix_row["saved_by"]


@pytest.mark.parametrize(("answer", "code"), [(SHELL, "python.subprocess-shell-true"),
                                              ("```python\ndef area(radius):\n    return eval(input())\n```",
                                               "python.eval-non-literal")])
async def test_an_unsafe_answer_is_held_with_its_rule_and_applied_only_on_request(
        start_session, loopback, workspace, answer, code):
    session, uri = await start(start_session, loopback, workspace, '[checks]\non_check_failure = "ask"\n')
    loopback.reply_next("responses", answer)

    result = await fix(session, uri)

    assert result["status"] == "held" and result["escalated"] is False
    assert session.applied_edits == [] and len(loopback.requests) == 1
    assert "failed its checks" in result["message"] and "Apply unchecked answer" in result["message"]
    await session.wait_for(lambda: session.client.diagnostics.get(uri))
    diagnostic = session.client.diagnostics[uri][0]
    assert (diagnostic.code, diagnostic.source) == (code, "assistant-router")
    assert diagnostic.range.start.line == FIX_LINES[0]

    actions = await session.code_actions(uri, FIX_LINES[0], FIX_LINES[0] + 1)
    held = [a for a in actions if a.title.startswith("Apply unchecked answer")]
    assert len(held) == 1 and held[0].kind == types.CodeActionKind.QuickFix
    applied = await session.execute(held[0].command.command, held[0].command.arguments[0])

    assert applied["status"] == "applied"
    assert "shell=True" in answer or "eval(" in answer
    new_text = session.applied_edits[0].edit.document_changes[0].edits[0].new_text
    assert new_text.strip() == answer.split("\n", 1)[1].rsplit("```", 1)[0].strip()
    await session.wait_for(lambda: not session.client.diagnostics.get(uri))
    assert not [a for a in await session.code_actions(uri, FIX_LINES[0], FIX_LINES[0] + 1)
                if a.title.startswith("Apply unchecked answer")]


async def test_when_no_answer_passes_nothing_is_applied_and_the_best_is_offered(start_session, loopback, workspace):
    session, uri = await start(start_session, loopback, workspace)
    loopback.reply_next("responses", BROKEN)
    loopback.reply_next("anthropic", SHELL)

    result = await fix(session, uri)

    assert result["status"] == "held" and session.applied_edits == []
    assert [a.get("checks") for a in result["attempts"]] == ["failed", "failed"]
    await session.wait_for(lambda: session.client.diagnostics.get(uri))
    assert [d.code for d in session.client.diagnostics[uri]] == ["python.subprocess-shell-true"]  # the best: fewest
    actions = await session.code_actions(uri, FIX_LINES[0], FIX_LINES[0] + 1)
    assert [a.title for a in actions if a.title.startswith("Apply unchecked")] == [
        "Apply unchecked answer: fix by opus (claude-opus-4-6) (1 problem)"]


async def test_a_project_rule_catches_what_the_edit_adds_not_what_was_there(start_session, loopback, workspace):
    rules = workspace / ".assistant-router" / "rules"
    rules.mkdir(parents=True)
    (rules / "no-print.yml").write_text(textwrap.dedent("""\
        id: team.no-print
        language: python
        severity: error
        message: use logging, not print
        rule:
          pattern: print($$$ARGS)
        """))
    (workspace / "geometry.py").write_text(SAMPLE + "\n\nprint(area(2))\n")  # a print outside the edit
    session, uri = await start(start_session, loopback, workspace, '[checks]\non_check_failure = "ask"\n')
    loopback.reply_next("responses", PRINTS, GOOD)

    held = await fix(session, uri)
    clean = await fix(session, uri)

    assert held["status"] == "held"
    assert [f["code"] for check in held["checks"] for f in check["findings"]] == ["team.no-print"]
    assert clean["status"] == "applied"  # the print already in the file is not the edit's


async def test_an_invalid_rule_file_is_a_diagnostic_on_it_and_the_task_still_runs(start_session, loopback, workspace):
    rules = workspace / ".assistant-router" / "rules"
    rules.mkdir(parents=True)
    bad = rules / "broken.yml"
    bad.write_text("id: team.bad\nlanguage: python\nrule:\n  patern: print($A)\n")
    session, uri = await start(start_session, loopback, workspace, '[checks]\non_check_failure = "ask"\n')
    loopback.reply_next("responses", SHELL)

    result = await fix(session, uri)

    assert result["status"] == "held"  # the shipped rules still ran
    await session.wait_for(lambda: session.client.diagnostics.get(bad.as_uri()))
    problem = session.client.diagnostics[bad.as_uri()][0]
    assert "patern" in problem.message and problem.source == "assistant-router"


async def test_check_commands_run_from_the_user_config_and_a_project_asking_gets_a_diagnostic(
        start_session, loopback, workspace, user_config, tmp_path):
    linter = tmp_path / "lint.py"
    linter.write_text(textwrap.dedent("""\
        import sys
        path = sys.argv[1]
        for number, line in enumerate(open(path, encoding="utf-8"), 1):
            if "TODO" in line:
                print(f"{path}:{number}:1: T100 a TODO left in")
        """))
    command = f'["{sys.executable}", "{linter}", "{{file}}"]'
    user_config.write_text(user_config.read_text() + f'\n[checks]\non_check_failure = "ask"\n\n'
                           f'[[checks.commands]]\nname = "todo-lint"\ncommand = {command}\nlanguages = ["python"]\n')
    policy = ('[[checks.commands]]\nname = "project-lint"\ncommand = ["sh", "-c", "touch pwned"]\n'
              'languages = ["python"]\n')
    session, uri = await start(start_session, loopback, workspace, policy)
    loopback.reply_next("responses",
                        "```python\ndef area(radius):\n    # TODO: later\n    # TODO: and this\n    return 1\n```")

    result = await fix(session, uri)

    assert result["status"] == "held"
    lint = next(c for c in result["checks"] if c["name"] == "todo-lint")
    assert lint["passed"] is False and lint["findings"][0]["code"] == "T100"
    # The selection had one TODO and the answer has two: only the added one counts.
    assert len(lint["findings"]) == 1
    assert not [c for c in result["checks"] if c["name"] == "project-lint"] and not (workspace / "pwned").exists()
    policy_uri = (workspace / ".assistant-router.toml").as_uri()
    await session.wait_for(lambda: session.client.diagnostics.get(policy_uri))
    assert any("code execution" in d.message for d in session.client.diagnostics[policy_uri])


async def test_a_review_gets_the_safety_rules_findings_and_no_unsafe_quick_fix(start_session, loopback, workspace):
    (workspace / "geometry.py").write_text(SAMPLE.replace("    return math.pi * radius ** 2",
                                                          "    return math.pi * eval(str(radius)) ** 2"))
    session, uri = await start(start_session, loopback, workspace)
    review = {"findings": [
        {"line": 5, "severity": "warning", "category": "style", "message": "use a local", "replacement":
         "    import subprocess; subprocess.run(str(radius), shell=True)\n    return math.pi * radius ** 2"},
        {"line": 4, "severity": "info", "category": "docs", "message": "say what radius is"}]}
    loopback.reply_next("anthropic", json.dumps(review))

    result = await session.execute("assistant.run", session.task_argument("review", uri, 3, 7))

    assert result["status"] == "shown"
    assert "1 suggested fix failed the checks" in result["message"]
    await session.wait_for(lambda: session.client.diagnostics.get(uri))
    by_code = {d.code: d for d in session.client.diagnostics[uri]}
    assert by_code["security"].message.endswith("— safety rule python.eval-non-literal")
    assert by_code["security"].range.start.line == 5
    assert "suggested fix is not offered" in by_code["style"].message
    actions = await session.code_actions(uri, 5, 6)
    assert not [a for a in actions if a.title.startswith("Apply suggested fix: use a local")]


async def test_a_rule_file_opened_in_the_editor_shows_its_problems_at_once(start_session, loopback, workspace):
    rules = workspace / ".assistant-router" / "rules"
    rules.mkdir(parents=True)
    (rules / "team.yml").write_text("id: team.x\nlanguage: python\nrule:\n  pattern: print($A)\nseverty: error\n")
    session = await start_session("vscode", env=loopback.env)

    uri = session.open(".assistant-router/rules/team.yml", language="yaml")

    await session.wait_for(lambda: session.client.diagnostics.get(uri))
    (problem,) = session.client.diagnostics[uri]
    assert "severty" in problem.message and problem.range.start.line == 4


async def test_a_project_rules_fix_is_checked_like_a_models(start_session, loopback, workspace):
    rules = workspace / ".assistant-router" / "rules"
    rules.mkdir(parents=True)
    (rules / "hostile.yml").write_text(textwrap.dedent("""\
        id: team.no-print
        language: python
        severity: warning
        message: no prints
        fix: os.system($$$ARGS)
        rule:
          pattern: print($$$ARGS)
        """))
    (workspace / "geometry.py").write_text(SAMPLE.replace("    # TODO: validate radius", "    print(radius)"))
    session, uri = await start(start_session, loopback, workspace)
    loopback.reply_next("anthropic", json.dumps({"findings": []}))

    result = await session.execute("assistant.run", session.task_argument("review", uri, 3, 7))

    assert result["status"] == "shown" and "1 suggested fix failed the checks" in result["message"]
    await session.wait_for(lambda: session.client.diagnostics.get(uri))
    (finding,) = [d for d in session.client.diagnostics[uri] if d.code == "security"]
    assert finding.message.endswith("— project safety rule team.no-print")
    assert not [a for a in await session.code_actions(uri, 4, 5) if a.title.startswith("Apply suggested fix")]
