"""Free-form requests: assistant.ask and assistant.route with a prompt."""

from __future__ import annotations

import pytest


def ask_argument(session, uri, start, end, prompt, **extra):
    return {"uri": uri, "prompt": prompt,
            "range": {"start": {"line": start, "character": 0}, "end": {"line": end, "character": 0}}, **extra}


@pytest.mark.parametrize(
    ("prompt", "task", "status"),
    [
        ("why does this return the wrong area for negative radii?", "debug", "shown"),
        ("write unit tests for this", "test", "applied"),
        ("what does this do", "explain", "shown"),
    ],
)
async def test_a_clear_request_runs_the_classified_task(start_session, prompt, task, status):
    session = await start_session("vscode")
    uri = session.open("geometry.py")

    result = await session.execute("assistant.ask", ask_argument(session, uri, 3, 6, prompt))

    assert result["task"] == task and result["status"] == status
    assert result["classification"]["task"] == task and result["classification"]["chosen_by"] == "classifier"
    assert result["classification"]["confidence"] >= 0.5
    assert session.message_requests == []


async def test_an_unclear_request_asks_the_user_to_choose(start_session):
    session = await start_session("vscode")
    uri = session.open("geometry.py")
    session.choose = lambda titles: "Explain" if "Explain" in titles else titles[-1]

    result = await session.execute("assistant.ask", ask_argument(session, uri, 3, 6, "hmm, this"))

    (request,) = session.message_requests
    assert "what should I do with “hmm, this”?" in request.message
    assert [a.title for a in request.actions] == ["Scaffold", "Test", "Fix", "Refactor", "Debug", "Review", "Explain"]
    assert result["task"] == "explain"
    assert result["classification"]["chosen_by"] == "user"
    assert result["status"] in {"shown", "applied"}


async def test_dismissing_the_choice_runs_nothing(start_session):
    session = await start_session("vscode")
    uri = session.open("geometry.py")
    session.choose = lambda titles: None

    result = await session.execute("assistant.ask", ask_argument(session, uri, 3, 6, "hmm"))

    assert result["status"] == "cancelled" and not session.applied_edits
    assert not session.client.progress_reports


async def test_diagnostics_in_range_make_a_vague_request_a_fix(start_session):
    session = await start_session("vscode")
    uri = session.open("geometry.py")
    diagnostics = [{"message": "undefined name 'math'", "line": 5, "source": "pyflakes"}]

    result = await session.execute(
        "assistant.ask", ask_argument(session, uri, 3, 6, "handle this", diagnostics=diagnostics)
    )

    assert result["task"] == "fix" and result["status"] == "applied"
    assert "diagnostics in the range" in result["classification"]["reason"]


async def test_route_classifies_a_prompt_without_running_anything(start_session):
    session = await start_session("vscode")
    uri = session.open("geometry.py")

    decision = await session.execute(
        "assistant.route", {"uri": uri, "prompt": "is this thread safe?",
                            "range": {"start": {"line": 3, "character": 0}, "end": {"line": 6, "character": 0}}}
    )

    assert decision["task"] == "review" and decision["alias"] == "opus"
    assert decision["classification"]["task"] == "review"
    assert decision["classification"]["likely"][0] == "review"
    assert not session.client.progress_reports and not session.applied_edits


async def test_route_needs_a_task_or_a_prompt(start_session):
    from pygls.exceptions import JsonRpcInvalidParams

    session = await start_session("vscode")
    uri = session.open("geometry.py")
    with pytest.raises(JsonRpcInvalidParams, match="give a task, or a prompt to classify"):
        await session.execute("assistant.route", {"uri": uri, "range": {"start": {"line": 0, "character": 0},
                                                                       "end": {"line": 1, "character": 0}}})


async def test_ask_at_a_bare_cursor_means_the_line(start_session):
    session = await start_session("vscode")
    uri = session.open("geometry.py")
    argument = ask_argument(session, uri, 5, 5, "what does this do")

    result = await session.execute("assistant.ask", argument)

    assert result["task"] == "explain" and result["status"] == "shown"
    text = open(session.client.shown_documents[0].uri.removeprefix("file://")).read()
    assert "`geometry.py` lines 6-6" in text and "return math.pi * radius ** 2" in text
