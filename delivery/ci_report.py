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


def _counts(findings: Sequence[ReportFinding]) -> dict[str, int]:
    return {severity: sum(1 for f in findings if f.severity == severity) for severity in SEVERITY_ORDER}


def _money(value: float | None) -> str:
    from assistant_router.engine.usage.prices import format_usd

    return "unknown" if value is None else format_usd(value)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def count_words(counts: dict[str, int]) -> str:
    """``2 errors, 1 warning``, or ``no findings``."""
    return ", ".join(_plural(n, s) for s, n in counts.items() if n) or "no findings"


def fingerprints(findings: Sequence[ReportFinding]) -> list[str]:
    """Each finding's fingerprint, identical ones in a file told apart by
    their order (SARIF, GitLab and JSON give the same)."""
    seen: dict[tuple[str, str, str], int] = {}
    prints = []
    for finding in findings:
        key = (finding.rule_id, finding.path, " ".join(finding.line_text.split()))
        occurrence = seen.get(key, 0)
        seen[key] = occurrence + 1
        prints.append(fingerprint(finding, occurrence))
    return prints


def _ordered(findings: Sequence[ReportFinding]) -> list[ReportFinding]:
    """In file order: the order occurrences are counted in, whatever the output's order."""
    return sorted(findings, key=lambda f: (f.path, f.line, f.end_line, f.rule_id, f.message))


def _summary_line(report: Report) -> str:
    counts = _counts(report.findings)
    found = count_words(counts)
    cost = "" if report.rules_only else f"; cost {_money(report.cost_usd)}"
    return (f"{found} in {_plural(len(report.reviewed), 'file')} reviewed ({len(report.skipped)} skipped, "
            f"{len(report.failed)} failed){cost}")


def _who(finding: ReportFinding) -> str:
    if finding.rule is not None:
        return f"safety rule {finding.rule}" if finding.origin == "shipped" else \
            f"{finding.origin} safety rule {finding.rule}"
    return finding.model or "a model"


def to_text(report: Report) -> str:
    """``path:line: severity: [rule] message (who)`` per finding, most severe first."""
    lines = [f"{f.path}:{f.line}: {f.severity}: [{f.rule_id}] {f.message} ({_who(f)})"
             for f in sorted_findings(report.findings)]
    lines += [f"{f.path}: not reviewed ({f.kind}): {f.message}" for f in report.failed]
    lines.append(_summary_line(report))
    return "\n".join(lines) + "\n"


def to_json(report: Report) -> str:
    import json
    from dataclasses import asdict

    ordered = _ordered(report.findings)
    prints = dict(zip(map(id, ordered), fingerprints(ordered), strict=True))
    data = {
        "base": report.base,
        "head": report.head,
        "counts": _counts(report.findings),
        "findings": [{**asdict(f), "rule_id": f.rule_id, "fingerprint": prints[id(f)]}
                     for f in sorted_findings(report.findings)],
        "reviewed": report.reviewed,
        "skipped": [asdict(s) for s in report.skipped],
        "failed": [asdict(f) for f in report.failed],
        "models": report.models,
        "cost_usd": report.cost_usd,
        "rules_only": report.rules_only,
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


# --------------------------------------------------------------------------- #
# SARIF 2.1.0

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_LEVELS = {"error": "error", "warning": "warning", "info": "note", "hint": "note"}
MAX_SARIF_RESULTS = 25_000  # GitHub code scanning's limit per run
FINGERPRINT_KEY = "assistantRouterFinding/v1"  # ours: GitHub recomputes primaryLocationLineHash itself


def _uri(path: str) -> str:
    from urllib.parse import quote

    return quote(path, safe="/-_.~")


def to_sarif(report: Report) -> str:
    import json

    ordered = _ordered(report.findings)
    prints = dict(zip(map(id, ordered), fingerprints(ordered), strict=True))
    kept = sorted_findings(report.findings)[:MAX_SARIF_RESULTS]
    rule_ids = sorted({f.rule_id for f in kept})
    index = {rule_id: position for position, rule_id in enumerate(rule_ids)}
    rules = []
    for rule_id in rule_ids:
        known = report.rules.get(rule_id)
        description = known.description if known else rule_id
        level = min((f.severity for f in kept if f.rule_id == rule_id), key=SEVERITY_ORDER.__getitem__)
        entry: dict[str, object] = {
            "id": rule_id,
            "name": rule_id.rsplit("/", 1)[-1].replace("-", " ").replace(".", " ").title().replace(" ", ""),
            "shortDescription": {"text": description},
            "fullDescription": {"text": (known.help if known and known.help else description)},
            "defaultConfiguration": {"level": SARIF_LEVELS[level]},
            "properties": {"tags": ["security"] if rule_id.startswith(MODEL_RULE_PREFIX + "security") or
                           not rule_id.startswith(MODEL_RULE_PREFIX) else [rule_id.split("/", 1)[-1]]},
        }
        if known and known.help:
            entry["help"] = {"text": known.help}
        rules.append(entry)
    results = []
    for finding in kept:
        region: dict[str, int] = {"startLine": finding.line, "endLine": max(finding.end_line, finding.line)}
        if finding.column is not None:
            region["startColumn"] = finding.column
            if finding.end_column is not None and (finding.end_line > finding.line or
                                                   finding.end_column >= finding.column):
                region["endColumn"] = finding.end_column
        properties: dict[str, object] = {"category": finding.category, "origin": finding.origin}
        if finding.model:
            properties["model"] = finding.model
        result: dict[str, object] = {
            "ruleId": finding.rule_id,
            "ruleIndex": index[finding.rule_id],
            "level": SARIF_LEVELS[finding.severity],
            "message": {"text": finding.message},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": _uri(finding.path)}, "region": region}}],
            "partialFingerprints": {FINGERPRINT_KEY: prints[id(finding)]},
            "properties": properties,
        }
        results.append(result)
    notifications = [{"level": "error", "message": {"text": f"{f.path}: not reviewed ({f.kind}): {f.message}"},
                      "locations": [{"physicalLocation": {"artifactLocation": {"uri": _uri(f.path)}}}]}
                     for f in report.failed]
    if len(report.findings) > MAX_SARIF_RESULTS:
        notifications.append({"level": "warning", "message": {
            "text": f"{len(report.findings) - MAX_SARIF_RESULTS} less severe findings left out: code scanning "
                    f"takes at most {MAX_SARIF_RESULTS:,} results per run"}})
    invocation: dict[str, object] = {"executionSuccessful": not report.failed}
    if notifications:
        invocation["toolExecutionNotifications"] = notifications
    document = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "assistant-router", "version": report.tool_version, "rules": rules}},
            "invocations": [invocation],
            "columnKind": "unicodeCodePoints",
            "results": results,
            "properties": {"base": report.base, "head": report.head, "models": report.models,
                           "costUsd": report.cost_usd, "rulesOnly": report.rules_only},
        }],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


# --------------------------------------------------------------------------- #
# GitHub workflow commands

GITHUB_COMMANDS = {"error": "error", "warning": "warning", "info": "notice", "hint": "notice"}
GITHUB_ANNOTATIONS = 50  # GitHub shows about 50 per job (10 of each kind per step); the rest are dropped


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def to_github(report: Report, limit: int = GITHUB_ANNOTATIONS) -> str:
    """One workflow command per finding, most severe first, at most
    ``limit`` (GitHub drops the rest unseen), then a notice of how many more."""
    lines = []
    ordered = sorted_findings(report.findings)
    for finding in ordered[:limit]:
        where = [f"file={_escape_property(finding.path)}", f"line={finding.line}",
                 f"endLine={max(finding.end_line, finding.line)}"]
        if finding.column is not None and finding.end_line == finding.line:
            where.append(f"col={finding.column}")
            if finding.end_column is not None and finding.end_column >= finding.column:
                where.append(f"endColumn={finding.end_column}")
        where.append(f"title={_escape_property(finding.rule_id)}")
        message = f"{finding.message} ({_who(finding)})"
        lines.append(f"::{GITHUB_COMMANDS[finding.severity]} {','.join(where)}::{_escape_data(message)}")
    if len(ordered) > limit:
        lines.append(f"::notice title=assistant-router::{len(ordered) - limit} more findings are not shown as "
                     "annotations (GitHub shows about 50 per job): the SARIF file and the summary have them all")
    for failed in report.failed:
        lines.append(f"::error title=assistant-router,file={_escape_property(failed.path)}::"
                     f"{_escape_data(f'not reviewed ({failed.kind}): {failed.message}')}")
    lines.append(f"::notice title=assistant-router::{_escape_data(_summary_line(report))}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- #
# GitLab Code Quality

GITLAB_SEVERITIES = {"error": "critical", "warning": "major", "info": "minor", "hint": "info"}


def to_gitlab(report: Report) -> str:
    import json

    ordered = _ordered(report.findings)
    issues = [{
        "type": "issue",
        "description": finding.message,
        "check_name": finding.rule_id,
        "categories": ["Security" if finding.category == "security" else "Bug Risk" if finding.category == "bug"
                       else "Performance" if finding.category == "performance" else "Style"],
        "fingerprint": print_,
        "severity": GITLAB_SEVERITIES[finding.severity],
        "location": {"path": finding.path,
                     "lines": {"begin": finding.line, "end": max(finding.end_line, finding.line)}},
    } for finding, print_ in zip(ordered, fingerprints(ordered), strict=True)]
    return json.dumps(issues, indent=2, ensure_ascii=False) + "\n"


# --------------------------------------------------------------------------- #
# Markdown summary

MAX_MARKDOWN_BYTES = 1_000_000  # GitHub drops a step summary over 1 MiB
_ICONS = {"error": "🔴", "warning": "🟠", "info": "🔵", "hint": "⚪"}


def _cell(text: str) -> str:
    """Text safe in a table cell: one line, no column breaks, no HTML."""
    one_line = " ".join(text.split())
    return one_line.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def to_markdown(report: Report, max_bytes: int = MAX_MARKDOWN_BYTES) -> str:
    counts = _counts(report.findings)
    blocking = counts["error"] + counts["warning"]
    if report.failed:
        verdict = f"⚠️ Incomplete: {_plural(len(report.failed), 'part')} of the change could not be reviewed."
    elif blocking:
        verdict = f"{_plural(blocking, 'finding')} to look at on the changed lines."
    else:
        verdict = "✅ Nothing to report on the changed lines."
    what = "safety rules only (no model)" if report.rules_only else ", ".join(report.models) or "no model answered"
    head = [
        "## assistant-router review",
        "",
        verdict,
        "",
        f"Compared `{_cell(report.base)}` with {_cell(report.head)}; reviewed by {_cell(what)}"
        + ("" if report.rules_only else f"; cost {_money(report.cost_usd)}") + ".",
        "",
        "| " + " | ".join(f"{_ICONS[s]} {s}" for s in SEVERITY_ORDER) + " |",
        "|" + "---:|" * len(SEVERITY_ORDER),
        "| " + " | ".join(str(counts[s]) for s in SEVERITY_ORDER) + " |",
        "",
    ]
    by_file: dict[str, list[ReportFinding]] = {}
    for finding in sorted_findings(report.findings):
        by_file.setdefault(finding.path, []).append(finding)
    if by_file:
        head += ["| file | errors | warnings | other |", "|---|---:|---:|---:|"]
        for path, found in sorted(by_file.items()):
            file_counts = _counts(found)
            head.append(f"| `{_cell(path)}` | {file_counts['error']} | {file_counts['warning']} | "
                        f"{file_counts['info'] + file_counts['hint']} |")
        head.append("")
    tail: list[str] = []
    if report.failed:
        tail += ["### Not reviewed", ""] + [f"- `{_cell(f.path)}` ({f.kind}): {_cell(f.message)}"
                                            for f in report.failed] + [""]
    if report.skipped:
        tail += [f"<details><summary>{_plural(len(report.skipped), 'file')} skipped</summary>", ""]
        tail += [f"- `{_cell(s.path)}`: {_cell(s.reason)}" for s in report.skipped] + ["", "</details>", ""]
    body: list[str] = []
    size = len("\n".join(head + tail).encode("utf-8")) + 400  # room for the note on what was left out
    shown = 0
    total = len(report.findings)
    for path, found in sorted(by_file.items(), key=lambda item: SEVERITY_ORDER[item[1][0].severity]):
        section = [f"### `{_cell(path)}`", "", "| lines | severity | rule | finding | by |", "|---|---|---|---|---|"]
        rows = []
        for finding in found:
            lines = f"L{finding.line}" + (f"–{finding.end_line}" if finding.end_line > finding.line else "")
            rows.append(f"| {lines} | {_ICONS[finding.severity]} {finding.severity} | `{_cell(finding.rule_id)}` | "
                        f"{_cell(finding.message)} | {_cell(_who(finding))} |")
        cost = len("\n".join(section).encode("utf-8")) + 2
        kept = []
        for row in rows:
            row_size = len(row.encode("utf-8")) + 1
            if size + cost + row_size > max_bytes:
                break
            kept.append(row)
            cost += row_size
        if not kept:
            break
        body += section + kept + [""]
        size += cost
        shown += len(kept)
        if len(kept) < len(rows):
            break
    if shown < total:
        body += [f"_{total - shown} more findings are left out to keep this summary under GitHub's 1 MiB limit: "
                 f"the SARIF file has them all._", ""]
    return "\n".join(head + body + tail)


_RENDERERS = {"text": to_text, "json": to_json, "sarif": to_sarif, "github": to_github, "gitlab": to_gitlab,
              "markdown": to_markdown}


def render(report: Report, fmt: str) -> str:
    """``report`` in one of :data:`FORMATS`."""
    return _RENDERERS[fmt](report)
