"""Safety rules in ast-grep's YAML rule format, and what they find in a text.

- :func:`load_rules` reads the shipped rules (``shipped/*.yml`` next to this
  module) and the rule directories it is given (a project's
  ``.assistant-router/rules``, the user's). Rule files come from untrusted
  repositories: a file that is too big, has too many rules, is not a regular
  file or is a symbolic link leaving its directory is a :class:`RuleProblem`,
  as is bad YAML, an unknown key, an unknown language or a ``rule`` that
  ast-grep rejects. Nothing here raises for a bad rule; the other rules load.
- :func:`find` runs every rule of a language on one parse of a text.
- :func:`added_findings` reports what an edit adds: the findings of the text
  after the edit that were not already in the text before it (compared as
  multisets of rule id and whitespace-normalised match text, so a finding that
  only moved is not new).

ast-grep's ``find_all(config=...)`` takes only the rule core (``rule``,
``constraints``, ``utils``, ``transform``) and ignores the rest, so messages,
severities and fixes are built here. ``ast_grep_py`` and ``ruamel.yaml`` are
imported on first use. Finding positions are 0-based lines and columns in
code points (not UTF-16 units); problem positions are 1-based, as people count.
"""

from __future__ import annotations

import difflib
import fnmatch
import re
import stat
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

from pydantic import Field, ValidationError, field_validator

from assistant_router.engine.text import common_prefix, common_suffix
from assistant_router.routing.config import project_rules_directory, user_rules_directory  # noqa: F401 (origins "project", "user")
from assistant_router.routing.strict import StrictModel, problems

if TYPE_CHECKING:
    from ast_grep_py import Config, SgNode

Severity = Literal["hint", "info", "warning", "error", "off"]

SHIPPED_DIRECTORY = Path(__file__).parent / "shipped"  # not "rules/": that would shadow rules.py for mypy
MAX_FILE_BYTES = 256 * 1024
MAX_RULES_PER_FILE = 500
MAX_FILES_PER_DIRECTORY = 100
MAX_RULES_PER_DIRECTORY = 1_000  # every rule walks the tree of every checked text: keep it bounded
_MAX_YAML_NODES = 100_000  # aliases can make a small file a huge tree ("billion laughs")

# ast-grep's built-in language names and aliases (ast-grep-py 0.51), to its canonical names.
# Checked against this list before SgRoot is called: an unknown name panics (BaseException).
_AST_GREP_LANGUAGES: dict[str, str] = {
    **{name: "python" for name in ("python", "py")},
    **{name: "javascript" for name in ("javascript", "js", "jsx", "mjs", "cjs")},
    **{name: "typescript" for name in ("typescript", "ts", "mts", "cts")},
    "tsx": "tsx",
    **{name: "go" for name in ("go", "golang")},
    **{name: "rust" for name in ("rust", "rs")},
    "java": "java",
    "c": "c",
    **{name: "cpp" for name in ("cpp", "c++", "cc", "cxx")},
    **{name: "csharp" for name in ("csharp", "cs")},
    **{name: "kotlin" for name in ("kotlin", "kt")},
    "swift": "swift",
    **{name: "ruby" for name in ("ruby", "rb")},
    "php": "php",
    "lua": "lua",
    "bash": "bash",
    "html": "html",
    "css": "css",
    "json": "json",
    **{name: "yaml" for name in ("yaml", "yml")},
    "scala": "scala",
    **{name: "elixir" for name in ("elixir", "ex")},
    **{name: "haskell" for name in ("haskell", "hs")},
    "nix": "nix",
    **{name: "solidity" for name in ("solidity", "sol")},
    "hcl": "hcl",
    "dart": "dart",
    "zig": "zig",
}
# LSP language identifiers that are not ast-grep names.
_LSP_LANGUAGES: dict[str, str] = {
    "javascriptreact": "javascript",  # the javascript grammar parses JSX
    "typescriptreact": "tsx",
    "shellscript": "bash",
    "sh": "bash",
    "objective-c": "c",
}
# Which rules run on a document: a typescript rule also runs on tsx documents (the tsx
# grammar is typescript plus JSX, without the `<T>x` casts); javascript rules do not run
# on typescript, as in ast-grep.
_RULE_LANGUAGES: dict[str, tuple[str, ...]] = {"tsx": ("tsx", "typescript")}



def ast_grep_language(language: str) -> str | None:
    """ast-grep's name for an LSP language id or an ast-grep name or alias; None if it has none."""
    key = language.strip().lower()
    return _LSP_LANGUAGES.get(key) or _AST_GREP_LANGUAGES.get(key)


# --------------------------------------------------------------------------- #
# The public types


@dataclass(frozen=True)
class RuleProblem:
    """A rule file or rule that could not be used; ``line``/``column`` are 1-based (0: unknown)."""

    path: Path | None  # None: not in a file (an unknown id among the disabled ones)
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        where = "disabled rules" if self.path is None else f"{self.path}:{self.line}:{self.column}"
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class Rule:
    """One loaded rule; ``core`` is what ast-grep is given."""

    id: str
    language: str  # ast-grep's canonical name
    severity: Severity
    message: str
    note: str | None
    fix: str | None
    url: str | None
    origin: str  # "shipped", or the label given with its directory ("project", "user")
    path: Path | None
    line: int  # 1-based line of the rule's first key in its file
    core: Mapping[str, Any] = field(hash=False, compare=False, repr=False)
    files: tuple[str, ...] = ()
    ignores: tuple[str, ...] = ()
    metadata: Mapping[str, Any] | None = field(default=None, hash=False, compare=False, repr=False)
    # Words every match needs somewhere in the text (from its patterns): a rule whose
    # words are not all in a text cannot match it and is not run on it.
    words: frozenset[str] = frozenset()
    # No follows/precedes: what it matches in a top-level node depends on that node only.
    local: bool = True


@dataclass(frozen=True)
class Finding:
    """One match of one rule; positions are 0-based, columns in code points."""

    rule_id: str
    severity: Severity
    message: str  # $VAR and $$$VAR expanded from the match
    note: str | None
    start_line: int
    start_column: int
    end_line: int
    end_column: int
    text: str  # the matched source text
    fix: str | None  # the replacement of the matched text, metavariables expanded
    origin: str
    url: str | None = None
    start_index: int = 0  # code-point offsets in the whole text: text == source[start_index:end_index]
    end_index: int = 0


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    problems: tuple[RuleProblem, ...]
    unknown_disabled: tuple[str, ...] = ()  # entries of `disabled` that matched no rule
    disabled: tuple[str, ...] = ()  # ids left out: disabled by the caller or `severity: off`

    @cached_property
    def _by_language(self) -> dict[str, tuple[Rule, ...]]:
        grouped: dict[str, list[Rule]] = {}
        for rule in self.rules:
            grouped.setdefault(rule.language, []).append(rule)
        return {language: tuple(rules) for language, rules in grouped.items()}

    def for_language(self, language: str) -> tuple[Rule, ...]:
        """The rules that run on a document in ``language`` (an LSP id or an ast-grep name)."""
        name = ast_grep_language(language)
        if name is None:
            return ()
        return tuple(r for lang in _RULE_LANGUAGES.get(name, (name,)) for r in self._by_language.get(lang, ()))


# --------------------------------------------------------------------------- #
# Rule files


class _RuleModel(StrictModel):
    """One rule as written (ast-grep's rule-file fields; `rewriters` is not supported)."""

    id: str = Field(min_length=1)
    language: str
    rule: dict[str, Any]
    message: str = ""
    severity: Severity = "warning"
    note: str | None = None
    fix: str | None = None
    constraints: dict[str, Any] | None = None
    utils: dict[str, Any] | None = None
    transform: dict[str, Any] | None = None
    url: str | None = None
    metadata: dict[str, Any] | None = None
    files: list[str] | None = None
    ignores: list[str] | None = None
    labels: dict[str, Any] | None = None

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if value != value.strip() or any(c.isspace() for c in value):
            raise ValueError("a rule id has no spaces")
        return value

    @field_validator("language")
    @classmethod
    def _language(cls, value: str) -> str:
        name = _AST_GREP_LANGUAGES.get(value.strip().lower())
        if name is None:
            close = difflib.get_close_matches(value.lower(), list(_AST_GREP_LANGUAGES), n=1, cutoff=0.6)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise ValueError(f"unknown language '{value}' (ast-grep has no built-in grammar for it){hint}")
        return name


@dataclass(frozen=True)
class _Loaded:
    rules: tuple[Rule, ...]
    problems: tuple[RuleProblem, ...]


class _BadValue(Exception):
    pass


_CACHE: dict[tuple[str, str], tuple[tuple[int, int, int], _Loaded]] = {}
_CACHE_LOCK = threading.Lock()


def load_rules(
    *,
    shipped: bool = True,
    directories: Sequence[tuple[Path, str]] = (),
    disabled: Collection[str] = (),
) -> RuleSet:
    """The rules of the shipped files and of ``directories`` (each with its origin label).

    Each directory's ``*.yml`` and ``*.yaml`` files are read in name order; a
    missing directory is not a problem. An id used twice keeps its first rule
    (shipped rules first, then the directories in order) and the second is a
    problem: a project cannot replace a shipped rule, only disable it by id.
    ``disabled`` holds rule ids, or ``fnmatch`` patterns such as ``python.*``;
    an entry that matches no rule is a problem and is listed in
    ``unknown_disabled``. Files are cached by path, mtime and size.
    """
    sources: list[tuple[Path, str]] = ([(SHIPPED_DIRECTORY, "shipped")] if shipped else []) + list(directories)
    rules: list[Rule] = []
    found: list[RuleProblem] = []
    seen: dict[str, Rule] = {}
    for directory, origin in sources:
        files = rules_here = 0
        for path, problem in _rule_files(directory):
            if problem is not None:
                found.append(problem)
                continue
            files += 1
            if files > MAX_FILES_PER_DIRECTORY:
                found.append(RuleProblem(path, 0, 0, f"not read: more than {MAX_FILES_PER_DIRECTORY} rule files here"))
                break
            loaded = _load_file_cached(path, origin)
            found.extend(loaded.problems)
            if rules_here + len(loaded.rules) > MAX_RULES_PER_DIRECTORY:
                found.append(
                    RuleProblem(path, 0, 0, f"not read: more than {MAX_RULES_PER_DIRECTORY:,} rules in {directory}")
                )
                break
            rules_here += len(loaded.rules)
            for rule in loaded.rules:
                first = seen.get(rule.id)
                if first is not None:
                    where = f"{first.path}:{first.line}" if first.path else first.origin
                    found.append(RuleProblem(rule.path, rule.line, 1, f"rule id '{rule.id}' is already used ({where})"))
                    continue
                seen[rule.id] = rule
                rules.append(rule)
    off: list[str] = []
    unknown: list[str] = []
    patterns = [d for d in dict.fromkeys(disabled) if d]
    for entry in patterns:
        if not any(_id_matches(entry, rule.id) for rule in rules):
            unknown.append(entry)
            found.append(RuleProblem(None, 0, 0, f"unknown rule id '{entry}' among the disabled rules"))
    kept: list[Rule] = []
    for rule in rules:
        if rule.severity == "off" or any(_id_matches(entry, rule.id) for entry in patterns):
            off.append(rule.id)
        else:
            kept.append(rule)
    return RuleSet(tuple(kept), tuple(found), tuple(unknown), tuple(off))


def _id_matches(entry: str, rule_id: str) -> bool:
    if any(c in entry for c in "*?["):
        return fnmatch.fnmatchcase(rule_id, entry)
    return entry == rule_id


def _rule_files(directory: Path) -> Iterator[tuple[Path, RuleProblem | None]]:
    """The rule files of ``directory``, or a problem for each one that must not be read."""
    try:
        base = directory.resolve(strict=True)
        entries = sorted(base.iterdir(), key=lambda p: p.name)
    except FileNotFoundError:
        return
    except OSError as error:
        yield directory, RuleProblem(directory, 0, 0, f"cannot read the rules directory: {error.strerror or error}")
        return
    for entry in entries:
        if entry.suffix.lower() not in (".yml", ".yaml"):
            continue
        try:
            real = entry.resolve(strict=True)
            info = real.stat()
        except (OSError, RuntimeError) as error:  # a broken link, a loop
            reason = getattr(error, "strerror", None) or error
            yield entry, RuleProblem(entry, 0, 0, f"cannot read the rule file: {reason}")
            continue
        if not real.is_relative_to(base):
            yield entry, RuleProblem(entry, 0, 0, "not read: a symbolic link to a file outside the rules directory")
        elif not stat.S_ISREG(info.st_mode):
            yield entry, RuleProblem(entry, 0, 0, "not read: not a regular file")
        elif info.st_size > MAX_FILE_BYTES:
            yield (
                entry,
                RuleProblem(
                    entry, 0, 0, f"not read: {info.st_size:,} bytes; a rule file may have at most {MAX_FILE_BYTES:,}"
                ),
            )
        else:
            yield entry, None


def _load_file_cached(path: Path, origin: str) -> _Loaded:
    try:
        info = path.stat()
    except OSError as error:
        return _Loaded((), (RuleProblem(path, 0, 0, f"cannot read the rule file: {error.strerror or error}"),))
    stamp = (info.st_mtime_ns, info.st_size, info.st_ino)
    key = (str(path), origin)
    with _CACHE_LOCK:
        cached = _CACHE.get(key)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    loaded = _load_file(path, origin)
    with _CACHE_LOCK:
        _CACHE[key] = (stamp, loaded)
    return loaded


def _load_file(path: Path, origin: str) -> _Loaded:
    try:
        with open(path, "rb") as stream:  # not path.read_bytes(): the file may have grown since stat
            data = stream.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        return _Loaded((), (RuleProblem(path, 0, 0, f"cannot read the rule file: {error.strerror or error}"),))
    if len(data) > MAX_FILE_BYTES:
        too_big = f"not read: a rule file may have at most {MAX_FILE_BYTES:,} bytes"
        return _Loaded((), (RuleProblem(path, 0, 0, too_big),))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        return _Loaded((), (RuleProblem(path, line, 1, "not UTF-8 text"),))
    return _parse_rules(text, path=path, origin=origin)


def _parse_rules(text: str, *, path: Path | None = None, origin: str = "project") -> _Loaded:
    """The rules and problems of one rule file's text."""
    from ruamel.yaml import YAML

    rules: list[Rule] = []
    found: list[RuleProblem] = []
    count = 0
    for offset, chunk in _documents(text):
        yaml = YAML(typ="rt")  # round trip: YAML 1.2 like ast-grep, and keys with their lines
        try:
            document = yaml.load(chunk)
        except Exception as error:  # ruamel's errors, RecursionError for deep nesting
            mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
            line, column = (mark.line, mark.column) if mark is not None else (0, 0)
            last = max((i for i, text in enumerate(chunk.splitlines()) if text.strip()), default=0)
            if line > last:  # at the end of the document: point at its last line instead
                line, column = last, len(chunk.splitlines()[last]) if chunk.splitlines() else 0
            line, column = offset + line + 1, column + 1
            summary = getattr(error, "problem", None) or (str(error).splitlines() or [type(error).__name__])[0]
            found.append(RuleProblem(path, line, column, f"invalid YAML: {summary}"))
            continue
        if document is None:
            continue
        count += 1
        if count > MAX_RULES_PER_FILE:
            too_many = f"more than {MAX_RULES_PER_FILE} rules in one file: the rest are not read"
            found.append(RuleProblem(path, offset + 1, 1, too_many))
            break
        rule, problem = _rule(document, offset, path, origin)
        if rule is not None:
            rules.append(rule)
        found.extend(problem)
    return _Loaded(tuple(rules), tuple(found))


_MARKER = re.compile(r"^---(?=[ \t]|$)", re.MULTILINE)
_FILLER = re.compile(r"^(?:[ \t]*(?:#.*)?|%.*)$")


def _documents(text: str) -> Iterator[tuple[int, str]]:
    """The `---`-separated documents of ``text`` with their 0-based first line, each parsed alone
    so a YAML error stops only its own document."""
    starts = [0] + [m.start() for m in _MARKER.finditer(text) if m.start() > 0]
    pending = ""
    pending_line = 0
    for begin, end in zip(starts, starts[1:] + [len(text)], strict=True):
        chunk = text[begin:end]
        line = text.count("\n", 0, begin)
        if not pending:
            pending_line = line
        if all(_FILLER.match(ln) for ln in chunk.splitlines()) and any(ln.startswith("%") for ln in chunk.splitlines()):
            pending += chunk  # directives belong to the next document
            continue
        yield pending_line, pending + chunk
        pending = ""
    if pending:
        yield pending_line, pending


def _plain(value: Any, budget: list[int]) -> Any:
    """ruamel's round-trip values as plain dicts, lists and scalars (ast-grep and pydantic want those)."""
    from ruamel.yaml.comments import TaggedScalar

    budget[0] -= 1
    if budget[0] < 0:
        raise _BadValue(f"too many YAML nodes (more than {_MAX_YAML_NODES:,}, with aliases expanded)")
    tag = getattr(getattr(value, "tag", None), "value", None)
    if isinstance(value, TaggedScalar):
        if tag == "tag:yaml.org,2002:str":
            return str(value.value)
        raise _BadValue(f"unsupported YAML tag {tag or ''}; quote the value")
    if tag is not None and tag not in ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"):
        raise _BadValue(f"unsupported YAML tag {tag}")
    if isinstance(value, Mapping):
        return {_plain(k, budget): _plain(v, budget) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v, budget) for v in value]
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    raise _BadValue(f"unsupported YAML value {str(value)[:40]!r} ({type(value).__name__}); quote it")


def _position(document: Any, loc: Sequence[str | int]) -> tuple[int, int]:
    """0-based line and column of the deepest key or item of ``loc`` found in ``document``."""
    node = document
    line, column = _lc(document)
    for part in loc:
        try:
            if isinstance(node, Mapping) and part in node:
                line, column = node.lc.key(part)  # type: ignore[attr-defined]
            elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
                line, column = node.lc.item(part)  # type: ignore[attr-defined]
            else:
                break
        except (AttributeError, KeyError, TypeError):
            break
        node = node[part]
    return line, column


def _lc(node: Any) -> tuple[int, int]:
    lc = getattr(node, "lc", None)
    return (lc.line or 0, lc.col or 0) if lc is not None else (0, 0)


def _find_name(node: Any, name: str, depth: int = 0) -> tuple[int, int] | None:
    """Where a key or a scalar ``name`` appears under ``node`` (for ast-grep's error messages)."""
    if depth > 50:
        return None
    if isinstance(node, Mapping):
        for key, value in node.items():
            if key == name or (isinstance(value, str) and value == name):
                try:
                    return tuple(node.lc.key(key))  # type: ignore[attr-defined]
                except (AttributeError, KeyError, TypeError):
                    return None
            inner = _find_name(value, name, depth + 1)
            if inner is not None:
                return inner
    elif isinstance(node, list):
        for item in node:
            inner = _find_name(item, name, depth + 1)
            if inner is not None:
                return inner
    return None


def _rule(document: Any, offset: int, path: Path | None, origin: str) -> tuple[Rule | None, list[RuleProblem]]:
    start_line, start_column = _lc(document)
    here = (offset + start_line + 1, start_column + 1)
    if not isinstance(document, Mapping):
        return None, [RuleProblem(path, *here, "a rule is a mapping with at least id, language and rule")]
    try:
        plain = _plain(document, [_MAX_YAML_NODES])
    except (_BadValue, RecursionError) as error:
        message = str(error) if isinstance(error, _BadValue) else "the YAML is nested too deeply"
        return None, [RuleProblem(path, *here, message)]
    name = plain.get("id") if isinstance(plain.get("id"), str) else None
    label = f"rule '{name}': " if name else ""
    try:
        model = _RuleModel.model_validate(plain)
    except ValidationError as error:
        found = []
        for problem in problems(error):
            line, column = _position(document, problem.loc)
            key = f"{problem.key}: " if problem.key and not problem.unknown_key else ""
            found.append(RuleProblem(path, offset + line + 1, column + 1, f"{label}{key}{problem.message}"))
        return None, found
    core = {k: v for k in ("rule", "constraints", "utils", "transform") if (v := plain.get(k)) is not None}
    error_text = _compile_error(model.language, core)
    if error_text is not None:
        where = None
        for quoted in re.findall(r"`([^`]+)`", error_text):
            where = _find_name({k: document[k] for k in core if k in document}, quoted)
            if where is not None:
                break
        if where is None:
            key = "constraints" if "constraints" in error_text and "constraints" in document else "rule"
            where = _position(document, (key,))
        return None, [RuleProblem(path, offset + where[0] + 1, where[1] + 1, f"{label}ast-grep: {error_text}")]
    rule = Rule(
        id=model.id,
        language=model.language,
        severity=model.severity,
        message=model.message or model.id,
        note=model.note,
        fix=model.fix,
        url=model.url,
        origin=origin,
        path=path,
        line=here[0],
        core=core,
        files=tuple(model.files or ()),
        ignores=tuple(model.ignores or ()),
        metadata=model.metadata,
        words=_required_words(core.get("rule"), core.get("utils") or {}, 0),
        local=not _has_key(core, ("follows", "precedes")),
    )
    return rule, []


def _has_key(value: Any, keys: tuple[str, ...], depth: int = 0) -> bool:
    if depth > 50:
        return True
    if isinstance(value, Mapping):
        return any(k in keys or _has_key(v, keys, depth + 1) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_key(v, keys, depth + 1) for v in value)
    return False


def _compile_error(language: str, core: Mapping[str, Any]) -> str | None:
    """ast-grep's complaint about a rule core, compiled once on an empty text; None if it is fine."""
    from ast_grep_py import SgRoot

    try:
        SgRoot("", language).root().find_all(config=cast("Config", core))
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as error:  # pyo3's PanicException derives from BaseException
        return _error_text(error)
    return None


def _error_text(error: BaseException) -> str:
    """ast-grep's message in one line: the causes, without its Rust stack backtrace."""
    text = str(error).split("Stack backtrace:")[0]
    parts = []
    for raw in text.splitlines():
        line = re.sub(r"^\s*\d+:\s*", "", raw).strip()
        if line and line not in ("Caused by:", "cannot get matcher"):
            parts.append(line.rstrip("."))
    return re.sub(r":(\s*:)+", ":", ": ".join(parts)) or type(error).__name__


_METAVARIABLE = re.compile(r"\$\$\$[A-Z_][A-Z0-9_]*|\$\$?[A-Z_][A-Z0-9_]*|\$\$\$")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _required_words(rule: Any, utils: Mapping[str, Any], depth: int) -> frozenset[str]:
    """Words that must be in a text for ``rule`` to match in it (a cheap pre-filter).

    Only from string patterns, which ast-grep matches leaf by leaf with their text
    (the default `smart` strictness); `kind`, `regex`, `not` and pattern objects
    (which may relax the strictness) require nothing. `all` and relational rules
    require the words of each part; `any` those common to every branch.
    """
    if not isinstance(rule, Mapping) or depth > 20:
        return frozenset()
    words: set[str] = set()
    pattern = rule.get("pattern")
    if isinstance(pattern, str):
        words.update(_WORD.findall(_METAVARIABLE.sub(" ", pattern)))
    for key in ("inside", "has", "precedes", "follows"):
        words |= _required_words(rule.get(key), utils, depth + 1)
    parts = rule.get("all")
    if isinstance(parts, list):
        for part in parts:
            words |= _required_words(part, utils, depth + 1)
    branches = rule.get("any")
    if isinstance(branches, list) and branches:
        common = [_required_words(branch, utils, depth + 1) for branch in branches]
        words |= frozenset.intersection(*common)
    reference = rule.get("matches")
    if isinstance(reference, str) and reference in utils:
        words |= _required_words(utils[reference], utils, depth + 1)
    return frozenset(words)


# --------------------------------------------------------------------------- #
# Finding


def find(rule_set: RuleSet, language: str, text: str, *, path: str | None = None) -> list[Finding]:
    """Every finding of the rules for ``language`` (an LSP id or ast-grep name) in ``text``.

    One parse, then each rule whose words are all in the text. ``path`` (relative
    to the project, with ``/``) applies the rules' ``files``/``ignores`` globs;
    without it every rule runs. An unknown language finds nothing.
    """
    name = ast_grep_language(language)
    if name is None:
        return []
    rules = _applicable(rule_set, name, text, path)
    if not rules:
        return []
    root = _parse(text, name)
    return _sorted(f for rule in rules for f in _run(rule, root, text))


def added_findings(
    rule_set: RuleSet, language: str, before: str, after: str, *, path: str | None = None
) -> list[Finding]:
    """The findings in ``after`` that were not in ``before``, with positions in ``after``.

    Compared as multisets of (rule id, match text with its whitespace normalised:
    runs made one space, none around punctuation): a finding that was already there,
    even moved, re-indented or reformatted, is not new; a second copy of it is.

    Each text is parsed once (the last few parses are kept: the text before an edit
    is usually the document, checked again for the next edit). Top-level nodes
    (statements, functions, classes) that are the same in both texts, same kind and
    same text before or after the edited span, hold the same findings on both sides
    and cancel out, so the rules run only on the top-level nodes that differ. Rules
    with ``follows``/``precedes`` (which can look at neighbouring top-level nodes)
    run on the whole of both texts.
    """
    name = ast_grep_language(language)
    if name is None or before == after:
        return []
    rules = _applicable(rule_set, name, after, path)
    if not rules:
        return []
    windows = _changed_windows(name, before, after) if all(rule.local for rule in rules) else None
    if windows is not None:
        return _added_in_windows(rule_set, rules, name, windows, path)
    after_root = _parse(after, name)
    before_root = _parse(before, name)
    changed = _changed_top_level(before_root, before, after_root, after)
    found = _sorted(_run_on(rules, after_root, None if changed is None else changed[1], after))
    if not found:
        return []
    # Only the differing top-level nodes of `before` can hold what cancels a finding.
    flat_before = _normalised(before if changed is None else "\n".join(node.text() for node in changed[0]))
    maybe_there = {f.rule_id for f in found if _key(f)[1] in flat_before}  # the others are new for certain
    earlier_rules = [r for r in _applicable(rule_set, name, before, path) if r.id in maybe_there]
    return _not_in(found, _run_on(earlier_rules, before_root, None if changed is None else changed[0], before))


# ast-grep names of the languages whose tree-sitter grammar ships with the
# context (engine/context.py GRAMMARS, by LSP id): their trees find the edited
# top-level nodes without an ast-grep parse of the whole text.
_CONTEXT_GRAMMAR = {"python": "python", "javascript": "javascript", "typescript": "typescript",
                    "tsx": "typescriptreact", "go": "go", "rust": "rust", "java": "java"}


@dataclass(frozen=True)
class _Window:
    """The top-level nodes an edit touches, as a text of whole lines of one side."""

    text: str
    line: int  # its first line in the whole text
    index: int  # its first code point in the whole text


def _changed_windows(name: str, before: str, after: str) -> tuple[_Window, _Window] | None:
    """The edited top-level nodes of each text, cut out as whole lines, or None
    when that cannot be done safely (no grammar here, a tree with errors, a window
    that is most of the text anyway). ast-grep then parses only these windows:
    its parse of a whole 2,000-line file holds the interpreter lock for some 8 ms,
    a window's for a fraction of that. The trees are the syntax check's (tree-sitter
    lets the lock go between the pieces it reads), parsed already or kept for it."""
    grammar = _CONTEXT_GRAMMAR.get(name)
    if grammar is None:
        return None
    from assistant_router.engine.context import syntax_tree

    after_tree = syntax_tree(grammar, after)
    before_tree = syntax_tree(grammar, before) if before else None
    if after_tree is None or after_tree.root_node.has_error or (before and (
            before_tree is None or before_tree.root_node.has_error)):
        return None
    after_bytes, before_bytes = after.encode("utf-8"), before.encode("utf-8")
    prefix = common_prefix(before_bytes, after_bytes)
    suffix = common_suffix(before_bytes, after_bytes, min(len(before_bytes), len(after_bytes)) - prefix)
    windows = []
    for tree, data in ((before_tree, before_bytes), (after_tree, after_bytes)):
        low, high = prefix, len(data) - suffix
        children = [] if tree is None else list(tree.root_node.children)
        # The nodes the change overlaps, and the one on each side of it: an edit
        # that grows a node (a line added at the end of a function) leaves the
        # other text's copy of that node just outside the change.
        touched = [i for i, n in enumerate(children) if n.end_byte >= low and n.start_byte <= high]
        before_change = [i for i, n in enumerate(children) if n.end_byte <= low]
        after_change = [i for i, n in enumerate(children) if n.start_byte >= high]
        picked = set(touched) | set(before_change[-1:]) | set(after_change[:1])
        nodes = [children[i] for i in sorted(picked)]
        start = min([low, *(n.start_byte for n in nodes)])
        end = max([high, *(n.end_byte for n in nodes)])
        start = data.rfind(b"\n", 0, start) + 1  # whole lines: columns stay what they are in the text
        newline = data.find(b"\n", end)
        end = len(data) if newline < 0 else newline + 1
        if len(data) > 4096 and end - start > len(data) // 2:
            return None  # most of the text: parsing the whole of it costs the same
        windows.append(_Window(data[start:end].decode("utf-8"), data.count(b"\n", 0, start),
                               len(data[:start].decode("utf-8"))))
    return windows[0], windows[1]


def _added_in_windows(rule_set: RuleSet, rules: list[Rule], name: str, windows: tuple[_Window, _Window],
                      path: str | None) -> list[Finding]:
    """added_findings on the edited top-level nodes alone: what lies outside the
    windows is the same text on both sides, and (every rule being local to a
    top-level node) holds the same findings on both."""
    before, after = windows
    found = _sorted(_shifted(f, after) for f in _run_on(rules, _parse(after.text, name), None, after.text))
    if not found:
        return []
    flat_before = _normalised(before.text)
    maybe_there = {f.rule_id for f in found if _key(f)[1] in flat_before}
    earlier_rules = [r for r in _applicable(rule_set, name, before.text, path) if r.id in maybe_there]
    earlier = _run_on(earlier_rules, _parse(before.text, name), None, before.text) \
        if earlier_rules and before.text else []
    return _not_in(found, earlier)


def _not_in(found: list[Finding], earlier: Iterable[Finding]) -> list[Finding]:
    """``found`` less what ``earlier`` already had, as multisets of (rule id,
    normalised match text): a finding that moved is not new, a second copy is."""
    remaining = Counter(_key(f) for f in earlier)
    added = []
    for finding in found:
        key = _key(finding)
        if remaining[key] > 0:
            remaining[key] -= 1
        else:
            added.append(finding)
    return added


def _shifted(finding: Finding, window: _Window) -> Finding:
    """A finding in a window, placed in the whole text (windows start at a line's start)."""
    return replace(finding, start_line=finding.start_line + window.line, end_line=finding.end_line + window.line,
                   start_index=finding.start_index + window.index, end_index=finding.end_index + window.index)


_MAX_CHANGED_NODES = 64  # more than this: the whole tree, once per rule, is cheaper than node by node


def _run_on(rules: Sequence[Rule], root: SgNode, nodes: list[SgNode] | None, text: str) -> list[Finding]:
    """The findings of ``rules`` in ``nodes`` (None: the whole tree); sibling rules always on the whole tree."""
    found: list[Finding] = []
    for rule in rules:
        if nodes is None or not rule.local:
            found.extend(_run(rule, root, text))
        else:
            for node in nodes:
                found.extend(_run(rule, node, text))
    return found


def _changed_top_level(
    before_root: SgNode, before: str, after_root: SgNode, after: str
) -> tuple[list[SgNode], list[SgNode]] | None:
    """The top-level nodes of each text that have no same node in the other, or None if
    there are too many to be worth it.

    A node wholly before the edited span matches a node of the other text with the same
    kind and offsets; one wholly after it, with the offsets shifted by the change in
    length. Comparing parsed nodes, not only offsets, keeps what a re-parse changed
    outside the span (an edit that closes a string turns the rest of the file into code).
    """
    prefix = common_prefix(before, after)
    suffix = common_suffix(before, after, min(len(before), len(after)) - prefix)
    delta = len(after) - len(before)
    tail = len(before) - suffix
    after_nodes = [(node, node.kind(), node.range()) for node in after_root.children()]
    after_keys = {(kind, span.start.index, span.end.index) for _, kind, span in after_nodes}
    matched: set[tuple[str, int, int]] = set()
    changed_before = []
    for node in before_root.children():
        kind, span = node.kind(), node.range()
        start, end = span.start.index, span.end.index
        if end <= prefix:
            key: tuple[str, int, int] | None = (kind, start, end)
        elif start >= tail:
            key = (kind, start + delta, end + delta)
        else:
            key = None
        if key is not None and key in after_keys:
            matched.add(key)
        else:
            changed_before.append(node)
    changed_after = [
        node for node, kind, span in after_nodes if (kind, span.start.index, span.end.index) not in matched
    ]
    if max(len(changed_before), len(changed_after)) > _MAX_CHANGED_NODES:
        return None
    return changed_before, changed_after


def _sorted(findings: Iterable[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (f.start_index, f.end_index, f.rule_id))


_SPACE_BEFORE_PUNCTUATION = re.compile(r" (?=[^\w ])")
_SPACE_AFTER_PUNCTUATION = re.compile(r"(?<=[^\w ]) ")


def _normalised(text: str) -> str:
    """Whitespace runs made one space, and none around punctuation: ``os.system( cmd )``
    is ``os.system(cmd)`` re-indented or reformatted. Local, so the normalised text of a
    match is a substring of the normalised text it was found in."""
    return _SPACE_AFTER_PUNCTUATION.sub("", _SPACE_BEFORE_PUNCTUATION.sub("", " ".join(text.split())))


def _key(finding: Finding) -> tuple[str, str]:
    return finding.rule_id, _normalised(finding.text)


def _applicable(rule_set: RuleSet, language: str, text: str, path: str | None) -> list[Rule]:
    return [
        rule
        for rule in rule_set.for_language(language)
        if all(word in text for word in rule.words) and (path is None or _path_applies(rule, path))
    ]


def _path_applies(rule: Rule, path: str) -> bool:
    path = path.replace("\\", "/").lstrip("/")
    if rule.files and not _globs(rule.files).match_file(path):
        return False
    return not (rule.ignores and _globs(rule.ignores).match_file(path))


@lru_cache(maxsize=256)
def _globs(patterns: tuple[str, ...]) -> Any:
    import pathspec

    return pathspec.GitIgnoreSpec.from_lines(patterns)


# The last few parses, by language and text.
_ROOTS: OrderedDict[tuple[str, str], SgNode] = OrderedDict()
_ROOTS_KEPT = 4
_ROOTS_LOCK = threading.Lock()


def _parse(text: str, language: str) -> SgNode:
    from ast_grep_py import SgRoot

    key = (language, text)
    with _ROOTS_LOCK:
        root = _ROOTS.get(key)
        if root is not None:
            _ROOTS.move_to_end(key)
            return root
    root = SgRoot(text, language).root()
    with _ROOTS_LOCK:
        _ROOTS[key] = root
        while len(_ROOTS) > _ROOTS_KEPT:
            _ROOTS.popitem(last=False)
    let_others_run()
    return root


def let_others_run() -> None:
    """Hand the interpreter lock over, if another thread waits for it (the event
    loop, while a check runs in a worker thread). ast-grep's parse holds the lock
    from start to end (some 7 ms for 2,000 lines), and a check makes two in a row
    (the answer's text, then the document's): without this, a waiting thread may
    only get its turn after the second (bench/checks.py measures the stalls)."""
    time.sleep(0)


def _run(rule: Rule, root: SgNode, text: str) -> list[Finding]:
    try:
        matches = root.find_all(config=cast("Config", rule.core))
    except Exception:  # compiled once at load; a rule that still fails finds nothing
        return []
    found = []
    for match in matches:
        span = match.range()
        found.append(
            Finding(
                rule_id=rule.id,
                severity=rule.severity,
                message=_render(rule.message, match, text),
                note=rule.note,
                start_line=span.start.line,
                start_column=span.start.column,
                end_line=span.end.line,
                end_column=span.end.column,
                text=match.text(),
                fix=_render(rule.fix, match, text) if rule.fix is not None else None,
                origin=rule.origin,
                url=rule.url,
                start_index=span.start.index,
                end_index=span.end.index,
            )
        )
    return found


_TEMPLATE = re.compile(r"\$\$\$([A-Z_][A-Z0-9_]*)|\$([A-Z_][A-Z0-9_]*)")


def _render(template: str, match: SgNode, text: str) -> str:
    """``template`` with ``$VAR`` (one node, or a transform's result) and ``$$$VAR`` (the source
    from the first to the last node) taken from ``match``; unknown ones stay as written."""

    def substitute(mo: re.Match[str]) -> str:
        if mo.group(1):
            nodes = match.get_multiple_matches(mo.group(1))
            return text[nodes[0].range().start.index : nodes[-1].range().end.index] if nodes else ""
        node = match.get_match(mo.group(2))
        if node is not None:
            return node.text()
        transformed = match.get_transformed(mo.group(2))
        return transformed if transformed is not None else mo.group(0)

    return _TEMPLATE.sub(substitute, template)
