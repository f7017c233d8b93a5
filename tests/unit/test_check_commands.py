"""Check commands: the parsers on captured outputs, the difference before/after an
edit, and real runs of small Python scripts standing in for linters."""

import asyncio
import sys
import time
from pathlib import Path, PurePosixPath

import pytest
from pydantic import ValidationError

from assistant_router.engine.checks.commands import (
    PROJECT_FILE_MAX_BYTES,
    CheckCommand,
    CommandFinding,
    ParsedFinding,
    added_findings,
    findings_for,
    parse_auto,
    parse_cargo_json,
    parse_eslint_json,
    parse_gcc,
    parse_go,
    parse_mypy,
    parse_pyright,
    parse_ruff,
    parse_tsc,
    project_files,
    run_check_commands,
)

# ---------------------------------------------------------------- captured outputs

RUFF_CONCISE = """\
a.py:1:1: I001 [*] Import block is un-sorted or un-formatted
a.py:1:8: F401 [*] `os` imported but unused
a.py:4:5: F821 Undefined name `undefined_name`
s.py:2:1: invalid-syntax: unexpected EOF while parsing
Found 4 errors.
[*] 2 fixable with `--fix`.
"""

RUFF_FULL = """\
F401 [*] `os` imported but unused
 --> a.py:1:8
  |
1 | import os
  |        ^^
2 | def f(x: int) -> str:
3 |     return x
  |
help: Remove unused import: `os`
  |
  - import os
1 | def f(x: int) -> str:
  |

F821 Undefined name `undefined_name`
 --> a.py:4:5
  |
2 | def f(x: int) -> str:
3 |     return x
4 | y = undefined_name
  |     ^^^^^^^^^^^^^^

Found 2 errors.
[*] 1 fixable with `--fix`.
"""

MYPY = """\
a.py:3: error: Incompatible return value type (got "int", expected "str")  [return-value]
a.py:3: note: See https://mypy.rtfd.io/en/stable/_refs.html#code-return-value for more info
a.py:4: error: Name "undefined_name" is not defined  [name-defined]
Found 2 errors in 1 file (checked 1 source file)
"""
MYPY_COLUMNS = """\
a.py:3:12: error: Incompatible return value type (got "int", expected "str")  [return-value]
a.py:4:5: error: Name "undefined_name" is not defined  [name-defined]
Found 2 errors in 1 file (checked 1 source file)
"""
MYPY_ERROR_END = """\
a.py:3:12:3:12: error: Incompatible return value type (got "int", expected "str")  [return-value]
"""

GCC = """\
c.c: In function \u2018main\u2019:
c.c:2:26: warning: initialization of \u2018int\u2019 from \u2018char *\u2019 makes integer from pointer without a cast [-Wint-conversion]
    2 | int main(void) { int x = "s"; undeclared(); return 0 }
      |                          ^~~
c.c:2:53: error: expected \u2018;\u2019 before \u2018}\u2019 token
    2 | int main(void) { int x = "s"; undeclared(); return 0 }
      |                                                     ^~
      |                                                     ;
c.c:2:22: note: each undeclared identifier is reported only once
"""  # noqa: E501
CLANG = """\
c.c:2:22: warning: unused variable 'x' [-Wunused-variable]
    2 | int main(void) { int x = 1; return 0; }
      |                      ^
1 warning generated.
"""

TSC = """\
src/a.ts(3,7): error TS2322: Type 'string' is not assignable to type 'number'.
src/b.ts(1,10): error TS2305: Module '"./a"' has no exported member 'nope'.
src/a.ts(9,3): error TS2345: Argument of type 'number' is not assignable to parameter of type 'string'.
  Type 'number' is not assignable to type 'string'.
"""
TSC_PRETTY = """\
src/a.ts:3:7 - error TS2322: Type 'string' is not assignable to type 'number'.

3 const n: number = "s";
        ~

Found 1 error in src/a.ts:3
"""

GO_VET = """\
# example.com/m
# [example.com/m]
./main.go:7:2: fmt.Printf format %d has arg s of wrong type string
vet: ./util.go:3:8: "os" imported and not used
"""
GO_BUILD = """\
# example.com/m
./main.go:4:2: "os" imported and not used
./main.go:9:6: undefined: nope
"""

CARGO = (
    '{"reason":"compiler-artifact","package_id":"path+file:///tmp/rs#0.1.0","target":{"name":"rs"}}\n'
    '{"reason":"compiler-message","package_id":"path+file:///tmp/rs#0.1.0","manifest_path":"/tmp/rs/Cargo.toml",'
    '"message":{"rendered":"error[E0308]: mismatched types\\n --> src/main.rs:2:18\\n","$message_type":"diagnostic",'
    '"children":[],"level":"error","message":"mismatched types","spans":[{"byte_end":32,"byte_start":29,'
    '"column_end":21,"column_start":18,"expansion":null,"file_name":"src/main.rs","is_primary":true,'
    '"label":"expected `i32`, found `&str`","line_end":2,"line_start":2},{"column_start":12,"file_name":"src/main.rs",'
    '"is_primary":false,"line_start":2}],"code":{"code":"E0308","explanation":"Expected type did not match."}}}\n'
    '{"reason":"compiler-message","message":{"level":"warning","message":"unused variable: `unused`",'
    '"spans":[{"file_name":"src/main.rs","line_start":3,"column_start":9,"is_primary":true}],'
    '"code":{"code":"unused_variables","explanation":null}}}\n'
    '{"reason":"compiler-message","message":{"rendered":"For more information about this error, try `rustc '
    '--explain E0308`.\\n","children":[],"level":"failure-note","message":"For more information","spans":[],'
    '"code":null}}\n'
    '{"reason":"build-finished","success":false}\n'
)

ESLINT = """[{"filePath":"/proj/src/a.js","messages":[{"ruleId":"no-unused-vars","severity":2,\
"message":"'x' is assigned a value but never used.","line":1,"column":7,"nodeType":"Identifier",\
"messageId":"unusedVar","endLine":1,"endColumn":8},{"ruleId":"semi","severity":1,"message":"Missing semicolon.",\
"line":2,"column":12}],"suppressedMessages":[],"errorCount":1,"fatalErrorCount":0,"warningCount":1,\
"fixableErrorCount":0,"fixableWarningCount":1,"source":"const x = 1\\n"},{"filePath":"/proj/src/b.js",\
"messages":[{"ruleId":null,"fatal":true,"severity":2,"message":"Parsing error: Unexpected token )","line":3,\
"column":5}],"errorCount":1}]
"""

PYRIGHT = """\
/proj/a.py
  /proj/a.py:3:12 - error: Type "int" is not assignable to return type "str"
    "int" is not assignable to "str" (reportReturnType)
  /proj/a.py:5:1 - warning: Import "nope" could not be resolved (reportMissineModuleSource)
1 error, 1 warning, 0 informations
"""


def _flat(parsed):
    return [(p.path, p.finding.line, p.finding.column, p.finding.code, p.finding.message, p.finding.severity)
            for p in parsed]  # fmt: skip


def test_ruff_concise_and_full_formats():
    assert _flat(parse_ruff(RUFF_CONCISE)) == [
        ("a.py", 0, 0, "I001", "Import block is un-sorted or un-formatted", "warning"),
        ("a.py", 0, 7, "F401", "`os` imported but unused", "warning"),
        ("a.py", 3, 4, "F821", "Undefined name `undefined_name`", "warning"),
        ("s.py", 1, 0, "invalid-syntax", "unexpected EOF while parsing", "error"),
    ]
    assert _flat(parse_ruff(RUFF_FULL)) == [
        ("a.py", 0, 7, "F401", "`os` imported but unused", "warning"),
        ("a.py", 3, 4, "F821", "Undefined name `undefined_name`", "warning"),
    ]
    assert _flat(parse_auto(RUFF_CONCISE)) == _flat(parse_ruff(RUFF_CONCISE))
    assert _flat(parse_auto(RUFF_FULL)) == _flat(parse_ruff(RUFF_FULL))


def test_mypy_with_and_without_columns_notes_dropped():
    expected = [
        ("a.py", 2, 0, "return-value", 'Incompatible return value type (got "int", expected "str")', "error"),
        ("a.py", 3, 0, "name-defined", 'Name "undefined_name" is not defined', "error"),
    ]
    assert _flat(parse_mypy(MYPY)) == expected
    assert [f[:2] + (f[2],) for f in _flat(parse_mypy(MYPY_COLUMNS))] == [("a.py", 2, 11), ("a.py", 3, 4)]
    assert _flat(parse_mypy(MYPY_ERROR_END))[0][1:4] == (2, 11, "return-value")
    assert _flat(parse_auto(MYPY)) == expected


def test_gcc_and_clang():
    assert [(line, col, code, sev) for _, line, col, code, _, sev in _flat(parse_gcc(GCC))] == [
        (1, 25, "-Wint-conversion", "warning"),
        (1, 52, None, "error"),
    ]
    assert _flat(parse_gcc(CLANG)) == [("c.c", 1, 21, "-Wunused-variable", "unused variable 'x'", "warning")]
    assert _flat(parse_auto(GCC)) == _flat(parse_gcc(GCC))


def test_tsc_plain_and_pretty():
    parsed = _flat(parse_tsc(TSC))
    assert parsed[0] == ("src/a.ts", 2, 6, "TS2322", "Type 'string' is not assignable to type 'number'.", "error")
    assert [p[0] for p in parsed] == ["src/a.ts", "src/b.ts", "src/a.ts"]  # the continuation line is not one
    assert _flat(parse_tsc(TSC_PRETTY)) == [parsed[0]]
    assert _flat(parse_auto(TSC)) == parsed


def test_go_vet_and_build():
    assert _flat(parse_go(GO_VET)) == [
        ("./main.go", 6, 1, None, "fmt.Printf format %d has arg s of wrong type string", "error"),
        ("./util.go", 2, 7, None, '"os" imported and not used', "error"),
    ]
    build = [(p[1], p[4]) for p in _flat(parse_go(GO_BUILD))]
    assert build == [(3, '"os" imported and not used'), (8, "undefined: nope")]
    assert _flat(parse_auto(GO_BUILD)) == _flat(parse_go(GO_BUILD))


def test_cargo_json_primary_spans_only():
    assert _flat(parse_cargo_json(CARGO)) == [
        ("src/main.rs", 1, 17, "E0308", "mismatched types", "error"),
        ("src/main.rs", 2, 8, "unused_variables", "unused variable: `unused`", "warning"),
    ]
    assert parse_cargo_json("not json\n{broken") == []


def test_eslint_json():
    assert _flat(parse_eslint_json(ESLINT)) == [
        ("/proj/src/a.js", 0, 6, "no-unused-vars", "'x' is assigned a value but never used.", "error"),
        ("/proj/src/a.js", 1, 11, "semi", "Missing semicolon.", "warning"),
        ("/proj/src/b.js", 2, 4, None, "Parsing error: Unexpected token )", "error"),
    ]


def test_pyright():
    assert [(p[1], p[2], p[3], p[5]) for p in _flat(parse_pyright(PYRIGHT))] == [
        (2, 11, None, "error"),  # the code is on the continuation line
        (4, 0, "reportMissineModuleSource", "warning"),
    ]


def test_only_the_scratch_file_and_its_folder_left_out_of_messages(tmp_path):
    root = tmp_path / "scratch"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "a.py").write_text("")

    def item(path, message="m"):
        return ParsedFinding(path, CommandFinding(0, 0, "X", message, "error"))

    parsed = [
        item(str(root / "pkg" / "a.py"), f"see {root}/pkg/b.py"),
        item("pkg/a.py"),
        item("./pkg/a.py"),
        item("a.py"),  # relative to another folder (cargo, tsc)
        item("pkg/b.py"),
        item("/usr/lib/python3/typing.pyi"),
        item("../a.py"),
    ]
    kept = findings_for(parsed, scratch_root=root, relative_path=PurePosixPath("pkg/a.py"))
    assert [f.message for f in kept] == ["see pkg/b.py", "m", "m", "m"]


# ---------------------------------------------------------------- the difference


def _f(line, code="X1", message="bad"):
    return CommandFinding(line, 0, code, message, "error")


def test_moved_findings_are_not_added_new_ones_are():
    before = [_f(0), _f(3, "X2", "other")]
    after = [_f(5), _f(8, "X2", "other"), _f(9, "X3", "new")]
    assert added_findings(before, after) == [_f(9, "X3", "new")]


def test_of_several_equal_findings_the_new_line_is_reported():
    before_text = "a\nBAD\nb\n"
    after_text = "BAD\nnew\na\nBAD\nb\n"  # a new BAD at the top; the old one moved from 1 to 3
    assert added_findings([_f(1)], [_f(0), _f(3)], before_text=before_text, after_text=after_text) == [_f(0)]
    after_text = "a\nBAD\nb\nBAD\n"  # the new one below
    assert added_findings([_f(1)], [_f(1), _f(3)], before_text=before_text, after_text=after_text) == [_f(3)]
    assert added_findings([_f(1), _f(2)], [_f(7)]) == []


# ---------------------------------------------------------------- the model


def test_check_command_fields():
    command = CheckCommand.model_validate(
        {"name": "ruff", "command": ["ruff", "check", "{file}"], "languages": ["python"], "copy": "project"}
    )
    assert (command.timeout_s, command.format, command.copy_mode) == (20.0, "auto", "project")
    assert command.applies_to("python") and not command.applies_to("go")
    assert CheckCommand(name="any", command=["x"], languages=["*"]).applies_to("go")
    for bad in (
        {"command": []},
        {"command": [" "]},
        {"timeout_s": 301},
        {"timeout_s": 0},
        {"format": "pylint"},
        {"copy": "tree"},
        {"shell": True},
        {"languages": []},
    ):
        with pytest.raises(ValidationError):
            CheckCommand.model_validate({"name": "n", "command": ["x"], "languages": ["python"]} | bad)


# ---------------------------------------------------------------- real runs

# A stand-in linter: `path:line:col: X1 line contains BAD` for every line with BAD;
# it records its working folder (the scratch folder) in sys.argv[2] when given.
LINTER = """\
import os, sys
if len(sys.argv) > 2:
    with open(os.path.join(sys.argv[2], str(os.getpid())), "w") as f:
        f.write(os.getcwd())
with open(sys.argv[1], encoding="utf-8") as f:
    for n, line in enumerate(f, 1):
        if "BAD" in line:
            print(f"{sys.argv[1]}:{n}:{line.index('BAD') + 1}: X1 line contains BAD")
sys.exit(1 if "BAD" in open(sys.argv[1]).read() else 0)
"""


@pytest.fixture
def linter(tmp_path):
    script = tmp_path / "linter.py"
    script.write_text(LINTER)
    return script


def _command(argv, **fields):
    return CheckCommand(name=fields.pop("name", "lint"), command=[str(a) for a in argv], languages=["python"], **fields)


async def _run(commands, before="", after="", **kwargs):
    kwargs.setdefault("project_root", None)
    return await run_check_commands(
        commands, language="python", relative_path="pkg/mod.py", before=before, after=after, **kwargs
    )


def _gone(pid):
    """Dead: no such process, or a zombie nobody has reaped yet."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


async def _until(condition, seconds=60.0):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.02)


async def test_the_added_finding_is_reported_the_moved_one_is_not(linter, tmp_path):
    records = tmp_path / "records"
    records.mkdir()
    before = "x = 1\nBAD = 2\n"
    after = "import os\n\nx = 1\nBAD = 2\ny = BAD\n"
    [outcome] = await _run([_command([sys.executable, linter, "{file}", records])], before, after)
    assert outcome.passed is False and outcome.error is None
    assert outcome.findings == [CommandFinding(4, 4, "X1", "line contains BAD", "warning")]
    assert outcome.status == "failed"
    scratch = [Path(p.read_text()) for p in records.iterdir()]
    assert len(scratch) == 2 and not any(p.exists() for p in scratch)  # both scratch folders removed


async def test_an_edit_adding_nothing_passes_and_other_languages_are_not_run(linter):
    commands = [
        _command([sys.executable, linter, "{file}"]),
        CheckCommand(name="go", command=["go", "vet"], languages=["go"]),
    ]
    [outcome] = await _run(commands, "BAD\n", "\n\nBAD\n")
    assert (outcome.name, outcome.passed, outcome.findings, outcome.error) == ("lint", True, [], None)


async def test_a_missing_program_is_not_run(tmp_path):
    missing = _command(["assistant-router-no-such-linter", "{file}"])
    relative = _command(["./bin/lint", "{file}"], name="relative")
    outcomes = await _run([missing, relative], project_root=tmp_path)
    assert [(o.passed, o.error) for o in outcomes] == [
        (None, "not run: assistant-router-no-such-linter not found on PATH"),
        (None, "not run: ./bin/lint not found"),
    ]


async def test_unparsable_failure_has_no_verdict_and_its_first_lines():
    script = "import sys; print('Traceback (most recent call last):'); print('boom'); sys.exit(3)"
    [outcome] = await _run([_command([sys.executable, "-c", script])])
    assert outcome.passed is None
    assert "status 3" in outcome.error and "boom" in outcome.error and "before the edit" in outcome.error
    quiet = "print('All checks passed!')"  # exit 0: whatever it printed, nothing was found
    [outcome] = await _run([_command([sys.executable, "-c", quiet])])
    assert outcome.passed is True


async def test_a_hanging_command_times_out_and_its_process_is_gone(tmp_path):
    pids = tmp_path / "pids"
    pids.mkdir()
    hang = "import os, sys, time; open(os.path.join(sys.argv[1], str(os.getpid())), 'w').close(); time.sleep(60)"
    started = time.monotonic()
    [outcome] = await _run([_command([sys.executable, "-c", hang, pids], timeout_s=0.5)])
    assert time.monotonic() - started < 30
    assert outcome.passed is None and outcome.error.startswith("timed out after 0.5 s")
    for pid in pids.iterdir():  # those that got as far as starting (a loaded machine may be slower)
        await _until(lambda pid=pid: _gone(int(pid.name)), 10)


async def test_the_total_time_limit_leaves_commands_not_run(linter):
    [outcome] = await _run([_command([sys.executable, linter, "{file}"])], total_timeout_s=0)
    assert outcome.passed is None and outcome.error.startswith("not run: the checks' time limit")


GROUP = """\
import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
with open(os.path.join(sys.argv[1], f"{os.getpid()}-{child.pid}"), "w") as f:
    f.write(os.getcwd())
time.sleep(60)
"""


async def test_cancelling_kills_the_process_group_and_removes_the_scratch_folders(tmp_path):
    records = tmp_path / "records"
    records.mkdir()
    task = asyncio.create_task(_run([_command([sys.executable, "-c", GROUP, records], timeout_s=300)], "a\n", "b\n"))
    await _until(lambda: len([p for p in records.iterdir() if p.stat().st_size]) == 2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for record in records.iterdir():
        for pid in record.name.split("-"):
            await _until(lambda pid=pid: _gone(int(pid)), 10)
        assert not Path(record.read_text()).exists()


async def test_output_beyond_the_cap_is_read_and_dropped():
    flood = "import sys\nfor _ in range(40000): print('x' * 99)\nsys.exit(0)"
    [outcome] = await _run([_command([sys.executable, "-c", flood])])
    assert outcome.passed is True


async def test_a_project_copy_holds_configs_and_same_language_siblings(tmp_path, linter):
    project = tmp_path / "project"
    (project / "pkg" / "sub").mkdir(parents=True)
    (project / "other").mkdir()
    for name in ("pyproject.toml", "mypy.ini", "README.md", "pkg/__init__.py", "pkg/sib.py", "pkg/types.pyi",
                 "pkg/data.txt", "pkg/mod.py", "pkg/sub/deep.py", "other/x.py", "pkg/setup.cfg"):  # fmt: skip
        (project / name).write_text(f"# {name}\n")
    (project / "pkg" / "huge.py").write_text("#" * (PROJECT_FILE_MAX_BYTES + 1))
    files = dict(project_files(project, PurePosixPath("pkg/mod.py")))
    assert sorted(map(str, files)) == [
        "mypy.ini", "pkg/__init__.py", "pkg/setup.cfg", "pkg/sib.py", "pkg/types.pyi", "pyproject.toml",
    ]  # fmt: skip
    assert files[PurePosixPath("pkg/sib.py")] == b"# pkg/sib.py\n"

    # In a run, the edited text (not the file on disk) sits at its path next to them.
    check = "import os, sys; print(sorted(os.listdir('pkg'))); sys.exit(0 if os.path.exists('pyproject.toml') else 5)"
    [outcome] = await _run([_command([sys.executable, "-c", check], copy="project")], "", "", project_root=project)
    assert outcome.passed is True


def test_a_relative_path_must_stay_inside():
    for bad in ("/etc/passwd", "../x.py", "a/../../x.py", ""):
        with pytest.raises(ValueError):
            asyncio.run(run_check_commands([], language="python", relative_path=bad, before="", after="",
                                           project_root=None))  # fmt: skip
