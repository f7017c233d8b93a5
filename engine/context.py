"""Language-aware context for a selection, with tree-sitter.

For a selection the model is shown, besides the selection itself: the
enclosing function or class, the file's imports, the definitions in the same
file of the names the selection uses, and definitions from other open
documents it references. Languages without a grammar get line windows around
the selection instead.

The grammars come from per-language wheels that ship their parsers
(``tree-sitter-python`` …); nothing is downloaded. They load on first use.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

from assistant_router.engine.limits import MAX_PARSE_CHARS
from assistant_router.engine.text import LineIndex, common_prefix, common_suffix

logger = logging.getLogger(__name__)

MAX_DEFINITION_LINES = 80  # a longer definition is cut, with a note
WINDOW_BEFORE = 30
WINDOW_AFTER = 15


@dataclass(frozen=True)
class Members:
    """How a language names the members of a type: which definitions own
    members (a class, Rust's ``impl``), how a member is reached (node type →
    the fields holding the member's name and what it is reached through),
    what names the enclosing type's own instance, and whether a bare name in
    a method may be a member of its own type (Java's implicit ``this``)."""

    owners: frozenset[str] = frozenset()
    access: tuple[tuple[str, str, str], ...] = ()  # (node type, member field, receiver field)
    selves: frozenset[str] = frozenset()
    implicit: bool = False
    receiver_methods: frozenset[str] = frozenset()  # Go: a method names its type in its receiver


@dataclass(frozen=True)
class Grammar:
    module: str
    function: str
    definitions: frozenset[str]
    imports: frozenset[str]
    identifiers: frozenset[str]
    members: Members = Members()


def _grammar(module: str, definitions: Iterable[str], imports: Iterable[str], identifiers: Iterable[str],
             function: str = "language", members: Members = Members()) -> Grammar:
    return Grammar(module, function, frozenset(definitions), frozenset(imports), frozenset(identifiers), members)


def _members(owners: Iterable[str], access: Iterable[tuple[str, str, str]], selves: Iterable[str] = (),
             implicit: bool = False, receiver_methods: Iterable[str] = ()) -> Members:
    return Members(frozenset(owners), tuple(access), frozenset(selves), implicit, frozenset(receiver_methods))


_JS_MEMBERS = _members(["class_declaration", "abstract_class_declaration", "class", "interface_declaration"],
                       [("member_expression", "property", "object")], ["this"])


_JS_DEFINITIONS = ["function_declaration", "generator_function_declaration", "class_declaration", "method_definition",
                   "lexical_declaration", "variable_declaration"]
_TS_DEFINITIONS = [*_JS_DEFINITIONS, "interface_declaration", "type_alias_declaration", "enum_declaration",
                   "abstract_class_declaration"]
_JS_IDENTIFIERS = ["identifier", "type_identifier", "property_identifier", "shorthand_property_identifier"]

# LSP language id → grammar
GRAMMARS: dict[str, Grammar] = {
    "python": _grammar("tree_sitter_python", ["function_definition", "class_definition"],
                       ["import_statement", "import_from_statement", "future_import_statement"], ["identifier"],
                       members=_members(["class_definition"], [("attribute", "attribute", "object")],
                                        ["self", "cls"])),
    "javascript": _grammar("tree_sitter_javascript", _JS_DEFINITIONS, ["import_statement"], _JS_IDENTIFIERS,
                           members=_JS_MEMBERS),
    "javascriptreact": _grammar("tree_sitter_javascript", _JS_DEFINITIONS, ["import_statement"], _JS_IDENTIFIERS,
                                members=_JS_MEMBERS),
    "typescript": _grammar("tree_sitter_typescript", _TS_DEFINITIONS, ["import_statement"], _JS_IDENTIFIERS,
                           "language_typescript", _JS_MEMBERS),
    "typescriptreact": _grammar("tree_sitter_typescript", _TS_DEFINITIONS, ["import_statement"], _JS_IDENTIFIERS,
                                "language_tsx", _JS_MEMBERS),
    "go": _grammar("tree_sitter_go", ["function_declaration", "method_declaration", "type_declaration",
                                      "const_declaration", "var_declaration"],
                   ["import_declaration", "package_clause"], ["identifier", "type_identifier", "field_identifier"],
                   members=_members([], [("selector_expression", "field", "operand")],
                                    receiver_methods=["method_declaration"])),
    "rust": _grammar("tree_sitter_rust", ["function_item", "struct_item", "enum_item", "impl_item", "trait_item",
                                          "mod_item", "type_item", "const_item", "static_item", "macro_definition"],
                     ["use_declaration", "extern_crate_declaration"],
                     ["identifier", "type_identifier", "field_identifier"],
                     members=_members(["impl_item", "trait_item"], [("field_expression", "field", "value"),
                                                                    ("scoped_identifier", "name", "path")],
                                      ["self", "Self"])),
    "java": _grammar("tree_sitter_java", ["class_declaration", "interface_declaration", "enum_declaration",
                                          "record_declaration", "method_declaration", "constructor_declaration"],
                     ["import_declaration", "package_declaration"], ["identifier", "type_identifier"],
                     members=_members(["class_declaration", "interface_declaration", "enum_declaration",
                                       "record_declaration"],
                                      [("method_invocation", "name", "object"), ("field_access", "field", "object")],
                                      ["this"], implicit=True)),
}


@dataclass(frozen=True)
class Piece:
    """One part of the context, with how much it matters (lower first)."""

    kind: str  # enclosing, imports, definition, reference, before, after
    title: str
    text: str
    priority: int


@dataclass(frozen=True)
class Neighbour:
    """Another open document that may define what the selection uses."""

    path: str
    language: str
    text: str


@cache
def _parser(language: str) -> Any | None:
    grammar = GRAMMARS.get(language)
    if grammar is None:
        return None
    try:
        from tree_sitter import Language, Parser

        module = importlib.import_module(grammar.module)
        return Parser(Language(getattr(module, grammar.function)()))
    except Exception as exc:  # a missing or broken grammar wheel: fall back to line windows
        logger.warning("no tree-sitter grammar for %s (%s); using line windows", language, exc)
        return None


@cache
def _queries(language: str) -> tuple[Any, Any]:
    """Tree-sitter queries (run in C) for a grammar's definitions and identifiers,
    keeping only the node kinds this grammar version knows."""
    from tree_sitter import Query

    grammar = GRAMMARS[language]
    parser = _parser(language)
    assert parser is not None, f"no parser for {language}"
    ts_language = parser.language

    def query(kinds: frozenset[str], capture: str) -> Any:
        known = sorted(k for k in kinds if ts_language.id_for_node_kind(k, True))
        return Query(ts_language, "[" + " ".join(f"({k})" for k in known) + f"] @{capture}")

    return query(grammar.definitions, "definition"), query(grammar.identifiers, "identifier")


def _captures(query: Any, node: Any, capture: str, byte_range: tuple[int, int] | None = None) -> list[Any]:
    from tree_sitter import QueryCursor

    cursor = QueryCursor(query)
    if byte_range is not None:
        cursor.set_byte_range(*byte_range)
    return cursor.captures(node).get(capture, [])


def _parse(language: str, text: str) -> Any | None:
    """The syntax tree, or None without a grammar or for a text too long to
    parse at once (one parse cannot be interrupted)."""
    if len(text) > MAX_PARSE_CHARS:
        return None
    if len(text) > CACHED_CHARS:  # a tree holds some 35 bytes per character: not kept
        return _parse_uncached(language, text)
    return _parse_cached(language, text)


CACHED_CHARS = 100_000


def syntax_tree(language: str, text: str) -> Any | None:
    """The tree-sitter tree of ``text`` (cached like the context's own, or
    parsed by :func:`edited_syntax_tree`), or None without a grammar for
    ``language`` or for a text too long to parse."""
    with _EDITED_LOCK:
        tree = _EDITED.get((language, text))
    return tree if tree is not None else _parse(language, text)


def edited_syntax_tree(language: str, before: str, after: str) -> Any | None:
    """The tree of ``after``, parsed incrementally from the tree of ``before``
    (an edit of it: the answer to a task): tree-sitter reuses what the edit did
    not touch, so a 2,000-line document costs a fraction of a full parse, and
    holds the interpreter lock for that long. Kept for :func:`syntax_tree`."""
    if len(after) > CACHED_CHARS or len(before) > CACHED_CHARS or language not in GRAMMARS:
        return syntax_tree(language, after)
    with _EDITED_LOCK:
        tree = _EDITED.get((language, after))
    if tree is not None:
        return tree
    previous = syntax_tree(language, before) if before else None
    parser = _parser(language)
    if previous is None or parser is None:
        return syntax_tree(language, after)
    old, new = before.encode("utf-8"), after.encode("utf-8")
    start = common_prefix(old, new)
    shared_end = common_suffix(old, new, min(len(old), len(new)) - start)
    old_end, new_end = len(old) - shared_end, len(new) - shared_end
    edited = previous.copy()  # the cached tree stays as it is
    edited.edit(start_byte=start, old_end_byte=old_end, new_end_byte=new_end, start_point=_point(old, start),
                old_end_point=_point(old, old_end), new_end_point=_point(new, new_end))

    def read(offset: int, _point: Any) -> bytes:
        return new[offset : offset + _PARSE_READ_BYTES]

    with _PARSING:
        tree = parser.parse(read, edited)
    with _EDITED_LOCK:
        _EDITED[(language, after)] = tree
        while len(_EDITED) > _EDITED_KEPT:
            _EDITED.popitem(last=False)
    return tree


def _point(data: bytes, offset: int) -> tuple[int, int]:
    line = data.count(b"\n", 0, offset)
    return line, offset - (data.rfind(b"\n", 0, offset) + 1)


# Trees of edited texts (the answers being checked), the last few.
_EDITED: OrderedDict[tuple[str, str], Any] = OrderedDict()
_EDITED_KEPT = 4
_EDITED_LOCK = threading.Lock()


def prepare(language: str, text: str) -> None:
    """Parse ``text`` into the cache that :func:`gather` reads, if it would
    be kept there."""
    if language in GRAMMARS and len(text) <= CACHED_CHARS:
        _parse(language, text)


@lru_cache(maxsize=16)
def _parse_cached(language: str, text: str) -> Any | None:
    return _parse_uncached(language, text)


def _parse_uncached(language: str, text: str) -> Any | None:
    parser = _parser(language)
    if parser is None:
        return None
    source = text.encode("utf-8")
    # Read in pieces: between two reads the interpreter may run another
    # thread (the event loop, while a request is assembled off it). A parser
    # is not reentrant, and two requests may be assembled at once.
    def read(offset: int, _point: Any) -> bytes:
        return source[offset : offset + _PARSE_READ_BYTES]

    with _PARSING:
        return parser.parse(read)


_PARSE_READ_BYTES = 16_384
_PARSING = threading.Lock()


def _name_of(node: Any) -> str | None:
    """The name a definition node introduces."""
    field = node.child_by_field_name("name") or (node.child_by_field_name("type") if node.type == "impl_item" else None)
    if field is not None:
        return str(field.text.decode("utf-8", "replace"))
    for child in node.children:  # go type_declaration > type_spec; const x = … > variable_declarator
        if child.type in {"type_spec", "variable_declarator", "type_alias", "const_spec", "var_spec"}:
            named = child.child_by_field_name("name")
            if named is not None:
                return str(named.text.decode("utf-8", "replace"))
    return None


def _is_definition(node: Any) -> bool:
    """Variable declarations count only at the top of a module (not locals)."""
    if node.type in {"lexical_declaration", "variable_declaration", "const_declaration", "var_declaration"}:
        parent = node.parent
        return parent is not None and parent.type in {"program", "export_statement", "source_file"}
    return True


def _outer(node: Any) -> Any:
    """Include a Python decorator or an export statement with what it wraps."""
    parent = node.parent
    if parent is not None and parent.type in {"decorated_definition", "export_statement"}:
        return parent
    return node


def _start(node: Any) -> Any:
    """The node where a definition's text starts: its decorators, export
    keyword, or (Rust) the attributes just above it."""
    outer = _outer(node)
    while outer.prev_named_sibling is not None and outer.prev_named_sibling.type == "attribute_item":
        outer = outer.prev_named_sibling
    return outer


def _text(source: bytes, node: Any) -> str:
    return source[_start(node).start_byte : node.end_byte].decode("utf-8", "replace")


def _lines_of(node: Any, first_line: int = 0) -> str:
    return f"lines {first_line + _start(node).start_point[0] + 1}-{first_line + node.end_point[0] + 1}"


def _cut(text: str) -> str:
    lines = text.splitlines()
    if len(lines) <= MAX_DEFINITION_LINES:
        return text
    kept = "\n".join(lines[:MAX_DEFINITION_LINES])
    return f"{kept}\n… ({len(lines) - MAX_DEFINITION_LINES} more lines)"


def _byte_offset(lines: LineIndex, line: int, column: int) -> int:
    return len(lines.text[: lines.offset(line, column)].encode("utf-8"))


def _type_name(node: Any) -> str | None:
    """The name of a type as written (``*Store[T]`` → ``Store``)."""
    if node.type in {"type_identifier", "identifier"}:
        return str(node.text.decode("utf-8", "replace"))
    inner = node.child_by_field_name("type")
    if inner is not None:
        return _type_name(inner)
    for child in node.named_children:
        if (name := _type_name(child)) is not None:
            return name
    return None


def _receiver(method: Any) -> tuple[str | None, str | None]:
    """A Go method's receiver: (its variable, its type's name)."""
    receivers = method.child_by_field_name("receiver")
    declaration = next((c for c in receivers.named_children if c.type == "parameter_declaration"), None) \
        if receivers is not None else None
    if declaration is None:
        return None, None
    variable, kind = declaration.child_by_field_name("name"), declaration.child_by_field_name("type")
    return (variable.text.decode("utf-8", "replace") if variable is not None else None,
            _type_name(kind) if kind is not None else None)


def _uses(members: Members, identifiers: Iterable[Any]) -> dict[str, set[str | None]]:
    """Each name the selection uses → what it is reached through: None for a
    bare name, else the receiver's text (``self``, ``order``, ``Order``)."""
    access = {kind: (member, receiver) for kind, member, receiver in members.access}
    uses: dict[str, set[str | None]] = {}
    for node in identifiers:
        receiver: str | None = None
        parent = node.parent
        fields = access.get(parent.type) if parent is not None else None
        if fields is not None:
            member = parent.child_by_field_name(fields[0])
            through = parent.child_by_field_name(fields[1])
            if member is not None and through is not None and member.start_byte == node.start_byte \
                    and member.end_byte == node.end_byte:
                receiver = through.text.decode("utf-8", "replace").strip()
        uses.setdefault(node.text.decode("utf-8", "replace"), set()).add(receiver)
    return uses


class _Resolver:
    """Whether a definition is what a use of its name refers to: a member of
    a type only through that type (``self.save`` in ``Order`` is
    ``Order.save``, not ``Invoice.save``, nor a function ``save``), a bare
    name only what is not a member (except the own type's in Java)."""

    def __init__(self, members: Members, definitions: Sequence[Any], enclosing: Any) -> None:
        self._members = members
        self._owners = {(n.start_byte, n.end_byte): self._owner(n) for n in definitions}
        self._types = {_name_of(n) for n in definitions if n.type in members.owners}
        self._owners_of: dict[str, set[str]] = {}
        for node in definitions:
            owner, name = self._owners[(node.start_byte, node.end_byte)], _name_of(node)
            if owner is not None and name:
                self._owners_of.setdefault(name, set()).add(owner)
        self._here, self._selves = None, set(members.selves)
        if enclosing is not None:
            if enclosing.type in members.owners:
                self._here = self._owner_name(enclosing)  # in a class body, outside its methods
            else:
                self._here = self._owner(enclosing)
            method = enclosing
            while method is not None and method.type not in members.receiver_methods:
                method = method.parent
            if method is not None:  # Go: the receiver's variable is the method's `self`
                variable, _ = _receiver(method)
                self._selves.add(variable or "")

    def _owner_name(self, node: Any) -> str | None:
        if node.type in self._members.receiver_methods:
            return _receiver(node)[1]
        if node.type == "impl_item":
            kind = node.child_by_field_name("type")
            return _type_name(kind) if kind is not None else None
        return _name_of(node)

    def _owner(self, node: Any) -> str | None:
        """The type whose member ``node`` is, or None for a free definition."""
        if node.type in self._members.receiver_methods:
            return self._owner_name(node)
        parent = node.parent
        while parent is not None:
            if parent.type in self._members.owners:
                return self._owner_name(parent)
            parent = parent.parent
        return None

    def used(self, node: Any, name: str, receivers: set[str | None]) -> bool:
        owner = self._owners.get((node.start_byte, node.end_byte))
        for receiver in receivers:
            if receiver is None:
                if owner is None or (self._members.implicit and owner == self._here):
                    return True
            elif receiver in self._selves:
                if owner is not None and owner == self._here:
                    return True
            elif receiver in self._types:
                if owner == receiver:
                    return True
            elif owner is not None and self._owners_of.get(name) == {owner}:
                return True  # reached through a value of unknown type: the one type with that member
        return False


def gather(
    text: str,
    language: str,
    start: tuple[int, int],
    end: tuple[int, int],
    neighbours: Sequence[Neighbour] = (),
    first_line: int = 0,
) -> list[Piece]:
    """Context pieces for the selection [start, end) given as (line, column)
    in code points of ``text``, most important first. ``text`` may be a window
    of a longer document that starts at line ``first_line`` of it (titles
    give the document's line numbers)."""
    tree = _parse(language, text)
    last_line = end[0] - 1 if end[1] == 0 and end[0] > start[0] else end[0]
    if tree is None:
        return _line_windows(text, start[0], last_line, first_line)
    grammar = GRAMMARS[language]
    source = text.encode("utf-8")
    lines = LineIndex(text)
    s, e = _byte_offset(lines, *start), _byte_offset(lines, *end)
    # Containment ignores the blank space a selection starts or ends with
    # (whole-line selections include the indentation and the final newline).
    inner_s = s + len(source[s:e]) - len(source[s:e].lstrip())
    inner_e = max(e - (len(source[s:e]) - len(source[s:e].rstrip())), inner_s)
    root = tree.root_node
    definition_query, identifier_query = _queries(language)
    definitions = sorted(
        (n for n in _captures(definition_query, root, "definition") if _is_definition(n)), key=lambda n: n.start_byte
    )
    pieces: list[Piece] = []

    enclosing = [n for n in definitions if _start(n).start_byte <= inner_s and inner_e <= n.end_byte and not (
        _start(n).start_byte >= inner_s and n.end_byte <= inner_e)]
    enclosing_node = min(enclosing, key=lambda n: n.end_byte - n.start_byte, default=None)
    if enclosing_node is not None:
        name = _name_of(enclosing_node) or enclosing_node.type
        pieces.append(Piece("enclosing", f"enclosing {enclosing_node.type.replace('_', ' ')} `{name}` "
                            f"({_lines_of(enclosing_node, first_line)})", _cut(_text(source, enclosing_node)), 1))

    imports = [n for n in root.children if n.type in grammar.imports or (
        n.type == "export_statement" and any(c.type in grammar.imports for c in n.children))]
    if imports:
        pieces.append(Piece("imports", "imports", "\n".join(n.text.decode("utf-8", "replace") for n in imports), 2))

    uses = _uses(grammar.members, [n for n in _captures(identifier_query, root, "identifier", (s, e))
                                   if s <= n.start_byte and n.end_byte <= e])
    resolve = _Resolver(grammar.members, definitions, enclosing_node)
    covered = (_start(enclosing_node).start_byte, enclosing_node.end_byte) if enclosing_node else (inner_s, inner_e)
    defined_here: set[str] = set()
    for node in definitions:
        name = _name_of(node)
        if name:
            defined_here.add(name)
        begin = _start(node).start_byte
        inside_covered = covered[0] <= begin and node.end_byte <= covered[1]
        overlaps_selection = begin < inner_e and inner_s < node.end_byte
        if name in uses and not inside_covered and not overlaps_selection and resolve.used(node, name, uses[name]):
            pieces.append(Piece("definition", f"definition of `{name}` ({_lines_of(node, first_line)})",
                                _cut(_text(source, node)), 3))

    # Other files' top-level definitions, for names the selection uses bare
    # (``Order(…)``, ``helpers.price`` reaches ``helpers``, not ``price``).
    wanted = {name for name, receivers in uses.items() if None in receivers} - defined_here
    for neighbour in neighbours:
        if not wanted:
            break
        other = _parse(neighbour.language, neighbour.text)
        if other is None:
            continue
        other_grammar = GRAMMARS[neighbour.language]
        for node in other.root_node.children:
            node_def = node
            if node.type in {"decorated_definition", "export_statement"}:
                node_def = next((c for c in node.children if c.type in other_grammar.definitions), node)
            name = _name_of(node_def) if node_def.type in other_grammar.definitions else None
            if name in wanted:
                wanted.discard(name)
                pieces.append(Piece("reference", f"`{name}` from {neighbour.path} ({_lines_of(node)})",
                                    _cut(node.text.decode("utf-8", "replace")), 4))
    return pieces


def _line_windows(text: str, first: int, last: int, first_line: int = 0) -> list[Piece]:
    lines = LineIndex(text)
    pieces = []
    before = text[lines.start(first - WINDOW_BEFORE) : lines.start(first)].splitlines()
    after = text[lines.start(last + 1) : lines.start(last + 1 + WINDOW_AFTER)].splitlines()
    first += first_line
    last += first_line
    if before:
        pieces.append(Piece("before", f"lines {first - len(before) + 1}-{first} (before the selection)",
                            "\n".join(before), 2))
    if after:
        pieces.append(Piece("after", f"lines {last + 2}-{last + 1 + len(after)} (after the selection)",
                            "\n".join(after), 3))
    return pieces
