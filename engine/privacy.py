"""What may leave the machine: excluded files and secret redaction.

- A file matched by the policy's ``privacy.exclude`` globs, or ignored by git
  (``.gitignore`` files from the workspace root down to the file's folder,
  and ``.git/info/exclude``), is never sent: not as the selection, not as
  context.
- Secrets in what is sent (private keys, cloud and API tokens, passwords in
  assignments and URLs, high-entropy values in ``.env``-like files) are
  replaced by placeholders before sending, counted, and put back if an
  answer returns them.
"""

from __future__ import annotations

import math
import os
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from assistant_router.routing.matching import compile_paths

if TYPE_CHECKING:
    from assistant_router.routing.policy import PrivacySettings


# --------------------------------------------------------------------------- #
# Excluded files


class ExclusionRules:
    """Answers "may this file be sent?" for one workspace root; cheap to ask
    again (gitignore files are re-read only when they change)."""

    def __init__(self, root: Path | None, settings: PrivacySettings, policy_label: str = "the routing policy") -> None:
        self.root = root
        self.settings = settings
        self.policy_label = policy_label
        self._gitignores: dict[Path, tuple[float, object | None]] = {}

    def reason(self, relative: str | None) -> str | None:
        """Why the file at ``relative`` (POSIX, below the root) must not be
        sent, or None. Files outside the workspace are judged by the globs only
        against their name."""
        path = relative if relative is not None else None
        if path is None:
            return None
        # Two lists, matched apart: the project's negations cannot re-include
        # what the user config or the defaults exclude.
        for patterns in (self.settings.exclude, self.settings.project_exclude):
            if patterns and compile_paths(patterns).match_file(path):
                return f"excluded by privacy.exclude in {self.policy_label}"
        parts = PurePosixPath(path).parts
        if ".git" in parts[:-1]:
            return "inside .git"
        if self.settings.gitignore and self.root is not None and self._git_ignored(parts):
            return "ignored by git (.gitignore); set privacy.gitignore = false in your user config to allow it"
        return None

    def _git_ignored(self, parts: tuple[str, ...]) -> bool:
        # As git: a file under an ignored directory is ignored, whatever the
        # patterns say about the file itself.
        return any(self._ignored(parts[:depth], directory=True) for depth in range(1, len(parts))) or self._ignored(
            parts, directory=False
        )

    def _ignored(self, parts: tuple[str, ...], *, directory: bool) -> bool:
        """The last matching pattern decides; deeper .gitignore files come later."""
        assert self.root is not None
        sources = [(self.root / ".git" / "info" / "exclude", 0)]
        sources += [(self.root.joinpath(*parts[:depth]) / ".gitignore", depth) for depth in range(len(parts))]
        ignored = False
        for file, depth in sources:
            spec = self._spec(file)
            if spec is None:
                continue
            result = spec.check_file("/".join(parts[depth:]) + ("/" if directory else ""))
            if result.include is not None:
                ignored = result.include
        return ignored

    def _spec(self, file: Path) -> Any:
        try:
            mtime = file.stat().st_mtime
        except OSError:
            return None
        cached = self._gitignores.get(file)
        if cached is None or cached[0] != mtime:
            import pathspec

            lines = file.read_text(encoding="utf-8", errors="replace").splitlines()
            cached = self._gitignores[file] = (mtime, pathspec.GitIgnoreSpec.from_lines(lines))
        return cached[1]


# --------------------------------------------------------------------------- #
# Secrets

_PATTERNS: list[tuple[str, re.Pattern[str], int]] = [
    # (kind, pattern, the group holding the secret: 0 for the whole match)
    ("private key", re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]+?-----END [A-Z0-9 ]*PRIVATE KEY-----"), 0),
    ("AWS access key", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), 0),
    ("AWS secret key", re.compile(r"(?i)aws_?secret_?access_?key\W{0,4}[:=]\s*['\"]?([A-Za-z0-9/+=]{40})\b"), 1),
    ("GitHub token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{50,})\b"), 0),
    ("Anthropic key", re.compile(r"\bsk-ant-[A-Za-z0-9_-]{20,}"), 0),
    ("OpenAI key", re.compile(r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{32,}"), 0),
    ("Slack token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"), 0),
    ("Google API key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"), 0),
    ("Stripe key", re.compile(r"\b(?:sk|rk)_(?:live|test)_[0-9a-zA-Z]{20,}\b"), 0),
    ("JWT", re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"), 0),
    ("password in a URL", re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s:@'\"]+:([^@\s/'\"]{3,})@"), 1),
    ("password", re.compile(
        r"(?i)(?:password|passwd|pwd|secret|api[_-]?key|access[_-]?token|auth[_-]?token|client[_-]?secret|private[_-]?key)"
        r"[A-Za-z0-9_]*['\"]?\s*(?::=|=|:)\s*(['\"])([^'\"\n]{6,})\1"), 2),
]
_ENV_LINE = re.compile(
    r"^\s*(?:export\s+)?[A-Za-z_][A-Za-z0-9_.]*\s*[=:]\s*['\"]?([^\s'\"#]{16,})['\"]?\s*$", re.MULTILINE
)
_ENV_NAMES = re.compile(r"(^|/)(\.env(\..*)?|.*\.env|\.envrc|.*\.(properties|ini|cfg|conf))$")
_PLACEHOLDER = "REDACTED_SECRET_{}"


def _entropy(value: str) -> float:
    counts = Counter(value)
    return -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())


def is_env_like(path: str | None) -> bool:
    return bool(path and _ENV_NAMES.search(path.replace(os.sep, "/")))


@dataclass
class Redactions:
    """The secrets taken out of what was sent, by placeholder."""

    originals: dict[str, str] = field(default_factory=dict)
    kinds: Counter[str] = field(default_factory=Counter)

    @property
    def count(self) -> int:
        return len(self.originals)

    def _placeholder(self, secret: str, kind: str) -> str:
        for placeholder, original in self.originals.items():
            if original == secret:
                return placeholder
        placeholder = _PLACEHOLDER.format(len(self.originals) + 1)
        self.originals[placeholder] = secret
        self.kinds[kind] += 1
        return placeholder

    def redact(self, text: str, *, env_like: bool = False) -> str:
        for kind, pattern, group in _PATTERNS:
            text = self._replace(text, pattern, group, kind)
        if env_like:
            text = self._replace(text, _ENV_LINE, 1, "high-entropy value", lambda s: _entropy(s) >= 3.5)
        return text

    def _replace(self, text: str, pattern: re.Pattern[str], group: int, kind: str,
                 accept: Callable[[str], bool] = lambda s: True) -> str:
        pieces, last = [], 0
        for match in pattern.finditer(text):
            secret = match.group(group)
            if not secret or secret.startswith("REDACTED_SECRET_") or not accept(secret):
                continue
            start, end = match.span(group)
            # Keep the line count, so line numbers in the answer still match the document.
            pieces += [text[last:start], self._placeholder(secret, kind) + "\n" * secret.count("\n")]
            last = end
        return "".join(pieces) + text[last:] if pieces else text

    def restore(self, text: str) -> str:
        """Put the user's secrets back where an answer kept the placeholders."""
        # Longest placeholders first, so REDACTED_SECRET_1 does not eat part of _12.
        for placeholder in sorted(self.originals, key=len, reverse=True):
            original = self.originals[placeholder]
            text = text.replace(placeholder + "\n" * original.count("\n"), original).replace(placeholder, original)
        return text

    def summary(self) -> dict[str, int]:
        return dict(self.kinds)
