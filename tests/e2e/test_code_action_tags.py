"""Every AI code action carries CodeActionTag.LLMGenerated (LSP 3.18) for a
client that declares ``textDocument.codeAction.tagSupport`` with it, and no
tags for one that does not: the task actions and the review's suggested fixes."""

from __future__ import annotations

import attrs
import pytest
from lsprotocol import types
from pytest_lsp import client_capabilities

AI = [types.CodeActionTag.LlmGenerated]


def with_tag_support(value_set: list[types.CodeActionTag]) -> types.ClientCapabilities:
    caps = client_capabilities("visual-studio-code")
    code_action = attrs.evolve(caps.text_document.code_action, tag_support=types.CodeActionTagOptions(value_set))
    return attrs.evolve(caps, text_document=attrs.evolve(caps.text_document, code_action=code_action))


async def task_and_fix_actions(session) -> tuple[list[types.CodeAction], list[types.CodeAction]]:
    """The task actions on a selection, and the actions on the line of the
    mock review's finding that comes with a replacement."""
    uri = session.open("geometry.py")
    tasks = await session.code_actions(uri, 3, 6)
    assert (await session.execute("assistant.run", session.task_argument("review", uri, 3, 6)))["fixes"] == 1
    todo = next(d for d in session.client.diagnostics[uri] if d.message.startswith("unresolved TODO"))
    on_finding = await session.code_actions(uri, todo.range.start.line, todo.range.start.line, diagnostics=[todo])
    assert any(a.title.startswith("Apply suggested fix") for a in on_finding)
    return tasks, on_finding


async def test_a_client_that_supports_the_tag_gets_it_on_every_action(start_session):
    session = await start_session(capabilities=with_tag_support(AI))

    tasks, on_finding = await task_and_fix_actions(session)

    assert len(tasks) == 6 and len(on_finding) > 1
    assert [list(a.tags or ()) for a in tasks + on_finding] == [AI] * (len(tasks) + len(on_finding))


@pytest.mark.parametrize(
    "capabilities",
    [client_capabilities("visual-studio-code"), client_capabilities("neovim"), with_tag_support([])],
    ids=["vscode", "neovim", "tag-support-without-llm-generated"],
)
async def test_a_client_without_the_tag_gets_no_tags(start_session, capabilities):
    session = await start_session(capabilities=capabilities)

    tasks, on_finding = await task_and_fix_actions(session)

    assert tasks and [a.tags for a in tasks + on_finding] == [None] * (len(tasks) + len(on_finding))
