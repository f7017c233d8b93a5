"""Completion and hover in policy files (``.assistant-router.toml`` in a
workspace folder, and the user config).

Cheap by design: the open document's text from the workspace (never the
disk), the schema generated once from the models (``routing.schema``), and a
small scanner of the cursor's TOML context (the table header above it, the
key before ``=``, whether it is inside a string or an inline table). No model
is called; another document gets an empty answer at once.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from lsprotocol import types
from pygls import uris
from pygls.lsp.server import LanguageServer  # runtime: pygls resolves handler annotations

from assistant_router.routing.constants import PROJECT_POLICY_FILENAME

if TYPE_CHECKING:
    from assistant_router.server.app import Services

logger = logging.getLogger(__name__)

TRIGGER_CHARACTERS = ["[", ".", '"', "="]
_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]#]*?)\s*(\]\]?)?\s*(?:#.*)?$")
_KEY_LINE = re.compile(r"""^\s*([A-Za-z0-9_"'.\- ]+?)\s*=""")
_PART = re.compile(r"""[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"?|'[^']*'?""")
# Which values name something the schema cannot list ("*": any alias or task).
_ALIAS_VALUES = (("routes", "*"), ("rules", "use"), ("budget", "downgrade_to"), ("classifier", "second_opinion"))
_PROVIDER_VALUES = (("models", "*", "provider"),)


def _parts(dotted: str) -> tuple[str, ...]:
    return tuple(p.strip("\"'") for p in _PART.findall(dotted))


@dataclass(frozen=True)
class Context:
    """What the cursor is on: a table header being typed, a key, or a value."""

    kind: Literal["header", "key", "value"]
    path: tuple[str, ...]  # header: the complete parts typed; key: the table; value: the key's full path
    partial: str  # the word being typed, up to the cursor
    in_string: bool = False
    array: bool = False  # a [[header]]
    present: frozenset[str] = frozenset()  # keys the table already has (not offered again)


def _table_above(lines: list[str] | tuple[str, ...], line: int) -> tuple[tuple[str, ...], int]:
    """The header the line belongs to, and the line of that header (-1: the top level)."""
    for number in range(line - 1, -1, -1):
        found = _HEADER.match(lines[number])
        if found and found.group(3):
            return _parts(found.group(2)), number
    return (), -1


def _present(lines: list[str] | tuple[str, ...], header: int, line: int) -> frozenset[str]:
    """The first key part of each assignment in the table around ``line``."""
    keys = set()
    for number in range(header + 1, len(lines)):
        text = lines[number]
        if number > line and _HEADER.match(text) and "=" not in text:
            break
        if number != line and (found := _KEY_LINE.match(text)):
            keys.update(_parts(found.group(1))[:1])
    return frozenset(keys)


def scan(lines: list[str] | tuple[str, ...], line: int, character: int) -> Context | None:
    """The TOML context at a position, or None in a comment or past the end."""
    if line >= len(lines):
        return None
    before = lines[line][:character]
    header = _HEADER.match(before)
    if header and "=" not in before:
        if header.group(3):
            return None  # past a complete [header]
        typed = header.group(2)
        complete, _, partial = typed.rpartition(".")
        return Context("header", _parts(complete), partial.strip("\"'"), array=header.group(1) == "[[")
    table, header_line = _table_above(lines, line)
    inline: list[tuple[str, ...]] = []  # keys whose { inline tables } the cursor is in
    key: tuple[str, ...] | None = None
    segment, quote, brackets = "", "", 0
    for char in before:
        if quote:
            segment += char
            if char == quote and not segment.endswith("\\" + quote):
                quote = ""
            continue
        if char == "#":
            return None
        if char in "\"'":
            quote, segment = char, ""
        elif char == "=" and key is None and not brackets:
            key, segment = _parts(segment), ""
        elif char == "{":
            inline.append(key or ())
            key, segment = None, ""
        elif char == "}":
            key, segment = (inline.pop() if inline else None), ""
        elif char in "[]":
            brackets += 1 if char == "[" else -1
            segment = ""
        elif char == "," and not brackets:
            key, segment = None, ""
        else:
            segment += char
    prefix = (*table, *(p for k in inline for p in k))
    if key is not None:
        return Context("value", (*prefix, *key), segment.lstrip(), in_string=bool(quote))
    if quote:
        return None  # a quoted key: nothing useful to offer
    complete, _, partial = segment.strip().rpartition(".")
    present = _present(lines, header_line, line) if not inline and not complete else frozenset()
    return Context("key", (*prefix, *_parts(complete)), partial, present=present)


# --------------------------------------------------------------------------- #
# The answers


def _aliases(services: Services, uri: str, lines: list[str] | tuple[str, ...]) -> list[str]:
    """The document's own aliases, then those of the policy serving now (already in memory)."""
    found: dict[str, None] = {}
    for text in lines:
        header = _HEADER.match(text)
        parts = _parts(header.group(2)) if header and header.group(3) else ()
        if not parts and (key := _KEY_LINE.match(text)):
            parts = _parts(key.group(1))
        if len(parts) >= 2 and parts[0] == "models":
            found[parts[1]] = None
    try:
        location = services.roots.locate(uri)
        root = location.root if location.root is not None else (services.roots.roots or (None,))[0]
        found.update(dict.fromkeys(services.policies.router(root).policy.models))
    except Exception:  # completion goes on without them
        logger.debug("no serving policy to take aliases from", exc_info=True)
    return list(found)


def _value_items(services: Services, uri: str, lines: list[str] | tuple[str, ...],
                 context: Context) -> list[types.CompletionItem]:
    from assistant_router.routing import schema

    path = context.path
    values: list[Any]
    kind = types.CompletionItemKind.Value
    if any(schema.matches(pattern, path) for pattern in _ALIAS_VALUES):
        values, detail, kind = _aliases(services, uri, lines), "model alias", types.CompletionItemKind.Reference
    elif any(schema.matches(pattern, path) for pattern in _PROVIDER_VALUES):
        values, detail, kind = services.registry.names(), "provider", types.CompletionItemKind.Module
    elif (node := schema.node_at(context.path)) is not None:
        values, detail = schema.choices(node), context.path[-1]
    else:
        return []
    items = []
    for value in values:
        if isinstance(value, bool):
            if context.in_string:
                continue
            text = label = "true" if value else "false"
        else:
            label = str(value)
            text = label if context.in_string else f'"{label}"'
        items.append(types.CompletionItem(label, kind=kind, detail=detail, insert_text=text, filter_text=label))
    return items


def _name_items(services: Services, uri: str, lines: list[str] | tuple[str, ...],
                context: Context) -> list[types.CompletionItem]:
    """The keys the table at the cursor takes; in a [header], its tables (either may lead to a deeper one)."""
    from assistant_router.routing import schema

    node = schema.node_at(context.path)
    if node is None:
        return []
    header = context.kind == "header"
    items = []
    for name, child in schema.keys_of(node).items():
        table = schema.is_table(child) or schema.is_array_of_tables(child)
        if name in context.present or (header and not table):
            continue
        items.append(types.CompletionItem(
            name, kind=types.CompletionItemKind.Module if table else types.CompletionItemKind.Property,
            detail=schema.type_text(child), documentation=_documentation(context.path, name, child),
            insert_text=name if table or header else f"{name} = "))
    if header and context.path == ("models",):  # [models.<alias>]
        items += [types.CompletionItem(alias, kind=types.CompletionItemKind.Reference, detail="model alias")
                  for alias in _aliases(services, uri, lines)]
    return items


def _documentation(path: tuple[str, ...], name: str, node: dict[str, Any]) -> types.MarkupContent:
    from assistant_router.routing import schema

    shown = ".".join((*path, name))
    text = f"**`{shown}`**: {schema.type_text(node)}"
    if "default" in node:
        default = node["default"]
        text += f" · default `{str(default).lower() if isinstance(default, bool) else default}`"
    if node.get("description"):
        text += f"\n\n{node['description']}"
    return types.MarkupContent(types.MarkupKind.Markdown, text)


def _hover_path(lines: list[str] | tuple[str, ...], line: int, character: int) -> tuple[str, ...] | None:
    """The key path of the key or header word under the cursor."""
    text = lines[line] if line < len(lines) else ""
    start = character
    while start > 0 and (text[start - 1].isalnum() or text[start - 1] in "_-"):
        start -= 1
    end = character
    while end < len(text) and (text[end].isalnum() or text[end] in "_-"):
        end += 1
    if end == start:
        return None
    context = scan(lines, line, end)
    if context is None or context.kind == "value":
        return None
    return (*context.path, context.partial)


def _policy_role(services: Services, uri: str) -> Literal["project", "user"] | None:
    """Whether ``uri`` is a project policy (in a workspace folder) or the user config."""
    user_config = services.policies.user_config
    if not uri.endswith((PROJECT_POLICY_FILENAME, user_config.name)):  # most documents stop here
        return None
    fs_path = uris.to_fs_path(uri)
    if fs_path is None:
        return None
    path = Path(fs_path)
    if path == user_config:
        return "user"
    if path.name == PROJECT_POLICY_FILENAME and path.parent in services.roots.roots:
        return "project"
    return None


def setup(server: LanguageServer, services: Services) -> None:
    def policy_lines(uri: str) -> list[str] | tuple[str, ...] | None:
        if _policy_role(services, uri) is None:
            return None
        document = server.workspace.text_documents.get(uri)  # open documents only: never the disk
        return document.lines if document is not None else None

    @server.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=TRIGGER_CHARACTERS))
    def completion(ls: LanguageServer, params: types.CompletionParams) -> list[types.CompletionItem]:
        uri, position = params.text_document.uri, params.position
        lines = policy_lines(uri)
        if lines is None:
            return []
        context = scan(lines, position.line, position.character)
        if context is None:
            return []
        answer = _value_items if context.kind == "value" else _name_items
        return answer(services, uri, lines, context)

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    def hover(ls: LanguageServer, params: types.HoverParams) -> types.Hover | None:
        from assistant_router.routing import schema

        lines = policy_lines(params.text_document.uri)
        if lines is None:
            return None
        path = _hover_path(lines, params.position.line, params.position.character)
        node = schema.node_at(path) if path else None
        if path is None or node is None:
            return None
        return types.Hover(_documentation(path[:-1], path[-1], node))
