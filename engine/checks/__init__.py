"""Checked answers: safety rules (ast-grep's YAML rule format) run on what an AI edit adds.

Editor-free: no pygls, no server imports. ``ast_grep_py`` and ``ruamel.yaml``
are imported on first use, never at start-up. See docs/checks.md.
"""

from assistant_router.engine.checks.rules import (
    Finding,
    Rule,
    RuleProblem,
    RuleSet,
    added_findings,
    ast_grep_language,
    find,
    load_rules,
    project_rules_directory,
    user_rules_directory,
)

__all__ = [
    "Finding",
    "Rule",
    "RuleProblem",
    "RuleSet",
    "added_findings",
    "ast_grep_language",
    "find",
    "load_rules",
    "project_rules_directory",
    "user_rules_directory",
]
