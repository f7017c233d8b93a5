"""What the providers of one pool share: key-command results and SDK imports.

A :class:`ProviderContext` belongs to one :class:`~assistant_router.providers.registry.ProviderPool`
and is handed to every provider the pool creates (:meth:`Provider.create`), so
two pools (two servers in one process, two test cases) never share a cached
key. Nothing here is module-global.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import threading
import time
from collections.abc import Callable, Coroutine, Iterable
from types import ModuleType
from typing import Any, TypeVar

from assistant_router.providers.base import FatalProviderError
from assistant_router.providers.collector import collections_paused

logger = logging.getLogger(__name__)

KEY_COMMAND_TIMEOUT_S = 15
T = TypeVar("T")


class _LoopLocks:
    """One :class:`asyncio.Lock` per name, for the running event loop (a lock
    is bound to the loop it is first used in; tests run many loops)."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._locks: dict[object, asyncio.Lock] = {}

    def __call__(self, name: object) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._loop, self._locks = loop, {}
        lock = self._locks.get(name)
        if lock is None:
            lock = self._locks[name] = asyncio.Lock()
        return lock


class ProviderContext:
    """Key-command results and SDK modules for the providers of one pool."""

    def __init__(self) -> None:
        self._command_keys: dict[tuple[str, ...], str] = {}
        self._imported: dict[str, ModuleType] = {}
        self._locks = _LoopLocks()
        self._tls: Any = None
        self._tls_lock = threading.Lock()

    async def command_key(self, command: tuple[str, ...], alias: str) -> str:
        """The key ``command`` prints: run once, then cached until :meth:`forget_key`.

        Concurrent first calls wait for the one run. Raises FatalProviderError
        (naming ``alias``, never the output) when the command fails.
        """
        if (key := self._command_keys.get(command)) is not None:
            return key
        async with self._locks(("key", command)):
            if (key := self._command_keys.get(command)) is None:
                key = self._command_keys[command] = await _run_key_command(command, alias)
        return key

    def forget_key(self, command: tuple[str, ...], key: str) -> None:
        """The service rejected ``key`` (401): the next :meth:`command_key` runs
        the command again, so a rotated key works without a restart. A key
        already replaced by a newer one stays."""
        if self._command_keys.get(command) == key:
            del self._command_keys[command]

    def imported(self, name: str) -> bool:
        return name in self._imported

    async def import_sdk(self, name: str) -> ModuleType:
        """Import a provider SDK in a worker thread, so the event loop keeps
        answering code actions meanwhile (``anthropic`` takes seconds).
        Concurrent first tasks wait for the one import. The thread is a daemon:
        an editor that quits during the start-up warm-up is not kept waiting
        for the import to end. The garbage collector is paused meanwhile
        (see :mod:`~assistant_router.providers.collector`): its collections
        during the import were the longest stalls of the loop."""
        if (module := self._imported.get(name)) is not None:
            return module
        async with self._locks(("import", name)):
            if (module := self._imported.get(name)) is None:
                module = self._imported[name] = await _in_daemon_thread(_import_paused, name)
                # The SDK raises its own and httpx2's log level from ANTHROPIC_LOG /
                # OPENAI_LOG at import; their debug output can carry keys.
                for logger_name in (name, "httpx2"):
                    logging.getLogger(logger_name).setLevel(logging.WARNING)
        return module

    def _tls_context(self) -> Any:
        if self._tls is None:
            with self._tls_lock:
                if self._tls is None:
                    import httpx2

                    self._tls = httpx2.create_ssl_context()  # certifi, or SSL_CERT_FILE / SSL_CERT_DIR
        return self._tls

    async def tls_context(self) -> Any:
        """The ``ssl.SSLContext`` the SDK clients of this pool share: the one
        httpx2 would build for each client (``verify=True``, ``trust_env``),
        built once, in a worker thread, since loading the CA bundle takes
        about 30 ms."""
        if self._tls is not None:
            return self._tls
        return await asyncio.to_thread(self._tls_context)

    async def rehearse(self, name: str, rehearsal: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run ``rehearsal`` (one request through an adapter and its SDK to an
        in-process fake) on its own event loop in a daemon thread: what the
        SDK builds lazily on its first request (the validators of its event
        models: about 30 ms) is built there, not on the server's loop."""
        await _in_daemon_thread(lambda _: asyncio.run(rehearsal()), f"rehearse {name}")

    async def warm(self, names: Iterable[str], *, tls: bool = False) -> None:
        """Import ``names`` now, one after the other, through :meth:`import_sdk`
        (a task that starts meanwhile waits for the same import), then build the
        shared TLS context if ``tls``. A failure is logged and forgotten: the
        task that needs the SDK imports it again and reports the error."""
        started = time.perf_counter()
        done = []
        for name in names:
            began = time.perf_counter()
            try:
                await self.import_sdk(name)
            except Exception as exc:
                logger.warning("importing the SDK %s in advance failed: %s: %s", name, type(exc).__name__, exc)
                continue
            done.append(f"{name} ({(time.perf_counter() - began) * 1000:.0f} ms)")
        if tls:
            began = time.perf_counter()
            try:
                await self.tls_context()
            except Exception as exc:
                logger.warning("building the TLS context in advance failed: %s: %s", type(exc).__name__, exc)
            else:
                done.append(f"TLS context ({(time.perf_counter() - began) * 1000:.0f} ms)")
        logger.debug("SDK warm-up took %.0f ms; imported: %s",
                     (time.perf_counter() - started) * 1000, ", ".join(done) or "none")


def _import_paused(name: str) -> ModuleType:
    with collections_paused():
        return importlib.import_module(name)


def _in_daemon_thread(function: Callable[[str], T], name: str) -> asyncio.Future[T]:
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: T | BaseException) -> None:
        if future.done():  # the waiting task was cancelled
            return
        if isinstance(result, BaseException):
            future.set_exception(result)
        else:
            future.set_result(result)

    def run() -> None:
        result: T | BaseException
        try:
            result = function(name)
        except BaseException as exc:  # the waiting task reports it
            result = exc
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody waits
            loop.call_soon_threadsafe(settle, result)

    threading.Thread(target=run, name=name, daemon=True).start()
    return future


async def _run_key_command(command: tuple[str, ...], alias: str) -> str:
    try:
        process = await asyncio.create_subprocess_exec(
            *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
            stdin=asyncio.subprocess.DEVNULL,
        )
    except OSError as exc:
        raise FatalProviderError(
            f"the api_key_command of '{alias}' could not start ({command[0]}: {exc.strerror})"
        ) from None
    try:
        out, _ = await asyncio.wait_for(process.communicate(), KEY_COMMAND_TIMEOUT_S)
    except TimeoutError:
        raise FatalProviderError(
            f"the api_key_command of '{alias}' ({command[0]}) did not answer within {KEY_COMMAND_TIMEOUT_S} s"
        ) from None
    finally:  # timed out or cancelled: a password manager waiting for input is not left behind
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
    key = out.decode(errors="replace").strip()
    if process.returncode != 0 or not key:
        raise FatalProviderError(
            f"the api_key_command of '{alias}' ({command[0]}) "
            + (f"failed with exit code {process.returncode}" if process.returncode else "printed no key")
        )
    return key
