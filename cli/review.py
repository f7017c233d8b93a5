"""``assistant-router review``: a change reviewed with the project's policy,
for a pull request in CI or before a push.

The change is read from git (``engine/diff.py``); each changed file's hunks
are sent as review selections, with their enclosing scope as context,
through the same pipeline as the editor (``engine/pipeline.py run_task``):
the same routing (rules by path), privacy rules, redaction, budgets and
ledger. The safety rules run on the lines the change added, with no model
(``--rules-only``: only them). Findings are kept on the changed lines (or
near them) and written as text, JSON, SARIF, GitHub workflow commands,
GitLab Code Quality or a Markdown summary (``delivery/ci_report.py``).

Exit codes (docs/ci.md): 0 nothing at or above ``--fail-on``; 1 findings at
or above it; 2 a usage error (not a repository, a bad revision, a policy
with errors); 3 refused (``--max-usd``, a budget); 4 a provider failure (an
outage, or an answer that could not be read). 3 and 4 say the review is
incomplete: the findings it did get are written all the same.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant_router.delivery.ci_report import (
    SEVERITY_ORDER,
    FailedFile,
    Report,
    ReportFinding,
    RuleHelp,
    SkippedFile,
)
from assistant_router.engine.results import Status
from assistant_router.routing.constants import PROJECT_POLICY_FILENAME
from assistant_router.routing.tasks import Task

if TYPE_CHECKING:
    from assistant_router.delivery.review import Finding
    from assistant_router.engine.diff import ChangedFile, Git, ReviewSpan, Revisions
    from assistant_router.engine.pipeline import Answer, Engine
    from assistant_router.engine.request import TaskRequest
    from assistant_router.routing.policy import Policy

logger = logging.getLogger(__name__)

EXIT_CLEAN, EXIT_FINDINGS, EXIT_USAGE, EXIT_REFUSED, EXIT_PROVIDER = 0, 1, 2, 3, 4
FAIL_ON = {"error": ("error",), "warning": ("error", "warning"), "never": ()}
DEFAULT_JOBS = 4
MODEL_CATEGORIES = {
    "bug": "a defect the change brings: wrong results, crashes, broken edge cases",
    "security": "a security problem: injection, unsafe input handling, secrets, weak crypto",
    "performance": "needless work: quadratic loops, repeated I/O, blocking calls",
    "style": "readability and the project's conventions",
    "maintainability": "code that will be hard to change: duplication, unclear names, missing tests",
}


class ReviewUsageError(Exception):
    """The review cannot be run as asked (exit 2)."""


@dataclass
class Options:
    diff: str | None = None
    staged: bool = False
    rules_only: bool = False
    all_lines: bool = False
    fail_on: str = "error"
    max_usd: float | None = None
    jobs: int = DEFAULT_JOBS
    dry_run: bool = False
    root: Path | None = None
    outputs: list[tuple[str, Path | None]] = field(default_factory=list)  # (format, file; None: stdout)


@dataclass
class Unit:
    """One review request: a span of one file."""

    file: ChangedFile
    span: ReviewSpan
    lines: list[str]
    request: TaskRequest
    estimate_usd: float | None = None
    input_tokens: int = 0


@dataclass
class Collected:
    """What the pipeline delivered for one unit."""

    findings: list[Finding] = field(default_factory=list)
    label: str = ""


class Progress:
    """Progress on stderr: a bar on a terminal, plain lines in a CI log."""

    def __init__(self, total: int, stream: Any = None) -> None:
        self.total, self.done = total, 0
        self.stream = stream or sys.stderr
        self.bar = bool(getattr(self.stream, "isatty", lambda: False)()) and os.environ.get("TERM") != "dumb"

    def step(self, what: str) -> None:
        self.done += 1
        if self.bar:
            width = 24
            filled = width * self.done // max(self.total, 1)
            line = f"\rreview [{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} {what}"
            print(line[:118].ljust(118), end="" if self.done < self.total else "\n", file=self.stream, flush=True)
        else:
            print(f"review: {self.done}/{self.total} {what}", file=self.stream, flush=True)


class _CollectingTarget:
    """The delivery target of a review run: keeps the findings, shows nothing."""

    cannot_apply_edits = "a review never changes files"
    can_create_files = False
    accepts_unchecked = False

    def __init__(self, collected: Collected) -> None:
        self.collected = collected

    def read(self, uri: str) -> None:
        return None  # the text the review started from is the text there is

    async def apply(self, answer: Answer, edits: Sequence[Any]) -> None:
        raise AssertionError("a review never applies edits")

    async def reveal(self, uri: str) -> None:
        return None

    async def show_document(self, name: str, markdown: str, fallback: str) -> str | None:
        return None

    def hold(self, answer: Answer, edits: Sequence[Any], findings: Sequence[Any]) -> Mapping[str, Any]:
        return {}

    def show_findings(self, answer: Answer, findings: Sequence[Finding]) -> Mapping[str, Any]:
        self.collected.findings = list(findings)
        self.collected.label = answer.label
        return {"findings": len(findings)}


def _err(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main_review(options: Options) -> int:
    from assistant_router.engine.diff import GitError

    try:
        return asyncio.run(review(options))
    except (GitError, ReviewUsageError) as exc:
        _err(f"assistant-router: {exc}")
        return EXIT_USAGE


async def review(options: Options) -> int:
    from assistant_router.engine import __version__
    from assistant_router.engine.diff import Git, changed_files, repository_root, resolve_revisions

    root = repository_root((options.root or Path.cwd()).resolve())
    git = Git(root)
    revisions = resolve_revisions(git, options.diff, options.staged)
    registry, policy = _load_policy(root)
    changes = changed_files(git, revisions)
    if policy_files := [c.path for c in changes if c.path == PROJECT_POLICY_FILENAME or
                        c.path.startswith(".assistant-router/")]:
        _err(f"review: the change modifies {', '.join(policy_files)}: this review follows the policy as changed "
             "(which cannot widen what is sent or what it costs; docs/ci.md)")
    report = Report(__version__, revisions.described, revisions.head_label, rules_only=options.rules_only,
                    all_lines=options.all_lines)
    files = _read_files(git, revisions, changes, policy, root, report)
    _rule_findings(files, policy, options.all_lines, report)
    units: list[Unit] = []
    if not options.rules_only:
        units = await _plan(files, policy, root, report)
        total = None if any(u.estimate_usd is None for u in units) else sum(u.estimate_usd or 0 for u in units)
        tokens = sum(u.input_tokens for u in units)
        _err(f"review: {revisions.described}: {len(changes)} changed file{_s(len(changes))}, "
             f"{len(units)} request{_s(len(units))} to send (about {tokens:,} tokens in, estimated "
             f"{_money(total)} with the answers)")
        if options.dry_run:
            for unit in units:
                _err(f"  {unit.file.path}:{unit.span.first}-{unit.span.last} → {unit.request.decision.primary.alias}"
                     f" ({unit.input_tokens:,} tokens, {_money(unit.estimate_usd)})")
            return EXIT_CLEAN
        if options.max_usd is not None and units:
            if total is None:
                return _refuse(f"refused: the price of {_unpriced(units)} is unknown, so the run cannot be held to "
                               f"--max-usd {options.max_usd:g}; nothing was sent (give its prices in your user "
                               f"config)")
            if total > options.max_usd:
                return _refuse(f"refused: the run is estimated at {_money(total)}, over --max-usd "
                               f"{options.max_usd:g}; nothing was sent (review fewer files, or raise the cap)")
        await _send(units, registry, policy, options, report)
    elif options.dry_run:
        _err("review: --rules-only sends nothing")
    return _finish(report, options)


def _s(count: int) -> str:
    return "" if count == 1 else "s"


def _money(value: float | None) -> str:
    from assistant_router.engine.usage.prices import format_usd

    return "an unknown cost" if value is None else format_usd(value)


def _unpriced(units: Sequence[Unit]) -> str:
    aliases = sorted({u.request.decision.primary.alias for u in units if u.estimate_usd is None})
    return ", ".join(aliases)


def _refuse(message: str) -> int:
    _err(f"assistant-router: {message}")
    return EXIT_REFUSED


def _load_policy(root: Path) -> tuple[Any, Policy]:
    from assistant_router.providers.registry import ProviderRegistry
    from assistant_router.routing.config import load_policy

    registry = ProviderRegistry()
    load = load_policy(root, registry.check)
    for issue in load.issues:
        _err(str(issue))
    if load.policy is None:
        raise ReviewUsageError("the policy has errors; run 'assistant-router check' for details")
    return registry, load.policy


@dataclass
class _File:
    changed: ChangedFile
    text: str
    language: str
    send: bool  # False: the rules only (privacy excludes it from what is sent)

    @property
    def path(self) -> str:
        return self.changed.path


def _read_files(git: Git, revisions: Revisions, changes: Sequence[ChangedFile], policy: Policy, root: Path,
                report: Report) -> list[_File]:
    """The changed files a review looks at, read as the change leaves them;
    the others go to ``report.skipped`` with the reason."""
    from assistant_router.cli.main import LANGUAGE_BY_SUFFIX
    from assistant_router.engine.diff import GitError, SkipRules, looks_generated, matches, read_new_text, skip_reason
    from assistant_router.engine.privacy import ExclusionRules

    settings = policy.review
    skips = SkipRules(settings.skip, settings.include, settings.skip_origin)
    attributes = _attributes(git, [c.path for c in changes])
    exclusions = ExclusionRules(root, policy.privacy, policy.sources[-1] if policy.sources else "the policy")
    files: list[_File] = []
    for changed in changes:
        reason = skip_reason(changed, skips, attributes)
        if reason is None and not changed.hunks:
            reason = "no lines added"  # a rename or a mode change alone
        if reason is not None:
            report.skipped.append(SkippedFile(changed.path, reason))
            continue
        try:
            data = read_new_text(git, revisions, changed.path)
        except (GitError, OSError) as exc:
            report.skipped.append(SkippedFile(changed.path, f"cannot be read: {exc}"))
            continue
        if b"\0" in data[:8192]:
            report.skipped.append(SkippedFile(changed.path, "binary"))
            continue
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            report.skipped.append(SkippedFile(changed.path, "not UTF-8 text"))
            continue
        if looks_generated(text) and not matches(changed.path, settings.include):
            report.skipped.append(SkippedFile(changed.path, "generated (its header says so)"))
            continue
        language = LANGUAGE_BY_SUFFIX.get(Path(changed.path).suffix.lower(), "")
        excluded = exclusions.reason(changed.path)
        if excluded is not None and not report.rules_only:
            report.skipped.append(SkippedFile(changed.path, f"not sent to a model: {excluded}"))
        files.append(_File(changed, text, language, send=excluded is None))
    return files


def _attributes(git: Git, paths: Sequence[str]) -> dict[str, set[str]]:
    from assistant_router.engine.diff import GitError, git_attributes

    try:
        return git_attributes(git, paths)
    except GitError:
        return {}


def _rule_findings(files: Sequence[_File], policy: Policy, all_lines: bool, report: Report) -> None:
    """The safety rules on each file as the change leaves it, kept where a
    finding touches a line the change added (``all_lines``: everywhere)."""
    from assistant_router.engine.checks import rules

    settings = policy.checks
    if not settings.safety_rules:
        return
    rule_set = rules.load_rules(directories=settings.rule_directories, disabled=settings.disabled_rules)
    for problem in rule_set.problems:
        where = f"{problem.path}:{problem.line}" if problem.path else "[checks] disable_rules"
        _err(f"{where}: error: {problem.message} (this rule file is skipped)")
    by_id = {rule.id: rule for rule in rule_set.rules}
    for file in files:
        if file.language and file.path not in report.reviewed:
            report.reviewed.append(file.path)
        if not file.language or not rule_set.for_language(file.language):
            continue
        lines = file.text.split("\n")
        touched = file.changed.touched_lines
        for found in rules.find(rule_set, file.language, file.text, path=file.path):
            first, last = found.start_line + 1, found.end_line + 1
            if not all_lines and not any(first <= line <= last for line in touched):
                continue
            severity = found.severity if found.severity in SEVERITY_ORDER else "warning"
            report.findings.append(ReportFinding(
                path=file.path, line=first, end_line=last, severity=severity, message=found.message,  # type: ignore[arg-type]
                category="security", rule=found.rule_id, origin=found.origin, column=found.start_column + 1,
                end_column=found.end_column + 1, line_text=lines[first - 1] if first <= len(lines) else "",
                replacement=None))
            rule = by_id.get(found.rule_id)
            if rule is not None and rule.id not in report.rules:
                report.rules[rule.id] = RuleHelp(rule.id, rule.message or rule.id,
                                                 "\n\n".join(p for p in (rule.note, rule.url) if p))


async def _plan(files: Sequence[_File], policy: Policy, root: Path, report: Report) -> list[Unit]:
    """One request per review span of each file that may be sent, with what
    it is estimated to cost (the budget's rule: input plus an assumed answer)."""
    from assistant_router.engine.assembly import RequestTooLarge
    from assistant_router.engine.calling import Assemblies
    from assistant_router.engine.diff import review_spans
    from assistant_router.engine.policies import StaticPolicies
    from assistant_router.engine.request import Document, build_request
    from assistant_router.engine.results import TaskError
    from assistant_router.engine.text import Span
    from assistant_router.engine.usage.prices import budget_estimate_usd

    policies = StaticPolicies(root, policy)
    units: list[Unit] = []
    for file in files:
        if not file.send:
            continue
        lines = file.text.split("\n")
        if file.changed.path not in report.reviewed:
            report.reviewed.append(file.changed.path)
        absolute = root / file.changed.path
        document = Document(absolute.as_uri(), file.text, file.language, root, file.changed.path, absolute)
        content_lines = lines[:-1] if file.text.endswith("\n") else lines
        for span in review_spans(file.changed, content_lines):
            # Whole lines; the last line of a file with no final newline ends at its end.
            selection = Span.of(span.first - 1, 0, span.last, 0) if span.last < len(lines) else \
                Span.of(span.first - 1, 0, span.last - 1, len(lines[span.last - 1]))
            try:
                request = build_request(Task.REVIEW, document, selection, policies, changed_lines=span.changed)
            except TaskError as exc:
                report.failed.append(FailedFile(file.changed.path, str(exc), "refused"))
                continue
            unit = Unit(file.changed, span, lines, request)
            assemblies = Assemblies(request.source)
            primary = request.decision.primary
            await assemblies.prepare(primary)
            try:
                unit.input_tokens = assemblies.get(primary).input_tokens
            except RequestTooLarge as exc:
                report.failed.append(FailedFile(file.changed.path, str(exc), "refused"))
                continue
            unit.estimate_usd = budget_estimate_usd(primary, unit.input_tokens, policy)
            units.append(unit)
    return units


async def _send(units: Sequence[Unit], registry: Any, policy: Policy, options: Options, report: Report) -> None:
    """Every unit through the pipeline, ``options.jobs`` at once (each
    alias's max_concurrency holds within that); stops starting new ones once
    the run's cost reaches ``--max-usd``."""
    from assistant_router.engine.pipeline import Engine
    from assistant_router.engine.usage.prices import cost_usd
    from assistant_router.engine.usage.service import UsageService
    from assistant_router.providers.registry import ProviderPool

    engine = Engine(providers=ProviderPool(registry), usage=UsageService(lambda: policy.ledger_url))
    gate = asyncio.Semaphore(max(options.jobs, 1))
    progress = Progress(len(units))
    spent: list[float] = []
    unknown: list[bool] = []

    async def one(unit: Unit) -> None:
        async with gate:
            where = f"{unit.file.path}:{unit.span.first}-{unit.span.last}"
            if options.max_usd is not None and sum(spent) >= options.max_usd:
                report.failed.append(FailedFile(unit.file.path, f"lines {unit.span.first}-{unit.span.last} not "
                                                f"reviewed: the run reached --max-usd {options.max_usd:g}",
                                                "refused"))
                progress.step(f"{where}: not sent (--max-usd reached)")
                return
            result, collected = await _review_unit(unit, engine)
            spent.append(result.cost_usd)
            if result.answered_by is not None and cost_usd(result.answered_by.prices, result.usage) is None:
                unknown.append(True)  # TaskResult.cost_usd counts known prices only
            progress.step(f"{where} → {_outcome(result, collected)}")
            _collect(unit, result, collected, policy, options.all_lines, report)

    try:
        await asyncio.gather(*(one(unit) for unit in units))
    finally:
        await engine.usage.stop()
    report.cost_usd = None if unknown else round(sum(spent), 6)


async def _review_unit(unit: Unit, engine: Engine) -> tuple[Any, Collected]:
    from assistant_router import delivery
    from assistant_router.engine.pipeline import NoProgress, run_task

    collected = Collected()
    target = _CollectingTarget(collected)

    async def deliver(answer: Answer) -> Any:
        return await delivery.deliver(answer, target)

    result = await run_task(unit.request, engine, deliver=deliver, progress=NoProgress())
    return result, collected


def _outcome(result: Any, collected: Collected) -> str:
    from assistant_router.engine.results import model_label

    if result.status is Status.SHOWN:
        count = len(collected.findings)
        fallback = f" (fallback: {result.fallback_error})" if result.fallback else ""
        return f"{model_label(result.model)}: {count} finding{_s(count)} before filtering{fallback}"
    return f"{result.status.value}: {result.message}"


def _collect(unit: Unit, result: Any, collected: Collected, policy: Policy, all_lines: bool, report: Report) -> None:
    """A unit's result into the report: its model findings near the change
    (the safety rules' are found once per file, not per answer), or why
    it has none."""
    from assistant_router.delivery.review import RuleFinding
    from assistant_router.engine.diff import near
    from assistant_router.engine.results import model_label

    path = unit.file.path
    if result.status is not Status.SHOWN:
        kind = "refused" if result.status is Status.REFUSED else (
            "answer" if any(a.error is None and a.usage is not None for a in result.attempts) else "provider")
        report.failed.append(FailedFile(path, f"lines {unit.span.first}-{unit.span.last}: {result.message}", kind))
        return
    label = collected.label or (model_label(result.model) if result.model else "")
    if label and label not in report.models:
        report.models.append(label)
    touched = unit.file.touched_lines
    reach = policy.review.near_lines
    for finding in collected.findings:
        if isinstance(finding, RuleFinding):
            continue
        first = min(finding.line, len(unit.lines))
        last = max(min(finding.end_line or finding.line, len(unit.lines)), first)
        if not all_lines and not near(touched, first, last, reach):
            continue
        report.findings.append(ReportFinding(
            path=path, line=first, end_line=last, severity=finding.severity, message=finding.message,
            category=finding.category, column=finding.column, end_column=finding.end_column, model=label,
            line_text=unit.lines[first - 1], replacement=finding.replacement))


def merged(findings: Sequence[ReportFinding]) -> list[ReportFinding]:
    """Findings on the same line with the same message made one: the most
    severe kept, the models that saw it named together (two spans of a file
    can overlap, a rule and a model can agree)."""
    from dataclasses import replace

    kept: dict[tuple[str, int, str], ReportFinding] = {}
    for finding in findings:
        key = (finding.path, finding.line, " ".join(finding.message.lower().split()))
        other = kept.get(key)
        if other is None:
            kept[key] = finding
            continue
        best, rest = (finding, other) if SEVERITY_ORDER[finding.severity] < SEVERITY_ORDER[other.severity] \
            else (other, finding)
        models = [m for m in dict.fromkeys((best.model, rest.model)) if m]
        kept[key] = replace(best, model=", ".join(models) or None, end_line=max(best.end_line, rest.end_line),
                            rule=best.rule or rest.rule, origin=best.origin if best.rule else rest.origin)
    return list(kept.values())


def exit_code(report: Report, fail_on: str) -> int:
    if any(f.kind in ("provider", "answer") for f in report.failed):
        return EXIT_PROVIDER
    if any(f.kind == "refused" for f in report.failed):
        return EXIT_REFUSED
    if any(f.severity in FAIL_ON[fail_on] for f in report.findings):
        return EXIT_FINDINGS
    return EXIT_CLEAN


def _finish(report: Report, options: Options) -> int:
    from assistant_router.delivery import ci_report

    report.findings = merged(report.findings)
    for finding in report.findings:
        if finding.rule is None and finding.rule_id not in report.rules:
            what = MODEL_CATEGORIES.get(finding.category, f"a review finding of category {finding.category}")
            report.rules[finding.rule_id] = RuleHelp(finding.rule_id, f"Review: {finding.category}",
                                                     f"A model's review finding: {what}.")
    outputs = options.outputs or [("text", None)]
    for fmt, path in outputs:
        text = ci_report.render(report, fmt)
        if path is None:
            sys.stdout.write(text if text.endswith("\n") or not text else text + "\n")
            sys.stdout.flush()
            continue
        # $GITHUB_STEP_SUMMARY is appended to, as GitHub's own steps do.
        mode = "a" if os.environ.get("GITHUB_STEP_SUMMARY") and str(path) == os.environ["GITHUB_STEP_SUMMARY"] \
            else "w"
        try:
            with open(path, mode, encoding="utf-8") as out:
                out.write(text if text.endswith("\n") else text + "\n")
        except OSError as exc:
            _err(f"assistant-router: cannot write {path}: {exc.strerror or exc}")
            return EXIT_USAGE
        _err(f"review: wrote {path} ({fmt})")
    code = exit_code(report, options.fail_on)
    summary = ci_report.count_words({s: sum(1 for f in report.findings if f.severity == s) for s in SEVERITY_ORDER})
    cost = "" if report.rules_only else f"; cost {_money(report.cost_usd)}"
    _err(f"review: {summary} on the changed lines of {len(report.reviewed)} file{_s(len(report.reviewed))}"
         f" ({len(report.skipped)} skipped, {len(report.failed)} failed){cost}; exit {code}")
    return code

