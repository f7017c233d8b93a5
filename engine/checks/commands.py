"""Check commands: the user's linters and type checkers, run on an edit before it lands.

A :class:`CheckCommand` names a program and its arguments (``["ruff", "check",
"--output-format=concise", "{file}"]``). :func:`run_check_commands` writes the
text of a file before an AI edit and after it into two scratch directories
(the same relative path in each), runs each command that applies to the
file's language on both, parses both outputs and reports only the findings the
edit *added*: the multiset difference by ``(code, message)``, the line ignored,
so a pre-existing finding that merely moved is not reported.

**Running these is code execution.** A command is a program run with the
user's environment and privileges (and a linter's configuration can run code
too). The caller must only pass commands that come from the user's own
configuration or from a project the user has trusted; this module does not
decide that.

No shell is ever involved: the program is looked up on ``PATH`` (or, when it
contains a ``/``, taken as a path, relative ones against the project root),
the arguments are passed as they are after the placeholders are replaced,
stdin is ``/dev/null``, the working directory is the scratch directory, and
each run is in its own session so that a timeout or a cancellation kills the
whole process group. docs/check-commands.md describes the fields, the
formats and the outcome.

Lines and columns: the tools print 1-based lines and columns; every
:class:`CommandFinding` holds them **0-based** (LSP positions), a missing
column as 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import os
import re
import shutil
import signal
import stat
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePath, PurePosixPath
from typing import Any, Literal

from assistant_router.routing.check_commands import CheckCommand, Format

Severity = Literal["error", "warning", "info"]

# All the commands of one call together (times timeout_scale): they run one after another.
TOTAL_TIMEOUT_S = 300.0
# What is kept of one run's output (stdout and stderr together); the rest is read and dropped.
OUTPUT_CAP_BYTES = 1 << 20
# "project" copies: the configuration files and the edited file's same-language siblings, bounded.
PROJECT_COPY_MAX_FILES = 200
PROJECT_COPY_MAX_BYTES = 4 << 20
PROJECT_FILE_MAX_BYTES = 512 << 10
# Seconds to wait for a killed process to be reaped before giving up on it.
_REAP_S = 5.0
# Lines of unparsable output kept in an error message.
_ERROR_LINES = 5

# Looked for at the project root and in each folder between it and the edited file.
CONFIG_FILE_NAMES = (
    # Python
    "pyproject.toml", "setup.cfg", "tox.ini", ".flake8", "ruff.toml", ".ruff.toml", "mypy.ini", ".mypy.ini",
    "pyrightconfig.json", ".pylintrc", "pylintrc",
    # JavaScript / TypeScript
    "package.json", "tsconfig.json", "jsconfig.json", "biome.json", ".eslintrc", ".eslintrc.json", ".eslintrc.js",
    ".eslintrc.cjs", ".eslintrc.yml", ".eslintrc.yaml", "eslint.config.js", "eslint.config.mjs", "eslint.config.cjs",
    # Go, Rust, C
    "go.mod", "go.sum", "go.work", "Cargo.toml", "Cargo.lock", "clippy.toml", "rustfmt.toml", ".clang-tidy",
    "compile_flags.txt", "compile_commands.json",
    ".editorconfig",
)  # fmt: skip

# The suffixes that count as "the same language" when the edited file's siblings are copied.
_SUFFIX_FAMILIES: tuple[frozenset[str], ...] = (
    frozenset({".py", ".pyi"}),
    frozenset({".ts", ".tsx", ".mts", ".cts", ".js", ".jsx", ".mjs", ".cjs"}),
    frozenset({".c", ".h"}),
    frozenset({".cc", ".cpp", ".cxx", ".hpp", ".hh", ".hxx", ".h"}),
)


@dataclass(frozen=True)
class CommandFinding:
    """One finding of a tool. ``line`` and ``column`` are 0-based (the tools print
    them 1-based); ``column`` is 0 when the tool gives none."""

    line: int
    column: int
    code: str | None
    message: str
    severity: Severity


@dataclass(frozen=True)
class CommandOutcome:
    """What one command said about one edit. ``passed`` is a tri-state:

    * ``True``: the command ran on the text before and after the edit and the
      edit added no finding (``findings`` is empty, ``error`` None);
    * ``False``: it ran on both and the edit added ``findings`` (non-empty,
      ``error`` None);
    * ``None``: no verdict (``error`` says why, starting with ``"not run: "``
      when the program could not be started, e.g. it is not on PATH): it timed
      out, was cut off by the total time limit, was killed, or exited with
      output that could not be parsed, on either side.

    ``passed is None`` exactly when ``error is not None``.
    """

    name: str
    passed: bool | None
    findings: list[CommandFinding] = field(default_factory=list)
    error: str | None = None
    duration_ms: int = 0

    @property
    def status(self) -> Literal["passed", "failed", "no verdict"]:
        return "no verdict" if self.passed is None else "passed" if self.passed else "failed"


# ---------------------------------------------------------------- parsers


@dataclass(frozen=True)
class ParsedFinding:
    """A finding with the path the tool printed (any file, before filtering)."""

    path: str
    finding: CommandFinding


_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
# path:line[:col][:end_line:end_col]: rest  (mypy --show-error-end prints the end too)
_PATH_LINE = re.compile(
    r"^(?P<path>(?:[A-Za-z]:)?[^:\s][^:]*?):(?P<line>\d+)(?::(?P<col>\d+))?(?::\d+:\d+)?:\s+(?P<rest>\S.*?)\s*$"
)
_SEVERITY = re.compile(
    r"^(?P<sev>fatal error|error|warning|note|info|information|hint|remark|help)\s*:\s*(?P<msg>.*)$", re.IGNORECASE
)
_BRACKET_CODE = re.compile(r"^(?P<msg>.*?)\s+\[(?P<code>[^\]\s]+)\]$")
_RUFF_REST = re.compile(r"^(?P<code>[A-Z]+[0-9]+|invalid-syntax:|[A-Za-z]*Error:)\s+(?:\[\*\]\s+)?(?P<msg>.*)$")
_RUFF_ARROW = re.compile(r"^\s*-->\s+(?P<path>.+?):(?P<line>\d+):(?P<col>\d+)\s*$")
_TSC = re.compile(
    r"^(?P<path>.+?)(?:\((?P<line>\d+),(?P<col>\d+)\)|:(?P<line2>\d+):(?P<col2>\d+)\s+-)"
    r":?\s+(?P<sev>error|warning|message|suggestion)\s+(?P<code>TS\d+)\s*:\s*(?P<msg>.*?)\s*$"
)
_PYRIGHT = re.compile(
    r"^\s*(?P<path>.+?):(?P<line>\d+):(?P<col>\d+)\s+-\s+(?P<sev>error|warning|information)\s*:\s*"
    r"(?P<msg>.*?)(?:\s+\((?P<code>report\w+)\))?\s*$"
)


def _zero_based(number: str | int | None) -> int:
    return max(0, int(number) - 1) if number not in (None, "") else 0


def _severity(word: str) -> Severity | None:
    """None for notes: they elaborate the finding before them and are dropped."""
    word = word.lower()
    if word in ("error", "fatal error"):
        return "error"
    if word == "warning":
        return "warning"
    if word in ("info", "information", "hint", "remark", "suggestion", "message"):
        return "info"
    return None  # note, help


def _lines(output: str) -> Iterable[str]:
    return _ANSI.sub("", output).splitlines()


def _found(path: str, line: Any, col: Any, code: str | None, message: str, severity: Severity) -> ParsedFinding:
    return ParsedFinding(path.strip(), CommandFinding(_zero_based(line), _zero_based(col), code, message, severity))


def _with_severity(path: str, line: str, col: str | None, rest: str) -> ParsedFinding | None | Literal[False]:
    """``error: message [code]`` (mypy, gcc, clang); False: not of that shape; None: a note."""
    match = _SEVERITY.match(rest)
    if not match:
        return False
    severity = _severity(match["sev"])
    if severity is None:
        return None
    message, code = match["msg"], None
    if bracket := _BRACKET_CODE.match(message):
        message, code = bracket["msg"], bracket["code"]
    return _found(path, line, col, code, message, severity)


def _ruff_rest(path: str, line: str, col: str | None, rest: str) -> ParsedFinding | None:
    match = _RUFF_REST.match(rest)
    if not match:
        return None
    code = match["code"].rstrip(":")
    severity: Severity = "error" if not code[0].isupper() or code.endswith("Error") else "warning"
    return _found(path, line, col, code, match["msg"], severity)


def parse_ruff(output: str) -> list[ParsedFinding]:
    """``ruff check`` output: concise (``path:line:col: CODE message``, also older
    ruff's default) and full (``CODE message`` then `` --> path:line:col``)."""
    found: list[ParsedFinding] = []
    header: re.Match[str] | None = None
    for text in _lines(output):
        if header and (arrow := _RUFF_ARROW.match(text)):
            if parsed := _ruff_rest(arrow["path"], arrow["line"], arrow["col"], header.string):
                found.append(parsed)
            header = None
            continue
        header = _RUFF_REST.match(text)
        if match := _PATH_LINE.match(text):
            if parsed := _ruff_rest(match["path"], match["line"], match["col"], match["rest"]):
                found.append(parsed)
    return found


def parse_mypy(output: str) -> list[ParsedFinding]:
    """mypy: ``path:line: error: message  [code]``, with ``--show-column-numbers``
    ``path:line:col:``, with ``--show-error-end`` the end too. Notes are dropped."""
    found: list[ParsedFinding] = []
    for text in _lines(output):
        if (match := _PATH_LINE.match(text)) and (
            parsed := _with_severity(match["path"], match["line"], match["col"], match["rest"])
        ):
            found.append(parsed)
    return found


# gcc and clang print the same shape (``[-Wflag]`` as the code); so does mypy.
parse_gcc = parse_mypy


def parse_pyright(output: str) -> list[ParsedFinding]:
    """pyright: ``  /abs/path.py:3:12 - error: message (reportCode)``."""
    found: list[ParsedFinding] = []
    for text in _lines(output):
        if match := _PYRIGHT.match(text):
            severity = _severity(match["sev"]) or "info"
            found.append(_found(match["path"], match["line"], match["col"], match["code"], match["msg"], severity))
    return found


def parse_tsc(output: str) -> list[ParsedFinding]:
    """tsc: ``path(line,col): error TS2322: message`` (and ``--pretty``'s
    ``path:line:col - error TS2322: message``); continuation lines are dropped."""
    found: list[ParsedFinding] = []
    for text in _lines(output):
        if match := _TSC.match(text):
            severity = _severity(match["sev"]) or "info"
            line, col = match["line"] or match["line2"], match["col"] or match["col2"]
            found.append(_found(match["path"], line, col, match["code"], match["msg"], severity))
    return found


def parse_go(output: str) -> list[ParsedFinding]:
    """go build / go vet: ``./path.go:line:col: message`` (``vet: `` prefixes
    stripped); ``# package`` headers and other lines are ignored. No codes."""
    found: list[ParsedFinding] = []
    for text in _lines(output):
        if text.startswith("#"):
            continue
        if match := _PATH_LINE.match(text.removeprefix("vet: ")):
            found.append(_found(match["path"], match["line"], match["col"], None, match["rest"], "error"))
    return found


def parse_auto(output: str) -> list[ParsedFinding]:
    """The common shapes, line by line: tsc's, pyright's, ruff's full format and
    ``path:line[:col]: rest`` where rest is ``severity: message [code]``
    (mypy, gcc, clang), ``CODE message`` (ruff, flake8) or a plain message (go:
    an error)."""
    found: list[ParsedFinding] = []
    header: re.Match[str] | None = None
    for raw in _lines(output):
        text = raw.removeprefix("vet: ")
        if header and (arrow := _RUFF_ARROW.match(text)):
            if parsed := _ruff_rest(arrow["path"], arrow["line"], arrow["col"], header.string):
                found.append(parsed)
            header = None
            continue
        header = _RUFF_REST.match(text)
        if match := _TSC.match(text):
            found.extend(parse_tsc(text))
        elif match := _PYRIGHT.match(text):
            found.extend(parse_pyright(text))
        elif match := _PATH_LINE.match(text):
            path, line, col, rest = match["path"], match["line"], match["col"], match["rest"]
            shaped = _with_severity(path, line, col, rest)
            if shaped is not False:
                if shaped is not None:
                    found.append(shaped)
            elif ruff := _ruff_rest(path, line, col, rest):
                found.append(ruff)
            else:
                found.append(_found(path, line, col, None, rest, "error"))
    return found


def _json_values(output: str) -> Iterable[Any]:
    """Every JSON value in ``output``: one per line (cargo) or one document (eslint)."""
    import json

    decoder = json.JSONDecoder()
    text = _ANSI.sub("", output)
    index = 0
    while (start := _next_json_start(text, index)) != -1:
        try:
            value, index = decoder.raw_decode(text, start)
        except ValueError:
            index = start + 1
            continue
        yield value


def _next_json_start(text: str, index: int) -> int:
    starts = [i for i in (text.find("{", index), text.find("[", index)) if i != -1]
    return min(starts) if starts else -1


def parse_cargo_json(output: str) -> list[ParsedFinding]:
    """``cargo check/clippy --message-format=json`` (or rustc ``--error-format=json``):
    each diagnostic at its primary span; notes, help and span-less messages dropped."""
    found: list[ParsedFinding] = []
    for value in _json_values(output):
        if not isinstance(value, dict):
            continue
        message = value.get("message") if value.get("reason") == "compiler-message" else value
        if not isinstance(message, dict) or not isinstance(message.get("spans"), list) or not message["spans"]:
            continue
        level = str(message.get("level", ""))
        severity = "error" if level.startswith("error") else _severity(level)
        if severity is None:
            continue
        spans = [s for s in message["spans"] if isinstance(s, dict)]
        span = next((s for s in spans if s.get("is_primary")), spans[0] if spans else None)
        if span is None or not isinstance(span.get("file_name"), str):
            continue
        code = message.get("code")
        code_text = code.get("code") if isinstance(code, dict) else None
        found.append(
            _found(
                span["file_name"],
                span.get("line_start"),
                span.get("column_start"),
                code_text if isinstance(code_text, str) else None,
                str(message.get("message", "")),
                severity,
            )
        )
    return found


def parse_eslint_json(output: str) -> list[ParsedFinding]:
    """``eslint -f json``: ``[{"filePath": ..., "messages": [{"ruleId", "severity"
    (2 error, 1 warning), "message", "line", "column"}]}]``."""
    found: list[ParsedFinding] = []
    for value in _json_values(output):
        for result in value if isinstance(value, list) else []:
            if not isinstance(result, dict) or not isinstance(result.get("filePath"), str):
                continue
            for item in result.get("messages") or []:
                if not isinstance(item, dict):
                    continue
                rule = item.get("ruleId")
                severity: Severity = "error" if item.get("severity") == 2 else "warning"
                found.append(
                    _found(
                        result["filePath"],
                        item.get("line") or 1,
                        item.get("column"),
                        rule if isinstance(rule, str) else None,
                        str(item.get("message", "")),
                        severity,
                    )
                )
    return found


PARSERS: dict[str, Callable[[str], list[ParsedFinding]]] = {
    "auto": parse_auto,
    "ruff": parse_ruff,
    "mypy": parse_mypy,
    "pyright": parse_pyright,
    "gcc": parse_gcc,
    "tsc": parse_tsc,
    "go": parse_go,
    "cargo-json": parse_cargo_json,
    "eslint-json": parse_eslint_json,
}


def parse_output(format: Format, output: str) -> list[ParsedFinding]:
    """Every finding in a tool's ``output``, whatever file it is about."""
    return PARSERS[format](output)


def findings_for(
    parsed: Iterable[ParsedFinding], *, scratch_root: Path, relative_path: PurePath
) -> list[CommandFinding]:
    """The findings about the scratch copy of the edited file (tools print other
    files too). A printed path matches when it is that file's absolute path,
    resolves to it from ``scratch_root``, or, relative, is a tail of its relative path
    (cargo prints paths relative to the workspace root, tsc to the tsconfig)."""
    root = os.path.realpath(scratch_root)
    target = os.path.realpath(os.path.join(root, *relative_path.parts))
    tail = tuple(relative_path.parts)
    seen: dict[str, bool] = {}

    def matches(printed: str) -> bool:
        if printed not in seen:
            path = printed.removeprefix("file://")
            if os.path.isabs(path):
                seen[printed] = os.path.realpath(path) == target
            elif os.path.realpath(os.path.join(root, path)) == target:
                seen[printed] = True
            else:
                parts = tuple(p for p in PurePath(path).parts if p != ".")
                seen[printed] = bool(parts) and ".." not in parts and tail[-len(parts) :] == parts
        return seen[printed]

    prefixes = sorted({str(scratch_root) + os.sep, root + os.sep}, key=len, reverse=True)
    kept = []
    for item in parsed:
        if matches(item.path):
            message = item.finding.message
            for prefix in prefixes:  # a message naming the scratch folder would differ before and after
                message = message.replace(prefix, "")
            kept.append(CommandFinding(item.finding.line, item.finding.column, item.finding.code, message.strip(),
                                       item.finding.severity))  # fmt: skip
    return kept


def added_findings(
    before: Sequence[CommandFinding],
    after: Sequence[CommandFinding],
    *,
    before_text: str = "",
    after_text: str = "",
) -> list[CommandFinding]:
    """The findings of ``after`` that ``before`` has not: the multiset difference
    by ``(code, message)``, the line ignored (a finding that moved is not added).

    When ``after`` has more of one ``(code, message)`` than ``before``, the ones
    reported are those not on a line that the edit left in place and that had
    the finding before (lines matched through a diff of the two texts)."""
    remaining = Counter((f.code, f.message) for f in before)
    if not any(remaining[(f.code, f.message)] for f in after):
        return list(after)
    counts_after = Counter((f.code, f.message) for f in after)
    ambiguous = {key for key, count in counts_after.items() if 0 < remaining[key] < count}
    old_lines: dict[tuple[str | None, str], set[int]] = {}
    unchanged: set[int] = set()
    if ambiguous:
        moved_to = _line_map(before_text, after_text)
        unchanged = set(moved_to.values())
        for f in before:
            key = (f.code, f.message)
            if key in ambiguous and f.line in moved_to:
                old_lines.setdefault(key, set()).add(moved_to[f.line])

    def rank(index: int) -> tuple[int, int]:  # the likeliest to be old first
        f = after[index]
        key = (f.code, f.message)
        return (0 if f.line in old_lines.get(key, ()) else 1 if f.line in unchanged else 2, index)

    old: set[int] = set()
    for index in sorted(range(len(after)), key=rank):
        key = (after[index].code, after[index].message)
        if remaining[key] > 0:
            remaining[key] -= 1
            old.add(index)
    return [f for index, f in enumerate(after) if index not in old]


def _line_map(before: str, after: str) -> dict[int, int]:
    """0-based lines of ``before`` that the edit kept, to their line in ``after``."""
    a, b = before.splitlines(), after.splitlines()
    mapping: dict[int, int] = {}
    for block in difflib.SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks():
        for offset in range(block.size):
            mapping[block.a + offset] = block.b + offset
    return mapping


# ---------------------------------------------------------------- scratch copies


def _checked_relative(relative_path: str | PurePath) -> PurePosixPath:
    path = PurePosixPath(PurePath(relative_path).as_posix())
    if not path.parts or path.is_absolute() or ".." in path.parts or path.name in ("", "."):
        raise ValueError(f"relative_path must be a file's path inside the project: {str(relative_path)!r}")
    return PurePosixPath(*(p for p in path.parts if p != "."))


def _same_language(suffix: str) -> frozenset[str]:
    for family in _SUFFIX_FAMILIES:
        if suffix in family:
            return family
    return frozenset({suffix}) if suffix else frozenset()


def project_files(project_root: Path, relative_path: PurePosixPath) -> list[tuple[PurePosixPath, bytes]]:
    """What a ``"project"`` copy holds besides the edited file: the configuration
    files (:data:`CONFIG_FILE_NAMES`) at the root and in each folder down to the
    edited file's, Python's ``__init__.py`` files on that way, and the edited
    file's siblings of the same language; regular files only, each up to
    :data:`PROJECT_FILE_MAX_BYTES`, up to :data:`PROJECT_COPY_MAX_FILES` files and
    :data:`PROJECT_COPY_MAX_BYTES` in all (configs first, then siblings by name)."""
    folders = [PurePosixPath(*relative_path.parts[:depth]) for depth in range(len(relative_path.parts))]
    wanted: list[PurePosixPath] = []
    for folder in folders:
        wanted += [folder / name for name in CONFIG_FILE_NAMES]
        if relative_path.suffix in (".py", ".pyi") and folder.parts:
            wanted.append(folder / "__init__.py")
    family = _same_language(relative_path.suffix)
    own_folder = project_root.joinpath(*relative_path.parent.parts)
    with contextlib.suppress(OSError):
        with os.scandir(own_folder) as entries:
            names = sorted(e.name for e in entries if os.path.splitext(e.name)[1] in family)
        wanted += [relative_path.parent / name for name in names]
    files: list[tuple[PurePosixPath, bytes]] = []
    taken: set[PurePosixPath] = {relative_path}
    total = 0
    for rel in wanted:
        if rel in taken or len(files) >= PROJECT_COPY_MAX_FILES:
            continue
        source = project_root.joinpath(*rel.parts)
        try:
            info = source.stat()
            if not stat.S_ISREG(info.st_mode) or info.st_size > PROJECT_FILE_MAX_BYTES:
                continue
            if total + info.st_size > PROJECT_COPY_MAX_BYTES:
                continue
            data = source.read_bytes()[:PROJECT_FILE_MAX_BYTES]
        except OSError:
            continue
        taken.add(rel)
        total += len(data)
        files.append((rel, data))
    return files


def _fill(root: Path, relative_path: PurePosixPath, text: str, extra: Sequence[tuple[PurePosixPath, bytes]]) -> Path:
    for rel, data in extra:
        target = root.joinpath(*rel.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    target = root.joinpath(*relative_path.parts)
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)
    return target


async def _in_thread(function: Callable[..., Any], *args: Any) -> Any:
    """``function(*args)`` in a worker thread; a cancellation waits for it to end
    (so that nothing writes into a scratch folder being removed) and propagates."""
    task = asyncio.ensure_future(asyncio.to_thread(function, *args))
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        with contextlib.suppress(BaseException):
            await task
        raise


# ---------------------------------------------------------------- running


@dataclass
class _Run:
    output: str = ""
    returncode: int | None = None
    timed_out: bool = False
    not_run: str | None = None


def _kill_group(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


async def _run_process(argv: Sequence[str], cwd: Path, timeout: float) -> _Run:
    """One run: output (capped at :data:`OUTPUT_CAP_BYTES`), exit status; the
    process group is killed on timeout, cancellation and at the end (a tool's
    leftover children)."""
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            cwd=cwd,
            env=dict(os.environ),
            start_new_session=True,
        )
    except OSError as error:
        return _Run(not_run=f"not run: {argv[0]}: {error.strerror or error}")
    kept = bytearray()
    try:
        try:
            async with asyncio.timeout(timeout):
                assert process.stdout is not None
                while chunk := await process.stdout.read(1 << 16):
                    if len(kept) < OUTPUT_CAP_BYTES:
                        kept += chunk[: OUTPUT_CAP_BYTES - len(kept)]
                await process.wait()
        except TimeoutError:
            return _Run(output=kept.decode("utf-8", "replace"), timed_out=True)
        return _Run(output=kept.decode("utf-8", "replace"), returncode=process.returncode)
    finally:
        _kill_group(process)
        if process.returncode is None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(_REAP_S):
                    await process.wait()


def _program(command: CheckCommand, project_root: Path | None) -> str | None:
    """The program's path, or None when it cannot be found."""
    program = command.command[0]
    if "/" in program or (os.altsep and os.altsep in program):
        path = Path(program).expanduser()
        if not path.is_absolute():
            if project_root is None:
                return None
            path = project_root / path
        return str(path) if path.is_file() and os.access(path, os.X_OK) else None
    return shutil.which(program)


def _argv(command: CheckCommand, program: str, root: Path, file: Path) -> list[str]:
    return [program] + [arg.replace("{file}", str(file)).replace("{dir}", str(root)) for arg in command.command[1:]]


def _unparsable(run: _Run, side: str) -> str:
    if run.returncode is not None and run.returncode < 0:
        return f"killed by signal {-run.returncode} ({side})"
    lines = [line for line in _ANSI.sub("", run.output).splitlines() if line.strip()]
    if not lines:
        return f"exited with status {run.returncode} and no output ({side})"
    shown = "\n".join(lines[:_ERROR_LINES])
    return f"exited with status {run.returncode} with output that could not be parsed ({side}):\n{shown}"


async def _run_command(
    command: CheckCommand,
    *,
    relative_path: PurePosixPath,
    before: str,
    after: str,
    project_root: Path | None,
    extra: Sequence[tuple[PurePosixPath, bytes]],
    timeout: float,
) -> CommandOutcome:
    started = time.monotonic()

    def outcome(passed: bool | None, findings: list[CommandFinding], error: str | None) -> CommandOutcome:
        return CommandOutcome(command.name, passed, findings, error, round((time.monotonic() - started) * 1000))

    program = _program(command, project_root)
    if program is None:
        where = "on PATH" if "/" not in command.command[0] else ""
        return outcome(None, [], f"not run: {command.command[0]} not found {where}".rstrip())
    roots: list[Path] = []
    try:
        for _ in range(2):
            roots.append(Path(os.path.realpath(tempfile.mkdtemp(prefix="assistant-router-check-"))))
        files = [
            await _in_thread(_fill, roots[0], relative_path, before, extra),
            await _in_thread(_fill, roots[1], relative_path, after, extra),
        ]
        async with asyncio.TaskGroup() as group:
            tasks = [
                group.create_task(_run_process(_argv(command, program, root, file), root, timeout))
                for root, file in zip(roots, files, strict=True)
            ]
        runs = [task.result() for task in tasks]
        for run, side in zip(runs, ("before the edit", "after the edit"), strict=True):
            if run.not_run:
                return outcome(None, [], run.not_run)
            if run.timed_out:
                return outcome(None, [], f"timed out after {timeout:g} s ({side})")
        found: list[list[CommandFinding]] = []
        for run, root, side in zip(runs, roots, ("before the edit", "after the edit"), strict=True):
            parsed = parse_output(command.format, run.output)
            if run.returncode != 0 and not parsed:
                return outcome(None, [], _unparsable(run, side))
            found.append(findings_for(parsed, scratch_root=root, relative_path=relative_path))
        added = added_findings(found[0], found[1], before_text=before, after_text=after)
        return outcome(not added, added, None)
    finally:
        if roots:
            await _in_thread(_remove, roots)


def _remove(roots: Sequence[Path]) -> None:
    for root in roots:
        shutil.rmtree(root, ignore_errors=True)


async def run_check_commands(
    commands: Sequence[CheckCommand],
    *,
    language: str,
    relative_path: str | PurePath,
    before: str,
    after: str,
    project_root: Path | None,
    timeout_scale: float = 1.0,
    total_timeout_s: float = TOTAL_TIMEOUT_S,
) -> list[CommandOutcome]:
    """Run each of ``commands`` that applies to ``language`` on the text of the
    file at ``relative_path`` before and after an edit; one outcome per such
    command, in order. Finding lines are 0-based.

    The commands run one after another (the runs before and after the edit of
    one command at the same time), each bounded by its ``timeout_s`` and all of
    them by ``total_timeout_s`` (both times ``timeout_scale``): a command with
    no time left is not run. ``project_root`` is where ``"project"`` copies
    come from (without it they are ``"file"`` copies) and relative program
    paths are resolved. A cancellation kills the running processes, removes the
    scratch folders and propagates. Raises ValueError for a ``relative_path``
    that is absolute or leaves the project.
    """
    relative = _checked_relative(relative_path)
    applicable = [command for command in commands if command.applies_to(language)]
    extra: Sequence[tuple[PurePosixPath, bytes]] = ()
    if project_root is not None and any(command.copy_mode == "project" for command in applicable):
        extra = await _in_thread(project_files, project_root, relative)
    deadline = time.monotonic() + total_timeout_s * timeout_scale
    outcomes: list[CommandOutcome] = []
    for command in applicable:
        left = deadline - time.monotonic()
        if left <= 0:
            limit = f"{total_timeout_s * timeout_scale:g} s"
            error = f"not run: the checks' time limit ({limit}) ran out"
            outcomes.append(CommandOutcome(command.name, None, [], error))
            continue
        outcomes.append(
            await _run_command(
                command,
                relative_path=relative,
                before=before,
                after=after,
                project_root=project_root,
                extra=extra if command.copy_mode == "project" else (),
                timeout=min(command.timeout_s * timeout_scale, left),
            )
        )
    return outcomes
