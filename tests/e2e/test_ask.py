"""Free-form requests: assistant.ask and assistant.route with a prompt."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest
from pytest_lsp import client_capabilities
from support import MOCK_USER_CONFIG


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
    """The real model, unsure of "handle this" (on a diagnostic): two or three
    tasks offered, each with its model; the one chosen runs."""
    session = await start_session("vscode")
    uri = session.open("geometry.py")
    session.choose = lambda titles: titles[-1]

    diagnostics = [{"message": "undefined name 'math'", "line": 5, "source": "pyflakes"}]
    result = await session.execute("assistant.ask", ask_argument(session, uri, 3, 6, "handle this",
                                                                 diagnostics=diagnostics))

    (request,) = session.message_requests
    assert "what should I do with “handle this”?" in request.message
    titles = [a.title for a in request.actions]
    assert 2 <= len(titles) <= 3 and all(" · " in t and t.endswith(")") for t in titles), titles
    assert result["task"] == titles[-1].split(" · ")[0].lower()
    assert result["classification"]["chosen_by"] == "user"
    assert result["status"] in {"shown", "applied"}


async def test_dismissing_the_choice_runs_nothing(start_session):
    session = await start_session("vscode")
    uri = session.open("geometry.py")
    session.choose = lambda titles: None
    diagnostics = [{"message": "undefined name 'math'", "line": 5, "source": "pyflakes"}]

    result = await session.execute("assistant.ask", ask_argument(session, uri, 3, 6, "handle this",
                                                                 diagnostics=diagnostics))

    assert result["status"] == "cancelled" and not session.applied_edits
    assert not session.client.progress_reports


async def test_diagnostics_in_range_make_a_vague_request_a_fix(start_session):
    session = await start_session("vscode")
    uri = session.open("geometry.py")
    diagnostics = [{"message": "undefined name 'math'", "line": 5, "source": "pyflakes"}]

    result = await session.execute(
        "assistant.ask", ask_argument(session, uri, 3, 6, "this", diagnostics=diagnostics)
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


# ------------------------------------------------------------------------ when the classifier is unsure
# The server runs with tests/e2e/fixed_classifier.py: requests starting "unsure:" (debug, explain, review at
# 0.3) or "sure:" (explain at 0.9) get a fixed classification whose reason names the facts it was given.

FIXED = [sys.executable, str(Path(__file__).with_name("fixed_classifier.py")), "serve"]
JUDGE = """
[models.judge]
provider = "mock"
model = "judge-1"
options = {{ reply = '{reply}', first_token_ms = {delay_ms} }}
prices = {{ input = 1.0, output = 2.0 }}

[classifier]
second_opinion = "judge"
second_opinion_timeout_s = {timeout}
"""


def ledger(tmp_path: Path):
    from assistant_router.engine.usage.ledger import open_ledger

    return open_ledger(f"sqlite://{tmp_path / 'data' / 'assistant-router' / 'ledger.sqlite3'}")


def with_judge(user_config: Path, reply: str = '{"task": "review", "confidence": 0.8}', delay_ms: int = 0,
               timeout: float = 3, extra: str = "") -> None:
    user_config.write_text(MOCK_USER_CONFIG + JUDGE.format(reply=reply, delay_ms=delay_ms, timeout=timeout) + extra)


async def test_the_editor_facts_reach_the_classifier(start_session):
    session = await start_session("vscode", command=FIXED)
    uri = session.open("geometry.py", language="python")
    diagnostics = [{"message": "undefined name 'math'", "line": 4, "source": "pyflakes"}]

    result = await session.execute("assistant.ask",
                                   ask_argument(session, uri, 3, 6, "sure: go", diagnostics=diagnostics))
    routed = await session.execute("assistant.route", ask_argument(session, uri, 3, 3, "sure: go"))

    assert result["classification"]["reason"] == (
        "fixed: has_diagnostics=True; has_selection=True; language=python")
    assert routed["classification"]["reason"] == (
        "fixed: has_diagnostics=False; has_selection=False; language=python")


async def test_the_offered_titles_name_the_models_and_the_choice_is_recorded_without_the_text(start_session,
                                                                                             tmp_path):
    session = await start_session("vscode", command=FIXED)
    uri = session.open("geometry.py")
    session.choose = lambda titles: titles[1]
    prompt = "unsure: the secret plan for area()"

    result = await session.execute("assistant.ask", ask_argument(session, uri, 3, 6, prompt))

    (request,) = session.message_requests
    assert [a.title for a in request.actions] == [
        "Debug · opus (mock)", "Explain · opus (mock)", "Review · opus (mock)"]
    assert result["task"] == "explain" and result["classification"]["chosen_by"] == "user"
    (choice,) = ledger(tmp_path).choices()
    assert choice.request_sha256 == hashlib.sha256(prompt.encode()).hexdigest()
    assert (choice.offered, choice.chosen, choice.top_task) == (("debug", "explain", "review"), "explain", "debug")
    assert choice.confidence == pytest.approx(0.3) and choice.project == str(session.root)
    raw = (tmp_path / "data" / "assistant-router" / "ledger.sqlite3").read_bytes()
    assert b"secret plan" not in raw


async def test_dismissing_the_question_records_no_choice(start_session, tmp_path):
    session = await start_session("vscode", command=FIXED)
    uri = session.open("geometry.py")
    session.choose = lambda titles: None

    result = await session.execute("assistant.ask", ask_argument(session, uri, 3, 6, "unsure: hmm"))

    assert result["status"] == "cancelled" and not session.applied_edits
    (choice,) = ledger(tmp_path).choices()
    assert choice.chosen is None and choice.offered == ("debug", "explain", "review")


async def test_a_client_without_show_message_request_gets_the_candidates(start_session):
    capabilities = client_capabilities("visual-studio-code")
    capabilities.window.show_message = None
    session = await start_session(capabilities=capabilities, command=FIXED)
    uri = session.open("geometry.py")

    result = await session.execute("assistant.ask", ask_argument(session, uri, 3, 6, "unsure: hmm"))

    assert result["status"] == "needs_choice" and session.message_requests == []
    assert [(c["task"], c["title"], c["alias"], c["model"]) for c in result["candidates"]] == [
        ("debug", "Debug · opus (mock)", "opus", "mock"),
        ("explain", "Explain · opus (mock)", "opus", "mock"),
        ("review", "Review · opus (mock)", "opus", "mock")]
    assert result["classification"]["likely"] == ["debug", "explain", "review"]
    assert not session.client.progress_reports


async def test_the_clients_answer_to_needs_choice_runs_that_task_and_is_recorded(start_session, tmp_path):
    """The client asked the user (Emacs: completing-read) and sends the answer
    back as assistant.ask with "task": the choice is in the ledger as when the
    server asked, and nothing is classified twice."""
    capabilities = client_capabilities("visual-studio-code")
    capabilities.window.show_message = None
    session = await start_session(capabilities=capabilities, command=FIXED)
    uri = session.open("geometry.py")

    result = await session.execute("assistant.ask", {**ask_argument(session, uri, 3, 6, "unsure: hmm"),
                                                     "task": "review"})

    assert result["task"] == "review" and result["status"] == "shown"
    assert result["classification"]["chosen_by"] == "user" and session.message_requests == []
    (choice,) = ledger(tmp_path).choices()
    assert (choice.offered, choice.chosen) == (("debug", "explain", "review"), "review")


async def test_the_second_opinion_decides_when_the_classifier_is_unsure(start_session, user_config, tmp_path):
    with_judge(user_config)
    session = await start_session("vscode", command=FIXED)
    uri = session.open("geometry.py")

    result = await session.execute("assistant.ask", ask_argument(session, uri, 3, 6, "unsure: look at this"))

    assert session.message_requests == []
    assert result["task"] == "review" and result["classification"]["chosen_by"] == "second_opinion"
    assert result["classification"]["reason"] == "second opinion from judge"
    assert result["classification"]["classifier_task"] == "debug"
    (call,) = [r for r in ledger(tmp_path).rows() if r.task == "classify"]
    assert (call.alias, call.model, call.status) == ("judge", "judge-1", "ok") and call.cost_usd
    assert ledger(tmp_path).choices() == []


async def test_no_second_opinion_when_the_classifier_is_confident(start_session, user_config, tmp_path):
    with_judge(user_config)
    session = await start_session("vscode", command=FIXED)
    uri = session.open("geometry.py")

    result = await session.execute("assistant.ask", ask_argument(session, uri, 3, 6, "sure: explain it"))

    assert result["task"] == "explain" and result["classification"]["chosen_by"] == "classifier"
    assert [r.task for r in ledger(tmp_path).rows()] == ["explain"]


@pytest.mark.parametrize(
    ("judge", "why"),
    [
        ({"delay_ms": 5000, "timeout": 0.2}, "timeout"),
        ({"reply": "it is a review, I think"}, "invalid"),
        ({"reply": '{"task": "review", "confidence": 0.2}'}, "unsure"),
        ({"extra": "\n[budget]\ndaily_usd = 0\n"}, "budget"),
    ],
)
async def test_without_a_usable_second_opinion_the_user_is_asked(start_session, user_config, tmp_path, judge, why):
    with_judge(user_config, **judge)
    session = await start_session("vscode", command=FIXED)
    uri = session.open("geometry.py")
    session.choose = lambda titles: None

    result = await session.execute("assistant.ask", ask_argument(session, uri, 3, 6, "unsure: look at this"))

    assert result["status"] == "cancelled" and len(session.message_requests) == 1
    calls = [r for r in ledger(tmp_path).rows() if r.task == "classify"]
    if why == "budget":
        assert calls == []  # nothing was sent
    else:
        assert [c.alias for c in calls] == ["judge"]
        assert calls[0].status == ("failed" if why == "timeout" else "ok")
