"""The request context: files are checked when they are read, not only when the policy loaded."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import pytest

from assistant_router.engine.policies import StaticPolicies
from assistant_router.engine.request import (
    MAX_INSTRUCTIONS_BYTES,
    Document,
    build_request,
    real_path_inside,
)
from assistant_router.engine.results import Refused
from assistant_router.engine.text import Span
from assistant_router.routing.policy import build_policy, builtin_layer
from assistant_router.routing.tasks import Task


def policies(root: Path, instructions: Path | None = None) -> StaticPolicies:
    policy, _ = build_policy([builtin_layer()])
    assert policy is not None
    return StaticPolicies(root, replace(policy, instructions=instructions))


def document(root: Path | None, relative: str | None = "a.py", **values) -> Document:
    return Document("file:///w/a.py", "x = 1\n", "python", root, relative, **values)


def test_a_document_outside_every_folder_is_sent_only_when_open(tmp_path):
    with pytest.raises(Refused, match="outside the workspace folders and not open in the editor"):
        build_request(Task.EXPLAIN, document(None, None), Span.of(0, 0, 1, 0), policies(tmp_path))
    opened = build_request(Task.EXPLAIN, document(None, None, open=True), Span.of(0, 0, 1, 0), policies(tmp_path))
    assert opened.source.selection == "x = 1\n"


def test_links_are_followed_and_must_stay_inside(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside.txt"
    root.mkdir()
    outside.write_text("x")
    (root / "in.txt").write_text("y")
    (root / "out").symlink_to(outside)
    (root / "loop").symlink_to(root / "loop")

    assert real_path_inside(root / "in.txt", root) == (root / "in.txt").resolve()
    assert real_path_inside(root / "out", root) is None
    assert real_path_inside(root / "loop", root) is None
    assert real_path_inside(root / "missing", root) is None


@pytest.mark.parametrize(
    ("content", "sent", "logged"),
    [
        (b"Prefer small functions.\n", "Prefer small functions.\n", None),
        (b"x" * (MAX_INSTRUCTIONS_BYTES + 1), None, "is over 64 kB; it was not sent"),
        (b"caf\xe9\n", None, "is not UTF-8 text; it was not sent"),
    ],
)
def test_the_instructions_file_is_read_with_limits(tmp_path, caplog, content, sent, logged):
    (tmp_path / "AGENTS.md").write_bytes(content)
    with caplog.at_level(logging.WARNING):
        request = build_request(Task.REVIEW, document(tmp_path), Span.of(0, 0, 1, 0),
                                policies(tmp_path, tmp_path / "AGENTS.md"))
    assert request.source.instructions == sent
    assert (logged is None and not caplog.records) or logged in caplog.text


def test_an_instructions_file_that_became_a_link_out_is_not_read(tmp_path, caplog):
    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "secret.txt").write_text("TOP SECRET")
    (root / "AGENTS.md").symlink_to(tmp_path / "secret.txt")
    with caplog.at_level(logging.WARNING):
        request = build_request(Task.REVIEW, document(root), Span.of(0, 0, 1, 0), policies(root, root / "AGENTS.md"))
    assert request.source.instructions is None
    assert "now leads outside the project" in caplog.text


def test_a_user_config_may_name_instructions_outside_the_project(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "mine.md").write_text("My habits.\n")
    request = build_request(Task.REVIEW, document(root), Span.of(0, 0, 1, 0), policies(root, tmp_path / "mine.md"))
    assert request.source.instructions == "My habits.\n"
