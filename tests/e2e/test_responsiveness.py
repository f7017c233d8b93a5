"""The event loop stays responsive while many tasks stream."""

from __future__ import annotations

import asyncio

STREAMING = "[models.opus]\noptions = { delay_ms = 20, chunk_chars = 4 }\n"


async def test_code_actions_and_sync_answer_while_twenty_tasks_stream(start_session, sample):
    session = await start_session("vscode")
    session.write_policy(STREAMING)
    uri = session.open("geometry.py")
    loop = asyncio.get_running_loop()

    runs = [
        asyncio.ensure_future(session.execute("assistant.run", session.task_argument("explain", uri, 0, 10)))
        for _ in range(20)
    ]
    await session.wait_for(lambda: len(session.client.progress_reports) == 20)

    latencies = []
    for round_ in range(20):
        session.change(uri, sample + f"# edit {round_}\n")
        started = loop.time()
        actions = await session.code_actions(uri, 3, 6)
        latencies.append(loop.time() - started)
        assert len(actions) == 6
    still_running = sum(not run.done() for run in runs)
    results = await asyncio.gather(*runs)

    assert still_running == 20, "the measurement must overlap the streams"
    assert max(latencies) < 0.25, latencies
    assert [r["status"] for r in results] == ["shown"] * 20
