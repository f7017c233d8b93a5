"""Cancelling a running task stops the stream at once and applies nothing."""

from __future__ import annotations

import asyncio

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcRequestCancelled

SLOW = "[models.opus]\noptions = { delay_ms = 30, chunk_chars = 2 }\n"


async def _start_slow_refactor(session, msg_id: str):
    session.write_policy(SLOW)
    uri = session.open("geometry.py")
    params = types.ExecuteCommandParams("assistant.run", [session.task_argument("refactor", uri, 3, 6)])
    run = asyncio.ensure_future(
        session.client.protocol.send_request_async(types.WORKSPACE_EXECUTE_COMMAND, params, msg_id=msg_id)
    )
    await session.wait_for(lambda: any(len(r) >= 2 for r in session.client.progress_reports.values()))
    (token,) = session.client.progress_reports
    return run, token


async def test_cancel_from_the_progress_ui(start_session):
    session = await start_session("vscode")
    run, token = await _start_slow_refactor(session, "run-1")
    loop = asyncio.get_running_loop()

    cancelled_at = loop.time()
    session.client.window_work_done_progress_cancel(types.WorkDoneProgressCancelParams(token))
    result = await run

    assert loop.time() - cancelled_at < 1.0
    assert result["status"] == "cancelled"
    assert result["message"] == "cancelled; nothing was applied"
    assert session.client.progress_reports[token][-1].message == "Cancelled: nothing applied"
    await session.wait_for(lambda: "stream closed early" in session.logs())
    await asyncio.sleep(0.3)  # nothing lands later either
    assert not session.applied_edits


async def test_cancel_request_stops_the_work_too(start_session):
    """pygls answers $/cancelRequest with -32800 but would let the work go on; we stop it."""
    session = await start_session("neovim")
    run, token = await _start_slow_refactor(session, "run-2")

    session.client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id="run-2"))

    with pytest.raises(JsonRpcRequestCancelled):
        await run
    await session.wait_for(lambda: session.client.progress_reports[token][-1].kind == "end")
    assert session.client.progress_reports[token][-1].message == "Cancelled: nothing applied"
    await session.wait_for(lambda: "stream closed early" in session.logs())
    await asyncio.sleep(0.3)
    assert not session.applied_edits
    # Still serving.
    result = await session.execute("assistant.run", session.task_argument("review", session.uri("geometry.py"), 0, 2))
    assert result["status"] == "shown"
