"""Review answers: a JSON schema, validated, repaired when it can be, and
turned into precise diagnostics whose suggested replacements become quick fixes.

Nothing the model wrote is ever shown raw: an answer that cannot be read as
findings is reported as such, and a malformed finding is left out and counted.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from lsprotocol import types
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from assistant_router.delivery.text_edits import extract_code
from assistant_router.engine.text import text_in, text_in_if_present

DIAGNOSTIC_SOURCE = "assistant-router"

_SEVERITY_WORDS = {
    "error": "error", "critical": "error", "high": "error", "blocker": "error", "major": "error",
    "warning": "warning", "warn": "warning", "medium": "warning", "moderate": "warning",
    "info": "info", "information": "info", "low": "info", "minor": "info", "note": "info",
    "hint": "hint", "nit": "hint", "suggestion": "hint",
}
_SEVERITY = {
    "error": types.DiagnosticSeverity.Error,
    "warning": types.DiagnosticSeverity.Warning,
    "info": types.DiagnosticSeverity.Information,
    "hint": types.DiagnosticSeverity.Hint,
}


def _severity(value: Any) -> Any:
    return _SEVERITY_WORDS.get(str(value).strip().lower(), "warning") if value is not None else "warning"


class Finding(BaseModel):
    """One finding, as the review prompt's output contract states it."""

    model_config = ConfigDict(extra="ignore")

    line: int = Field(ge=1)
    end_line: int | None = Field(default=None, ge=1)
    column: int | None = Field(default=None, ge=1)  # optional precision, 1-based
    end_column: int | None = Field(default=None, ge=1)
    severity: Annotated[Literal["error", "warning", "info", "hint"], BeforeValidator(_severity)] = "warning"
    category: Annotated[str, BeforeValidator(lambda v: str(v or "general").strip().lower())] = "general"
    message: str = Field(min_length=1)
    replacement: Annotated[str | None, BeforeValidator(lambda v: _without_line_numbers(v))] = None


# The review prompt shows each line as "12 +| code" (engine/prompts.py numbered);
# a model that copies that into a replacement must not put the numbers in the file.
_NUMBERED_LINE = re.compile(r"^ *\d+ ?[ +]?\| ?")


def _without_line_numbers(value: Any) -> Any:
    if not isinstance(value, str) or not value.strip():
        return value
    lines = value.split("\n")
    written = [line for line in lines if line.strip()]
    if not all(_NUMBERED_LINE.match(line) for line in written):
        return value
    return "\n".join(_NUMBERED_LINE.sub("", line, count=1) for line in lines)


class RuleFinding(Finding):
    """A safety rule's finding (engine/checks/rules.py) added to a review: made
    by the router, never parsed from a model's answer."""

    rule: str
    origin: str = "shipped"  # or "project", "user": where the rule file came from


class InvalidReview(ValueError):
    """The answer holds no findings we can read."""


def parse_review(answer: str) -> tuple[list[Finding], list[str]]:
    """The findings, and notes about what had to be repaired or left out.

    An empty ``findings`` list is a clean review; a non-empty one of which no
    finding can be read raises InvalidReview (a failed review must not wipe
    the document's earlier findings as a clean one would)."""
    notes: list[str] = []
    text = extract_code(answer).strip()
    if not text.startswith(("{", "[")):
        found = re.search(r"[\[{].*[\]}]", text, re.DOTALL)  # prose around the JSON
        text = found.group(0) if found else text
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        import json_repair

        data = json_repair.repair_json(text, return_objects=True)
        if not isinstance(data, (dict, list)) or not data:
            raise InvalidReview("the review is not JSON, and could not be repaired") from None
        notes.append("the review's JSON was malformed and has been repaired")
    items = data.get("findings") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise InvalidReview('the review has no "findings" list')
    findings: list[Finding] = []
    for item in items:
        try:
            findings.append(Finding.model_validate(item))
        except ValidationError:
            continue
    if items and not findings:
        # Not a clean review: the model reported findings and none could be read.
        raise InvalidReview(
            f"none of its {len(items)} finding{'s' if len(items) > 1 else ''} could be read (all malformed)"
        )
    if not findings and notes:
        # Repaired into an empty list (a cut-off answer, say): not a reliable "no findings".
        raise InvalidReview("its JSON was malformed, and the repaired review holds no finding")
    if (dropped := len(items) - len(findings)) > 0:
        notes.append(f"{dropped} malformed finding{'s were' if dropped > 1 else ' was'} left out")
    return findings, notes


def finding_range(finding: Finding, lines: Sequence[str]) -> types.Range:
    """Where ``finding`` is, in code points (its line is in the document)."""
    start = finding.line - 1
    end = min(max(finding.end_line or finding.line, finding.line), len(lines)) - 1
    start_text, end_text = lines[start].rstrip("\r\n"), lines[end].rstrip("\r\n")
    first_column = len(start_text) - len(start_text.lstrip())  # whole lines start at the code, not the indent
    start_column = min(finding.column - 1, len(start_text)) if finding.column else first_column
    end_column = min(finding.end_column - 1, len(end_text)) if finding.end_column else len(end_text)
    if end == start and end_column < start_column:
        end_column = len(end_text)
    return types.Range(types.Position(start, start_column), types.Position(end, end_column))


def findings_to_diagnostics(
    findings: list[Finding], lines: Sequence[str], model_label: str
) -> tuple[list[types.Diagnostic], int]:
    """Diagnostics (ranges in code points) and how many findings lay outside the document."""
    diagnostics = []
    outside = 0
    for finding in findings:
        if finding.line > len(lines):
            outside += 1
            continue
        selection = finding_range(finding, lines)
        data = None
        if finding.replacement is not None:
            data = {"replacement": finding.replacement, "original": text_in(lines, selection)}
        who = model_label
        if isinstance(finding, RuleFinding):
            who = f"safety rule {finding.rule}" if finding.origin == "shipped" else \
                f"{finding.origin} safety rule {finding.rule}"
        diagnostics.append(
            types.Diagnostic(
                range=selection,
                message=f"{finding.message} — {who}",
                severity=_SEVERITY[finding.severity],
                source=DIAGNOSTIC_SOURCE,
                code=finding.category,
                data=data,
            )
        )
    return diagnostics, outside


@dataclass
class ReviewFix:
    """A finding with a replacement: offered as a quick fix while the text it
    was about is unchanged."""

    diagnostic: types.Diagnostic  # as published (client units)
    server_range: types.Range  # code points
    original: str
    replacement: str

    def still_applies(self, lines: Sequence[str]) -> bool:
        return text_in_if_present(lines, self.server_range) == self.original
