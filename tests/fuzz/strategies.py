"""Hypothesis strategies the fuzz suites share: JSON values, near-valid variants
of a valid value, and the LSP messages a hostile or broken client may send.

Imported as ``fuzz.strategies`` (``tests`` is on sys.path)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

from assistant_router.routing.tasks import Task

# Every JSON value, small: null, booleans, numbers, strings, arrays, objects.
scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)

Path = tuple[str | int, ...]


def _paths(value: Any, path: Path = ()) -> list[Path]:
    """The path of every entry of a nested dict or list (not the root)."""
    found: list[Path] = []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        found.append((*path, key))
        found.extend(_paths(item, (*path, key)))
    return found


def _apply(value: Any, path: Path, replacement: Any, drop: bool) -> Any:
    """A copy of ``value`` with the entry at ``path`` dropped or replaced."""
    copy = json.loads(json.dumps(value))
    parent = copy
    for key in path[:-1]:
        parent = parent[key]
    if drop:
        del parent[path[-1]]
    else:
        parent[path[-1]] = replacement
    return copy


def near(valid: Any) -> st.SearchStrategy[Any]:
    """``valid`` itself, or with one nested entry removed, retyped, or given an unknown sibling key."""
    paths = _paths(valid)
    variants = [st.just(valid)]
    if paths:
        variants.append(st.tuples(st.sampled_from(paths), json_values, st.booleans())
                        .map(lambda change: _apply(valid, *change)))
    if isinstance(valid, dict):
        variants.append(st.tuples(st.text(min_size=1, max_size=10), json_values)
                        .map(lambda extra: {**valid, extra[0]: extra[1]}))
    return st.one_of(variants)


def near_valid(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return valid.flatmap(near)


# ----------------------------------------------------------------------------- LSP pieces

TASK_NAMES = [task.value for task in Task]
COMMANDS = ["assistant.run", "assistant.preview", "assistant.route", "assistant.ask", "assistant.usage",
            "assistant.tasks"]
positions = st.fixed_dictionaries({"line": st.integers(-2, 40), "character": st.integers(-2, 200)})
ranges = st.fixed_dictionaries({"start": positions, "end": positions})


def uris(real: str) -> st.SearchStrategy[str]:
    """``real`` (a document of the workspace), another file, or not a file at all."""
    return st.sampled_from([real, real + ".missing", "untitled:Untitled-1", "file:///", "file:///etc/shadow", ""]) \
        | st.text(max_size=20)


def task_arguments(uri: str) -> st.SearchStrategy[dict[str, Any]]:
    """A valid argument of assistant.run/preview/route/ask (``ask`` ignores the task)."""
    return st.fixed_dictionaries(
        {"uri": uris(uri), "range": ranges},
        optional={"task": st.sampled_from(TASK_NAMES), "prompt": st.text(max_size=30),
                  "diagnostics": st.lists(st.fixed_dictionaries({"message": st.text(max_size=20),
                                                                 "line": st.integers(-1, 20)}), max_size=2)},
    )
