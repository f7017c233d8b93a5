"""Where a document sits: its workspace root and path relative to it.

Code actions run on every cursor move, so per-URI answers are cached; the
cache is cleared when the workspace folders change.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pygls import uris


@dataclass(frozen=True)
class Location:
    root: Path | None
    relative: str | None  # POSIX path below root, None when outside every root
    path: Path | None  # filesystem path, None for non-file URIs


class WorkspaceRoots:
    def __init__(self) -> None:
        self._roots: tuple[Path, ...] = ()
        self._cache: dict[str, Location] = {}

    @property
    def roots(self) -> tuple[Path, ...]:
        return self._roots

    def set_roots(self, roots: list[Path]) -> None:
        # Longest first, so nested folders win.
        self._roots = tuple(sorted({Path(os.path.abspath(r)) for r in roots}, key=lambda p: len(p.parts), reverse=True))
        self._cache.clear()

    def locate(self, uri: str) -> Location:
        location = self._cache.get(uri)
        if location is None:
            location = self._cache[uri] = self._compute(uri)
        return location

    def _compute(self, uri: str) -> Location:
        fs_path = uris.to_fs_path(uri)
        if fs_path is None:
            return Location(self._roots[-1] if self._roots else None, None, None)
        path = Path(os.path.abspath(fs_path))
        for root in self._roots:
            if path.is_relative_to(root):
                return Location(root, path.relative_to(root).as_posix(), path)
        return Location(None, None, path)
