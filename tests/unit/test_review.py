"""Review answers: schema, repair, precise ranges."""

from __future__ import annotations

import json

import pytest
from lsprotocol import types

from assistant_router.delivery.review import Finding, InvalidReview, ReviewFix, findings_to_diagnostics, parse_review

LINES = ["import os\n", "def f(x):\n", "    return eval(x)\n", "\n", "print(f('1'))\n"]


def test_the_schema_round_trips():
    finding = Finding(line=3, end_line=3, column=12, end_column=19, severity="error", category="security",
                      message="eval of user input", replacement="ast.literal_eval(x)")
    answer = json.dumps({"findings": [finding.model_dump()]})
    (parsed,), notes = parse_review(answer)
    assert parsed == finding and notes == []


@pytest.mark.parametrize(
    ("answer", "note"),
    [
        ('```json\n{"findings": [{"line": 3, "message": "eval"}]}\n```', None),
        ('Here is my review:\n{"findings": [{"line": 3, "message": "eval"}]}\nHope it helps!', None),
        ('{"findings": [{"line": 3, "message": "eval",}]', "repaired"),  # trailing comma, unclosed
        ("[{'line': 3, 'message': 'eval'}]", "repaired"),  # single quotes, a bare list
    ],
)
def test_answers_are_read_or_repaired(answer, note):
    (finding,), notes = parse_review(answer)
    assert (finding.line, finding.message) == (3, "eval")
    assert (note is None and notes == []) or any(note in n for n in notes)


def test_malformed_findings_are_left_out_and_counted():
    answer = json.dumps({"findings": [{"line": 3, "message": "ok"}, {"line": "three"}, {"message": "no line"}]})
    findings, notes = parse_review(answer)
    assert [f.message for f in findings] == ["ok"]
    assert notes == ["2 malformed findings were left out"]


@pytest.mark.parametrize("answer", ['{"findings": []}', "```json\n[]\n```", 'Nothing to report: {"findings": []}'])
def test_an_empty_findings_list_is_a_clean_review(answer):
    assert parse_review(answer) == ([], [])


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (json.dumps({"findings": [{"line": "three"}, {"message": "no line"}]}), "none of its 2 findings could be read"),
        (json.dumps([{"line": 0, "message": ""}]), "none of its 1 finding could be read"),
        ('{"findings": [{"line": "x", "message": "cut off', "could be read"),
        ('{"findings": [', "the repaired review holds no finding"),
    ],
)
def test_a_review_whose_findings_are_all_unusable_is_invalid_not_clean(answer, reason):
    """Telling "the model found nothing" from "everything was dropped": only the first is clean."""
    with pytest.raises(InvalidReview, match=reason):
        parse_review(answer)


@pytest.mark.parametrize("answer", ["I could not find anything wrong.", "", '{"issues": 3}'])
def test_unreadable_answers_are_reported_never_shown(answer):
    with pytest.raises(InvalidReview):
        parse_review(answer)


@pytest.mark.parametrize(("word", "severity"), [("critical", "error"), ("Medium", "warning"), ("low", "info"),
                                                ("nit", "hint"), ("whatever", "warning")])
def test_severity_words_are_normalised(word, severity):
    assert Finding(line=1, message="m", severity=word).severity == severity


def test_findings_land_on_their_exact_ranges():
    findings = [
        Finding(line=3, column=12, end_column=19, severity="error", category="Security", message="eval",
                replacement="ast.literal_eval"),
        Finding(line=2, end_line=3, severity="info", message="no docstring"),
        Finding(line=40, message="past the end"),
    ]
    (precise, whole_lines), outside = findings_to_diagnostics(findings, LINES, "opus (claude-opus-4-6)")

    assert outside == 1
    assert precise.range == types.Range(types.Position(2, 11), types.Position(2, 18))
    assert precise.severity == types.DiagnosticSeverity.Error and precise.code == "security"
    assert precise.message == "eval — opus (claude-opus-4-6)" and precise.source == "assistant-router"
    assert precise.data == {"replacement": "ast.literal_eval", "original": "eval(x)"}
    # Whole lines start at the code, not at the indentation, and end at the end of the last line.
    assert whole_lines.range == types.Range(types.Position(1, 0), types.Position(2, 18))
    assert whole_lines.data is None


def test_a_fix_applies_only_while_its_text_is_unchanged():
    (diagnostic,), _ = findings_to_diagnostics(
        [Finding(line=3, column=12, end_column=19, message="eval", replacement="ast.literal_eval(x)")], LINES, "m"
    )
    fix = ReviewFix(diagnostic, diagnostic.range, diagnostic.data["original"], diagnostic.data["replacement"])
    assert fix.still_applies(LINES)
    assert not fix.still_applies([*LINES[:2], "    return ast.literal_eval(x)\n", *LINES[3:]])
    assert not fix.still_applies(LINES[:2])


@pytest.mark.parametrize("replacement, expected", [
    ("  12 +|     return a / b\n  13  |     # done", "    return a / b\n    # done"),
    ("12 | x = 1", "x = 1"),
    ("x = 1  # 12 | not a prefix", "x = 1  # 12 | not a prefix"),
    ("12 | x = 1\ny = 2", "12 | x = 1\ny = 2"),  # not every line numbered: taken as written
])
def test_line_numbers_copied_from_the_prompt_never_reach_a_replacement(replacement, expected):
    finding = Finding.model_validate({"line": 12, "message": "m", "replacement": replacement})
    assert finding.replacement == expected
