"""The JSON Schema of policy files, generated from the models in ``routing.policy``.

One schema serves the project policy and the user config: the loader accepts
the same keys in both and only *warns* about a user-config-only key in a
project file, so the schema rejects exactly what ``assistant-router check``
calls an error (an unknown key, a wrong type) and says in each description
which keys only the user config may set. The shipped file is kept in sync by
``tests/unit/test_schema.py``; regenerate it with ``python -m
assistant_router.routing.schema --write``.
"""

from __future__ import annotations

import copy
import functools
import json
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from assistant_router.routing.policy import TRUSTED_ONLY_KEYS, PolicyFile
from assistant_router.routing.tasks import TASKS, Task

SCHEMA_FILENAME = "assistant-router.schema.json"
REGENERATE = "python -m assistant_router.routing.schema --write"
DIALECT = "https://json-schema.org/draft/2020-12/schema"

_TRUSTED_NOTE = ("User config only: a project file's value is ignored (a warning) unless your user config lists the "
                 "project in trusted_projects.")
_USER_NOTE = "User config only: ignored in a project file (a warning)."
_SWITCH_NOTE = "Only the user config may turn it off: false in a project file is ignored (a warning)."
# What build_policy ignores in a project file; "*" is any alias. Checked by tests/unit/test_schema.py.
USER_CONFIG_NOTES: dict[tuple[str, ...], str] = {
    **{("models", "*", key): _TRUSTED_NOTE for key in TRUSTED_ONLY_KEYS},
    ("ledger_url",): _USER_NOTE,
    ("trusted_projects",): _USER_NOTE,
    ("budget", "unknown_price"): _USER_NOTE,
    ("privacy", "gitignore"): _SWITCH_NOTE,
    ("privacy", "redact_secrets"): _SWITCH_NOTE,
}


class _TomlSchema(GenerateJsonSchema):
    """TOML has no null: a model's None means "left out", so only the value's own type is shown."""

    def nullable_schema(self, schema: core_schema.NullableSchema) -> JsonSchemaValue:
        return self.generate_inner(schema["schema"])

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False  # "Max Output Tokens" says nothing the key does not


def _without_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    return value


def _tidy(node: Any, defs: dict[str, Any], path: tuple[str, ...]) -> None:
    """Drop null defaults, spell out task-keyed tables (so editors complete the
    task names) and add the user-config-only notes, walking ``path`` as TOML keys."""
    if isinstance(node, list):
        for item in node:
            _tidy(item, defs, path)
        return
    if not isinstance(node, dict):
        return
    if "$ref" in node and path:  # each use of a table gets its own copy: notes depend on where it is
        name = node.pop("$ref").rsplit("/", 1)[1]
        if name != "Task":
            node.update({k: v for k, v in copy.deepcopy(defs[name]).items() if k not in node or k == "properties"})
        else:
            node["$ref"] = "#/$defs/Task"
    if isinstance(node.get("description"), str):
        node["description"] = node["description"].replace("``", "`")  # docstrings' reST quotes, as Markdown
    if "default" in node:
        if node["default"] is None:
            del node["default"]
        else:
            node["default"] = _without_none(node["default"])
    if node.get("propertyNames") == {"$ref": "#/$defs/Task"}:
        value = node.pop("additionalProperties")
        del node["propertyNames"]
        node["properties"] = {task.value: {**value, "description": _task_text(path, task)} for task in Task}
        node["additionalProperties"] = False
    for key, child in node.get("properties", {}).items():
        _tidy(child, defs, (*path, key))
        note = next((n for p, n in USER_CONFIG_NOTES.items() if matches(p, (*path, key))), None)
        if note:
            child["description"] = f"{child.get('description', '')} {note}".strip()
    for word in ("additionalProperties", "items"):
        if isinstance(node.get(word), dict):
            _tidy(node[word], defs, (*path, "*"))
    for word in ("anyOf", "allOf"):
        if word in node:
            _tidy(node[word], defs, path)


def matches(pattern: tuple[str, ...], path: tuple[str, ...]) -> bool:
    """Whether a key path fits a pattern whose "*" stands for any one name."""
    return len(pattern) == len(path) and all(p in ("*", q) for p, q in zip(pattern, path, strict=True))


def _task_text(path: tuple[str, ...], task: Task) -> str:
    spec = TASKS[task]
    if path == ("routes",):
        return f"The alias, or ordered chain, for {task.value} ({spec.result})."
    return f"Limits for {task.value}."


@functools.cache
def _generated() -> str:
    raw = PolicyFile.model_json_schema(schema_generator=_TomlSchema)
    defs = raw.pop("$defs")
    _tidy(raw, defs, ())
    schema = {
        "$schema": DIALECT,
        "title": "assistant-router policy",
        "description": "A project's .assistant-router.toml or the user config (assistant-router/config.toml). "
        + str(raw.pop("description", "")),
        **{k: v for k, v in raw.items() if k != "title"},
        "$defs": {"Task": defs["Task"]},
    }
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def policy_schema() -> dict[str, Any]:
    """The schema as the models generate it (a fresh copy; generated once)."""
    result: dict[str, Any] = json.loads(_generated())
    return result


def generated_text() -> str:
    return _generated()


def shipped_path() -> Path:
    """The file in the package (or the clone): what editors point at."""
    return Path(str(resources.files(__package__).joinpath(SCHEMA_FILENAME)))


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m assistant_router.routing.schema",
                                     description="Print, check or write the JSON Schema of policy files.")
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--write", action="store_true", help=f"write {SCHEMA_FILENAME} in the package")
    action.add_argument("--check", action="store_true", help="exit 1 if the shipped file is out of date")
    action.add_argument("--path", action="store_true", help="print where the shipped file is, for editors")
    args = parser.parse_args(argv)
    path = shipped_path()
    if args.path:
        print(path)
    elif args.write:
        path.write_text(generated_text(), encoding="utf-8")
        print(path)
    elif args.check:
        current = path.read_text(encoding="utf-8") if path.is_file() else ""
        if current != generated_text():
            print(f"{path} is out of date; run: {REGENERATE}")
            return 1
    else:
        print(generated_text(), end="")
    return 0


# --------------------------------------------------------------------------- #
# Reading the schema by TOML key path (the editor's completion and hover)

Node = dict[str, Any]


@functools.cache
def _root() -> Node:
    return policy_schema()


def _deref(node: Node) -> Node:
    ref = node.get("$ref")
    return dict(_root()["$defs"][ref.rsplit("/", 1)[1]]) if isinstance(ref, str) else node


def child(node: Node, name: str) -> Node | None:
    """The schema of key ``name`` in the table ``node`` (an array of tables: in its entries)."""
    if isinstance(node.get("items"), dict):
        node = node["items"]
    properties = node.get("properties", {})
    if name in properties:
        found: Node = properties[name]
        return found
    extra = node.get("additionalProperties")
    return extra if isinstance(extra, dict) else None


def node_at(path: tuple[str, ...]) -> Node | None:
    """The schema of the key or table at ``path`` ("models", "codex", "timeouts"), or None if none is allowed."""
    node: Node | None = _root()
    for name in path:
        if node is None:
            return None
        node = child(node, name)
    return node


def keys_of(node: Node) -> dict[str, Node]:
    """The named keys a table (or each entry of an array of tables) takes."""
    if isinstance(node.get("items"), dict):
        node = node["items"]
    properties: dict[str, Node] = node.get("properties", {})
    return properties


def is_table(node: Node) -> bool:
    return node.get("type") == "object"


def is_array_of_tables(node: Node) -> bool:
    items = node.get("items")
    return node.get("type") == "array" and isinstance(items, dict) and is_table(items)


def choices(node: Node) -> list[Any]:
    """The values an enum (or a list of enum values, or a boolean) allows, in order."""
    found: list[Any] = []
    for option in (node, *node.get("anyOf", ()), node.get("items") or {}):
        option = _deref(option)
        if "items" in option and option is not node:
            option = _deref(option["items"])
        if option.get("type") == "boolean":
            found += [True, False]
        found += [value for value in option.get("enum", ()) if value not in found]
    return found


def type_text(node: Node) -> str:
    """``string or array of string``, ``integer``, ``"refuse" | "downgrade"``, ``table``."""
    if values := choices(node):
        return " | ".join(json.dumps(v) for v in values)
    node = _deref(node)
    if "anyOf" in node:
        return " or ".join(type_text(option) for option in node["anyOf"])
    kind = node.get("type")
    if kind == "array":
        return f"array of {type_text(node['items'])}" if isinstance(node.get("items"), dict) else "array"
    if kind == "object":
        return "table"
    return str(kind or "any value")
