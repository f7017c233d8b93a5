"""Language-aware context on real code samples, one per grammar, and the fallback."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant_router.engine.context import Neighbour, gather

SAMPLES = Path(__file__).parents[1] / "data" / "context"


def titles(name: str, language: str, start: int, end: int, neighbours=()) -> list[str]:
    text = (SAMPLES / name).read_text()
    return [piece.title for piece in gather(text, language, (start, 0), (end, 0), neighbours)]


@pytest.mark.parametrize(
    ("name", "language", "start", "end", "expected"),
    [
        # A line inside a method: the method encloses it; with_tax and Item are defined elsewhere in the file.
        ("inventory.py", "python", 32, 33, ["enclosing function definition `total` (lines 32-34)", "imports"]),
        ("inventory.py", "python", 33, 34, ["enclosing function definition `total` (lines 32-34)", "imports",
                                            "definition of `with_tax` (lines 24-25)"]),
        ("inventory.py", "python", 18, 21, ["imports", "definition of `Item` (lines 12-16)"]),
        ("cart.ts", "typescript", 20, 21, ["enclosing method definition `add` (lines 18-25)", "imports",
                                           "definition of `clampQuantity` (lines 11-13)"]),
        ("server.go", "go", 24, 25, ["enclosing function declaration `main` (lines 24-29)", "imports",
                                     "definition of `defaultTimeout` (lines 9-9)",
                                     "definition of `Handler` (lines 11-13)",
                                     "definition of `newHandler` (lines 15-17)"]),
        ("stack.rs", "rust", 20, 24, ["enclosing function item `push` (lines 20-26)", "imports",
                                      "definition of `StackError` (lines 9-13)",
                                      "definition of `StackError` (lines 29-33)"]),
        ("Accounts.java", "java", 10, 12, ["enclosing method declaration `deposit` (lines 10-13)", "imports",
                                           "definition of `requirePositive` (lines 15-19)"]),
    ],
    ids=["python-method", "python-uses-function", "python-uses-class", "typescript", "go", "rust", "java"],
)
def test_enclosing_imports_and_definitions(name, language, start, end, expected):
    assert titles(name, language, start, end) == expected


def test_the_enclosing_definition_and_imports_carry_their_text():
    text = (SAMPLES / "inventory.py").read_text()
    enclosing, imports, definition = gather(text, "python", (33, 0), (34, 0))
    assert enclosing.text.startswith("    def total(self) -> float:") or enclosing.text.startswith("def total")
    assert "import json" in imports.text and "from pathlib import Path" in imports.text
    assert definition.text == "def with_tax(amount: float) -> float:\n    return amount * (1 + TAX_RATE)"
    assert [p.priority for p in (enclosing, imports, definition)] == [1, 2, 3]


def test_other_open_documents_contribute_what_the_selection_uses():
    neighbour = Neighbour("format.ts", "typescript", (SAMPLES / "format.ts").read_text())
    found = titles("cart.ts", "typescript", 27, 28, [neighbour])
    assert "`formatPrice` from format.ts (lines 1-3)" in found


def test_a_language_without_a_grammar_gets_line_windows():
    assert titles("notes.rb", "ruby", 6, 8) == ["lines 1-6 (before the selection)", "lines 9-10 (after the selection)"]


def test_decorators_come_with_what_they_decorate():
    text = "import functools\n\n@functools.cache\ndef helper(x):\n    return x\n\n\ndef main():\n    return helper(2)\n"
    (enclosing, imports, definition) = gather(text, "python", (8, 0), (9, 0))
    assert definition.text.startswith("@functools.cache\ndef helper")


def test_long_definitions_are_cut():
    body = "\n".join(f"    x{i} = {i}" for i in range(200))
    text = f"def big():\n{body}\n\n\ndef user():\n    return big()\n"
    (definition,) = gather(text, "python", (203, 0), (205, 0))  # the whole of `user` is selected
    assert definition.title == "definition of `big` (lines 1-201)"
    assert definition.text.endswith("… (121 more lines)")


# Two types with a member of the same name, and (where the language has them)
# a free function of that name too: the selection's use decides which one.
SAME_NAMES = {
    "python": ("""\
def save(x):
    return x


class Order:
    def save(self):
        return 1

    def close(self):
        self.save()
        return save(2)


class Invoice:
    def save(self):
        return 2
""", 9, 11, ["definition of `save` (lines 1-2)", "definition of `save` (lines 6-7)"]),
    "typescript": ("""\
function save(x: number) { return x; }

class Order {
  save() { return 1; }
  close() {
    this.save();
  }
}

class Invoice {
  save() { return 2; }
}
""", 5, 6, ["definition of `save` (lines 4-4)"]),
    "go": ("""\
package shop

type Order struct{}
type Invoice struct{}

func (o *Order) Save() int { return 1 }

func (i *Invoice) Save() int { return 2 }

func (o *Order) Close() int {
\treturn o.Save()
}
""", 10, 11, ["definition of `Save` (lines 6-6)"]),
    "rust": ("""\
struct Order;
struct Invoice;

impl Order {
    fn save(&self) -> i32 { 1 }
    fn close(&self) -> i32 {
        self.save()
    }
}

impl Invoice {
    fn save(&self) -> i32 { 2 }
}
""", 6, 7, ["definition of `save` (lines 5-5)"]),
    "java": ("""\
class Order {
    int save() { return 1; }
    int close() {
        return save();
    }
}

class Invoice {
    int save() { return 2; }
}
""", 3, 4, ["definition of `save` (lines 2-2)"]),
}


@pytest.mark.parametrize("language", sorted(SAME_NAMES))
def test_a_member_is_pulled_through_its_own_type_not_by_name(language):
    text, start, end, expected = SAME_NAMES[language]
    found = [p.title for p in gather(text, language, (start, 0), (end, 0)) if p.kind == "definition"]
    assert found == expected


@pytest.mark.parametrize(
    ("selection", "expected"),
    [
        # Through a value of unknown type: the one class that has `archive`...
        ("order.archive()", ["definition of `archive` (lines 2-3)"]),
        # ...but not `save`, which two classes have.
        ("order.save()", []),
        # Through a class's name: that class's member.
        ("Invoice.save()", ["definition of `Invoice` (lines 9-11)", "definition of `save` (lines 10-11)"]),
        # A bare name is never a method (Python has no implicit self).
        ("save()", []),
    ],
)
def test_members_reached_through_other_values(selection, expected):
    text = ("class Order:\n    def archive(self):\n        return 0\n\n    def save(self):\n        return 1\n\n\n"
            f"class Invoice:\n    def save(self):\n        return 2\n\n\ndef use(order):\n    return {selection}\n")
    found = [p.title for p in gather(text, "python", (14, 0), (15, 0)) if p.kind == "definition"]
    assert found == expected


def test_other_files_contribute_only_what_is_used_bare():
    """``self.format`` is this object's member: another file's free function
    ``format`` is not what it means; ``render()`` is."""
    text = "class View:\n    def show(self):\n        return self.format() + render()\n"
    neighbour = Neighbour("util.py", "python", "def format():\n    return ''\n\n\ndef render():\n    return ''\n")
    found = [p.title for p in gather(text, "python", (2, 0), (3, 0), [neighbour]) if p.kind == "reference"]
    assert found == ["`render` from util.py (lines 5-6)"]
