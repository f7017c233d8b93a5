"""The check stage: what an answer's edit would make of the document, checked
before it is delivered (``engine/pipeline.py``, step 6).

Three checks, each on what the edit *adds*, never on what was already there:

- ``syntax``: the edited document parses with no new error or missing nodes
  (tree-sitter, the shipped grammars: ``engine/checks/syntax.py``);
- ``rules``: the safety rules in ast-grep's YAML format, shipped, the
  project's and the user's (``engine/checks/rules.py``);
- each check command of the user config (or of a trusted project): a linter
  or type checker run on a scratch copy (``engine/checks/commands.py``).

A check that cannot say (no grammar for the language, a command not
installed) is reported as not run, never as passed or failed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assistant_router.routing.policy import CheckSettings, Policy

logger = logging.getLogger(__name__)

SYNTAX = "syntax"
RULES = "rules"


@dataclass(frozen=True)
class Proposal:
    """A document as it is and as the edit would leave it."""

    uri: str
    language: str  # LSP language id
    relative: str  # as the user sees it (and check commands place the scratch copy)
    before: str
    after: str
    changed: tuple[int, int] | None = None  # first and last line (0-based, in ``after``) the edit wrote
    first_line: int = 0  # the line of the whole document ``before`` and ``after`` start at (a window of it)


@dataclass(frozen=True)
class Finding:
    """One problem a check found in ``after``: 0-based lines, columns in code points."""

    check: str  # "syntax", "rules" or a command's name
    code: str  # "syntax", a rule id, or the tool's code
    message: str
    severity: str  # "error" | "warning" | "info" | "hint"
    line: int
    column: int = 0
    end_line: int | None = None
    end_column: int | None = None
    security: bool = False  # a safety rule's finding: counted as caught before it was applied

    def to_json(self) -> dict[str, Any]:
        return {"check": self.check, "code": self.code, "message": self.message, "severity": self.severity,
                "line": self.line, "column": self.column,
                "end_line": self.line if self.end_line is None else self.end_line,
                "end_column": self.column if self.end_column is None else self.end_column}

    def brief(self) -> str:
        return f"line {self.line + 1}: {self.message}" + (f" [{self.code}]" if self.code != SYNTAX else "")


@dataclass(frozen=True)
class CheckResult:
    name: str
    passed: bool | None  # None: not run (no grammar, a command not installed), with ``note`` saying why
    findings: tuple[Finding, ...] = ()
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "passed": self.passed,
                                "findings": [f.to_json() for f in self.findings]}
        if self.note:
            data["note"] = self.note
        return data


@dataclass(frozen=True)
class CheckReport:
    results: tuple[CheckResult, ...] = ()
    # Problems with rule files (invalid YAML, an unknown key): shown on those
    # files, never a failure of the task.
    rule_problems: tuple[Any, ...] = field(default=(), compare=False)

    @property
    def passed(self) -> bool:
        return all(r.passed is not False for r in self.results)

    @property
    def findings(self) -> list[Finding]:
        return [f for r in self.results if r.passed is False for f in r.findings]

    @property
    def security_findings(self) -> int:
        return sum(1 for f in self.findings if f.security)

    def summary(self) -> str:
        """The problems in a few words, for progress and messages."""
        found = self.findings
        if not found:
            return "checks passed"
        first = found[0]
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        return f"{first.message}{'' if first.check == SYNTAX else f' at line {first.line + 1}'}{more}"

    def outcome(self) -> str:
        """"passed", "failed" or "not run": what the ledger records of an attempt."""
        if not self.results or all(r.passed is None for r in self.results):
            return "not run"
        return "passed" if self.passed else "failed"

    def to_json(self) -> list[dict[str, Any]]:
        return [r.to_json() for r in self.results]


def check_proposal(proposal: Proposal, settings: CheckSettings, *,
                   commands: Sequence[Any] = ()) -> CheckReport:
    """Syntax and safety rules on ``proposal`` (synchronous: callers run it off
    the event loop). Check commands run separately (:func:`run_commands`)."""
    proposal = _windowed(proposal)
    results: list[CheckResult] = []
    problems: tuple[Any, ...] = ()
    if settings.syntax:
        results.append(_guarded(SYNTAX, lambda: _syntax(proposal)))
    if settings.safety_rules:
        if settings.syntax:
            from assistant_router.engine.checks.rules import let_others_run

            let_others_run()  # between the syntax check's parse and the rules' parses
        found: list[tuple[Any, ...]] = []

        def rules() -> CheckResult:
            result, rule_problems = _rules(proposal, settings)
            found.append(rule_problems)
            return result

        results.append(_guarded(RULES, rules))
        problems = found[0] if found else ()
    return CheckReport(tuple(results), problems)


# A document longer than this is checked on the lines around the edit: a whole
# parse of a few megabytes holds the interpreter for a second or more.
MAX_CHECKED_CHARS = 256_000
WINDOW_LINES = 300  # on each side of the edit


def _windowed(proposal: Proposal) -> Proposal:
    """``proposal`` cut to the lines around its edit when the text is long. The
    cut is at the same lines on both sides, so what it breaks (a construct
    half inside) is broken alike before and after, and only the edit's own
    problems are new."""
    if len(proposal.after) <= MAX_CHECKED_CHARS or proposal.changed is None:
        return proposal
    before, after = proposal.before.splitlines(keepends=True), proposal.after.splitlines(keepends=True)
    first, last = proposal.changed
    low = max(first - WINDOW_LINES, 0)
    high = min(last + 1 + WINDOW_LINES, len(after))
    tail = len(after) - high  # the same lines at the end of both texts
    window_before = "".join(before[low:max(len(before) - tail, low)])
    window_after = "".join(after[low:high])
    return replace(proposal, before=window_before, after=window_after, changed=(first - low, last - low),
                   first_line=proposal.first_line + low)


def _guarded(name: str, check: Callable[[], CheckResult]) -> CheckResult:
    """A check that breaks is reported as not run, never as the task's failure."""
    try:
        return check()
    except Exception as exc:
        logger.exception("the %s check failed", name)
        return CheckResult(name, None, note=f"the check could not run: {type(exc).__name__}: {exc}")


def _syntax(proposal: Proposal) -> CheckResult:
    from assistant_router.engine.checks.syntax import new_syntax_problems

    found = new_syntax_problems(proposal.language, proposal.before, proposal.after, proposal.changed)
    if found is None:
        return CheckResult(SYNTAX, None, note=f"no grammar for {proposal.language or 'this language'}")
    shift = proposal.first_line
    findings = tuple(Finding(SYNTAX, SYNTAX, _relined(p.message, p.line, shift), "error", p.line + shift, p.column,
                             p.end_line + shift, p.end_column) for p in found)
    return CheckResult(SYNTAX, not findings, findings)


def _rules(proposal: Proposal, settings: CheckSettings) -> tuple[CheckResult, tuple[Any, ...]]:
    from assistant_router.engine.checks import rules

    rule_set = rules.load_rules(directories=settings.rule_directories, disabled=settings.disabled_rules)
    problems = tuple(rule_set.problems)
    if not rule_set.for_language(proposal.language):
        return CheckResult(RULES, None, note=f"no safety rules for {proposal.language or 'this language'}"), problems
    added = rules.added_findings(rule_set, proposal.language, proposal.before, proposal.after,
                                 path=proposal.relative)
    shift = proposal.first_line
    blocking = tuple(
        Finding(RULES, f.rule_id, f.message, f.severity, f.start_line + shift, f.start_column, f.end_line + shift,
                f.end_column, security=True)
        for f in added if f.severity in ("error", "warning")
    )
    return CheckResult(RULES, not blocking, blocking), problems


async def run_commands(report: CheckReport, proposal: Proposal, policy: Policy, root: Path | None) -> CheckReport:
    """``report`` with the outcomes of the policy's check commands added (run
    on scratch copies: see engine/checks/commands.py)."""
    commands = [c for c in policy.checks.commands if c.applies_to(proposal.language)]
    if not commands:
        return report
    from assistant_router.engine.checks.commands import run_check_commands

    try:
        outcomes = await run_check_commands(commands, language=proposal.language, relative_path=proposal.relative,
                                            before=proposal.before, after=proposal.after, project_root=root)
    except Exception as exc:  # a broken runner is "not run", never the task's failure
        logger.exception("the check commands failed")
        note = f"the check commands could not run: {type(exc).__name__}: {exc}"
        return replace(report, results=report.results + tuple(CheckResult(c.name, None, note=note) for c in commands))
    added = tuple(
        CheckResult(outcome.name, outcome.passed, tuple(
            Finding(outcome.name, finding.code or outcome.name, finding.message, finding.severity, finding.line,
                    finding.column) for finding in outcome.findings), outcome.error)
        for outcome in outcomes
    )
    return replace(report, results=report.results + added)


def _relined(message: str, line: int, shift: int) -> str:
    """A syntax message names its line: the window's, made the document's."""
    return message.replace(f"at line {line + 1}", f"at line {line + 1 + shift}", 1) if shift else message


def escalation_note(report: CheckReport, previous_answer: str, label: str) -> str:
    """What the next model is told about the answer that failed its checks."""
    lines = [f"A previous answer (from {label}) failed these checks; write a corrected answer that passes them:"]
    lines += [f"- {finding.brief()}" for finding in report.findings[:10]]
    return "\n".join(lines) + f"\n\nThe previous answer:\n{previous_answer.strip()}"
