import pytest

from assistant_router.routing.toml_locations import TomlLocations

SOURCE = '''\
# comment
top = 1
[models.opus]
model = "x"
options = { delay_ms = 5, "chunk_chars" = 4 }

[models."with.dot"]
provider = "mock"
doc = """
[not.a.table]
fake = 1
"""

[[rules]]
when = { task = "review", paths = ["a", "b"] }
use = "codex"

[[rules]]
use = [
  "opus",
]
'''


@pytest.mark.parametrize(
    ("path", "line"),
    [
        (("top",), 2),
        (("models", "opus"), 3),
        (("models", "opus", "model"), 4),
        (("models", "opus", "options", "delay_ms"), 5),
        (("models", "opus", "options", "chunk_chars"), 5),
        (("models", "with.dot", "provider"), 8),
        (("rules", 0, "when", "paths"), 15),
        (("rules", 0, "when", "paths", 1), 15),  # falls back to the longest known prefix
        (("rules", 1, "use"), 19),
        (("rules", 1), 18),
        (("not", "a", "table"), None),  # inside a multi-line string
        (("nowhere",), None),
    ],
)
def test_line_of(path, line):
    assert TomlLocations(SOURCE).line_of(path) == line
