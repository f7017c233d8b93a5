"""What the fuzz suite (tests/fuzz/) found, as exact bytes: on the real
server's stdin, each was a request never answered, or answered as an internal
error (-32603) for what is the client's mistake, and after each a valid code
action is still served; in a policy file, each was a diagnostic on no line
(shown on the first) or on the wrong one. Every wait is bounded (support.WAIT)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from support import WAIT, code_action_request, frame


def framed(body: bytes) -> Callable[[str], bytes]:
    return lambda uri: frame(body)


def code_action(uri: str) -> bytes:
    return frame(code_action_request(2, uri))


FOUND = {  # name: (the bytes, given the document's URI; the id answered; its error code, None for a result)
    # A byte before a frame's header glued to it: the frame was skipped as an unknown header.
    "a byte before a header": (
        lambda uri: b"\x00" + code_action(uri), 2, None),
    # The rest of a body longer than its Content-Length, glued to the next header: that frame was lost.
    "a Content-Length too small": (
        lambda uri: b'Content-Length: 5\r\n\r\n{"jsonrpc": "2.0", "method": "x"}' + code_action(uri), 2, None),
    # A notification's method sent with an id: handled as a notification, never answered.
    "a notification with an id": (
        lambda uri: frame(b'{"jsonrpc": "2.0", "id": 2, "method": "textDocument/didClose", '
                          b'"params": {"textDocument": {"uri": "%s"}}}' % uri.encode()), 2, -32600),
    # No params, for a method lsprotocol does not know: -32603 (pygls's generic message requires them).
    "an unknown method without params": (framed(b'{"jsonrpc": "2.0", "id": 2, "method": "no/such"}'), 2, -32601),
    # A member JSON-RPC does not have, for such a method: -32603 too.
    "an unknown member": (framed(b'{"jsonrpc": "2.0", "id": 2, "method": "no/such", "extra": null}'), 2, -32601),
    # A method that is not a string: -32603 (pygls's "method not found" message concatenates it).
    "a method that is not a string": (framed(b'{"jsonrpc": "2.0", "id": 2, "method": null}'), 2, -32600),
    # A command argument's unknown key written ".[": named "[" (a key path's "." before "[" was dropped).
    "an unknown key '.['": (framed(b'{"jsonrpc": "2.0", "id": 2, "method": "workspace/executeCommand", "params": '
                                  b'{"command": "assistant.usage", "arguments": [{".[": 1}]}}'), 2, -32602),
    # An id null: answered with a response that had no "id" member at all.
    "an id null": (framed(b'{"jsonrpc": "2.0", "id": null, "method": "no/such"}'), None, -32600),
}

MESSAGES = {"an unknown key '.['": "invalid command argument: .[: unknown key '.['"}


@pytest.mark.parametrize("name", list(FOUND))
async def test_a_fuzz_finding_is_answered_and_the_server_still_serves(raw, workspace, name):
    data, msg_id, code = FOUND[name]
    uri = (workspace / "geometry.py").as_uri()
    raw.send_bytes(data(uri))
    raw.send(code_action_request(3, uri))

    answer = await raw.response(msg_id)
    assert answer is not None and "id" in answer
    if code is None:
        assert any("Review" in action["title"] for action in answer["result"])
    else:
        assert answer["error"]["code"] == code, answer
        assert MESSAGES.get(name, "") in answer["error"]["message"]
    after = await raw.response(3)
    assert after is not None and any("Review" in action["title"] for action in after["result"])
    assert raw.process.returncode is None


POLICY_FOUND = {  # name: (the policy file's bytes, the diagnostic's line (0-based), what it says)
    "invalid TOML at the end": (b'[routes]\nreview = "codex"\nbroken', 2, "(at end of document)"),
    "a quote in a quoted key": (b'# a quote\n"\'" = 1\n', 1, "unknown key '''"),
    "an escape in a quoted key": (b'# the models\n[models."\\u001f"]\n', 1, "needs provider and model"),
    "an array of tables": (b'[[rules]]\nuse = "opus"\n\n[[rulesx]]\n', 3, "unknown key 'rulesx'"),
    "a line separator in a comment": (b"# \xc2\x85 \xe2\x80\xa8 comment\nbad = 1\n", 1, "unknown key 'bad'"),
}


@pytest.mark.parametrize("name", list(POLICY_FOUND))
async def test_a_fuzz_finding_in_a_policy_file_is_a_diagnostic_on_its_line(policy_session, name):
    data, line, message = POLICY_FOUND[name]
    session, uri, diagnostics = await policy_session(data)
    (diagnostic,) = [d for d in diagnostics if d.severity == 1]  # the error; a warning may come with it
    assert message in diagnostic.message and diagnostic.range.start.line == line
    actions = await asyncio.wait_for(session.code_actions(uri, 3, 6), WAIT)
    assert "Review selection · opus (mock)" in [a.title for a in actions]  # the defaults serve
