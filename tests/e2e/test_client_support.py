"""What the editor clients rely on: assistant/status and initializationOptions."""

from __future__ import annotations

from lsprotocol import types


async def test_a_status_notification_follows_each_task(start_session):
    session = await start_session("vscode")
    statuses = []
    session.client.feature("assistant/status")(lambda params: statuses.append(params))
    uri = session.open("geometry.py")

    await session.execute("assistant.run", session.task_argument("review", uri, 3, 6))
    await session.wait_for(lambda: statuses)

    (status,) = statuses  # pygls hands an unknown method's params over as a namedtuple-like object
    assert (status.task, status.alias, status.model) == ("review", "opus", "mock")
    assert status.status == "shown" and status.fallback is False
    assert status.usage.output_tokens > 0


async def test_initialization_options_choose_the_offered_tasks(start_session):
    session = await start_session(
        "vscode", init_options={"tasks": ["review", "explain"], "status_notifications": False}
    )
    statuses = []
    session.client.feature("assistant/status")(lambda params: statuses.append(params))
    uri = session.open("geometry.py")

    actions = await session.code_actions(uri, 3, 6)
    await session.execute("assistant.run", session.task_argument("explain", uri, 3, 6))

    assert [a.title.split(" · ")[0] for a in actions] == ["Review selection", "Explain selection"]
    assert statuses == []


async def test_bad_initialization_options_are_reported_not_fatal(start_session):
    session = await start_session("vscode", init_options={"tasks": ["summarise"], "colour": "red"})
    await session.wait_for(lambda: session.messages(types.MessageType.Warning))
    (warning,) = session.messages(types.MessageType.Warning)
    assert warning.startswith("assistant-router: ignored part of initializationOptions")
    assert "colour: unknown option" in warning and "tasks[1]: 'summarise' is not a task" in warning
    uri = session.open("geometry.py")
    assert len(await session.code_actions(uri, 3, 6)) == 6  # no valid task named: every task


async def test_options_from_a_newer_client_keep_what_this_server_knows(start_session):
    session = await start_session(
        "vscode", init_options={"tasks": ["review", "summarise"], "status_notifications": False, "inline": True}
    )
    await session.wait_for(lambda: session.messages(types.MessageType.Warning))
    (warning,) = session.messages(types.MessageType.Warning)
    assert "inline: unknown option" in warning and "'summarise' is not a task" in warning
    uri = session.open("geometry.py")
    assert [a.title.split(" · ")[0] for a in await session.code_actions(uri, 3, 6)] == ["Review selection"]
