"""Diagnostics delivery: review findings on the document's lines, and the
store of suggested replacements that code actions offer as quick fixes."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from assistant_router.engine.results import Delivered, Failed, Status
from assistant_router.engine.text import LineIndex

if TYPE_CHECKING:
    from assistant_router.delivery.review import Finding, ReviewFix
    from assistant_router.delivery.target import Target
    from assistant_router.engine.pipeline import Answer


async def deliver(answer: Answer, target: Target) -> Delivered:
    from assistant_router.delivery.review import InvalidReview, parse_review  # pydantic: loaded on first use

    try:
        findings, notes = parse_review(answer.text)
    except InvalidReview as exc:
        # A failed review, not a clean one: the document's earlier findings stay.
        raise Failed(
            f"{answer.label} answered the review in the wrong shape: {exc}; the earlier review diagnostics were kept"
        ) from None
    document = answer.request.document
    current = target.read(document.uri)
    lines = current.lines if current is not None else LineIndex(document.text)
    inside = [f for f in findings if f.line <= len(lines)]
    if outside := len(findings) - len(inside):
        notes.append(
            f"{outside} finding{'s' if outside > 1 else ''} pointed past the end of the file and were left out"
        )
    if answer.request.policy.checks.safety_rules:
        inside += await asyncio.to_thread(_rule_findings, answer, lines)
    if answer.request.policy.checks.safety_rules or answer.request.policy.checks.syntax:
        # Off the loop: parses and rules over the whole document. A rule's fix
        # too: a project's rule file is as untrusted as a model's answer.
        inside, rejected = await asyncio.to_thread(_checked_fixes, answer, inside, lines)
        if rejected:
            many = rejected > 1
            notes.append(f"{rejected} suggested fix{'es' if many else ''} failed the checks (syntax, safety rules) "
                         f"and {'are' if many else 'is'} not offered")
    details = target.show_findings(answer, inside)
    return Delivered(Status.SHOWN, details, "; ".join(notes) or None)


def _checked_fixes(answer: Answer, findings: list[Finding], lines: LineIndex) -> tuple[list[Finding], int]:
    """A review's suggested replacement becomes a quick fix only if the document
    with it applied passes the checks an edit must pass; otherwise the finding
    is kept and its fix dropped, saying why."""
    from assistant_router.delivery.review import finding_range
    from assistant_router.engine.checks.stage import Proposal, check_proposal

    request = answer.request
    kept: list[Finding] = []
    rejected = 0
    for finding in findings:
        if finding.replacement is None:
            kept.append(finding)
            continue
        where = finding_range(finding, lines)
        start = lines.offset(where.start.line, where.start.character)
        end = lines.offset(where.end.line, where.end.character)
        after = lines.text[:start] + finding.replacement + lines.text[end:]
        proposal = Proposal(request.document.uri, request.document.language, request.document.name, lines.text,
                            after, (where.start.line, where.start.line + finding.replacement.count("\n")))
        report = check_proposal(proposal, request.policy.checks)
        if report.passed:
            kept.append(finding)
        else:
            rejected += 1
            kept.append(finding.model_copy(update={
                "replacement": None, "message": f"{finding.message} (its suggested fix is not offered: "
                f"{report.summary()})"}))
    return kept, rejected


def _rule_findings(answer: Answer, lines: LineIndex) -> list[Finding]:
    """The safety rules' findings on the reviewed lines: no model needed for
    them. A rule's ``fix`` becomes the finding's replacement (a quick fix)."""
    from assistant_router.delivery.review import RuleFinding
    from assistant_router.engine.checks import rules
    from assistant_router.engine.checks.stage import MAX_CHECKED_CHARS, WINDOW_LINES

    request = answer.request
    settings = request.policy.checks
    rule_set = rules.load_rules(directories=settings.rule_directories, disabled=settings.disabled_rules)
    first, last = request.span.start.line, request.span.last_line
    text, offset = lines.text, 0
    if len(text) > MAX_CHECKED_CHARS:  # a long document: the lines around the review, not megabytes parsed
        offset = max(first - WINDOW_LINES, 0)
        end = min(last + 1 + WINDOW_LINES, len(lines))
        text = lines.text[lines.offset(offset, 0):lines.offset(end, 0) if end < len(lines) else len(lines.text)]
    found: list[Finding] = []
    for finding in rules.find(rule_set, request.document.language, text, path=request.document.name):
        if finding.end_line + offset < first or finding.start_line + offset > last:
            continue
        found.append(RuleFinding(
            line=finding.start_line + offset + 1, end_line=finding.end_line + offset + 1,
            column=finding.start_column + 1,
            end_column=finding.end_column + 1, severity=finding.severity if finding.severity in _LEVELS else "warning",
            category="security", message=finding.message, replacement=finding.fix, rule=finding.rule_id,
            origin=finding.origin))
    return found


_LEVELS = ("error", "warning", "info", "hint")


@dataclass
class ReviewFixes:
    """Per document, the last review's findings that came with a replacement."""

    _by_uri: dict[str, list[ReviewFix]] = field(default_factory=dict)

    def set(self, uri: str, fixes: list[ReviewFix]) -> None:
        self._by_uri[uri] = fixes

    def get(self, uri: str) -> list[ReviewFix]:
        return self._by_uri.get(uri, [])

    def prune(self, uri: str, lines: Sequence[str]) -> list[ReviewFix]:
        """Forget the fixes whose text has changed since; returns the ones forgotten."""
        fixes = self._by_uri.get(uri)
        if not fixes:
            return []
        kept: list[ReviewFix] = []
        stale: list[ReviewFix] = []
        for fix in fixes:
            (kept if fix.still_applies(lines) else stale).append(fix)
        self._by_uri[uri] = kept
        return stale
