"""A review of a change, as CI systems show it: the findings of one
``assistant-router review`` run and the formats they are written in (text,
JSON, SARIF 2.1.0, GitHub workflow commands, GitLab Code Quality, a Markdown
summary). Pure: no git, no model, no file system; ``cli/review.py`` builds a
:class:`Report` and writes what these functions return.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

Severity = Literal["error", "warning", "info", "hint"]
SEVERITY_ORDER: dict[str, int] = {"error": 0, "warning": 1, "info": 2, "hint": 3}
FORMATS = ("text", "json", "sarif", "github", "gitlab", "markdown")
MODEL_RULE_PREFIX = "assistant-router/"  # a model finding's rule id: assistant-router/<category>


@dataclass(frozen=True)
class ReportFinding:
    """One finding on a file of the change (lines 1-based, as in the file)."""

    path: str  # POSIX, relative to the repository root
    line: int
    end_line: int
    severity: Severity
    message: str
    category: str  # bug, security, performance, style, maintainability, general…
    rule: str | None = None  # a safety rule's id; None for a model's finding
    origin: str = "model"  # "model", or where the safety rule came from: "shipped", "project", "user"
    column: int | None = None  # 1-based, code points
    end_column: int | None = None  # 1-based, exclusive
    model: str | None = None  # the model that produced it ("opus (claude-opus-4-6)"); None for a rule
    line_text: str = ""  # the text of line ``line``, for the fingerprint
    replacement: str | None = None  # a suggested text for lines line..end_line

    @property
    def rule_id(self) -> str:
        return self.rule if self.rule is not None else f"{MODEL_RULE_PREFIX}{self.category}"


@dataclass(frozen=True)
class SkippedFile:
    path: str
    reason: str  # "lock file", "vendored", "generated", "binary", "deleted", "excluded: …", "no language"


@dataclass(frozen=True)
class FailedFile:
    path: str
    message: str
    kind: Literal["provider", "refused", "answer"]  # an outage, a refusal (budget, privacy), a malformed answer


@dataclass(frozen=True)
class RuleHelp:
    """What SARIF's rule entry says of a rule id: its short description and help."""

    id: str
    description: str
    help: str = ""


@dataclass
class Report:
    """One run: what was compared, what was found, what it cost."""

    tool_version: str
    base: str  # the revision compared against ("origin/main", a commit)
    head: str  # "HEAD", "the working tree", "the index"
    findings: list[ReportFinding] = field(default_factory=list)
    reviewed: list[str] = field(default_factory=list)  # paths reviewed (by a model, the rules or both)
    skipped: list[SkippedFile] = field(default_factory=list)
    failed: list[FailedFile] = field(default_factory=list)
    rules: dict[str, RuleHelp] = field(default_factory=dict)  # every rule id a finding uses
    models: list[str] = field(default_factory=list)  # the models that answered, as labels
    cost_usd: float | None = 0.0  # None: some price unknown
    rules_only: bool = False
    all_lines: bool = False  # findings beyond the changed lines were kept


def fingerprint(finding: ReportFinding, occurrence: int = 0) -> str:
    """The same finding's identity across runs: its rule, its file and the
    text of its line (whitespace collapsed), not its line number, so it stays
    the same when unrelated lines move; ``occurrence`` tells apart identical
    ones in one file."""
    text = " ".join(finding.line_text.split())
    key = "\0".join((finding.rule_id, finding.path, text, str(occurrence)))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


def sorted_findings(findings: Sequence[ReportFinding]) -> list[ReportFinding]:
    """Most severe first, then by file and line."""
    return sorted(findings, key=lambda f: (SEVERITY_ORDER[f.severity], f.path, f.line, f.end_line, f.message))
