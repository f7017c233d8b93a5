"""A small raw JSON-RPC (LSP base protocol) client over a subprocess's stdio.

No pygls client on purpose: the benchmark should measure the servers, not a
client library, and both servers get exactly the same bytes.

* ``Content-Length`` framing, UTF-8 JSON bodies;
* integer request ids, one future per pending request, resolved by a single
  reader task;
* server→client requests (``window/workDoneProgress/create``,
  ``client/registerCapability``, ``workspace/applyEdit``,
  ``window/showDocument``, ...) are answered with sensible results;
* server→client notifications are ignored, except that listeners may watch
  them (the benchmark counts ``$/progress`` reports).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import Callable
from typing import Any

# Results for the server→client requests a language server may send.
DEFAULT_REQUEST_RESULTS: dict[str, Any] = {
    "window/workDoneProgress/create": None,
    "client/registerCapability": None,
    "client/unregisterCapability": None,
    "workspace/applyEdit": {"applied": True},
    "window/showDocument": {"success": True},
    "window/showMessageRequest": None,
    "workspace/configuration": None,  # replaced by one null per item below
    "workspace/workspaceFolders": None,
    "workspace/codeLens/refresh": None,
    "workspace/semanticTokens/refresh": None,
    "workspace/inlayHint/refresh": None,
    "workspace/inlineValue/refresh": None,
    "workspace/diagnostic/refresh": None,
    "workspace/foldingRange/refresh": None,
}


class RpcError(Exception):
    """The server answered a request with a JSON-RPC error."""

    def __init__(self, method: str, error: dict[str, Any]) -> None:
        super().__init__(f"{method}: {error.get('code')} {error.get('message')}")
        self.code = error.get("code")
        self.error = error


class ServerGone(ConnectionError):
    """The server's stdout closed while requests were pending."""


class RpcClient:
    def __init__(self, process: asyncio.subprocess.Process, spawned_at: float) -> None:
        self.process = process
        self.spawned_at = spawned_at  # time.perf_counter() just before the spawn
        self.label = str(process.pid)  # for messages; the caller may set a better one
        self._next_id = 0
        self._pending: dict[int, tuple[str, asyncio.Future]] = {}
        self._write_lock = asyncio.Lock()
        self._listeners: list[Callable[[str, Any], None]] = []
        self.server_requests: dict[str, int] = {}  # method → count, for the report
        self.notifications: dict[str, int] = {}
        self._reader = asyncio.create_task(self._read_loop(), name="rpc reader")

    # ----------------------------------------------------------------- spawn

    @classmethod
    async def spawn(
        cls,
        argv: list[str],
        *,
        env: dict[str, str] | None = None,
        cwd: str | os.PathLike | None = None,
        stderr_path: str | os.PathLike | None = None,
    ) -> RpcClient:
        stderr = open(stderr_path, "ab") if stderr_path is not None else asyncio.subprocess.DEVNULL
        try:
            spawned_at = time.perf_counter()
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=stderr,
                env=env,
                cwd=cwd,
            )
        finally:
            if stderr_path is not None:
                stderr.close()  # the child holds its own descriptor
        return cls(process, spawned_at)

    # --------------------------------------------------------------- sending

    async def _send(self, message: dict[str, Any]) -> None:
        body = json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        data = b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        stdin = self.process.stdin
        assert stdin is not None
        async with self._write_lock:
            stdin.write(data)
            await stdin.drain()

    def send_request(self, method: str, params: Any = None) -> asyncio.Future:
        """Send a request now; the returned future resolves with its result.

        The message is written synchronously (no await between the id and the
        write), so requests are sent in call order.
        """
        self._next_id += 1
        msg_id = self._next_id
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self._pending[msg_id] = (method, future)
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": msg_id, "method": method}
        if params is not None:
            message["params"] = params
        body = json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        stdin = self.process.stdin
        assert stdin is not None
        stdin.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        return future

    async def flush(self) -> None:
        """Wait until what ``send_request`` wrote has gone to the pipe."""
        assert self.process.stdin is not None
        async with self._write_lock:
            await self.process.stdin.drain()

    async def request(self, method: str, params: Any = None, timeout: float | None = 30.0) -> Any:
        future = self.send_request(method, params)
        await self.flush()
        return await asyncio.wait_for(future, timeout)

    async def notify(self, method: str, params: Any = None) -> None:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        await self._send(message)

    # ------------------------------------------------------------- receiving

    def add_listener(self, listener: Callable[[str, Any], None]) -> None:
        """``listener(method, params)`` is called for every server notification."""
        self._listeners.append(listener)

    async def _read_message(self) -> dict[str, Any] | None:
        stdout = self.process.stdout
        assert stdout is not None
        length = None
        while True:
            line = await stdout.readline()
            if not line:
                return None  # EOF
            line = line.strip()
            if not line:
                if length is None:
                    continue  # stray blank line; keep looking for headers
                break
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        body = await stdout.readexactly(length)
        return json.loads(body)

    async def _read_loop(self) -> None:
        error: BaseException | None = None
        try:
            while True:
                message = await self._read_message()
                if message is None:
                    break
                self._dispatch(message)
        except asyncio.CancelledError:
            error = ServerGone("client closed")
            raise
        except Exception as exc:  # malformed output, broken pipe...
            error = exc
        finally:
            gone = error if error is not None else ServerGone(f"server exited (return code {self.process.returncode})")
            for method, future in self._pending.values():
                if not future.done():
                    future.set_exception(ServerGone(f"{method}: {gone}"))
                    future.exception()  # awaiting it still raises; unawaited, it is not logged
            self._pending.clear()

    def _dispatch(self, message: dict[str, Any]) -> None:
        method = message.get("method")
        if method is None:  # a response
            entry = self._pending.pop(message.get("id"), None)
            if entry is None:
                return
            request_method, future = entry
            if future.done():
                return
            if "error" in message:
                future.set_exception(RpcError(request_method, message["error"]))
            else:
                future.set_result(message.get("result"))
            return
        params = message.get("params")
        if "id" in message:  # a server→client request: answer it
            self.server_requests[method] = self.server_requests.get(method, 0) + 1
            asyncio.get_running_loop().create_task(self._answer(message["id"], method, params))
            return
        self.notifications[method] = self.notifications.get(method, 0) + 1
        for listener in self._listeners:
            listener(method, params)

    async def _answer(self, msg_id: Any, method: str, params: Any) -> None:
        reply: dict[str, Any] = {"jsonrpc": "2.0", "id": msg_id}
        if method == "workspace/configuration":
            items = (params or {}).get("items", [])
            reply["result"] = [None] * len(items)
        elif method in DEFAULT_REQUEST_RESULTS:
            reply["result"] = DEFAULT_REQUEST_RESULTS[method]
        else:
            reply["error"] = {"code": -32601, "message": f"method not found: {method}"}
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self._send(reply)

    # --------------------------------------------------------------- closing

    async def close(self, timeout: float = 5.0) -> int | None:
        """``shutdown`` then ``exit``; kill the process if it does not go.

        Safe to call more than once and on a process that already died.
        """
        process = self.process
        try:
            if process.returncode is None and not self._reader.done():
                with contextlib.suppress(Exception):
                    await self.request("shutdown", None, timeout=timeout)
                with contextlib.suppress(Exception):
                    await self.notify("exit")
                with contextlib.suppress(Exception):
                    assert process.stdin is not None
                    process.stdin.close()
                try:
                    await asyncio.wait_for(process.wait(), timeout)
                except TimeoutError:
                    process.kill()
                    await process.wait()
        finally:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        return process.returncode

    def kill(self) -> None:
        """Last resort, synchronous (for ``finally`` blocks outside the loop)."""
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
