"""``assistant-router check-code FILE[:START-END]…``: the safety rules alone,
on whole files or line ranges, with no model: free and offline, for a
pre-commit hook or CI. The same rules as the editor's checks: the shipped
ones, the project's ``.assistant-router/rules/*.yml`` and the user's, less
the policy's ``[checks] disable_rules``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_FOUND, EXIT_USAGE = 0, 1, 2
BLOCKING = ("error", "warning")  # severities that fail the run (hint and info are shown only)


def check_code(targets: list[tuple[Path, int | None, int | None]], *, root: Path | None, as_json: bool,
               language: str | None) -> int:
    from assistant_router.cli.main import LANGUAGE_BY_SUFFIX
    from assistant_router.engine.checks import rules
    from assistant_router.routing.config import find_project_root, load_policy

    first_file = targets[0][0].resolve()
    root = (root or find_project_root(first_file)).resolve()
    load = load_policy(root)
    for issue in load.issues:
        print(issue, file=sys.stderr)
    if load.policy is None:
        print("assistant-router: the policy has errors; run 'assistant-router check' for details", file=sys.stderr)
        return EXIT_FOUND
    settings = load.policy.checks
    rule_set = rules.load_rules(directories=settings.rule_directories, disabled=settings.disabled_rules)
    for problem in rule_set.problems:
        where = f"{problem.path}:{problem.line}:{problem.column}" if problem.path else "disable_rules"
        print(f"{where}: error: {problem.message} (this rule file is skipped)", file=sys.stderr)
    found: list[dict[str, Any]] = []
    for file, first, last in targets:
        path = file.resolve()
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8 text"
            print(f"assistant-router: cannot read {file}: {reason}", file=sys.stderr)
            return EXIT_USAGE
        lang = language or LANGUAGE_BY_SUFFIX.get(path.suffix.lower())
        if lang is None or not rule_set.for_language(lang):
            print(f"assistant-router: {file}: no safety rules for {lang or 'this kind of file'}", file=sys.stderr)
            continue
        relative = path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
        for finding in rules.find(rule_set, lang, text, path=relative):
            if first is not None and (finding.end_line + 1 < first or finding.start_line + 1 > (last or first)):
                continue
            found.append({"path": relative, "line": finding.start_line + 1, "column": finding.start_column + 1,
                          "end_line": finding.end_line + 1, "end_column": finding.end_column + 1,
                          "severity": finding.severity, "rule": finding.rule_id, "message": finding.message,
                          "fix": finding.fix})
    if as_json:
        print(json.dumps({"findings": found, "rule_problems": len(rule_set.problems)}, indent=2))
    else:
        for item in found:
            print(f"{item['path']}:{item['line']}:{item['column']}: {item['severity']}: [{item['rule']}] "
                  f"{item['message']}")
    blocking = sum(1 for item in found if item["severity"] in BLOCKING)
    if not as_json:
        print(f"{len(found)} finding{'s' if len(found) != 1 else ''} ({blocking} error or warning) in "
              f"{len(targets)} file{'s' if len(targets) != 1 else ''}", file=sys.stderr)
    return EXIT_FOUND if blocking else EXIT_OK
