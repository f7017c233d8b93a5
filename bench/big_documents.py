#!/usr/bin/env python3
"""Benchmark: big documents. Previews of 5 MB and 50 MB documents while code
actions keep answering, and a code action that comes with 200,000 diagnostics.

    .venv/bin/python bench/big_documents.py [--sizes 5,50] [--repeat 3] [--json]

Each scenario runs in a fresh server (so its peak memory is its own):
``initialize``, ``initialized``, ``didOpen`` of the document, then
``assistant.preview`` ``--repeat`` times in a row while a second stream of
requests sends ``textDocument/codeAction`` on the same document (ranges
spread over it, every tenth a bare cursor), one after the other with a 5 ms
pause, until the last preview has answered (and for at least a second). Reported: how long each preview
took and what it answered (refused or assembled), the code actions' latency
(median, p99, max) meanwhile, and the server's peak memory above what it used
before the document was opened, as a multiple of the document's size.

The bare pygls server of bench/run.py, with the same document open, gives
the floor: what pygls itself costs a code action on a document that size.

Goals (issue 10): code action p99 under 50 ms during every preview, peak
memory growth under 4x the document. It is a measurement, not a test: the
exit status is 0 even when a goal is missed (2 only when it could not run).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench  # noqa: E402
from rpc import RpcClient  # noqa: E402

GOAL_P99_MS = 50.0
GOAL_MEMORY_RATIO = 4.0
PROBE_PAUSE_S = 0.005
PROBE_MIN_S = 1.0  # a preview refused at once still gets a sample of code actions
SELECTION_CHARS = 1_500_000  # the "large selection": under the 2,000,000-character limit


def make_big_document(megabytes: float) -> str:
    """bench/run.py's generated module, repeated to ``megabytes`` MB."""
    unit = bench.make_document(2000)
    copies = max(1, round(megabytes * 1_000_000 / len(unit)))
    return unit * copies


def memory_kb(pid: int) -> dict[str, int]:
    """VmRSS (now) and VmHWM (peak) of a process, in kB."""
    found = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                found[key] = int(value.split()[0])
    return found


def scenarios(sizes: list[float]) -> list[dict[str, Any]]:
    """(name, document size, the selection as fractions of the lines)."""
    out = []
    for mb in sizes:
        out.append({"name": f"{mb:g} MB, whole document", "mb": mb, "selection": "all"})
        out.append({"name": f"{mb:g} MB, 1.5 MB selection", "mb": mb, "selection": "large"})
        out.append({"name": f"{mb:g} MB, 40 lines in the middle", "mb": mb, "selection": "middle"})
    return out


def selection(text: str, kind: str) -> dict[str, Any]:
    lines = text.count("\n")
    if kind == "all":
        first, last = 0, lines
    elif kind == "large":
        per_line = len(text) / lines
        span = int(SELECTION_CHARS / per_line)
        first = max(0, lines // 2 - span // 2)
        last = first + span
    else:
        first, last = lines // 2, lines // 2 + 40
    return {"start": {"line": first, "character": 0}, "end": {"line": last, "character": 0}}


def probe_params(uri: str, lines: int, i: int) -> dict[str, Any]:
    start = (i * 7919) % max(lines - 41, 1)
    span = 0 if i % 10 == 0 else i % 40
    return {
        "textDocument": {"uri": uri},
        "range": {"start": {"line": start, "character": 4}, "end": {"line": start + span, "character": 4}},
        "context": {"diagnostics": [], "triggerKind": 2},
    }


async def open_big(setup: bench.Setup, kind: str, text: str, tag: str) -> tuple[RpcClient, int]:
    """A server with ``text`` open, and its memory (kB) before it was opened:
    after a preview of a small document, so what the first preview loads
    once (rules, grammars, modules) is not counted against the document."""
    client, _ = await bench.start(setup, kind, tag)
    await client.notify("initialized", {})
    small = setup.workspace / "small.py"
    small.write_text(bench.make_document(200), encoding="utf-8")
    await client.notify("textDocument/didOpen", {"textDocument": {
        "uri": small.as_uri(), "languageId": "python", "version": 1, "text": small.read_text()}})
    await client.request("textDocument/codeAction", probe_params(small.as_uri(), 200, 1), timeout=60)
    if kind == bench.REAL:
        argument = {"task": "review", "uri": small.as_uri(),
                    "range": {"start": {"line": 20, "character": 0}, "end": {"line": 60, "character": 0}}}
        await client.request("workspace/executeCommand", {"command": "assistant.preview", "arguments": [argument]})
    before = memory_kb(client.process.pid)["VmRSS"]
    await client.notify(
        "textDocument/didOpen",
        {"textDocument": {"uri": setup.uri, "languageId": "python", "version": 1, "text": text}},
    )
    # A code action is answered once the document is in (didOpen goes first).
    await client.request("textDocument/codeAction", probe_params(setup.uri, 10, 1), timeout=120)
    return client, before


async def probe_while(client: RpcClient, uri: str, lines: int, busy: asyncio.Future[Any]) -> list[float]:
    """Code actions one after the other until ``busy`` is done (and for at
    least PROBE_MIN_S); their latencies in ms."""
    latencies: list[float] = []
    i = 0
    until = time.perf_counter() + PROBE_MIN_S
    while not busy.done() or time.perf_counter() < until:
        started = time.perf_counter()
        result = await client.request("textDocument/codeAction", probe_params(uri, lines, i), timeout=120)
        latencies.append((time.perf_counter() - started) * 1000)
        if kind_of(result) == "error":
            raise RuntimeError(f"code action answered {result!r}")
        i += 1
        await asyncio.sleep(PROBE_PAUSE_S)
    return latencies


def kind_of(result: Any) -> str:
    return "ok" if isinstance(result, list) else "error"


async def run_scenario(setup: bench.Setup, scenario: dict[str, Any], text: str, repeat: int) -> dict[str, Any]:
    client, before_kb = await open_big(setup, bench.REAL, text, scenario["selection"] + str(scenario["mb"]))
    try:
        lines = text.count("\n")
        argument = {"task": "review", "uri": setup.uri, "range": selection(text, scenario["selection"])}
        previews: list[dict[str, Any]] = []

        async def previews_in_a_row() -> None:
            for _ in range(repeat):
                started = time.perf_counter()
                answer = await client.request(
                    "workspace/executeCommand", {"command": "assistant.preview", "arguments": [argument]}, timeout=600
                )
                previews.append({
                    "ms": (time.perf_counter() - started) * 1000,
                    "status": answer.get("status"),
                    "input_tokens": answer.get("input_tokens"),
                    "message": answer.get("message"),
                })

        busy = asyncio.ensure_future(previews_in_a_row())
        latencies = await probe_while(client, setup.uri, lines, busy)
        await busy
        peak_kb = memory_kb(client.process.pid)["VmHWM"]
    finally:
        await bench.stop(client)
    size_mb = len(text.encode()) / 1_000_000
    growth_mb = (peak_kb - before_kb) / 1000
    return {
        **scenario,
        "document_mb": round(size_mb, 2),
        "previews": previews,
        "code_actions": bench.summary(latencies),
        "memory": {"before_open_mb": round(before_kb / 1000, 1), "peak_mb": round(peak_kb / 1000, 1),
                   "growth_mb": round(growth_mb, 1), "growth_ratio": round(growth_mb / size_mb, 2)},
    }


async def run_diagnostics(setup: bench.Setup, count: int) -> dict[str, Any]:
    """One code action that comes with ``count`` diagnostics, then a plain one."""
    text = bench.make_document(2000)
    client, _ = await open_big(setup, bench.REAL, text, "diagnostics")
    try:
        diagnostic = {"range": {"start": {"line": 3, "character": 0}, "end": {"line": 3, "character": 5}},
                      "message": "undefined name 'x'", "severity": 1, "source": "bench"}
        params = probe_params(setup.uri, 2000, 3)
        params["context"]["diagnostics"] = [diagnostic] * count
        started = time.perf_counter()
        result = await client.request("textDocument/codeAction", params, timeout=600)
        crowded_ms = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        await client.request("textDocument/codeAction", probe_params(setup.uri, 2000, 4), timeout=60)
        after_ms = (time.perf_counter() - started) * 1000
        fix = next((a for a in result if a["title"].startswith("Fix")), None) if isinstance(result, list) else None
        forwarded = len(fix["command"]["arguments"][0].get("diagnostics", [])) if fix else 0
    finally:
        await bench.stop(client)
    return {"diagnostics": count, "answer_ms": crowded_ms, "next_code_action_ms": after_ms,
            "forwarded_to_fix": forwarded}


async def run_bare_floor(setup: bench.Setup, text: str, seconds: float) -> dict[str, Any]:
    client, before_kb = await open_big(setup, bench.BARE, text, "floor")
    try:
        timer = asyncio.ensure_future(asyncio.sleep(seconds))
        latencies = await probe_while(client, setup.uri, text.count("\n"), timer)
        peak_kb = memory_kb(client.process.pid)["VmHWM"]
    finally:
        await bench.stop(client)
    return {"document_mb": round(len(text) / 1_000_000, 2), "code_actions": bench.summary(latencies),
            "memory_growth_mb": round((peak_kb - before_kb) / 1000, 1)}


async def run(args: argparse.Namespace, setup: bench.Setup) -> dict[str, Any]:
    results: dict[str, Any] = {"machine": bench.machine(), "scenarios": [], "floor": []}
    documents: dict[float, str] = {}
    for scenario in scenarios(args.sizes):
        text = documents.setdefault(scenario["mb"], make_big_document(scenario["mb"]))
        setup.document.write_text(text, encoding="utf-8")
        bench.log(f"{scenario['name']} …")
        results["scenarios"].append(await run_scenario(setup, scenario, text, args.repeat))
    for mb, text in documents.items():
        bench.log(f"bare pygls, {mb:g} MB open …")
        results["floor"].append(await run_bare_floor(setup, text, 2.0))
    bench.log("a code action with 200,000 diagnostics …")
    results["diagnostics"] = await run_diagnostics(setup, 200_000)
    return results


def render(results: dict[str, Any]) -> str:
    rows = ["| scenario | preview answered | preview time | code action median / p99 / max | peak memory growth |",
            "|---|---|---|---|---|"]
    for s in results["scenarios"]:
        statuses = sorted({p["status"] for p in s["previews"]})
        times = ", ".join(f"{p['ms'] / 1000:.2f} s" for p in s["previews"])
        ca = s["code_actions"]
        mem = s["memory"]
        ok = "✅" if ca["p99"] < GOAL_P99_MS and mem["growth_ratio"] < GOAL_MEMORY_RATIO else "❌"
        rows.append(f"| {s['name']} | {', '.join(statuses)} | {times} | {ca['median']:.1f} / {ca['p99']:.1f} / "
                    f"{ca['max']:.1f} ms (n={ca['n']}) | {mem['growth_mb']:.0f} MB = {mem['growth_ratio']:.1f}x {ok} |")
    for f in results["floor"]:
        ca = f["code_actions"]
        rows.append(f"| bare pygls, {f['document_mb']:g} MB open (floor) | – | – | {ca['median']:.1f} / "
                    f"{ca['p99']:.1f} / {ca['max']:.1f} ms (n={ca['n']}) | {f['memory_growth_mb']:.0f} MB |")
    d = results["diagnostics"]
    rows += ["", f"A code action with {d['diagnostics']:,} diagnostics: answered in {d['answer_ms']:.0f} ms "
             f"(the fix action forwards {d['forwarded_to_fix']}); the next code action took "
             f"{d['next_code_action_ms']:.1f} ms."]
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="5,50", help="document sizes in MB, comma-separated (default: 5,50)")
    parser.add_argument("--repeat", type=int, default=3, help="previews per scenario (default: 3)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON instead of the table")
    parser.add_argument("--timeout", type=float, default=900, help="overall time limit in seconds (default: 900)")
    args = parser.parse_args(argv)
    args.sizes = [float(s) for s in args.sizes.split(",") if s.strip()]
    base = Path(tempfile.mkdtemp(prefix="assistant-router-big-"))
    setup = bench.make_setup(base, 5, 40)

    async def guarded() -> dict[str, Any]:
        try:
            return await asyncio.wait_for(run(args, setup), args.timeout)
        finally:
            for client in list(bench.LIVE):
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(bench.stop(client), 10)
                client.kill()

    try:
        results = asyncio.run(guarded())
    except Exception as exc:  # noqa: BLE001 - a measurement: report and exit 2
        bench.log(f"benchmark failed: {type(exc).__name__}: {exc} (logs in {setup.logs})")
        return 2
    print(json.dumps(results, indent=2) if args.json else render(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
