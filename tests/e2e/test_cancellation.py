"""Cancelling a running task stops the stream at once and applies nothing.

The task streams from the real anthropic adapter against the loopback fake,
which sends two chunks and then keeps the stream open until the client goes
away: nothing but the cancellation (or the 90 s idle timeout) can end it, so
the outcome never depends on how fast the machine is. The tests wait for
positive signals (the answer, the progress end, the fake seeing the HTTP
stream closed, the ledger row) instead of sleeping, then check that nothing
was applied. `shutdown` while a task runs cancels it too.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import sqlite3
from pathlib import Path

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcRequestCancelled

from assistant_router.testing.loopback import Fault


async def _start_endless_refactor(session, loopback, msg_id: str):
    """A refactor (routed to opus: anthropic) that is streaming and cannot finish by itself."""
    loopback.fail_next("anthropic", Fault("hang", after=2))
    uri = session.open("geometry.py")
    params = types.ExecuteCommandParams("assistant.run", [session.task_argument("refactor", uri, 3, 6)])
    run = asyncio.ensure_future(
        session.client.protocol.send_request_async(types.WORKSPACE_EXECUTE_COMMAND, params, msg_id=msg_id)
    )
    await session.wait_for(lambda: loopback.requests and loopback.requests[0].chunks_sent == 2
                           and session.client.progress_reports, timeout=30)
    (token,) = session.client.progress_reports
    (request,) = loopback.requests
    return run, token, request


async def _nothing_lands_later(session) -> None:
    """The server answers in order: once a later request is answered, any edit
    the cancelled task could still have sent would have arrived before it."""
    await session.execute("assistant.route", session.task_argument("review", session.uri("geometry.py"), 0, 2))
    assert not session.applied_edits


async def test_cancel_from_the_progress_ui(start_session, loopback):
    session = await start_session("vscode", env=loopback.env)
    run, token, request = await _start_endless_refactor(session, loopback, "run-1")

    session.client.window_work_done_progress_cancel(types.WorkDoneProgressCancelParams(token))
    result = await run

    assert result["status"] == "cancelled"
    assert result["message"] == "cancelled; nothing was applied"
    assert session.client.progress_reports[token][-1].message == "Cancelled: nothing applied"
    await loopback.wait_for_disconnect(request)  # the HTTP stream was closed
    assert request.finished is None and request.chunks_sent == 2
    await _nothing_lands_later(session)


async def test_cancel_request_stops_the_work_too(start_session, loopback):
    """pygls answers $/cancelRequest with -32800 but would let the work go on; we stop it."""
    session = await start_session("neovim", env=loopback.env)
    run, token, request = await _start_endless_refactor(session, loopback, "run-2")

    session.client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id="run-2"))

    with pytest.raises(JsonRpcRequestCancelled):
        await run
    await session.wait_for(lambda: session.client.progress_reports[token][-1].kind == "end")
    assert session.client.progress_reports[token][-1].message == "Cancelled: nothing applied"
    await loopback.wait_for_disconnect(request)
    assert request.finished is None
    await _nothing_lands_later(session)
    # Still serving.
    result = await session.execute("assistant.run", session.task_argument("review", session.uri("geometry.py"), 0, 2))
    assert result["status"] == "shown"


async def _shut_down(session, loopback, msg_id: str):
    """Send `shutdown` while a task streams; returns the reply and what the task's command got."""
    run, token, request = await _start_endless_refactor(session, loopback, msg_id)
    reply = await session.client.shutdown_async(None)
    # From now on the server answers nothing but `exit`: the fixture's teardown must not
    # send `shutdown` again, only make sure the server process has ended.
    session.client.shutdown_session = functools.partial(_exit, session)
    (outcome,) = await asyncio.gather(run, return_exceptions=True)
    return reply, outcome, token, request


async def _exit(session) -> int:
    """Send `exit` (once) and wait for the server process to end; returns its exit code."""
    server = session.client._server  # pytest-lsp's handle on the server process
    if server.returncode is None:
        session.client.exit(None)
    code = await asyncio.wait_for(server.wait(), 30)
    forwarder = session.client._stderr_forwarder  # copies the server's stderr to ours, until EOF
    if forwarder is not None:
        await asyncio.wait_for(asyncio.shield(forwarder), 30)
    return code


def _ledger_statuses(tmp_path: Path) -> list[tuple[str, str]]:
    """(task, status) of every row in the session's ledger (XDG_DATA_HOME is tmp_path/data)."""
    rows = []
    for path in (tmp_path / "data").rglob("ledger.sqlite3"):
        with contextlib.closing(sqlite3.connect(path, timeout=5)) as ledger:
            with contextlib.suppress(sqlite3.OperationalError):  # not migrated yet
                rows += ledger.execute("SELECT task, status FROM attempts").fetchall()
    return rows


async def test_shutdown_while_a_task_runs_cancels_it(start_session, loopback, capfd, tmp_path):
    session = await start_session("vscode", env=loopback.env)

    reply, outcome, token, request = await _shut_down(session, loopback, "run-3")

    assert reply is None  # `null`, not an error
    # The task ended before the reply: its command is answered, its progress ended,
    # its run recorded as cancelled, and its stream closed.
    assert not isinstance(outcome, BaseException) and outcome["status"] == "cancelled", outcome
    assert session.client.progress_reports[token][-1].message == "Cancelled: nothing applied"
    assert _ledger_statuses(tmp_path) == [("refactor", "cancelled")]
    await loopback.wait_for_disconnect(request)
    assert request.finished is None and not session.applied_edits
    code = await _exit(session)
    stderr = capfd.readouterr().err

    assert code == 0  # `exit` after `shutdown`: a clean exit
    for output in (stderr, session.logs()):
        assert "dictionary changed size during iteration" not in output
        assert "Traceback" not in output


async def test_exit_right_after_shutdown_leaves_no_errors(start_session, loopback, capfd):
    """What editors do: `exit` as soon as `shutdown` is answered."""
    session = await start_session("vscode", env=loopback.env)

    reply, outcome, _, request = await _shut_down(session, loopback, "run-4")
    code = await _exit(session)
    stderr = capfd.readouterr().err

    assert reply is None and code == 0 and request.finished is None
    assert "dictionary changed size during iteration" not in stderr
    assert "I/O operation on closed file" not in stderr and "Traceback" not in stderr
