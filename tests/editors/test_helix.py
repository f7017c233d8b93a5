"""The Helix snippet in editors/helix/languages.toml: valid TOML that starts the
server and adds it to every language it lists, with options the server accepts."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from assistant_router.routing.tasks import task_table
from assistant_router.server.arguments import parse_client_options

SNIPPET = Path(__file__).resolve().parents[2] / "editors" / "helix" / "languages.toml"
SERVER = "assistant-router"


@pytest.fixture(scope="module")
def snippet() -> dict:
    with SNIPPET.open("rb") as file:
        return tomllib.load(file)


def server_names(language: dict) -> list[str]:
    """Helix accepts a server's name or a table {name = ..., only-features/except-features = [...]}."""
    return [entry if isinstance(entry, str) else entry["name"] for entry in language["language-servers"]]


def test_the_language_server_starts_assistant_router_serve(snippet):
    server = snippet["language-server"][SERVER]
    assert server["command"] == "assistant-router"
    assert server["args"] == ["serve"]
    assert set(server) <= {"command", "args", "config", "environment", "timeout", "required-root-patterns"}


def test_its_config_is_initialization_options_the_server_accepts(snippet):
    config = snippet["language-server"][SERVER]["config"]
    assert set(config) <= {"tasks", "status_notifications"}
    options, problem = parse_client_options(config)
    assert problem is None
    assert options.status_notifications is config["status_notifications"]


def test_it_copies_no_task_list_so_every_task_of_the_server_is_offered(snippet):
    config = snippet["language-server"][SERVER]["config"]
    assert "tasks" not in config
    options, _ = parse_client_options(config)
    assert [t.value for t in options.tasks] == [row["name"] for row in task_table()]
    # The commented example, once uncommented, is a list the server accepts as it is.
    example = next(line for line in SNIPPET.read_text().splitlines() if line.startswith("# tasks = "))
    listed = tomllib.loads(example.removeprefix("# "))["tasks"]
    options, problem = parse_client_options({**config, "tasks": listed})
    assert problem is None and [t.value for t in options.tasks] == listed


def test_every_language_lists_the_server_next_to_its_defaults(snippet):
    languages = snippet["language"]
    assert {"python", "javascript", "typescript", "tsx", "go", "rust", "java"} <= {lang["name"] for lang in languages}
    assert len({lang["name"] for lang in languages}) == len(languages), "one entry per language"
    for language in languages:
        names = server_names(language)
        assert SERVER in names, language["name"]
        assert len(names) == len(set(names)), language["name"]
        # A language-servers list replaces Helix's default list: keep the usual servers too.
        assert len(names) > 1, f"{language['name']} would lose its usual language server"
        # Only what is needed to add the server: the rest of Helix's language definition stays as it is.
        assert set(language) == {"name", "language-servers"}, language["name"]
