"""Loopback fakes of the provider wire formats, for tests and the offline demo.

One small HTTP/1.1 server on 127.0.0.1 speaks three APIs the real adapters use:

- Anthropic Messages (``POST /v1/messages``): SSE ``message_start`` …
  ``content_block_delta`` … ``message_delta``, ``message_stop``;
- OpenAI Responses (``POST /v1/responses``): ``response.created`` …
  ``response.output_text.delta`` … ``response.completed``;
- OpenAI Chat Completions (``POST /v1/chat/completions``):
  ``chat.completion.chunk`` lines, a usage chunk and ``data: [DONE]``;
- the OpenAI-compatible Completions API (``POST /v1/completions``, the
  fill-in-the-middle of llama.cpp, vLLM and Ollama): ``text_completion``
  chunks with ``prompt`` and ``suffix``, a usage chunk and ``data: [DONE]``.

The events follow the SDKs' own types (the unit tests validate every event
against them). Answers are derived from the prompt the router sent (task,
lines, selection), like the mock provider's. Faults are injected per request
with :meth:`LoopbackProviders.fail_next` (and ``usage`` says where streams
report their token counts, or that they report none), and every request is recorded,
including when the client went away, so tests can prove that cancelling a
task closes the HTTP stream. :meth:`LoopbackProviders.hold` keeps streams
open (a barrier) until enough have arrived or the test releases them, so a
test proves concurrency by construction instead of by measuring time.
``first_token_s`` is a time to first token (before the first text chunk,
cut short when the client goes away); each record says when its first text
chunk and its last byte were sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import math
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from assistant_router.providers.mock import derive_reply

Api = Literal["anthropic", "responses", "chat", "completions"]
FaultKind = Literal[
    "status",  # an HTTP error status before any event
    "disconnect",  # close the connection after `after` text chunks
    "hang",  # stop sending after `after` text chunks, keep the connection open
    "malformed",  # a broken JSON event after `after` text chunks
    "error_event",  # an error event inside the 200 stream after `after` chunks
    "no_final",  # all the text, then close without the final event
    "max_tokens",  # the answer ends cut at the output limit
]

# Where a stream reports its token usage:
UsageMode = Literal[
    "standard",  # as the services do: Anthropic's input in message_start, OpenAI's in the final event
    "delta_only",  # Anthropic: message_start counts 0, message_delta carries every count (LiteLLM proxy)
    "none",  # no usage at all (llama.cpp server): zeros, no usage object, no usage chunk
]

_PATHS: dict[str, Api] = {"/v1/messages": "anthropic", "/v1/responses": "responses", "/v1/chat/completions": "chat",
                          "/v1/completions": "completions"}
_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
            408: "Request Timeout", 409: "Conflict", 413: "Payload Too Large", 422: "Unprocessable Entity",
            429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
            503: "Service Unavailable", 504: "Gateway Timeout", 529: "Overloaded"}


@dataclass(frozen=True)
class Fault:
    kind: FaultKind
    status: int = 500
    retry_after: float | None = None
    after: int = 0
    error_type: str | None = None  # e.g. overloaded_error, rate_limit_exceeded, invalid_request_error
    message: str | None = None
    cut_at: int | None = None  # max_tokens: text chunks sent before the cut (None: all of them)


@dataclass
class RecordedRequest:
    api: Api
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    started: float = field(default_factory=time.monotonic)
    chunks_sent: int = 0
    first_text: float | None = None  # the server sent the first text chunk
    finished: float | None = None  # the server sent its last byte
    disconnected: float | None = None  # the client closed the connection first

    @property
    def prompt(self) -> str:
        body = self.body
        if self.api == "responses":
            return str(body.get("input", ""))
        if self.api == "completions":
            return str(body.get("prompt", ""))
        messages = body.get("messages", [])
        content = messages[-1].get("content", "") if messages else ""
        if isinstance(content, list):
            return "".join(part.get("text", "") for part in content if isinstance(part, dict))
        return str(content)


# --------------------------------------------------------------------------- #
# What to answer: the router's prompt carries the task, lines and selection.

_TASK = re.compile(r"^Task: (\w+)\.", re.MULTILINE)
_FILE = re.compile(r"^File: (.+) \(language: ([^)]*)\), lines (\d+)-(\d+)\.", re.MULTILINE)
_SELECTION = re.compile(r"Selection:\n```[^\n]*\n(.*)\n```\s*$", re.DOTALL)
_NUMBERED = re.compile(r"^ *\d+ [ +]\| ?", re.MULTILINE)  # a review's selection: "12 +| code"
_PROBLEMS = re.compile(r"^Problems reported by the editor:\n((?:- .*\n?)+)", re.MULTILINE)


_CODE_AT_CURSOR = re.compile(r"^Code, with the cursor marked <CURSOR>:\n```[^\n]*\n(.*?)<CURSOR>",
                             re.DOTALL | re.MULTILINE)


def reply_to_prompt(prompt: str, signature: str, suffix: str | None = None) -> str:
    if suffix is not None:  # fill-in-the-middle: the prompt is the code before the cursor
        return derive_reply("complete", signature, {"prefix": prompt, "suffix": suffix})
    task = _TASK.search(prompt)
    where = _FILE.search(prompt)
    selection = _SELECTION.search(prompt)
    problems = _PROBLEMS.search(prompt)
    metadata: dict[str, Any] = {"selection": selection.group(1) if selection else ""}
    if task and task.group(1) == "review":
        metadata["selection"] = _NUMBERED.sub("", metadata["selection"])
    if where:
        metadata.update(path=where.group(1), language=where.group(2),
                        start_line=int(where.group(3)), end_line=int(where.group(4)))
    if problems:
        metadata["diagnostics"] = [line[2:] for line in problems.group(1).splitlines()]
    if (code := _CODE_AT_CURSOR.search(prompt)) is not None:
        metadata["prefix"] = code.group(1)
        if (language := re.search(r"^File: .+ \(language: ([^)]*)\)\.$", prompt, re.MULTILINE)) is not None:
            metadata["language"] = language.group(1)
    return derive_reply(task.group(1) if task else "explain", signature, metadata)


def _tokens(text: str) -> int:
    return math.ceil(len(text) / 4)


# --------------------------------------------------------------------------- #
# Wire formats

def _sse(event: str | None, data: Any) -> bytes:
    payload = data if isinstance(data, str) else json.dumps(data)
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {payload}\n\n".encode()


def _error_body(api: Api, status: int, error_type: str | None, message: str) -> dict[str, Any]:
    if api == "anthropic":
        return {"type": "error", "error": {"type": error_type or "api_error", "message": message}}
    return {"error": {"message": message, "type": error_type or "server_error", "param": None, "code": error_type}}


class _Stream:
    """The event sequence of one API for one answer."""

    def __init__(self, api: Api, model: str, prompt: str, ids: Callable[[], int],
                 usage: UsageMode = "standard") -> None:
        self.api, self.model, self.usage = api, model, usage
        self.input_tokens = _tokens(prompt)
        self.id = ids()
        self.sequence = itertools.count()

    # Anthropic -------------------------------------------------------------
    def _anthropic_start(self) -> list[bytes]:
        message = {"id": f"msg_{self.id}", "type": "message", "role": "assistant", "content": [],
                   "model": self.model, "stop_reason": None, "stop_sequence": None,
                   "usage": {"input_tokens": self.input_tokens if self.usage == "standard" else 0,
                             "output_tokens": 1 if self.usage == "standard" else 0}}
        return [
            _sse("message_start", {"type": "message_start", "message": message}),
            _sse("content_block_start", {"type": "content_block_start", "index": 0,
                                         "content_block": {"type": "text", "text": ""}}),
            _sse("ping", {"type": "ping"}),
        ]

    def _anthropic_delta(self, text: str) -> bytes:
        return _sse("content_block_delta", {"type": "content_block_delta", "index": 0,
                                            "delta": {"type": "text_delta", "text": text}})

    def _anthropic_end(self, text: str, stop: str) -> list[bytes]:
        usage: dict[str, int] = {"output_tokens": 0 if self.usage == "none" else _tokens(text)}
        if self.usage == "delta_only":
            usage.update(input_tokens=self.input_tokens, cache_read_input_tokens=0)
        return [
            _sse("content_block_stop", {"type": "content_block_stop", "index": 0}),
            _sse("message_delta", {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                                   "usage": usage}),
            _sse("message_stop", {"type": "message_stop"}),
        ]

    # OpenAI Responses ------------------------------------------------------
    def _response(self, status: str, text: str | None = None, **extra: Any) -> dict[str, Any]:
        output = []
        if text is not None:
            output = [{"id": f"msg_{self.id}", "type": "message", "status": "completed", "role": "assistant",
                       "content": [{"type": "output_text", "text": text, "annotations": []}]}]
        response = {"id": f"resp_{self.id}", "object": "response", "created_at": 1_700_000_000, "model": self.model,
                    "status": status, "output": output, "parallel_tool_calls": True, "tool_choice": "auto",
                    "tools": [], **extra}
        if text is not None and self.usage != "none":
            response["usage"] = {
                "input_tokens": self.input_tokens, "output_tokens": _tokens(text),
                "total_tokens": self.input_tokens + _tokens(text),
                "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
                "output_tokens_details": {"reasoning_tokens": 0},
            }
        return response

    def _event(self, kind: str, **fields: Any) -> bytes:
        return _sse(kind, {"type": kind, "sequence_number": next(self.sequence), **fields})

    def _item(self, status: str, text: str | None) -> dict[str, Any]:
        content = [] if text is None else [{"type": "output_text", "text": text, "annotations": []}]
        return {"id": f"msg_{self.id}", "type": "message", "status": status, "role": "assistant", "content": content}

    def _responses_start(self) -> list[bytes]:
        location = {"item_id": f"msg_{self.id}", "output_index": 0, "content_index": 0}
        return [
            self._event("response.created", response=self._response("in_progress")),
            self._event("response.in_progress", response=self._response("in_progress")),
            self._event("response.output_item.added", output_index=0, item=self._item("in_progress", None)),
            self._event("response.content_part.added", **location,
                        part={"type": "output_text", "text": "", "annotations": []}),
        ]

    def _responses_delta(self, text: str) -> bytes:
        return self._event("response.output_text.delta", item_id=f"msg_{self.id}", output_index=0,
                           content_index=0, delta=text, logprobs=[])

    def _responses_end(self, text: str, stop: str) -> list[bytes]:
        location = {"item_id": f"msg_{self.id}", "output_index": 0, "content_index": 0}
        events = [
            self._event("response.output_text.done", **location, text=text, logprobs=[]),
            self._event("response.content_part.done", **location,
                        part={"type": "output_text", "text": text, "annotations": []}),
            self._event("response.output_item.done", output_index=0, item=self._item("completed", text)),
        ]
        if stop == "max_tokens":
            response = self._response("incomplete", text, incomplete_details={"reason": "max_output_tokens"})
            return [*events, self._event("response.incomplete", response=response)]
        return [*events, self._event("response.completed", response=self._response("completed", text))]

    # OpenAI Chat Completions ----------------------------------------------
    def _chunk(self, delta: dict[str, Any], finish: str | None = None, usage: dict | None = None) -> bytes:
        choices = [] if usage else [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]
        chunk = {"id": f"chatcmpl-{self.id}", "object": "chat.completion.chunk", "created": 1_700_000_000,
                 "model": self.model, "choices": choices}
        if usage:
            chunk["usage"] = usage
        return _sse(None, chunk)

    def _chat_start(self) -> list[bytes]:
        return [self._chunk({"role": "assistant", "content": ""})]

    def _chat_delta(self, text: str) -> bytes:
        return self._chunk({"content": text})

    def _chat_end(self, text: str, stop: str) -> list[bytes]:
        usage = {"prompt_tokens": self.input_tokens, "completion_tokens": _tokens(text),
                 "total_tokens": self.input_tokens + _tokens(text)}
        final = self._chunk({}, "length" if stop == "max_tokens" else "stop")
        if self.usage == "none":
            return [final, _sse(None, "[DONE]")]
        return [final, self._chunk({}, usage=usage), _sse(None, "[DONE]")]

    # OpenAI-compatible Completions (fill-in-the-middle) ---------------------
    def _text_chunk(self, text: str, finish: str | None = None, usage: dict | None = None) -> bytes:
        choices = [] if usage else [{"index": 0, "text": text, "finish_reason": finish, "logprobs": None}]
        chunk = {"id": f"cmpl-{self.id}", "object": "text_completion", "created": 1_700_000_000,
                 "model": self.model, "choices": choices}
        if usage:
            chunk["usage"] = usage
        return _sse(None, chunk)

    def _completions_start(self) -> list[bytes]:
        return []

    def _completions_delta(self, text: str) -> bytes:
        return self._text_chunk(text)

    def _completions_end(self, text: str, stop: str) -> list[bytes]:
        usage = {"prompt_tokens": self.input_tokens, "completion_tokens": _tokens(text),
                 "total_tokens": self.input_tokens + _tokens(text)}
        final = self._text_chunk("", "length" if stop == "max_tokens" else "stop")
        if self.usage == "none":
            return [final, _sse(None, "[DONE]")]
        return [final, self._text_chunk("", usage=usage), _sse(None, "[DONE]")]

    # Common ----------------------------------------------------------------
    def start(self) -> list[bytes]:
        return getattr(self, f"_{self.api}_start")()

    def delta(self, text: str) -> bytes:
        return getattr(self, f"_{self.api}_delta")(text)

    def end(self, text: str, stop: str = "end_turn") -> list[bytes]:
        return getattr(self, f"_{self.api}_end")(text, stop)

    def error_event(self, fault: Fault) -> bytes:
        message = fault.message or "the service is overloaded"
        if self.api == "anthropic":
            error = {"type": fault.error_type or "overloaded_error", "message": message}
            return _sse("error", {"type": "error", "error": error})
        if self.api == "responses":
            if fault.error_type == "response.failed":
                response = self._response("failed", error={"code": "server_error", "message": message})
                return self._event("response.failed", response=response)
            return self._event("error", code=fault.error_type or "server_error", message=message, param=None)
        return _sse(None, {"error": {"message": message, "type": fault.error_type or "server_error", "code": None}})

    def malformed(self) -> bytes:
        event = {"anthropic": "content_block_delta", "responses": "response.output_text.delta"}.get(self.api)
        return (f"event: {event}\n" if event else "").encode() + b'data: {"type": "content_block_delta", "delta": \n\n'


# --------------------------------------------------------------------------- #
# Holding streams open

def canned_stream(api: Api, model: str, prompt: str, answer: str) -> bytes:
    """A whole 200 stream body of ``api`` answering ``prompt`` with ``answer``,
    for an in-process transport (the providers' warm-up rehearsal)."""
    stream = _Stream(api, model, prompt, itertools.count(1).__next__)
    return b"".join([*stream.start(), stream.delta(answer), *stream.end(answer)])


class Hold:
    """A barrier for streams: each stream that reaches it (its whole text sent,
    the final event not yet) stays open until the hold is released, by
    :meth:`release` or, with ``n``, as soon as ``n`` streams have arrived.

    With ``trickle_s``, a held stream keeps sending a one-space text delta
    every ``trickle_s`` seconds, so the client keeps receiving output while it
    waits (the spaces are part of the answer and of its final event).
    """

    def __init__(self, n: int | None = None, *, trickle_s: float | None = None) -> None:
        self.n = n
        self.trickle_s = trickle_s
        self.arrived = 0  # streams that reached the hold before its release
        self.waiting = 0  # streams held right now
        self.peak = 0  # the most streams held at once
        self.released = asyncio.Event()

    def release(self) -> None:
        self.released.set()

    async def wait_until_arrived(self, count: int, timeout: float = 30.0) -> None:
        """Until ``count`` streams have arrived (a test's positive signal)."""
        deadline = time.monotonic() + timeout
        while self.arrived < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {self.arrived} of {count} streams reached the hold")
            await asyncio.sleep(0.005)

    async def _wait(self, send: Callable[[bytes], Any], delta: Callable[[str], bytes],
                    record: RecordedRequest) -> str:
        """Hold one stream; returns the filler text it trickled meanwhile."""
        if self.released.is_set():
            return ""
        self.arrived += 1
        self.waiting += 1
        self.peak = max(self.peak, self.waiting)
        if self.n is not None and self.arrived >= self.n:
            self.release()
        filler = ""
        try:
            while not self.released.is_set():
                if self.trickle_s is None:
                    await self.released.wait()
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.released.wait(), self.trickle_s)
                if not self.released.is_set():
                    await send(delta(" "))
                    record.chunks_sent += 1
                    filler += " "
        finally:
            self.waiting -= 1
        return filler


# --------------------------------------------------------------------------- #
# The server

class LoopbackProviders:
    """``async with LoopbackProviders(key="sk-test") as fake:`` then point
    ``base_url`` at ``fake.anthropic_url`` / ``fake.openai_url``."""

    def __init__(
        self,
        *,
        key: str | None = None,
        chunk_chars: int = 16,
        delay_s: float = 0.0,
        first_token_s: float = 0.0,
        signature: str = "loopback",
        usage: UsageMode = "standard",
    ) -> None:
        self.key = key
        self.usage: UsageMode = usage  # where streams report usage; a test may change it between requests
        self.unserved: set[Api] = set()  # APIs this server lacks (404, like llama.cpp's for /v1/responses)
        self.chunk_chars = chunk_chars
        self.delay_s = delay_s
        self.first_token_s = first_token_s  # before the first text chunk (time to first token); a client gone ends it
        self.signature = signature
        self.requests: list[RecordedRequest] = []
        self._faults: dict[str, deque[Fault]] = {api: deque() for api in _PATHS.values()}
        self._replies: dict[str, deque[str]] = {api: deque() for api in _PATHS.values()}
        # A test's own answers, by request (None: the usual one); after reply_next's.
        self.answer: Callable[[RecordedRequest], str | None] | None = None
        self._server: asyncio.AbstractServer | None = None
        self._ids = itertools.count(1).__next__
        self._connections: set[asyncio.Task] = set()
        self._hold: Hold | None = None
        self.open_streams = 0  # 200 streams in progress now
        self.peak_open_streams = 0  # the most at once
        self.port = 0

    @property
    def anthropic_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def openai_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def fail_next(self, api: Api, *faults: Fault) -> None:
        """The next requests to ``api`` get these faults, in order."""
        self._faults[api].extend(faults)

    def reply_next(self, api: Api, *texts: str) -> None:
        """The next answers of ``api`` are these texts, in order (then the
        usual answer derived from the prompt)."""
        self._replies[api].extend(texts)

    def hold(self, n: int | None = None, *, trickle_s: float | None = None) -> Hold:
        """From now on, streams (every API) stay open once their text is sent,
        until ``n`` of them have arrived or the returned :class:`Hold` is
        released; see :class:`Hold`. Replaces an earlier hold."""
        self._hold = Hold(n, trickle_s=trickle_s)
        return self._hold

    async def start(self) -> LoopbackProviders:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._connections):
                task.cancel()
            await asyncio.gather(*self._connections, return_exceptions=True)
            await self._server.wait_closed()

    async def __aenter__(self) -> LoopbackProviders:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def wait_for_disconnect(self, request: RecordedRequest, timeout: float = 5.0) -> float:
        deadline = time.monotonic() + timeout
        while request.disconnected is None:
            if time.monotonic() > deadline:
                raise TimeoutError("the client kept the stream open")
            await asyncio.sleep(0.005)
        return request.disconnected

    # ---------------------------------------------------------------- HTTP

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.get_running_loop().create_task(self._serve(reader, writer))
        self._connections.add(task)
        task.add_done_callback(self._connections.discard)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, *header_lines = head.decode("latin-1").split("\r\n")
            method, path, _ = request_line.split(" ", 2)
            headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines if h)}
            body = await reader.readexactly(int(headers.get("content-length", 0)))
            path = path.split("?", 1)[0]
            api = _PATHS.get(path)
            if method != "POST" or api is None or api in self.unserved:
                await self._respond_json(writer, 404, {"error": {"code": 404, "message": "File Not Found",
                                                                 "type": "not_found_error"}})
                return
            record = RecordedRequest(api, path, headers, json.loads(body or b"{}"))
            self.requests.append(record)
            await self._handle(record, reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def _respond_json(self, writer: asyncio.StreamWriter, status: int, body: Any,
                            extra: dict[str, str] | None = None) -> None:
        payload = json.dumps(body).encode()
        headers = {"content-type": "application/json", "content-length": str(len(payload)),
                   "connection": "close", **(extra or {})}
        writer.write(self._status_line(status, headers) + payload)
        await writer.drain()

    @staticmethod
    def _status_line(status: int, headers: dict[str, str]) -> bytes:
        lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}"] + [f"{k}: {v}" for k, v in headers.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    def _authorised(self, record: RecordedRequest) -> bool:
        if self.key is None:
            return True
        bearer = record.headers.get("authorization", "")
        return bearer == f"Bearer {self.key}" or record.headers.get("x-api-key") == self.key

    async def _handle(
        self, record: RecordedRequest, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        api = record.api
        if not self._authorised(record):
            given = record.headers.get("x-api-key") or record.headers.get("authorization", "").removeprefix("Bearer ")
            message = f"invalid api key: {given}"  # real services echo less; this proves redaction
            await self._respond_json(writer, 401, _error_body(api, 401, "authentication_error", message))
            return
        fault = self._faults[api].popleft() if self._faults[api] else None
        if fault is not None and fault.kind == "status":
            extra = {} if fault.retry_after is None else {"retry-after": f"{fault.retry_after:g}"}
            default_type = {429: "rate_limit_error", 529: "overloaded_error", 401: "authentication_error",
                            404: "not_found_error"}.get(
                fault.status, "invalid_request_error" if fault.status < 500 else "api_error")
            body = _error_body(api, fault.status, fault.error_type or default_type,
                               fault.message or _REASONS.get(fault.status, "error"))
            await self._respond_json(writer, fault.status, body, extra)
            return

        model = str(record.body.get("model", "model"))
        replies = self._replies[api]
        suffix = str(record.body.get("suffix") or "") if api == "completions" else None
        text = replies.popleft() if replies else self.answer(record) if self.answer is not None else None
        if text is None:
            text = reply_to_prompt(record.prompt, f"{model} ({self.signature} {api})", suffix)
        stream = _Stream(api, model, record.prompt, self._ids, self.usage)
        # Chunked, as the real services stream: a connection cut before the
        # final empty chunk is then a protocol error for the client, not an EOF.
        writer.write(self._status_line(200, {"content-type": "text/event-stream", "cache-control": "no-cache",
                                              "transfer-encoding": "chunked", "connection": "close"}))
        watcher = asyncio.create_task(self._watch_disconnect(record, reader))
        self.open_streams += 1
        self.peak_open_streams = max(self.peak_open_streams, self.open_streams)
        try:
            await self._send_events(record, writer, stream, text, fault, watcher)
        except ConnectionError:
            record.disconnected = record.disconnected or time.monotonic()
        finally:
            self.open_streams -= 1
            watcher.cancel()

    async def _watch_disconnect(self, record: RecordedRequest, reader: asyncio.StreamReader) -> None:
        with contextlib.suppress(ConnectionError):
            while await reader.read(1024):
                pass
        if record.finished is None:
            record.disconnected = time.monotonic()

    async def _send_events(self, record: RecordedRequest, writer: asyncio.StreamWriter, stream: _Stream,
                           text: str, fault: Fault | None, watcher: asyncio.Task | None = None) -> None:
        async def send(*events: bytes) -> None:
            if record.disconnected is not None:
                raise ConnectionError("client went away")
            data = b"".join(events)
            if not data:  # an empty chunk would end the chunked body (the Completions API has no start event)
                return
            writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            await writer.drain()

        async def end_body() -> None:
            writer.write(b"0\r\n\r\n")
            await writer.drain()
            record.finished = time.monotonic()

        await send(*stream.start())
        pieces = [text[i : i + self.chunk_chars] for i in range(0, len(text), self.chunk_chars)] or [""]
        kind = fault.kind if fault else None
        if kind == "max_tokens" and fault.cut_at is not None:
            pieces = pieces[: fault.cut_at]
            text = "".join(pieces)
        for index, piece in enumerate(pieces):
            breaks_here = kind in {"disconnect", "hang", "malformed", "error_event"}
            if fault is not None and index == fault.after and breaks_here:
                if kind == "disconnect":
                    writer.transport.abort()
                    return
                if kind == "hang":
                    while record.disconnected is None:
                        await asyncio.sleep(0.01)
                    return
                await send(stream.malformed() if kind == "malformed" else stream.error_event(fault))
                await end_body()
                return
            if index == 0 and self.first_token_s:
                if watcher is None:
                    await asyncio.sleep(self.first_token_s)
                else:  # the watcher ends when the client goes away: stop waiting then
                    await asyncio.wait([watcher], timeout=self.first_token_s)
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            await send(stream.delta(piece))
            record.chunks_sent += 1
            if record.first_text is None:
                record.first_text = time.monotonic()
        if self._hold is not None:
            text += await self._hold._wait(send, stream.delta, record)
        if kind != "no_final":
            await send(*stream.end(text, "max_tokens" if kind == "max_tokens" else "end_turn"))
        await end_body()
