"""The LSP base protocol over stdio or TCP: frames in, messages to the protocol.

pygls 2.1.1 (``pygls.io_.run_async``) reads headers line by line and only
recognises ``Content-Length: <digits>``. After a frame it cannot read (say
``Content-Length: abc``) it skips the headers but not the body, and since a
body does not end with a newline, the next header is glued to it
(``{...}Content-Length: 52``) and never matches again: every later request is
dropped while the process stays alive, so the editor never restarts it. A
body that is not JSON, or a message whose params do not fit the method, is
only logged: the request is never answered.

This reader fixes both:

- a header it cannot read (no ``Content-Length``, not a number, too large, a
  line that is no header) is logged and the reader **resynchronises** on the
  next ``Content-Length`` header, even one glued to the end of a body; a
  request found in the skipped bytes is answered with -32700;
- bytes glued before a ``Content-Length`` header (``x`` or the rest of a body
  longer than its ``Content-Length``) are skipped the same way, and the frame
  that follows them is read;
- every body goes to :meth:`RouterProtocol.handle_body`, which answers -32700
  (not JSON), -32600 (not a JSON-RPC message) or -32602 (params that do not
  fit, naming the field) instead of staying silent.

At the end of input the server shuts down as pygls's own loop does.
``serve --tcp`` reads its one connection with the same reader.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import sys
import threading
from collections.abc import Awaitable, Coroutine
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol

from pygls.io_ import StdinAsyncReader, StdoutWriter

if TYPE_CHECKING:
    from pygls.lsp.server import LanguageServer

    from assistant_router.server.protocol import RouterProtocol

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 256 * 1024 * 1024  # a larger Content-Length is taken as a broken frame
_GLUED = re.compile(rb"Content-Length:[ \t]*(\S*)[ \t]*\r?\n?$", re.IGNORECASE)


class FrameReader(Protocol):
    """What :func:`read_frames` reads from: stdin (through a thread) or a socket."""

    def readline(self) -> Awaitable[bytes]: ...

    def readexactly(self, n: int) -> Awaitable[bytes]: ...


class CannotListen(OSError):
    """``serve --tcp`` could not open its port; the message says why."""


class FrameError(ValueError):
    """A header that cannot be read: the frame's length is unknown."""


def content_length(line: bytes) -> int | None:
    """The length a header line sets, None for another (valid) header.

    Raises :class:`FrameError` when ``line`` is not a header, or a bad
    ``Content-Length``."""
    name, colon, value = line.partition(b":")
    if not colon or not name.strip() or name != name.strip():
        raise FrameError(f"not a header line: {_shown(line)}")
    if name.strip().lower() != b"content-length":
        return None
    text = value.strip()
    if not text.isdigit():
        raise FrameError(f"Content-Length is not a number: {_shown(line)}")
    length = int(text)
    if length > MAX_BODY_BYTES:
        raise FrameError(f"Content-Length {length} exceeds {MAX_BODY_BYTES} bytes")
    return length


def _shown(data: bytes, limit: int = 80) -> str:
    text = repr(data[:limit])
    return text + ("…" if len(data) > limit else "")


async def read_frames(stop_event: threading.Event, reader: FrameReader, protocol: RouterProtocol) -> None:
    """Read frames until the end of input (or ``stop_event``), resynchronising
    after a frame whose header cannot be read."""
    length: int | None = None
    lost = False  # skipping bytes until the next Content-Length header
    skipped = bytearray()
    while not stop_event.is_set():
        line = await reader.readline()
        if not line:
            if lost and skipped:
                logger.error("end of input while resynchronising; %d bytes skipped", len(skipped))
            return
        if not lost and (glued := _GLUED.search(line)) is not None and glued.start() > 0:
            # Bytes glued to a Content-Length header (a byte too many before a
            # frame, a body longer than its Content-Length): skip them, not the frame.
            logger.error("bytes before a Content-Length header (%s); skipping them", _shown(line[: glued.start()]))
            lost, length = True, None
        if lost:
            found = _GLUED.search(line)
            if found is None or not found.group(1).isdigit() or int(found.group(1)) > MAX_BODY_BYTES:
                skipped += line
                continue
            skipped += line[: found.start()]
            protocol.answer_skipped(bytes(skipped))
            logger.warning("resynchronised on the next Content-Length header after %d skipped bytes", len(skipped))
            skipped.clear()
            lost = False
            length = int(found.group(1))
            continue
        if not line.strip():
            if length is None:
                logger.error("frame without Content-Length header; skipping to the next header")
                lost = True
                continue
            body = await reader.readexactly(length) if length else b""
            if len(body) < length:
                logger.error("end of input inside a frame body (%d of %d bytes)", len(body), length)
                return
            length = None
            try:
                protocol.handle_body(body)
            except Exception:
                logger.exception("unable to handle message")
            continue
        try:
            found_length = content_length(line)
        except FrameError as exc:
            logger.error("unreadable frame header (%s); skipping to the next Content-Length header", exc)
            lost, length = True, None
            skipped += line
            continue
        if found_length is not None:
            length = found_length


def start_io(server: LanguageServer, stdin: BinaryIO | None = None, stdout: BinaryIO | None = None) -> int:
    """``LanguageServer.start_io`` with :func:`read_frames` as the reader.

    Returns the exit status: 0 at the end of input or after ``shutdown`` and
    ``exit``; 1 after ``exit`` without ``shutdown`` (pygls's own loop loses
    that status) or when reading fails, so that the editor restarts us."""
    protocol = _protocol(server)
    stop_event = threading.Event()
    server._stop_event = stop_event
    reader = StdinAsyncReader(stdin or sys.stdin.buffer, server.thread_pool)
    protocol.set_writer(StdoutWriter(stdout or sys.stdout.buffer))
    return _run(server, read_frames(stop_event, reader, protocol))


def start_tcp(server: LanguageServer, host: str, port: int) -> int:
    """``LanguageServer.start_tcp`` with :func:`read_frames` as the reader: the
    first connection is served, and its end ends the server (as in pygls).
    Returns the exit status, as :func:`start_io`."""
    protocol = _protocol(server)
    stop_event = threading.Event()
    server._stop_event = stop_event

    async def serve() -> None:
        finished: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            if finished.done():
                writer.close()
                return
            logger.info("client connected from %s", writer.get_extra_info("peername"))
            protocol.set_writer(writer)  # type: ignore[arg-type]  # pygls takes its write() and close()
            try:
                await read_frames(stop_event, reader, protocol)
            except Exception as exc:  # seen by _run, like a failure reading stdin
                if not finished.done():
                    finished.set_exception(exc)
            finally:
                if not finished.done():
                    finished.set_result(None)

        # A line may be as long as a body (a frame glued to a body while resynchronising).
        try:
            listener = await asyncio.start_server(connection, host, port, limit=MAX_BODY_BYTES + 1024)
        except OSError as exc:  # in use, not allowed, no such address
            reason = os.strerror(exc.errno) if exc.errno else str(exc)  # asyncio's own text repeats the address
            raise CannotListen(f"cannot listen on {host}:{port}: {reason}") from None
        logger.info("serving LSP on %s", ", ".join(str(s.getsockname()) for s in listener.sockets))
        async with listener:
            await finished

    return _run(server, serve())


def _protocol(server: LanguageServer) -> RouterProtocol:
    from assistant_router.server.protocol import RouterProtocol

    protocol = server.protocol
    assert isinstance(protocol, RouterProtocol)
    return protocol


def _run(server: LanguageServer, main: Coroutine[Any, Any, None]) -> int:
    status = 0
    try:
        asyncio.run(main)
    except BrokenPipeError:
        logger.error("connection to the client is lost; shutting down")
    except KeyboardInterrupt:
        pass
    except CannotListen:
        raise  # the command line says it in one line
    except SystemExit as exc:  # the exit notification
        status = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except Exception:
        logger.exception("reading from the client failed; exiting with status 1 so that the editor restarts the server")
        status = 1
    finally:
        server.shutdown()
    return status
