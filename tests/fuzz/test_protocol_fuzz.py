"""Property-based fuzzing of the protocol layer, in process: the frame reader
(``server/stdio.py read_frames``) fed bytes through pygls's own
``StdinAsyncReader``, and the real server (``server/app.py build_server``,
``RouterProtocol.handle_body``) behind it, writing to an in-memory client.

Properties: the reader never raises and stops at the end of input; every
request with a valid id gets exactly one response, never an internal error
(-32603: params that do not fit are -32602); after any garbage the next valid
request is answered. The wire-level regressions of what this found are in
tests/e2e/test_fuzz_findings.py.
"""

from __future__ import annotations

import asyncio
import io
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fuzz.strategies import COMMANDS, json_values, near, near_valid, ranges, task_arguments, uris
from hypothesis import example, given, settings
from hypothesis import strategies as st
from lsprotocol import types
from pygls.io_ import StdinAsyncReader
from support import MOCK_USER_CONFIG, SAMPLE, code_action_request, frame, fuzz_examples, raw_server

from assistant_router.server.app import build_server
from assistant_router.server.stdio import MAX_BODY_BYTES, read_frames

WAIT = 10.0  # seconds: the most one example may wait for an answer
TAIL_ID = "tail"  # the valid code action after the fuzzed bytes


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace, and a user config on the mock provider, for every example of the module."""
    base = tmp_path_factory.mktemp("fuzz-protocol")
    (base / "project").mkdir()
    (base / "project" / "geometry.py").write_text(SAMPLE)
    (base / "config.toml").write_text(MOCK_USER_CONFIG)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("ASSISTANT_ROUTER_CONFIG", str(base / "config.toml"))
        env.setenv("XDG_CACHE_HOME", str(base / "cache"))
        env.setenv("XDG_DATA_HOME", str(base / "data"))
        yield base / "project"


def same_id(a: Any, b: Any) -> bool:
    """JSON-RPC ids compare by type too (1, "1", 1.0 and true are four ids)."""
    return type(a) is type(b) and a == b


class Client:
    """The client's end of the in-process server: every frame the server writes,
    checked and parsed; requests from the server are answered ``null``."""

    def __init__(self, protocol: Any) -> None:
        self.protocol = protocol
        self.messages: list[dict[str, Any]] = []

    def write(self, data: bytes) -> None:
        header, separator, body = data.partition(b"\r\n\r\n")
        assert separator and header.startswith(b"Content-Length: ")
        assert int(header.split(b"\r\n")[0].split(b":")[1]) == len(body), "Content-Length is the body's size"
        message = json.loads(body)
        self.messages.append(message)
        if "method" in message and "id" in message:
            reply = json.dumps({"jsonrpc": "2.0", "id": message["id"], "result": None}).encode()
            asyncio.get_running_loop().call_soon(self.protocol.handle_body, reply)

    def close(self) -> None:
        pass

    def responses(self, msg_id: Any) -> list[dict[str, Any]]:
        return [m for m in self.messages if "method" not in m and same_id(m.get("id"), msg_id)]

    async def settle(self, condition: Callable[[], object]) -> None:
        """Until ``condition`` holds or the server has nothing left to do (bounded)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT
        idle = 0
        while not condition() and idle < 3:
            assert loop.time() < deadline, "the server is still busy"
            busy = any(not future.done() for future in self.protocol._request_futures.values())  # handlers running
            idle = 0 if busy else idle + 1
            await asyncio.sleep(0.002)


async def _exchange(root: Path, data: bytes, answered: tuple[Any, ...]) -> Client:
    server = build_server()
    client = Client(server.protocol)
    server.protocol.set_writer(client)
    try:
        server.protocol.handle_body(json.dumps({
            "jsonrpc": "2.0", "id": "init", "method": "initialize",
            "params": {"processId": None, "rootUri": root.as_uri(), "capabilities": {}}}).encode())
        await client.settle(lambda: client.responses("init"))
        server.protocol.handle_body(b'{"jsonrpc": "2.0", "method": "initialized", "params": {}}')
        await read_frames(threading.Event(), StdinAsyncReader(io.BytesIO(data)), server.protocol)
        await client.settle(lambda: all(client.responses(msg_id) for msg_id in answered))
        server.protocol.handle_body(b'{"jsonrpc": "2.0", "id": "bye", "method": "shutdown"}')
        await client.settle(lambda: client.responses("bye"))
    finally:
        server.shutdown()
    return client


def exchange(root: Path, data: bytes, answered: tuple[Any, ...] = ()) -> Client:
    """Initialize a fresh server, feed it ``data`` through the frame reader until
    the end of input, wait for the answers to ``answered``, shut it down."""
    return asyncio.run(_exchange(root, data, answered))


def internal_errors(client: Client) -> list[dict[str, Any]]:
    return [m for m in client.messages if m.get("error", {}).get("code") == -32603]


# ----------------------------------------------------------------------------- frames

HEADER_LINES = [
    b"Content-Length: abc", b"Content-Length: -5", b"Content-Length: 1e3", b"Content-Length:", b"content-length: 0x10",
    b"Content-Length: %d" % (MAX_BODY_BYTES + 1), b"Content-Length: 99999999999999999999", b"Content-Type: text/plain",
    b"garbage", b": no name", b" Content-Length: x", b"Content-Length 12", b"\xff\xfe", b"{\"id\": 1}",
]
SEPARATORS = [b"\r\n", b"\n", b"\r", b"", b"\r\n\r\n"]

bodies = st.binary(max_size=30) | json_values.map(lambda v: json.dumps(v).encode())


def _short_frame(body: bytes, cut: int) -> bytes:
    """A frame whose Content-Length is smaller than its body: the rest is glued to the next header."""
    return b"Content-Length: %d\r\n\r\n" % max(0, len(body) - cut) + body


# Bytes a broken client may send that never announce more bytes than follow them.
garbage = st.lists(
    st.binary(max_size=30)
    | st.tuples(st.sampled_from(HEADER_LINES), st.sampled_from(SEPARATORS)).map(b"".join)
    | bodies.map(frame)
    | st.tuples(bodies, st.integers(1, 40)).map(lambda args: _short_frame(*args)),
    max_size=6,
).map(b"".join)


@given(data=st.binary(max_size=400) | garbage | st.lists(st.sampled_from(HEADER_LINES + SEPARATORS)).map(b"".join))
def test_the_reader_stops_cleanly_at_the_end_of_any_input(root, data):
    client = exchange(root, data)  # read_frames returned: it neither raised nor hung
    assert not internal_errors(client)


@given(data=garbage)
@example(data=b"\x00").via("found: a byte before a frame's header lost the frame")
@example(data=_short_frame(b'{"jsonrpc": "2.0", "method": "x"}', 5)).via("found: the rest of a body glued to a header")
def test_after_any_garbage_the_next_valid_request_is_answered(root, data):
    uri = (root / "geometry.py").as_uri()
    client = exchange(root, data + frame(code_action_request(TAIL_ID, uri)), answered=(TAIL_ID,))
    (answer,) = client.responses(TAIL_ID)
    assert any("Review" in action["title"] for action in answer["result"])
    assert not internal_errors(client)


# ----------------------------------------------------------------------------- messages

METHODS = [
    types.TEXT_DOCUMENT_CODE_ACTION, types.WORKSPACE_EXECUTE_COMMAND, types.TEXT_DOCUMENT_DID_OPEN,
    types.TEXT_DOCUMENT_DID_CHANGE, types.TEXT_DOCUMENT_DID_CLOSE, types.TEXT_DOCUMENT_DID_SAVE,
    types.CANCEL_REQUEST, types.WINDOW_WORK_DONE_PROGRESS_CANCEL, types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
    types.WORKSPACE_DID_CHANGE_CONFIGURATION, types.TEXT_DOCUMENT_HOVER, types.INITIALIZE,
]


def params(method: str, uri: str) -> st.SearchStrategy[Any]:
    """Params close to valid for ``method`` (any JSON value for any other method)."""
    document = st.fixed_dictionaries({"uri": uris(uri)})
    text = st.text(max_size=40)
    valid = {
        types.TEXT_DOCUMENT_CODE_ACTION: st.fixed_dictionaries(
            {"textDocument": document, "range": ranges, "context": st.fixed_dictionaries(
                {"diagnostics": st.just([])},
                optional={"only": st.lists(st.sampled_from(["quickfix", "refactor.rewrite", "source", ""]))})}),
        types.WORKSPACE_EXECUTE_COMMAND: st.fixed_dictionaries(
            {"command": st.sampled_from(COMMANDS) | st.text(max_size=15),
             "arguments": st.lists(task_arguments(uri) | json_values, max_size=2)}),
        types.TEXT_DOCUMENT_DID_OPEN: st.fixed_dictionaries({"textDocument": st.fixed_dictionaries(
            {"uri": uris(uri), "languageId": st.just("python"), "version": st.integers(), "text": text})}),
        types.TEXT_DOCUMENT_DID_CHANGE: st.fixed_dictionaries(
            {"textDocument": st.fixed_dictionaries({"uri": uris(uri), "version": st.integers()}),
             "contentChanges": st.lists(st.fixed_dictionaries({"text": text}, optional={"range": ranges}),
                                        max_size=2)}),
        types.CANCEL_REQUEST: st.fixed_dictionaries({"id": st.integers() | st.text(max_size=5)}),
        types.WINDOW_WORK_DONE_PROGRESS_CANCEL: st.fixed_dictionaries({"token": st.integers() | st.text(max_size=5)}),
        types.WORKSPACE_DID_CHANGE_WATCHED_FILES: st.fixed_dictionaries({"changes": st.lists(
            st.fixed_dictionaries({"uri": uris(uri), "type": st.integers(0, 4)}), max_size=2)}),
        types.INITIALIZE: st.fixed_dictionaries({"processId": st.none(), "capabilities": json_values}),
    }.get(method, st.fixed_dictionaries({"textDocument": document}))
    return near_valid(valid) | json_values


def valid_id(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


# Placeholders the test replaces: the workspace's document, and a request id unique in the batch.
DOC = "file:///workspace/geometry.py"
ID = "<id>"


@st.composite
def messages(draw: st.DrawFn) -> Any:
    """One frame's body: bytes, or a JSON value (``ID`` where a valid id goes)."""
    kind = draw(st.sampled_from(["request", "notification", "bad id", "not an object", "not JSON"]))
    if kind == "not JSON":
        return draw(st.binary(max_size=30).filter(lambda b: not b.strip().startswith((b"{", b"["))))
    if kind == "not an object":
        return draw(json_values.filter(lambda v: not isinstance(v, dict)))
    method = draw(st.sampled_from(METHODS) | st.text(max_size=20))
    message: dict[str, Any] = {"jsonrpc": draw(st.just("2.0") | st.sampled_from(["1.0", 2.0, None])), "method": method}
    if draw(st.booleans()):
        message["params"] = draw(params(method, DOC))
    if kind == "request":
        message["id"] = ID
    elif kind == "bad id":
        message["id"] = draw(st.none() | st.booleans() | st.floats() | st.lists(st.integers(), max_size=2))
    if draw(st.booleans()):  # the envelope itself broken: a key dropped, retyped or added
        message = draw(near(message))
    return message


def numbered(batch: list[Any], uri: str) -> tuple[list[bytes], list[Any]]:
    """The bodies, with the document's URI and unique ids in place; the ids a response is due to."""
    bodies, due = [], []
    for number, message in enumerate(batch):
        if isinstance(message, dict) and message.get("id") == ID:
            message = {**message, "id": 100 + number if number % 2 else f"r{number}"}  # 1: RawClient's initialize
            if "method" in message:
                due.append(message["id"])
        bodies.append(message if isinstance(message, bytes) else json.dumps(message).replace(DOC, uri).encode())
    return bodies, due


FOUND = [  # what this property found, each fixed and a regression in tests/e2e/test_fuzz_findings.py
    {"jsonrpc": "2.0", "method": "textDocument/didClose", "params": {"textDocument": {"uri": DOC}}, "id": ID},
    {"jsonrpc": "2.0", "method": "", "id": ID},  # no params
    {"jsonrpc": "2.0", "method": "", "id": ID, "0": None},  # a member JSON-RPC does not have
    {"jsonrpc": "2.0", "method": "", "id": None},
    {"jsonrpc": "2.0", "method": None, "id": ID},
]


@given(batch=st.lists(messages(), min_size=1, max_size=6))
@example(batch=FOUND).via("the findings, in one batch")
def test_every_request_gets_exactly_one_answer_and_never_an_internal_error(root, batch):
    uri = (root / "geometry.py").as_uri()
    bodies, due = numbered(batch, uri)
    stream = b"".join(frame(body) for body in bodies) + frame(code_action_request(TAIL_ID, uri))
    client = exchange(root, stream, answered=(*due, TAIL_ID))

    for msg_id in due:
        assert len(client.responses(msg_id)) == 1, f"request {msg_id!r}: {client.responses(msg_id)}"
    assert not internal_errors(client), internal_errors(client)
    sent = [json.loads(body).get("id") for body in bodies if body.strip().startswith(b"{")]
    for response in (m for m in client.messages if "method" not in m):
        assert "id" in response, f"a response without an id: {response}"
        assert response["id"] is None or any(same_id(response["id"], i) for i in (*sent, "init", TAIL_ID, "bye")), \
            f"an answer to an id never sent: {response}"
    assert "result" in client.responses(TAIL_ID)[0]


# ----------------------------------------------------------------------------- the real server


@settings(max_examples=max(1, fuzz_examples() // 25), deadline=None)  # a subprocess: bounded by WAIT instead
@given(junk=garbage, batch=st.lists(messages(), min_size=10, max_size=30))
def test_the_real_server_answers_every_request_after_garbage_and_stays_up(root, junk, batch):
    async def run() -> None:
        async with raw_server(root.parent, root, root.parent / "config.toml") as server:
            uri = (root / "geometry.py").as_uri()
            bodies, due = numbered(batch, uri)
            server.send_bytes(junk + b"".join(frame(body) for body in bodies))
            server.send(code_action_request(TAIL_ID, uri))
            tail = await server.response(TAIL_ID)
            assert tail is not None and any("Review" in action["title"] for action in tail["result"])
            for msg_id in due:  # answered before the tail or soon after (an executeCommand runs a task)
                if not any(same_id(m.get("id"), msg_id) for m in server.messages if "method" not in m):
                    assert await server.response(msg_id) is not None
            answers = [m for m in server.messages if "method" not in m]
            for msg_id in due:
                assert len([m for m in answers if same_id(m.get("id"), msg_id)]) == 1, msg_id
            assert not [m for m in answers if m.get("error", {}).get("code") == -32603]
            assert server.process.returncode is None

    asyncio.run(run())
