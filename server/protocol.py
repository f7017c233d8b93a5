"""Everything about the protocol itself that pygls does not do for us, in one place.

- **Cancellation.** pygls answers ``$/cancelRequest`` for
  ``workspace/executeCommand`` with -32800 but does not stop the work the
  command started, and a cancelled work-done progress only cancels a future.
  :class:`RunningTasks` finds a running task by request id or progress token,
  and :class:`RouterProtocol` routes both kinds of cancellation
  (``$/cancelRequest``, ``window/workDoneProgress/cancel``) to it.
- **Shutdown.** pygls 2.1.1 iterates over its request futures while cancelling
  them, and a future's callback can remove entries: ``RuntimeError: dictionary
  changed size during iteration``. Ours cancels our own tasks first, then
  iterates over a copy, and answers ``null``.
- **Messages that cannot be read.** pygls only logs a body that is not JSON or
  params that do not fit the method, and never answers. :meth:`handle_body`
  (fed by ``server/stdio.py``, our frame reader) answers -32700, -32600 or
  -32602 naming the field; a few params lsprotocol accepts but our features
  cannot use (``context.only: [5]``) are -32602 too. What pygls answers with
  an internal error or not at all is the client's mistake, answered as such:
  an id that is not a string or an integer and a method that is not a string
  are -32600, as is a notification's method sent with an id (pygls handles it
  as a notification); a request to a method lsprotocol does not know, without
  params or with a member JSON-RPC does not have, is -32601 like any other.
- **The task table** goes to the client in ``ServerCapabilities.experimental``
  (``assistantRouter.tasks``), so editor clients never copy it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Generator, Hashable
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams, JsonRpcInvalidRequest, JsonRpcParseError
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.language_server import lsp_method

logger = logging.getLogger(__name__)

EXPERIMENTAL_KEY = "assistantRouter"


class RunningTasks:
    """Running tasks, findable by request id and by progress token."""

    def __init__(self) -> None:
        self._by_key: dict[Hashable, asyncio.Task[Any]] = {}

    def add(self, task: asyncio.Task[Any], *keys: Hashable) -> None:
        live = [key for key in keys if key is not None]
        for key in live:
            self._by_key[key] = task

        def forget(_: asyncio.Task[Any]) -> None:
            for key in live:
                if self._by_key.get(key) is task:
                    del self._by_key[key]

        task.add_done_callback(forget)

    def cancel(self, key: Hashable, why: str) -> bool:
        task = self._by_key.get(key)
        if task is None or task.done():
            return False
        logger.info("cancelling task %s: %s", key, why)
        task.cancel(why)
        return True

    def cancel_all(self, why: str) -> list[asyncio.Task[Any]]:
        """Cancel every running task; returns them, to wait for."""
        tasks = [t for t in {id(t): t for t in self._by_key.values()}.values() if not t.done()]
        for task in tasks:
            task.cancel(why)
        return tasks

    def __len__(self) -> int:
        return len({id(t) for t in self._by_key.values()})


RawBound = Callable[[dict[str, Any]], None]


class RouterProtocol(LanguageServerProtocol):
    running: RunningTasks
    experimental: Callable[[], dict[str, Any]] | None = None  # set by the composition root

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.running = RunningTasks()
        self._bounds: dict[str, RawBound] = {}

    def bound(self, method: str, cut: RawBound) -> None:
        """Have ``cut`` trim a message's raw params (JSON, before pygls
        structures them) to what the feature can use: pygls structures every
        item of a list, and 200,000 of them hold the loop for seconds."""
        self._bounds[method] = cut

    def handle_body(self, body: bytes) -> None:
        """Handle one frame's body; answer every request that cannot be read."""
        try:
            data = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            logger.error("a message body is not JSON (%s): %r", exc, body[:200])
            self._answer_error(None, JsonRpcParseError(f"Parse error: the body is not JSON: {exc}"))
            return
        msg_id = data.get("id") if isinstance(data, dict) else None
        if not isinstance(data, dict) or data.get("jsonrpc") != self.VERSION:
            logger.error("not a JSON-RPC 2.0 message: %r", body[:200])
            self._answer_error(msg_id, JsonRpcInvalidRequest('Invalid Request: not a JSON-RPC 2.0 message object'))
            return
        is_request = "method" in data and "id" in data
        try:
            if is_request and not _valid_id(data["id"]):
                raise JsonRpcInvalidRequest(f"Invalid Request: the id is not a string or integer: {_short(data['id'])}")
            if "method" in data and not isinstance(data["method"], str):
                raise JsonRpcInvalidRequest(f"Invalid Request: the method is not a string: {_short(data['method'])}")
            problem = _params_problem(data) if is_request else None
            if problem is not None:
                raise JsonRpcInvalidParams(f"Invalid params: {problem}")
            if (cut := self._bounds.get(data.get("method"))) is not None and isinstance(data.get("params"), dict):
                cut(data["params"])
            if "method" in data and self.get_message_type(data["method"]) is None:
                # pygls's generic message (any method lsprotocol does not know)
                # requires params and takes no other member.
                data = {"params": None, **{key: value for key, value in data.items() if key in _MEMBERS}}
            # pygls passes structure_message as json's object_hook; it leaves every
            # dict without "jsonrpc" as it is, so structuring the top level is the same.
            message = self.structure_message(data)
            if is_request and not hasattr(message, "id"):  # pygls would handle it and never answer
                raise JsonRpcInvalidRequest(f"Invalid Request: {data['method']} is a notification, sent with an id")
        except JsonRpcException as exc:
            if isinstance(exc, JsonRpcInvalidParams) and exc.__cause__ is not None:
                exc = JsonRpcInvalidParams(f"Invalid params: {_field_errors(exc.__cause__)}")
            logger.error("cannot read %s %r: %s", data.get("method", "message"), msg_id, exc.message)
            if is_request:
                self._answer_error(msg_id, exc)
            return
        if self._shutdown and is_request:  # pygls drops it without an answer
            self._answer_error(msg_id, JsonRpcInvalidRequest("Invalid Request: the server is shutting down"))
            return
        self.handle_message(message)

    def answer_skipped(self, skipped: bytes) -> None:
        """Answer a request found in bytes skipped after an unreadable header."""
        try:
            start = skipped.find(b"{")
            data = json.loads(skipped[start:] if start >= 0 else b"null")
        except (UnicodeDecodeError, json.JSONDecodeError):
            return
        if isinstance(data, dict) and "method" in data and isinstance(data.get("id"), (int, str)):
            error = JsonRpcParseError("Parse error: the frame's Content-Length header is invalid")
            self._answer_error(data["id"], error)

    def _answer_error(self, msg_id: Any, error: JsonRpcException) -> None:
        if msg_id is not None and not isinstance(msg_id, (int, str)):
            msg_id = None
        answer = {"code": error.code, "message": error.message}
        self._send_data({"jsonrpc": self.VERSION, "id": msg_id, "error": answer})

    def _handle_cancel_notification(self, msg_id: Any) -> None:
        super()._handle_cancel_notification(msg_id)
        self.running.cancel(("request", msg_id), "$/cancelRequest")

    @lsp_method(types.WINDOW_WORK_DONE_PROGRESS_CANCEL)
    def lsp_work_done_progress_cancel(self, params: types.WorkDoneProgressCancelParams) -> Generator[Any, Any, None]:
        yield from super().lsp_work_done_progress_cancel(params)
        self.running.cancel(("progress", params.token), "cancelled from the progress UI")

    @lsp_method(types.INITIALIZE)
    def lsp_initialize(self, params: types.InitializeParams) -> Generator[Any, Any, types.InitializeResult]:
        result: types.InitializeResult = yield from super().lsp_initialize(params)
        # pygls has just created the workspace: its documents get a line index
        # (server/text_documents.py), the same state and behaviour otherwise.
        from assistant_router.server.text_documents import IndexedWorkspace

        self._workspace.__class__ = IndexedWorkspace
        if self.experimental is not None:
            result.capabilities.experimental = {EXPERIMENTAL_KEY: self.experimental()}
        text_document = params.capabilities.text_document
        if text_document is None or text_document.inline_completion is None:
            # Advertised only to a client that declares inline completion (LSP 3.18).
            result.capabilities.inline_completion_provider = None
        return result

    @lsp_method(types.SHUTDOWN)
    def lsp_shutdown(self, *args: Any) -> Generator[Any, Any, None]:
        if (user_handler := self.fm.features.get(types.SHUTDOWN)) is not None:
            yield user_handler, args, None
        current_id = self.msg_id
        for msg_id, future in list(self._request_futures.items()):
            if msg_id != current_id and not future.done():
                future.cancel()
        self._shutdown = True
        return None


def _field_errors(cause: BaseException) -> str:
    """cattrs' errors as ``expected … @ params.field`` lines, joined."""
    from cattrs import transform_error

    try:
        lines = transform_error(cause)
    except Exception:
        return str(cause)
    return "; ".join(line.replace("@ $.", "at ") for line in lines) or str(cause)


def _params_problem(data: dict[str, Any]) -> str | None:
    """Params lsprotocol accepts that no handler of ours can use."""
    params = data.get("params")
    if data.get("method") == types.WORKSPACE_EXECUTE_COMMAND and isinstance(params, dict):
        arguments = params.get("arguments")
        if arguments is not None and not isinstance(arguments, list):
            return f"expected a list at params.arguments, got {_short(arguments)}"
    if data.get("method") == types.TEXT_DOCUMENT_CODE_ACTION and isinstance(params, dict):
        context = params.get("context")
        only = context.get("only") if isinstance(context, dict) else None
        if only is not None:
            if not isinstance(only, list):
                return f"expected a list of code action kinds at params.context.only, got {_short(only)}"
            for index, kind in enumerate(only):
                if not isinstance(kind, str):
                    return f"expected a string (a code action kind) at params.context.only[{index}], got {_short(kind)}"
    return None


_MEMBERS = ("jsonrpc", "id", "method", "params")


def _valid_id(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:60] + "…"
