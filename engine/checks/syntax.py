"""The syntax check: the document with the edit applied parses with no new
error or missing nodes compared with the document before it.

tree-sitter always produces a tree; what does not parse becomes ``ERROR``
nodes and zero-width ``MISSING`` nodes (a ``)`` the parser had to invent).
A document may already hold some (the user is typing): only those the edit
added count. Nodes are compared as a multiset of (what, kind, text), so
errors that only moved with the edit are not new; of the new ones, those in
the lines the edit changed are reported first.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from assistant_router.engine.context import GRAMMARS, edited_syntax_tree, syntax_tree

MAX_REPORTED = 5  # problems named per check: the first few say enough


@dataclass(frozen=True)
class SyntaxProblem:
    line: int  # 0-based, in the document after the edit
    column: int  # 0-based, in code points
    end_line: int
    end_column: int
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"line": self.line, "column": self.column, "end_line": self.end_line,
                "end_column": self.end_column, "message": self.message}


def checkable(language: str) -> bool:
    return language in GRAMMARS


def new_syntax_problems(language: str, before: str, after: str,
                        changed: tuple[int, int] | None = None) -> list[SyntaxProblem] | None:
    """The syntax problems ``after`` has that ``before`` had not; None when
    ``language`` has no grammar (or the text is too long to parse), so the
    check cannot say. ``changed``: the first and last line (0-based, in
    ``after``) the edit wrote, whose problems come first."""
    tree_after = edited_syntax_tree(language, before, after)
    if tree_after is None:
        return None
    if not tree_after.root_node.has_error:
        return []
    tree_before = syntax_tree(language, before) if before else None
    known = Counter(_key(node) for node in _problem_nodes(tree_before.root_node)) if tree_before else Counter()
    new: list[Any] = []
    for node in _problem_nodes(tree_after.root_node):
        key = _key(node)
        if known[key] > 0:
            known[key] -= 1
        else:
            new.append(node)
    if changed is not None:
        first, last = changed
        new.sort(key=lambda n: (not (first <= n.start_point[0] <= last), n.start_point))
    lines = after.split("\n")
    return [_problem(node, lines) for node in new[:MAX_REPORTED]]


def _problem_nodes(root: Any) -> Iterator[Any]:
    """ERROR and MISSING nodes, descending only where ``has_error`` says one is."""
    stack = [root]
    while stack:
        node = stack.pop()
        if node.is_missing or node.is_error:
            yield node
            if node.is_missing:
                continue
        stack.extend(child for child in reversed(node.children) if child.has_error or child.is_missing)


def _key(node: Any) -> tuple[str, str, str]:
    text = node.text.decode("utf-8", "replace") if node.text else ""
    return ("missing" if node.is_missing else "error", node.type, " ".join(text.split())[:200])


def _code_points(lines: list[str], line: int, byte_column: int) -> int:
    """tree-sitter's column (bytes of UTF-8) as code points."""
    text = lines[line] if line < len(lines) else ""
    return len(text.encode("utf-8")[:byte_column].decode("utf-8", "ignore"))


def _problem(node: Any, lines: list[str]) -> SyntaxProblem:
    (line, byte_column), (end_line, end_byte_column) = node.start_point, node.end_point
    column, end_column = _code_points(lines, line, byte_column), _code_points(lines, end_line, end_byte_column)
    if node.is_missing:
        message = f"syntax error at line {line + 1}: missing '{node.type}'"
    else:
        text = " ".join((node.text or b"").decode("utf-8", "replace").split())
        shown = text if len(text) <= 40 else text[:37] + "…"
        message = f"syntax error at line {line + 1}: cannot parse '{shown}'" if shown else \
            f"syntax error at line {line + 1}"
    return SyntaxProblem(line, column, end_line, end_column, message)
