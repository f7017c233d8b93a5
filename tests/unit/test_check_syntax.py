"""The syntax check and the stage around it: only the errors an edit adds,
a check that cannot say is "not run", a broken check never fails the task."""

from __future__ import annotations

import pytest

from assistant_router.engine.checks import stage
from assistant_router.engine.checks.stage import Proposal, check_proposal
from assistant_router.engine.checks.syntax import new_syntax_problems
from assistant_router.routing.policy import CheckSettings

BEFORE = "import math\n\n\ndef area(r):\n    return math.pi * r * r\n"


@pytest.mark.parametrize(("language", "before", "after", "message"), [
    ("python", BEFORE, BEFORE + "\ndef f(:\n    pass\n", "syntax error at line 7"),
    ("python", "x = 1\n", "x = foo(1, 2\n", "cannot parse"),
    ("rust", "fn main() { let x = 1; }\n", "fn main() { let x = 1 }\n", "missing ';'"),
    ("go", "package a\n\nfunc f() {}\n", "package a\n\nfunc f() {\n", "syntax error at line 3"),
    ("typescript", "const a: number = 1;\n", "const a: number = (1;\n", "syntax error at line 1"),
    ("java", "class A { void f() {} }\n", "class A { void f() { }\n", "syntax error"),
])
def test_an_error_the_edit_adds_is_reported(language, before, after, message):
    problems = new_syntax_problems(language, before, after)
    assert problems and message in problems[0].message


def test_an_error_already_there_is_not_the_edits():
    broken = "def g(:\n    pass\n"
    assert new_syntax_problems("python", broken + BEFORE, broken + BEFORE + "\nx = 2\n") == []


def test_positions_are_code_points():
    (problem, *_) = new_syntax_problems("python", "", 's = "é😀" + foo(1\n')
    assert (problem.line, problem.column, problem.end_column) == (0, 0, 16)


def test_a_language_without_a_grammar_cannot_be_checked():
    assert new_syntax_problems("toml", "a = 1\n", "a = \n") is None
    report = check_proposal(Proposal("file:///a.toml", "toml", "a.toml", "a = 1\n", "a =\n"), CheckSettings())
    assert [(r.name, r.passed) for r in report.results] == [("syntax", None), ("rules", None)]
    assert report.passed and report.outcome() == "not run"


def test_checks_switched_off_do_not_run():
    report = check_proposal(Proposal("file:///a.py", "python", "a.py", "", "def f(:\n"),
                            CheckSettings(syntax=False, safety_rules=False))
    assert report.results == () and report.passed


def test_a_check_that_breaks_is_not_run_and_the_others_still_are(monkeypatch):
    def broken(*args):
        raise RuntimeError("grammar exploded")

    monkeypatch.setattr(stage, "_rules", broken)
    report = check_proposal(Proposal("file:///a.py", "python", "a.py", "", "def f(:\n"), CheckSettings())
    syntax, rules = report.results
    assert syntax.passed is False and rules.passed is None and "grammar exploded" in (rules.note or "")
    assert not report.passed and report.summary().startswith("syntax error at line 1")


@pytest.mark.parametrize("language", ["python", "go", "typescript", "rust"])
def test_the_incremental_parse_of_an_edit_is_the_full_parse(language):
    """The answer's tree comes from the document's, edited (a fraction of a full
    parse on a long file); it must be the tree a full parse gives, and the
    document's cached tree must stay the document's."""
    import random

    from assistant_router.engine import context

    unit = {"python": "def f{n}(x):\n    return x + {n}\n\n",
            "go": "func f{n}(x int) int {{\n\treturn x + {n}\n}}\n\n",
            "typescript": "function f{n}(x: number): number {{\n  return x + {n};\n}}\n\n",
            "rust": "fn f{n}(x: i32) -> i32 {{\n    x + {n}\n}}\n\n"}[language]
    head = "package a\n\n" if language == "go" else ""
    document = head + "".join(unit.format(n=n) for n in range(300))
    original = str(context.syntax_tree(language, document).root_node)
    rng = random.Random(3)
    for _ in range(20):
        start = rng.randrange(len(head), len(document))
        end = min(len(document), start + rng.randrange(0, 80))
        after = document[:start] + rng.choice(["", "(", "}", unit.format(n=999), "é😀 x"]) + document[end:]
        edited = context.edited_syntax_tree(language, document, after)
        assert str(edited.root_node) == str(context._parse_uncached(language, after).root_node)
    assert str(context.syntax_tree(language, document).root_node) == original


def test_a_long_document_is_checked_around_the_edit_with_its_own_line_numbers():
    import time

    unit = "def f{n}(x):\n    return x + {n}\n\n\n"
    document = "".join(unit.format(n=n) for n in range(40_000))  # about 1 MB, 160,000 lines
    at = 80_000
    lines = document.splitlines(keepends=True)
    after = "".join(lines[:at]) + "def g(x:\n    return eval(x)\n" + "".join(lines[at:])
    started = time.thread_time()
    report = check_proposal(Proposal("file:///big.py", "python", "big.py", document, after, (at, at + 1)),
                            CheckSettings())
    assert time.thread_time() - started < 2.0  # a window, not 1 MB parsed twice by each check
    syntax, rules = report.results
    first = syntax.findings[0]
    assert first.line in (at, at + 1) and f"at line {first.line + 1}:" in first.message  # the document's numbers
    # The syntax error keeps the rules on the whole window (its trees have errors); they still find it.
    assert [(f.code, f.line) for f in rules.findings] == [("python.eval-non-literal", at + 1)]


async def test_check_commands_that_cannot_run_are_not_run_never_the_tasks_failure(monkeypatch):
    from types import SimpleNamespace

    from assistant_router.engine.checks import commands as commands_module
    from assistant_router.engine.checks.stage import CheckReport, run_commands
    from assistant_router.routing.check_commands import CheckCommand

    async def broken(*args, **kwargs):
        raise ValueError("the relative path leaves the project")

    monkeypatch.setattr(commands_module, "run_check_commands", broken)
    lint = CheckCommand(name="lint", command=["lint", "{file}"], languages=["python"])
    policy = SimpleNamespace(checks=CheckSettings(commands=(lint,)))
    report = await run_commands(CheckReport(), Proposal("file:///a.py", "python", "a.py", "", "x = 1\n"),
                                policy, None)  # type: ignore[arg-type]
    (result,) = report.results
    assert result.name == "lint" and result.passed is None and "relative path" in (result.note or "")
    assert report.passed
