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

from collections import Counter
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

# The detector lives in secrets.py (the gitleaks rules and the structure of
# config files); it loads on the first redaction, never at server start.
_PLACEHOLDER = "REDACTED_SECRET_{}"
_MAX_OCCURRENCES = 20  # where a piece is found in its document, at most


def is_env_like(path: str | None) -> bool:
    from assistant_router.engine.secrets import is_env_like as env_like

    return env_like(path)


@dataclass
class Redactions:
    """The secrets taken out of what was sent, by placeholder.

    ``learn()`` scans whole documents first, so a piece cut from one (the
    selection, a context window, a neighbour's definition) is redacted by
    what the whole document holds: half a PEM block is still a private key.
    """

    originals: dict[str, str] = field(default_factory=dict)
    kinds: Counter[str] = field(default_factory=Counter)
    _documents: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list, repr=False)
    _known: dict[str, str] = field(default_factory=dict, repr=False)  # secret → kind, from learned documents

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

    def learn(self, document: str, path: str | None = None) -> None:
        """Find the secrets of a whole document that pieces of it will be cut from."""
        from assistant_router.engine.secrets import find_secrets

        found = find_secrets(document, path or "")
        self._documents.append((document, found))  # also with none: its pieces need no scan of their own
        if found:
            for f in found:
                value = document[f.start:f.end]
                self._known.setdefault(value, f.kind)

    def redact(self, text: str, *, env_like: bool = False, path: str | None = None) -> str:
        from assistant_router.engine.secrets import Found, find_secrets, merge

        spans: list[Found] = []
        cut_from_learned = False
        for document, found in self._documents:
            # Where this text was cut from a learned document, what overlaps
            # a secret there is secret here, however the cut falls.
            offset, seen = document.find(text) if len(text) >= 8 else -1, 0
            cut_from_learned = cut_from_learned or offset >= 0
            while offset >= 0 and seen < _MAX_OCCURRENCES:
                end = offset + len(text)
                spans += [Found(max(f.start, offset) - offset, min(f.end, end) - offset, f.kind)
                          for f in found if f.start < end and offset < f.end]
                offset, seen = document.find(text, offset + 1), seen + 1
        if env_like or not cut_from_learned:
            # A piece of a learned document was scanned with the whole of it
            # (and its surroundings), which decides better than the piece alone.
            spans += find_secrets(text, path or "", True if env_like else None)
        for value, kind in self._known.items():
            # Elsewhere (a piece cut with a note, a pasted prompt): the value,
            # or any long line of a multi-line one.
            for part in {value, *(line.strip() for line in value.splitlines() if len(line.strip()) >= 16)}:
                start = text.find(part)
                while start >= 0:
                    spans.append(Found(start, start + len(part), kind))
                    start = text.find(part, start + len(part))
        pieces, last = [], 0
        for f in merge(spans):
            secret = text[f.start:f.end]
            if not secret.strip() or secret.startswith("REDACTED_SECRET_"):
                continue
            # Keep the line count, so line numbers in the answer still match the document.
            pieces += [text[last:f.start], self._placeholder(secret, f.kind) + "\n" * secret.count("\n")]
            last = f.end
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
