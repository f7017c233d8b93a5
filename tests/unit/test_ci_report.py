"""delivery/ci_report.py: one review's findings in the formats CI systems
read; SARIF validated against the official 2.1.0 schema."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from assistant_router.delivery.ci_report import (
    FINGERPRINT_KEY,
    FailedFile,
    Report,
    ReportFinding,
    RuleHelp,
    SkippedFile,
    render,
    to_github,
    to_gitlab,
    to_markdown,
    to_sarif,
)

SCHEMA = Path(__file__).parents[1] / "data" / "sarif" / "sarif-2.1.0-rtm.5.json"

MODEL = ReportFinding("src/app.py", 14, 15, "error", "line.get('discount') may be None", "bug",
                      model="opus (claude-opus-4-6)", line_text="        amount -= line.get('discount')")
RULE = ReportFinding("src/util.py", 6, 6, "error", "eval() runs code built at run time", "security",
                     rule="python.eval-non-literal", origin="shipped", column=12, end_column=28,
                     line_text="    return eval(expression)")
STYLE = ReportFinding("docs dir/é notes.py", 3, 3, "hint", "a | pipe\nand a newline", "style",
                      model="codex (gpt-5.1-codex)", line_text="x = 1", replacement="x = 2\n")
WARNING = ReportFinding("src/app.py", 20, 20, "warning", "100% sure: total, not sum", "maintainability",
                        model="opus (claude-opus-4-6)", line_text="    return sum(x)")


def report(*findings: ReportFinding, **values) -> Report:
    base = Report("0.1.0", "origin/main", "HEAD", findings=list(findings), reviewed=["src/app.py", "src/util.py"],
                  rules={"python.eval-non-literal": RuleHelp("python.eval-non-literal", "eval of built code",
                                                              "Parse data instead.")},
                  models=["opus (claude-opus-4-6)"], cost_usd=0.0123)
    return replace(base, **values)


def errors(document: dict) -> list[str]:
    from jsonschema.validators import validator_for

    schema = json.loads(SCHEMA.read_text())
    validator = validator_for(schema)
    return sorted(e.message for e in validator(schema, format_checker=validator.FORMAT_CHECKER).iter_errors(document))


@pytest.mark.parametrize("the_report", [
    report(),
    report(MODEL, RULE, STYLE, WARNING),
    report(MODEL, failed=[FailedFile("src/big.py", "503 after 3 tries", "provider")],
           skipped=[SkippedFile("poetry.lock", "a lock file")]),
    report(RULE, rules_only=True, cost_usd=None),
], ids=["empty", "all kinds", "failed and skipped", "rules only"])
def test_sarif_validates_against_the_official_schema(the_report):
    assert errors(json.loads(to_sarif(the_report))) == []


def test_the_validator_is_live():
    document = json.loads(to_sarif(report(MODEL)))
    document["runs"][0]["results"][0]["level"] = "critical"
    assert any("critical" in message for message in errors(document))


def test_sarif_results_point_at_their_rules_lines_and_models():
    run = json.loads(to_sarif(report(MODEL, RULE, STYLE, WARNING)))["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert run["tool"]["driver"]["version"] == "0.1.0"
    by_rule = {r["ruleId"]: r for r in run["results"]}
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
    assert [by_rule[r]["level"] for r in ("assistant-router/bug", "python.eval-non-literal",
                                          "assistant-router/maintainability", "assistant-router/style")] \
        == ["error", "error", "warning", "note"]
    rule = by_rule["python.eval-non-literal"]
    assert rule["locations"][0]["physicalLocation"]["region"] == {"startLine": 6, "endLine": 6, "startColumn": 12,
                                                                   "endColumn": 28}
    assert "model" not in rule["properties"]
    bug = by_rule["assistant-router/bug"]
    assert bug["locations"][0]["physicalLocation"]["region"] == {"startLine": 14, "endLine": 15}
    assert bug["properties"]["model"] == "opus (claude-opus-4-6)"
    style = by_rule["assistant-router/style"]
    assert style["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "docs%20dir/%C3%A9%20notes.py"
    helps = {r["id"]: r for r in rules}
    assert helps["python.eval-non-literal"]["help"]["text"] == "Parse data instead."
    assert all("primaryLocationLineHash" not in r["partialFingerprints"] for r in run["results"])


def fingerprints_of(text: str) -> list[str]:
    return [r["partialFingerprints"][FINGERPRINT_KEY] for r in json.loads(text)["runs"][0]["results"]]


def test_a_fingerprint_stays_when_lines_are_inserted_above_and_changes_with_the_line():
    before = fingerprints_of(to_sarif(report(MODEL)))
    moved = fingerprints_of(to_sarif(report(replace(MODEL, line=40, end_line=41))))
    reworded = fingerprints_of(to_sarif(report(replace(MODEL, line_text="        amount -= line['discount']"))))
    assert before == moved
    assert before != reworded


def test_identical_findings_in_one_file_get_different_fingerprints_in_every_format():
    twice = report(MODEL, replace(MODEL, line=30, end_line=30))
    sarif = fingerprints_of(to_sarif(twice))
    gitlab = [issue["fingerprint"] for issue in json.loads(to_gitlab(twice))]
    assert len(set(sarif)) == 2
    assert set(sarif) == set(gitlab)
    assert {f["fingerprint"] for f in json.loads(render(twice, "json"))["findings"]} == set(sarif)


def test_github_commands_escape_and_go_most_severe_first():
    lines = to_github(report(STYLE, WARNING, RULE, replace(RULE, path="a,b:c.py"))).splitlines()
    assert lines[0].startswith("::error file=a%2Cb%3Ac.py,line=6,endLine=6,col=12,endColumn=28,"
                               "title=python.eval-non-literal::eval() runs code")
    assert lines[2] == ("::warning file=src/app.py,line=20,endLine=20,title=assistant-router/maintainability::"
                        "100%25 sure: total, not sum (opus (claude-opus-4-6))")
    assert lines[3].startswith("::notice file=docs dir/é notes.py,line=3,endLine=3,title=assistant-router/style::"
                               "a | pipe%0Aand a newline")
    assert lines[-1].startswith("::notice title=assistant-router::")


def test_github_annotations_stop_at_the_limit_and_say_how_many_more():
    many = report(*(replace(WARNING, line=n, end_line=n, line_text=f"x{n}") for n in range(1, 61)),
                  failed=[FailedFile("src/big.py", "the provider is down", "provider")])
    lines = to_github(many).splitlines()
    annotations = [line for line in lines if "file=src/app.py" in line]
    assert len(annotations) == 50
    assert any("10 more findings are not shown" in line for line in lines)
    assert "::error title=assistant-router,file=src/big.py::not reviewed (provider): the provider is down" in lines


def test_gitlab_code_quality_maps_severities_and_locations():
    issues = json.loads(to_gitlab(report(MODEL, RULE, STYLE, WARNING)))
    by_check = {issue["check_name"]: issue for issue in issues}
    assert {name: issue["severity"] for name, issue in by_check.items()} == {
        "assistant-router/bug": "critical", "python.eval-non-literal": "critical",
        "assistant-router/maintainability": "major", "assistant-router/style": "info"}
    assert by_check["assistant-router/bug"]["location"] == {"path": "src/app.py", "lines": {"begin": 14, "end": 15}}
    assert len({issue["fingerprint"] for issue in issues}) == 4


def test_the_markdown_summary_counts_by_severity_and_file_with_cost_and_model():
    text = to_markdown(report(MODEL, RULE, STYLE, WARNING, skipped=[SkippedFile("yarn.lock", "a lock file")]))
    assert "| 2 | 1 | 0 | 1 |" in text  # error, warning, info, hint
    assert "| `src/app.py` | 1 | 1 | 0 |" in text
    assert "$0.0123" in text and "opus (claude-opus-4-6)" in text
    assert "a \\| pipe and a newline" in text  # a table cell stays one cell
    assert "<details><summary>1 file skipped</summary>" in text and "`yarn.lock`: a lock file" in text


def test_the_markdown_summary_stays_under_github_s_limit():
    long = "x" * 900
    many = report(*(replace(WARNING, line=n, end_line=n, message=f"{n} {long}") for n in range(1, 3001)))
    text = to_markdown(many)
    assert len(text.encode("utf-8")) < 1_000_000
    shown = text.count("| L")
    assert 500 < shown < 3000
    assert f"_{3000 - shown} more findings are left out" in text


def test_an_incomplete_review_says_so():
    text = to_markdown(report(failed=[FailedFile("src/big.py", "503 after 3 tries", "provider")]))
    assert "Incomplete" in text and "`src/big.py` (provider): 503 after 3 tries" in text


def test_text_lists_findings_most_severe_first_with_a_summary():
    lines = render(report(STYLE, WARNING, MODEL), "text").splitlines()
    assert lines[0] == ("src/app.py:14: error: [assistant-router/bug] line.get('discount') may be None "
                        "(opus (claude-opus-4-6))")
    assert lines[-1] == "1 error, 1 warning, 1 hint in 2 files reviewed (0 skipped, 0 failed); cost $0.0123"


def test_json_holds_everything_a_script_needs():
    data = json.loads(render(report(RULE, cost_usd=None), "json"))
    assert data["counts"]["error"] == 1 and data["cost_usd"] is None
    (finding,) = data["findings"]
    assert (finding["rule_id"], finding["path"], finding["line"]) == ("python.eval-non-literal", "src/util.py", 6)
