import pytest


@pytest.mark.parametrize("client", ["vscode", "neovim"])
async def test_code_actions_and_run(start_session, client):
    session = await start_session(client)
    uri = session.open("geometry.py")
    actions = await session.code_actions(uri, 3, 5)
    print([a.title for a in actions])
    result = await session.execute("assistant.run", session.task_argument("review", uri, 3, 5))
    print(result)
    result = await session.execute("assistant.run", session.task_argument("refactor", uri, 3, 6))
    print(result)
    print(session.applied_edits)
