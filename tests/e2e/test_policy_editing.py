"""Completion and hover in policy files, through the real server: keys from
the models, task names, aliases, provider names; nothing in other documents."""

from __future__ import annotations

import asyncio
import time

from lsprotocol import types
from support import WAIT

POLICY = """\
[models.local]
provider = "mock"
model = "qwen-coder"

[models.x]

[routes]

[[rules]]
when = { task = "refactor" }
use = "local"
"""


async def complete(session, uri: str, line: int, character: int) -> list[types.CompletionItem]:
    result = await asyncio.wait_for(session.client.text_document_completion_async(types.CompletionParams(
        types.TextDocumentIdentifier(uri), types.Position(line, character))), WAIT)
    items = result.items if isinstance(result, types.CompletionList) else result
    return list(items or [])


async def hover(session, uri: str, line: int, character: int) -> types.Hover | None:
    return await asyncio.wait_for(session.client.text_document_hover_async(types.HoverParams(
        types.TextDocumentIdentifier(uri), types.Position(line, character))), WAIT)


async def open_policy(session, text: str) -> str:
    """The policy as an open, unsaved document: the server reads the editor's text, not the saved file."""
    session.write_policy(POLICY.replace("[models.x]\n", ""))
    return session.open(".assistant-router.toml", "toml", text)


def labels(items: list[types.CompletionItem]) -> list[str]:
    return [item.label for item in items]


async def test_completion_and_hover_are_advertised(start_session):
    session = await start_session("vscode")
    capabilities = session.initialize_result.capabilities
    assert capabilities.completion_provider is not None
    assert set(capabilities.completion_provider.trigger_characters) >= {"[", ".", '"', "="}
    assert capabilities.hover_provider
    assert capabilities.code_action_provider  # the existing features are still there


async def test_keys_of_a_model_alias(start_session):
    session = await start_session("vscode")
    uri = await open_policy(session, POLICY.replace("[models.x]\n", "[models.x]\nretries = 1\nmo\n"))
    items = await complete(session, uri, 6, 2)  # after "mo" below [models.x]
    names = labels(items)
    assert {"provider", "model", "max_output_tokens", "timeouts", "prices", "base_url"} <= set(names)
    assert "retries" not in names  # already set in this table
    assert "routes" not in names and "use" not in names  # keys of other tables
    provider = next(item for item in items if item.label == "provider")
    assert provider.insert_text == "provider = " and "anthropic" in provider.documentation.value


async def test_task_names_under_routes_and_alias_names_as_a_route(start_session):
    session = await start_session("vscode")
    uri = await open_policy(session, POLICY.replace("[routes]\n", '[routes]\nfix = "local"\n\nreview = "\n'))
    tasks = labels(await complete(session, uri, 8, 0))  # the empty line under [routes]
    assert set(tasks) == {"scaffold", "test", "refactor", "debug", "explain", "complete"}  # fix and review are set

    aliases = await complete(session, uri, 9, len('review = "'))
    names = labels(aliases)
    assert {"local", "x", "codex", "opus"} <= set(names)  # this document's and the serving policy's
    assert all(item.insert_text == item.label for item in aliases)  # inside the quotes already
    bare = await complete(session, uri, 13, len("use = "))  # no quote typed: one is inserted
    assert next(i for i in bare if i.label == "local").insert_text == '"local"'


async def test_provider_names_after_provider_and_task_names_in_when(start_session):
    session = await start_session("vscode")
    uri = await open_policy(session, POLICY.replace("[models.x]\n", '[models.x]\nprovider = "\n'))
    providers = labels(await complete(session, uri, 5, len('provider = "')))
    assert {"anthropic", "openai", "mock"} <= set(providers)
    when = labels(await complete(session, uri, 10, len('when = { task = "')))
    assert when == ["scaffold", "test", "fix", "refactor", "debug", "review", "explain", "complete"]


async def test_table_names_in_a_header(start_session):
    session = await start_session("vscode")
    uri = await open_policy(session, POLICY + "\n[\n[models.local.\n[budget.tasks.\n")
    end = POLICY.count("\n")
    assert {"models", "routes", "privacy", "budget", "rules"} <= set(labels(await complete(session, uri, end + 1, 1)))
    assert {"timeouts", "prices"} <= set(labels(await complete(session, uri, end + 2, len("[models.local."))))
    assert "review" in labels(await complete(session, uri, end + 3, len("[budget.tasks.")))


async def test_hover_shows_description_type_and_default(start_session):
    session = await start_session("vscode")
    policy = POLICY.replace("[models.x]\n", "[models.x]\nretries = 3\nbase_url = \"\"\n") + "[models.x.timeouts]\n"
    uri = await open_policy(session, policy)
    shown = await hover(session, uri, 5, 3)  # on "retries"
    assert shown is not None
    text = shown.contents.value
    assert "models.x.retries" in text and "integer" in text and "default `2`" in text
    assert "retryable errors" in text
    trusted = await hover(session, uri, 6, 2)
    assert "User config only" in trusted.contents.value
    assert await hover(session, uri, 5, 10) is None  # on the value
    header = await hover(session, uri, policy.count("\n") - 1, len("[models.x.ti"))  # a table in a header
    assert header is not None
    assert "models.x.timeouts" in header.contents.value and "first_token" in header.contents.value


async def test_the_user_config_gets_completion_too(start_session, user_config):
    session = await start_session("vscode")
    uri = user_config.as_uri()
    session.versions[uri] = 1
    session.client.text_document_did_open(types.DidOpenTextDocumentParams(
        types.TextDocumentItem(uri, "toml", 1, '[budget]\nunknown_price = "\n')))
    assert labels(await complete(session, uri, 1, len('unknown_price = "'))) == ["most_expensive", "refuse"]


async def test_nothing_is_offered_in_other_documents(start_session):
    session = await start_session("vscode")
    uri = session.open("geometry.py")
    assert await complete(session, uri, 0, 0) == []
    assert await hover(session, uri, 0, 1) is None
    other = session.open("legacy/.assistant-router.toml", "toml", "[models.x]\n\n")  # not a workspace folder's
    assert await complete(session, other, 1, 0) == []
    assert await session.code_actions(uri, 3, 6)  # code actions keep working


async def test_a_thousand_line_policy_answers_quickly(start_session):
    session = await start_session("vscode")
    aliases = "".join(f'[models.m{n}]\nprovider = "mock"\nmodel = "m{n}"\nretries = 1\n\n' for n in range(200))
    uri = await open_policy(session, aliases + "[routes]\nreview = \"\n")
    line = aliases.count("\n") + 1
    await complete(session, uri, line, len('review = "'))  # the first request loads the schema
    started = time.perf_counter()
    items = await complete(session, uri, line, len('review = "'))
    hovered = await hover(session, uri, line - 3, 2)
    elapsed = time.perf_counter() - started
    assert {"m0", "m199"} <= set(labels(items)) and hovered is not None
    assert elapsed < 1.0, f"{elapsed:.2f} s for a completion and a hover on a 1,000-line policy"
