"""Hostile or broken input never breaks the server: a policy file is a
diagnostic, a malformed frame is answered or skipped, and every request gets
an answer. Every wait is bounded."""

from __future__ import annotations

import asyncio
import json

import pytest
from lsprotocol import types
from support import WAIT, code_action_request

# ----------------------------------------------------------------------------- the protocol channel


async def test_a_bad_content_length_is_answered_and_the_server_resynchronises(raw, workspace):
    uri = (workspace / "geometry.py").as_uri()
    body = json.dumps(code_action_request(2, uri)).encode()
    raw.send_bytes(b"Content-Length: abc\r\n\r\n" + body)
    raw.send(code_action_request(3, uri))

    lost = await raw.response(2)  # the request in the broken frame is answered, not dropped
    assert lost is not None and lost["error"]["code"] == -32700
    answer = await raw.response(3)  # and the next valid frame is served
    assert answer is not None and any("Review" in action["title"] for action in answer["result"])
    assert raw.process.returncode is None


async def test_a_frame_without_content_length_or_with_a_body_that_is_not_json(raw, workspace):
    uri = (workspace / "geometry.py").as_uri()
    raw.send_bytes(b"Content-Type: application/json\r\n\r\n")  # no Content-Length at all
    raw.send_bytes(b"Content-Length: 9\r\n\r\nnot json!")
    raw.send(code_action_request(4, uri))

    answer = await raw.response(4)
    assert answer is not None and "result" in answer
    parse_errors = [m for m in raw.messages if m.get("error", {}).get("code") == -32700]
    assert parse_errors and parse_errors[0]["id"] is None


async def test_invalid_params_are_32602_naming_the_field(raw, workspace):
    uri = (workspace / "geometry.py").as_uri()
    raw.send(code_action_request(5, uri, only=[5]))
    raw.send({"jsonrpc": "2.0", "id": 6, "method": "workspace/executeCommand",
              "params": {"command": "assistant.route", "arguments": 12345}})
    raw.send({"jsonrpc": "2.0", "id": 7, "method": "textDocument/codeAction", "params": {"textDocument": 3}})
    raw.send({"id": 8, "method": "shutdown"})  # no "jsonrpc"

    only = await raw.response(5)
    assert only is not None and only["error"]["code"] == -32602
    assert "params.context.only[0]" in only["error"]["message"]
    arguments = await raw.response(6)
    assert arguments is not None and arguments["error"]["code"] == -32602
    assert "params.arguments" in arguments["error"]["message"]
    shape = await raw.response(7)
    assert shape is not None and shape["error"]["code"] == -32602
    assert "params" in shape["error"]["message"]
    not_rpc = await raw.response(8)
    assert not_rpc is not None and not_rpc["error"]["code"] == -32600

    raw.send(code_action_request(9, uri))
    answer = await raw.response(9)
    assert answer is not None and "result" in answer



# ----------------------------------------------------------------------------- hostile policy files

HOSTILE_POLICIES = {
    "deep-nesting": (b"a = " + b"[" * 2000 + b"]" * 2000 + b"\n", 0, "nested deeper than the limit of 16 levels"),
    "0xff-byte": (b'[routes]\nreview = "codex"\n\xff\n', 2, "not valid UTF-8: byte 0xFF at line 3"),
    "long-instructions": (b'instructions = "' + b"a" * 300 + b'"\n', 0, "instructions is not a valid path"),
}


@pytest.mark.parametrize("name", list(HOSTILE_POLICIES))
async def test_a_hostile_policy_is_a_diagnostic_and_code_actions_still_answer(policy_session, name):
    data, line, message = HOSTILE_POLICIES[name]
    session, uri, diagnostics = await policy_session(data)

    actions = await asyncio.wait_for(session.code_actions(uri, 3, 6), WAIT)
    assert "Review selection · opus (mock)" in [a.title for a in actions]  # the defaults serve
    route = await asyncio.wait_for(
        session.execute("assistant.route", session.task_argument("review", uri, 3, 6)), WAIT
    )
    assert route["alias"] == "opus"
    (diagnostic,) = diagnostics
    assert message in diagnostic.message and diagnostic.range.start.line == line


async def test_a_hostile_policy_saved_later_leaves_the_last_good_one_serving(start_session, workspace):
    policy = workspace / ".assistant-router.toml"
    policy.write_text('[routes]\nreview = "codex"\n')
    session = await start_session("vscode")
    uri = session.open("geometry.py")
    assert (await session.execute("assistant.route", session.task_argument("review", uri, 3, 6)))["alias"] == "codex"

    for data, _, message in HOSTILE_POLICIES.values():
        policy.write_bytes(data)
        session.client.text_document_did_save(types.DidSaveTextDocumentParams(types.TextDocumentIdentifier(policy.as_uri())))
        await session.wait_for(
            lambda m=message: any(m in d.message for d in session.client.diagnostics.get(policy.as_uri(), [])),
            timeout=WAIT,
        )
        actions = await asyncio.wait_for(session.code_actions(uri, 3, 6), WAIT)
        assert any("codex" in a.title for a in actions)
        route = await asyncio.wait_for(
            session.execute("assistant.route", session.task_argument("review", uri, 3, 6)), WAIT
        )
        assert route["alias"] == "codex"


async def test_exit_status_says_whether_the_session_ended_cleanly(raw):
    raw.send({"jsonrpc": "2.0", "method": "exit"})  # without shutdown: the editor should know
    assert await asyncio.wait_for(raw.process.wait(), WAIT) == 1


async def test_a_clean_shutdown_exits_0(raw):
    assert await raw.close() == 0


async def test_a_body_nested_too_deep_for_json_is_a_parse_error(raw, workspace):
    raw.send_bytes(b"Content-Length: 200000\r\n\r\n" + b"[" * 200_000)
    raw.send(code_action_request(2, (workspace / "geometry.py").as_uri()))
    answer = await raw.response(2)
    assert answer is not None and "result" in answer
    assert any(m.get("error", {}).get("code") == -32700 for m in raw.messages)


async def test_a_request_after_shutdown_is_answered(raw, workspace):
    raw.send({"jsonrpc": "2.0", "id": 2, "method": "shutdown"})
    assert "result" in (await raw.response(2) or {})
    raw.send(code_action_request(3, (workspace / "geometry.py").as_uri()))
    late = await raw.response(3)
    assert late is not None and late["error"]["code"] == -32600
    raw.send({"jsonrpc": "2.0", "method": "exit"})
    assert await asyncio.wait_for(raw.process.wait(), WAIT) == 0
