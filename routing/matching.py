"""Rule matching: does a rule's ``when`` table apply to a request?"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from assistant_router.routing.tasks import Task

if TYPE_CHECKING:
    import pathspec

    from assistant_router.routing.policy import When


@dataclass(frozen=True)
class RouteRequest:
    """What the router needs to know about one request."""

    task: Task
    path: str | None = None  # POSIX path relative to the workspace root; None if outside it
    language: str | None = None  # LSP language id
    lines: int = 1  # size of the selection in lines


@lru_cache(maxsize=256)
def _compiled(patterns: tuple[str, ...]) -> pathspec.GitIgnoreSpec:
    import pathspec

    return pathspec.GitIgnoreSpec.from_lines(patterns)


def compile_paths(patterns: Sequence[str]) -> pathspec.GitIgnoreSpec:
    """Gitignore-style globs, relative to the workspace root (compiled once)."""
    return _compiled(tuple(patterns))


def matches(when: When, request: RouteRequest) -> bool:
    """True when every condition present in ``when`` holds for ``request``."""
    if when.task is not None and request.task not in when.task:
        return False
    if when.languages is not None and (request.language or "").lower() not in {
        lang.lower() for lang in when.languages
    }:
        return False
    if when.min_lines is not None and request.lines < when.min_lines:
        return False
    if when.max_lines is not None and request.lines > when.max_lines:
        return False
    if when.paths is not None:
        if request.path is None or not compile_paths(when.paths).match_file(request.path):
            return False
    return True
