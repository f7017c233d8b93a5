"""The server with the real anthropic and openai adapters, against loopback fakes.

What a user with OPENAI_API_KEY and ANTHROPIC_API_KEY sees: scaffolds from
Codex, reviews from Opus, retries and fallbacks that say so, clear errors,
cancellation that closes the upstream request.

One test per behaviour at the wire level; their variants (every fault, every
timeout, backoff and cooldown arithmetic) are unit tests: tests/unit/test_calling.py
for the calling core, tests/unit/test_adapters.py for each fault's mapping.
Cancellation closing the HTTP stream: tests/e2e/test_cancellation.py.
"""

from __future__ import annotations

import asyncio
import re

import pytest
from lsprotocol import types

from assistant_router.testing.loopback import Fault


@pytest.fixture(autouse=True)
def quick_retries(loopback, user_config):
    """Retries wait 5-10 ms here instead of 0.25-1 s: each alias's retry_backoff, set in the user config."""
    text = user_config.read_text()
    user_config.write_text(re.sub(r"^(base_url = .*)$", r"\1\nretry_backoff = 0.01", text, flags=re.MULTILINE))


async def start(start_session, loopback, client="vscode", **env):
    return await start_session(client, env={**loopback.env, **env})


@pytest.mark.parametrize("client", ["vscode", "neovim"])
async def test_scaffold_from_codex_and_review_from_opus(start_session, loopback, client):
    session = await start(start_session, loopback, client)
    uri = session.open("geometry.py")

    scaffold = await session.execute("assistant.run", session.task_argument("scaffold", uri, 8, 10))
    review = await session.execute("assistant.run", session.task_argument("review", uri, 3, 6))

    assert (scaffold["status"], scaffold["provider"], scaffold["model"]) == ("applied", "openai", "gpt-5.3-codex")
    assert (review["status"], review["provider"], review["model"]) == ("shown", "anthropic", "claude-opus-4-6")
    assert "gpt-5.3-codex (loopback responses)" in scaffold["edit"]["new_text"]
    assert scaffold["usage"]["input_tokens"] > 0 and review["usage"]["output_tokens"] > 0
    assert [r.api for r in loopback.requests] == ["responses", "anthropic"]
    assert "claude-opus-4-6 (loopback anthropic)" in session.client.diagnostics[uri][0].message


async def test_overloaded_model_is_retried_then_falls_back_visibly(start_session, loopback):
    session = await start(start_session, loopback)
    loopback.fail_next("anthropic", *[Fault("status", 529, retry_after=0.05)] * 3)
    uri = session.open("geometry.py")

    result = await session.execute("assistant.run", session.task_argument("review", uri, 3, 6))

    assert result["status"] == "shown" and result["provider"] == "openai" and result["fallback"] is True
    failed = result["attempts"][:3]
    assert [(a["alias"], a["status"], a["error_type"]) for a in failed] == [("opus", 529, "RetryableProviderError")] * 3
    assert result["attempts"][3]["alias"] == "codex" and "error" not in result["attempts"][3]
    assert [r.api for r in loopback.requests] == ["anthropic"] * 3 + ["responses"]
    first, second = loopback.requests[:2]
    assert second.started - first.started >= 0.05  # the retry-after header, not the 10 ms backoff
    assert "gpt-5.3-codex (loopback responses)" in session.client.diagnostics[uri][0].message
    # The retries and the fallback are visible in the progress and in a message, not only in the result.
    ((_, reports),) = session.client.progress_reports.items()
    messages = [r.message for r in reports if isinstance(r, types.WorkDoneProgressReport)]
    assert any("retrying in" in m and "(2/3)" in m for m in messages)
    assert any(m.startswith("opus unavailable") and m.endswith("trying codex") for m in messages)
    (warning,) = session.messages(types.MessageType.Warning)
    assert ("review was answered by codex (gpt-5.3-codex) because opus (claude-opus-4-6) failed: "
            "overloaded (529)") in warning


async def test_a_fatal_error_is_clear_and_never_falls_back(start_session, loopback):
    expected = "codex (gpt-5.3-codex): the API key was rejected (401); check OPENAI_API_KEY"
    session = await start(start_session, loopback)
    loopback.fail_next("responses", Fault("status", 401))
    uri = session.open("geometry.py")

    result = await session.execute("assistant.run", session.task_argument("scaffold", uri, 3, 6))

    assert result["status"] == "failed" and expected in result["message"]
    assert len(result["attempts"]) == 1 and len(loopback.requests) == 1
    assert any(expected in m for m in session.messages(types.MessageType.Error))
    assert not session.applied_edits


async def test_a_broken_stream_after_output_fails_without_fallback(start_session, loopback):
    session = await start(start_session, loopback)
    loopback.fail_next("anthropic", Fault("disconnect", after=2))
    uri = session.open("geometry.py")

    result = await session.execute("assistant.run", session.task_argument("refactor", uri, 3, 6))

    assert result["status"] == "failed"
    assert "stopped mid-answer" in result["message"] and "partial answer was discarded" in result["message"]
    assert [r.api for r in loopback.requests] == ["anthropic"]
    assert not session.applied_edits


async def test_an_error_event_before_the_first_token_is_retried(start_session, loopback):
    session = await start(start_session, loopback)
    loopback.fail_next("anthropic", Fault("error_event", error_type="overloaded_error"))
    uri = session.open("geometry.py")

    result = await session.execute("assistant.run", session.task_argument("explain", uri, 3, 6))

    assert result["status"] == "shown" and result["alias"] == "opus"
    assert "error event in the stream: overloaded_error" in result["attempts"][0]["error"]


async def test_a_truncated_edit_is_not_applied(start_session, loopback):
    session = await start(start_session, loopback)
    loopback.fail_next("anthropic", Fault("max_tokens"))
    uri = session.open("geometry.py")

    result = await session.execute("assistant.run", session.task_argument("refactor", uri, 3, 6))

    assert result["status"] == "failed"
    assert "hit the output limit" in result["message"] and "max_output_tokens of alias 'opus'" in result["message"]
    assert not session.applied_edits


async def test_a_hanging_model_times_out_and_falls_back(start_session, loopback, workspace):
    # The fake never sends a token: the 50 ms timeout always fires, however busy the machine.
    (workspace / ".assistant-router.toml").write_text("[models.opus]\nretries = 0\ntimeouts = { first_token = 0.05 }\n")
    session = await start(start_session, loopback)
    loopback.fail_next("anthropic", Fault("hang"))
    uri = session.open("geometry.py")

    result = await session.execute("assistant.run", session.task_argument("explain", uri, 3, 6))

    assert result["status"] == "shown" and result["alias"] == "codex"
    assert result["attempts"][0]["error"] == "timed out: no first token within 0.05 s"
    await loopback.wait_for_disconnect(loopback.requests[0])  # the hung request was closed, not leaked


async def test_keys_never_reach_logs_messages_or_results(start_session, loopback, capfd):
    # Even with the SDKs' own debug logging asked for.
    noisy = {"ANTHROPIC_LOG": "debug", "OPENAI_LOG": "debug"}
    session = await start(start_session, loopback, **noisy)
    uri = session.open("geometry.py")
    wrong = {"ANTHROPIC_API_KEY": "sk-ant-wrong-secret-1234"}
    other = await start_session("vscode", env={**loopback.env, **wrong, **noisy})
    other_uri = other.open("geometry.py")

    ok = await session.execute("assistant.run", session.task_argument("review", uri, 3, 6))
    rejected = await other.execute("assistant.run", other.task_argument("review", other_uri, 3, 6))

    assert ok["status"] == "shown" and rejected["status"] == "failed"
    everything = "\n".join(
        [str(ok), str(rejected), capfd.readouterr().err, session.logs(), other.logs(),
         *session.messages(), *other.messages()]
    )
    assert "the API key was rejected (401)" in everything
    for secret in (loopback.key, wrong["ANTHROPIC_API_KEY"]):
        assert secret not in everything


async def test_fifty_concurrent_streams(start_session, loopback):
    # A barrier in the fake: no stream may finish before all fifty are open. Were the
    # server to run them one at a time, the first would never finish (and the test fails).
    everyone = loopback.hold(50)
    session = await start(start_session, loopback)
    uri = session.open("geometry.py")
    tasks = ["explain", "review"] * 25

    results = await asyncio.wait_for(asyncio.gather(
        *(session.execute("assistant.run", session.task_argument(t, uri, i % 8, i % 8 + 2))
          for i, t in enumerate(tasks))
    ), timeout=120)

    assert [r["status"] for r in results] == ["shown"] * 50
    assert len(loopback.requests) == 50
    assert everyone.released.is_set() and everyone.peak == 50  # fifty streams were open at once
    assert loopback.peak_open_streams == 50


async def test_a_model_that_keeps_failing_cools_down(start_session, loopback):
    session = await start(start_session, loopback)
    loopback.fail_next("anthropic", *[Fault("status", 503, retry_after=0.01)] * 3)
    uri = session.open("geometry.py")

    first = await session.execute("assistant.run", session.task_argument("review", uri, 3, 6))
    second = await session.execute("assistant.run", session.task_argument("explain", uri, 3, 6))

    assert first["alias"] == second["alias"] == "codex"
    skipped = second["attempts"][0]
    assert skipped["alias"] == "opus" and skipped["error_type"] == "CoolingDown"
    assert skipped["error"].startswith("skipped: cooling down for")
    assert [r.api for r in loopback.requests] == ["anthropic"] * 3 + ["responses"] * 2


async def test_a_project_cannot_send_code_elsewhere(start_session, loopback, workspace):
    policy = workspace / ".assistant-router.toml"
    policy.write_text('[models.opus]\nbase_url = "http://127.0.0.1:9/v1"\n\n[routes]\nreview = "opus"\n')
    session = await start(start_session, loopback)
    uri = session.open("geometry.py")

    await session.wait_for(lambda: session.client.diagnostics.get(policy.as_uri()))
    (warning,) = session.client.diagnostics[policy.as_uri()]
    result = await session.execute("assistant.run", session.task_argument("review", uri, 3, 6))

    assert warning.severity == types.DiagnosticSeverity.Warning and warning.range.start.line == 1
    assert "'base_url' is ignored" in warning.message
    assert result["status"] == "shown" and result["provider"] == "anthropic"
    assert loopback.requests[0].api == "anthropic"  # the user's endpoint, not the project's


async def test_anthropic_input_tokens_sent_in_message_delta_are_counted(start_session, loopback):
    """A LiteLLM proxy reports Anthropic's input tokens in message_delta, not message_start."""
    session = await start(start_session, loopback)
    loopback.usage = "delta_only"
    uri = session.open("geometry.py")

    result = await session.execute("assistant.run", session.task_argument("review", uri, 3, 6))

    assert (result["status"], result["provider"]) == ("shown", "anthropic")
    assert result["usage"]["input_tokens"] > 0 and result["usage"]["output_tokens"] > 0
    assert "estimated" not in result["usage"]


async def test_an_empty_key_variable_with_a_base_url_is_an_error_naming_it(start_session, loopback):
    session = await start(start_session, loopback, ANTHROPIC_API_KEY="")
    uri = session.open("geometry.py")

    result = await session.execute("assistant.run", session.task_argument("review", uri, 3, 6))

    assert result["status"] == "failed" and result["fallback"] is False
    assert result["message"].startswith("opus (claude-opus-4-6): ANTHROPIC_API_KEY is empty: export it")
    assert 'api_key_env = ""' in result["message"]
    assert not loopback.requests  # no placeholder key was sent to the proxy


async def test_a_server_without_the_responses_api_says_to_use_api_chat(start_session, loopback):
    """llama.cpp's server has no /v1/responses: its 404 is not "model not found"."""
    session = await start(start_session, loopback)
    loopback.unserved.add("responses")
    uri = session.open("geometry.py")

    result = await session.execute("assistant.run", session.task_argument("scaffold", uri, 8, 10))

    assert result["status"] == "failed" and result["attempts"][0]["status"] == 404
    assert "the Responses API was not found at " + loopback.openai_url in result["message"]
    assert "set api = \"chat\" for model alias 'codex'" in result["message"]
    assert "not found for this key" not in result["message"]


async def test_a_server_that_reports_no_usage_is_priced_on_an_estimate(start_session, loopback, tmp_path):
    """llama.cpp's server reports no usage: the answer is estimated, marked so, and priced, never free."""
    from assistant_router.engine.usage.ledger import open_ledger

    session = await start(start_session, loopback)
    loopback.usage = "none"
    uri = session.open("geometry.py")

    results = [await session.execute("assistant.run", session.task_argument(task, uri, 3, 6))
               for task in ("review", "scaffold")]

    rows = open_ledger(f"sqlite://{tmp_path / 'data' / 'assistant-router' / 'ledger.sqlite3'}").rows()
    assert [(r["provider"], r["status"]) for r in results] == [("anthropic", "shown"), ("openai", "applied")]
    for result, row in zip(results, rows, strict=True):
        usage = result["usage"]
        assert usage["estimated"] is True and usage["input_tokens"] > 50 and usage["output_tokens"] > 0
        assert result["cost_usd"] > 0
        assert (row.status, row.estimated, row.input_tokens, row.output_tokens) == (
            "ok", True, usage["input_tokens"], usage["output_tokens"])
        assert row.cost_usd == pytest.approx(result["cost_usd"])
