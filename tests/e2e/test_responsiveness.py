"""The event loop stays responsive while many tasks stream.

The twenty tasks stream through the real anthropic adapter from the loopback
fake, which holds every stream open (sending a little more output every
20 ms) until the test releases it: the streams are running during the whole
measurement by construction, whatever the machine's speed.
"""

from __future__ import annotations

import asyncio

STREAMS = 20


def _sent(loopback) -> int:
    return sum(r.chunks_sent for r in loopback.requests)


async def test_code_actions_and_sync_answer_while_twenty_tasks_stream(start_session, loopback, sample):
    streaming = loopback.hold(trickle_s=0.02)  # open until released, output all the while
    session = await start_session("vscode", env=loopback.env)
    uri = session.open("geometry.py")
    loop = asyncio.get_running_loop()

    runs = [
        asyncio.ensure_future(session.execute("assistant.run", session.task_argument("explain", uri, 0, 10)))
        for _ in range(STREAMS)
    ]
    await streaming.wait_until_arrived(STREAMS)  # every stream is open and trickling

    latencies = []
    for round_ in range(20):
        before = _sent(loopback)
        # Output is flowing right now.
        await session.wait_for(lambda before=before: _sent(loopback) > before, timeout=30)
        session.change(uri, sample + f"# edit {round_}\n")
        started = loop.time()
        actions = await session.code_actions(uri, 3, 6)
        latencies.append(loop.time() - started)
        assert len(actions) == 6
    still_open = streaming.waiting
    none_done = not any(run.done() for run in runs)
    streaming.release()
    results = await asyncio.gather(*runs)

    assert still_open == STREAMS and none_done  # they could not finish: the hold was closed
    assert max(latencies) < 0.25, latencies
    assert [r["status"] for r in results] == ["shown"] * STREAMS
