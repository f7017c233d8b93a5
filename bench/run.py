#!/usr/bin/env python3
"""Benchmark: assistant-router against a bare pygls 2 server, in the same run.

    .venv/bin/python bench/run.py [--runs N] [--samples N] [--json]

What it measures (see docs/benchmarks.md):

1. spawn → ``initialize`` response, for both servers, ``--runs`` spawns each
   (interleaved, order alternating every round, one discarded warm-up round);
2. ``textDocument/codeAction`` latency, sequential requests over a 2,000-line
   Python document, both servers alive at once and requests alternating
   between them (after ``initialized``, ``didOpen`` and a warm-up);
3. assistant-router only: the same latency while 20 ``assistant.run`` explain
   tasks stream from the mock provider;
4. assistant-router only, configured with the real ``openai`` and
   ``anthropic`` adapters: code-action latency in the first 2 s after
   ``initialized``, while the SDK warm-up imports both SDKs in a worker
   thread (their byte code compiled first, as pip does at install time),
   against later (the ratio is shown; the goal is the same 20 ms p99 as
   while tasks stream); then the first and the second explain task through
   the real anthropic adapter, against the loopback fake of its API;
5. assistant-router only, a fresh server whose mock streams fast: code-action
   latency while 20 ``fix`` tasks on the 2,000-line document run one after
   another (launched every 100 ms), each answer's edit going through the check
   stage (syntax and the shipped safety rules, in a worker thread); the
   samples taken while a check ran (between the task's "checking the edit"
   progress report and its next one) have the same 20 ms p99 goal, and every
   task's result must list its checks.

Both servers run under the same Python (``sys.executable``) with the same
environment. It is a measurement, not a test: the exit status is 0 even when
a goal is missed (2 only when the benchmark itself could not run).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from rpc import RpcClient  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
BARE_SERVER = REPO / "bench" / "bare_server.py"

REAL = "assistant-router"
BARE = "bare pygls"

DOC_LINES = 2000
DOC_NAME = "bench_document.py"
WARMUP_REQUESTS = 20
STREAMING_TASKS = 20
TASK_SPAN = 30  # lines per explain task

GOAL_SPAWN_RATIO = 1.2
GOAL_STREAMING_P99_MS = 20.0
GOAL_CODE_ACTION_RATIO = 1.5
GOAL_FIRST_TASK_RATIO = 1.5  # the first task against the second

CHECKED_TASKS = 20
CHECKED_STAGGER_S = 0.1  # between two launches: the answers arrive, and are checked, mostly one after another
CHECKING = "checking the edit"  # the progress report before the check (engine/pipeline.py, _checked)
# The checked phase's user config: the mock streams a fix answer (about 1,000
# characters) in about 0.3 s, so that the checks, not the streams, fill the window.
CHECKED_USER_CONFIG = """\
[models.codex]
provider = "mock"
model = "gpt-5.3-codex"
options = { delay_ms = 10, chunk_chars = 32 }

[models.opus]
provider = "mock"
model = "claude-opus-4-6"
options = { delay_ms = 10, chunk_chars = 32 }
"""

WARMUP_WINDOW_S = 2.0
WARMUP_LATER_SAMPLES = 1000  # at most, after the warm-up
SDK_IMPORTS_LINE = "SDK warm-up took"
WARMUP_LINE = "warm-up finished in"  # the last debug line of the warm-up (server/features/lifecycle.py)
LOOPBACK_KEY = "bench-loopback-key"

# The SDK phase's user config: both SDKs are imported at warm-up; codex's
# base_url is unreachable (port 9, discard) and nothing is sent to it, since
# tasks go to opus; opus talks to the loopback fake of the Anthropic API.
SDK_USER_CONFIG = """\
[models.codex]
provider = "openai"
model = "gpt-5.3-codex"
base_url = "http://127.0.0.1:9/v1"

[models.opus]
provider = "anthropic"
model = "claude-opus-4-6"
base_url = "{anthropic_url}"
retries = 0
"""

USER_CONFIG = """\
# Written by bench/run.py: every model routes to the offline mock provider,
# streaming slowly so that {tasks} tasks outlast the measurement window.
[models.codex]
provider = "mock"
model = "gpt-5.3-codex"
options = {{ delay_ms = {delay_ms}, chunk_chars = {chunk_chars} }}

[models.opus]
provider = "mock"
model = "claude-opus-4-6"
options = {{ delay_ms = {delay_ms}, chunk_chars = {chunk_chars} }}
"""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- #
# Inputs


def make_document(lines: int = DOC_LINES) -> str:
    """A deterministic, plausible Python module of exactly ``lines`` lines."""
    out = ['"""A generated module for the assistant-router benchmark."""', "", "from __future__ import annotations", ""]
    out += ["import dataclasses", "import json", "from pathlib import Path", "", ""]
    n = 0
    while len(out) < lines:
        n += 1
        out += [
            "@dataclasses.dataclass",
            f"class Record{n}:",
            f'    """Record number {n}: a small value object with a few methods."""',
            "",
            "    name: str",
            f"    size: int = {n * 7 % 97}",
            "    tags: list[str] = dataclasses.field(default_factory=list)",
            "",
            "    def describe(self) -> str:",
            f'        # TODO: localise the description of record {n}',
            '        return f"{self.name} ({self.size} items, {len(self.tags)} tags)"',
            "",
            "    def grow(self, amount: int) -> int:",
            "        if amount < 0:",
            '            raise ValueError("amount must be positive")',
            "        self.size += amount",
            "        return self.size",
            "",
            "    def save(self, folder: Path) -> Path:",
            f'        path = folder / f"record-{n}-{{self.name}}.json"',
            "        path.write_text(json.dumps(dataclasses.asdict(self), indent=2))",
            "        return path",
            "",
            "",
        ]
    return "\n".join(out[:lines]) + "\n"


def client_capabilities() -> dict[str, Any]:
    """Roughly what VS Code declares, including what the brief requires."""
    return {
        "general": {"positionEncodings": ["utf-16"]},
        "window": {
            "workDoneProgress": True,
            "showDocument": {"support": True},
            "showMessage": {"messageActionItem": {"additionalPropertiesSupport": True}},
        },
        "workspace": {
            "applyEdit": True,
            "workspaceEdit": {"documentChanges": True},
            "workspaceFolders": True,
            "configuration": True,
            "didChangeWatchedFiles": {"dynamicRegistration": True, "relativePatternSupport": True},
            "executeCommand": {"dynamicRegistration": False},
        },
        "textDocument": {
            "synchronization": {"dynamicRegistration": False, "didSave": True},
            "codeAction": {
                "dynamicRegistration": False,
                "isPreferredSupport": True,
                "dataSupport": True,
                "codeActionLiteralSupport": {
                    "codeActionKind": {
                        "valueSet": ["", "quickfix", "refactor", "refactor.extract", "refactor.inline",
                                     "refactor.rewrite", "source", "source.organizeImports"]
                    }
                },
            },
            "publishDiagnostics": {"relatedInformation": True},
        },
    }


def code_action_params(uri: str, i: int) -> dict[str, Any]:
    """Request ``i``: ranges spread over the whole document, 0 to 39 lines long
    (every 40th is a bare cursor, as editors send on cursor moves)."""
    start = (i * 7919) % (DOC_LINES - 41)
    span = i % 40
    return {
        "textDocument": {"uri": uri},
        "range": {"start": {"line": start, "character": 0}, "end": {"line": start + span, "character": 0}},
        "context": {"diagnostics": [], "triggerKind": 2},
    }


@dataclass
class Setup:
    base: Path
    workspace: Path
    document: Path
    config: Path
    logs: Path
    env: dict[str, str]
    text: str

    @property
    def uri(self) -> str:
        return self.document.as_uri()

    @property
    def root_uri(self) -> str:
        return self.workspace.as_uri()

    def argv(self, kind: str) -> list[str]:
        if kind == REAL:
            return [sys.executable, "-m", "assistant_router.server", "serve"]
        return [sys.executable, str(BARE_SERVER)]

    def initialize_params(self) -> dict[str, Any]:
        return {
            "processId": os.getpid(),
            "clientInfo": {"name": "assistant-router-bench", "version": "1"},
            "locale": "en",
            "rootUri": self.root_uri,
            "workspaceFolders": [{"uri": self.root_uri, "name": self.workspace.name}],
            "capabilities": client_capabilities(),
            "trace": "off",
        }


def make_setup(base: Path, delay_ms: float, chunk_chars: int, inherit_bytecode: bool = False) -> Setup:
    workspace = base / "workspace"
    workspace.mkdir()
    text = make_document()
    document = workspace / DOC_NAME
    document.write_text(text, encoding="utf-8")
    config = base / "config.toml"
    config.write_text(
        USER_CONFIG.format(tasks=STREAMING_TASKS, delay_ms=delay_ms, chunk_chars=chunk_chars), encoding="utf-8"
    )
    logs = base / "logs"
    logs.mkdir()
    cache = base / "cache"
    cache.mkdir()
    env = dict(os.environ)
    env["ASSISTANT_ROUTER_CONFIG"] = str(config)
    env["XDG_CACHE_HOME"] = str(cache)
    env["ASSISTANT_ROUTER_WARM_UP"] = "1"  # as an editor's server runs (the test suite turns it off)
    if not inherit_bytecode:
        # Both servers load cached byte code, as an installed server does (pip
        # compiles at install time). Without this, an environment with
        # PYTHONDONTWRITEBYTECODE=1 and an editable install recompiles the
        # repository's modules on every spawn (but not pygls's). The cache lives
        # in the temporary directory so nothing is written into the source tree;
        # the discarded warm-up round fills it.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(base / "pycache")
    env.pop("PYTHONPROFILEIMPORTTIME", None)
    env.pop("PYTHONASYNCIODEBUG", None)
    env.pop("PYTHONDEVMODE", None)
    return Setup(base, workspace, document, config, logs, env, text)


# --------------------------------------------------------------------------- #
# Driving servers

LIVE: list[RpcClient] = []  # every client not yet closed, for the finally blocks


async def start(setup: Setup, kind: str, tag: str) -> tuple[RpcClient, float]:
    """Spawn a server and send ``initialize``; returns the client and the
    milliseconds from just before the spawn to the ``initialize`` response."""
    slug = "real" if kind == REAL else "bare"
    client = await RpcClient.spawn(
        setup.argv(kind), env=setup.env, cwd=setup.workspace, stderr_path=setup.logs / f"{slug}-{tag}.log"
    )
    client.label = f"{slug}-{tag}"
    LIVE.append(client)
    result = await client.request("initialize", setup.initialize_params(), timeout=30)
    elapsed = (time.perf_counter() - client.spawned_at) * 1000
    if not isinstance(result, dict) or "capabilities" not in result:
        raise RuntimeError(f"{kind}: unexpected initialize result {result!r}")
    if "codeActionProvider" not in result["capabilities"]:
        raise RuntimeError(f"{kind}: the server does not advertise code actions")
    return client, elapsed


EXIT_CODES: list[tuple[str, int | None]] = []  # (server, exit status) of every stopped server


async def stop(client: RpcClient) -> None:
    try:
        EXIT_CODES.append((client.label, await client.close()))
    finally:
        with contextlib.suppress(ValueError):
            LIVE.remove(client)


async def open_document(client: RpcClient, setup: Setup) -> None:
    await client.notify("initialized", {})
    await client.notify(
        "textDocument/didOpen",
        {"textDocument": {"uri": setup.uri, "languageId": "python", "version": 1, "text": setup.text}},
    )


async def timed_code_action(client: RpcClient, params: dict[str, Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = await client.request("textDocument/codeAction", params, timeout=30)
    return (time.perf_counter() - started) * 1000, result


def check_actions(kind: str, result: Any) -> int:
    if not isinstance(result, list) or not result:
        raise RuntimeError(f"{kind}: code action answered {result!r}")
    return len(result)


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    ordered = sorted(values)
    rank = max(math.ceil(p / 100 * len(ordered)), 1)
    return ordered[rank - 1]


def summary(values: list[float]) -> dict[str, Any]:
    return {
        "n": len(values),
        "median": statistics.median(values),
        "min": min(values),
        "p90": percentile(values, 90),
        "p99": percentile(values, 99),
        "max": max(values),
        "mean": statistics.fmean(values),
    }


# --------------------------------------------------------------------------- #
# Phases


async def prime(client: RpcClient, setup: Setup, kind: str) -> None:
    """Warm-up session: make the server import what it loads lazily (policy,
    pydantic, the task runner), so that the byte-code cache is complete before
    anything is measured."""
    await open_document(client, setup)
    await timed_code_action(client, code_action_params(setup.uri, 0))
    argument = {"task": "explain", "uri": setup.uri,
                "range": {"start": {"line": 10, "character": 0}, "end": {"line": 20, "character": 0}}}
    if kind == REAL:  # the bare server has no commands
        await client.request("workspace/executeCommand", {"command": "assistant.route", "arguments": [argument]})


async def measure_spawn(setup: Setup, runs: int) -> dict[str, list[float]]:
    """``runs`` spawns of each server after one discarded warm-up round
    (byte-code and page cache); order alternates every round."""
    times: dict[str, list[float]] = {REAL: [], BARE: []}
    for round_ in range(runs + 1):
        order = (REAL, BARE) if round_ % 2 == 0 else (BARE, REAL)
        line = []
        for kind in order:
            client, elapsed = await start(setup, kind, f"spawn{round_}")
            if round_ == 0:
                await prime(client, setup, kind)
            await stop(client)
            if round_ > 0:
                times[kind].append(elapsed)
            line.append(f"{kind} {elapsed:6.1f} ms")
        log(f"  spawn {'warm-up' if round_ == 0 else f'{round_:>2}/{runs}'}: " + ", ".join(line))
    return times


async def prepare(setup: Setup, kind: str) -> tuple[RpcClient, dict[str, Any]]:
    """A server ready to measure: initialized, document open, warmed up."""
    client, _ = await start(setup, kind, "latency")
    await open_document(client, setup)
    # The first request after initialized: the real server loads its policy then.
    first, result = await timed_code_action(client, code_action_params(setup.uri, 0))
    actions = check_actions(kind, result)
    warm = [(await timed_code_action(client, code_action_params(setup.uri, i)))[0] for i in range(1, WARMUP_REQUESTS)]
    response_bytes = len(json.dumps(result, separators=(",", ":")))
    return client, {"first_after_initialized_ms": first, "warmup_ms": warm, "actions": actions,
                    "response_bytes": response_bytes}


async def measure_code_actions(
    setup: Setup, samples: int
) -> tuple[dict[str, list[float]], dict[str, dict[str, Any]], RpcClient]:
    """Both servers alive; sequential requests alternating between them
    request by request (same parameters for both; ABBA order), so that any
    change in the machine's speed hits both alike.
    Returns the latencies and the real server's client, still running."""
    real, real_info = await prepare(setup, REAL)
    bare, bare_info = await prepare(setup, BARE)
    latencies: dict[str, list[float]] = {REAL: [], BARE: []}
    for i in range(samples):
        params = code_action_params(setup.uri, WARMUP_REQUESTS + i)
        pairs = ((REAL, real), (BARE, bare)) if i % 2 == 0 else ((BARE, bare), (REAL, real))
        for kind, client in pairs:
            elapsed, result = await timed_code_action(client, params)
            check_actions(kind, result)
            latencies[kind].append(elapsed)
    await stop(bare)
    return latencies, {REAL: real_info, BARE: bare_info}, real


@dataclass
class ProgressWatch:
    """Counts ``$/progress`` notifications per token and phase."""

    begun: set = field(default_factory=set)
    ended: set = field(default_factory=set)
    reports: int = 0
    window_reports: int = 0
    window_tokens: set = field(default_factory=set)
    in_window: bool = False
    all_begun: asyncio.Event = field(default_factory=asyncio.Event)
    expected: int = STREAMING_TASKS

    def __call__(self, method: str, params: Any) -> None:
        if method != "$/progress" or not isinstance(params, dict):
            return
        token, value = params.get("token"), params.get("value") or {}
        kind = value.get("kind")
        if kind == "begin":
            self.begun.add(token)
            if len(self.begun) >= self.expected:
                self.all_begun.set()
        elif kind == "report":
            self.reports += 1
            if self.in_window:
                self.window_reports += 1
                self.window_tokens.add(token)
        elif kind == "end":
            self.ended.add(token)


async def measure_streaming(setup: Setup, client: RpcClient, samples: int, task_timeout: float) -> dict[str, Any]:
    watch = ProgressWatch()
    client.add_listener(watch)
    show_before = client.server_requests.get("window/showDocument", 0)
    launched = time.perf_counter()
    futures = []
    for n in range(STREAMING_TASKS):
        line = 40 + n * ((DOC_LINES - 80) // STREAMING_TASKS)
        argument = {
            "task": "explain",
            "uri": setup.uri,
            "range": {"start": {"line": line, "character": 0}, "end": {"line": line + TASK_SPAN, "character": 0}},
        }
        futures.append(
            client.send_request("workspace/executeCommand", {"command": "assistant.run", "arguments": [argument]})
        )
    finished_at: list[float | None] = [None] * STREAMING_TASKS
    for index, future in enumerate(futures):
        future.add_done_callback(lambda _f, index=index: finished_at.__setitem__(index, time.perf_counter()))
        # If the run is aborted, nobody awaits these; read their errors so
        # asyncio does not log "exception was never retrieved".
        future.add_done_callback(lambda f: f.cancelled() or f.exception())
    await client.flush()

    try:
        await asyncio.wait_for(watch.all_begun.wait(), 30)
    except TimeoutError:
        raise RuntimeError(f"only {len(watch.begun)} of {STREAMING_TASKS} tasks began progress within 30 s") from None
    all_begun_ms = (time.perf_counter() - launched) * 1000

    latencies: list[float] = []
    all_running: list[bool] = []
    watch.in_window = True
    window_start = time.perf_counter()
    for i in range(samples):
        running_before = not any(f.done() for f in futures)
        elapsed, result = await timed_code_action(client, code_action_params(setup.uri, 10_000 + i))
        check_actions(REAL, result)
        latencies.append(elapsed)
        all_running.append(running_before and not any(f.done() for f in futures))
    window_ms = (time.perf_counter() - window_start) * 1000
    watch.in_window = False
    done_in_window = sum(f.done() for f in futures)

    await asyncio.wait(futures, timeout=task_timeout)
    total_ms = (time.perf_counter() - launched) * 1000
    statuses: dict[str, int] = {}
    problems = []
    for n, future in enumerate(futures):
        if not future.done():
            future.cancel()
            status = f"unfinished after {task_timeout:g} s"
            problems.append(f"task {n}: {status}")
        elif future.cancelled():
            status = "cancelled"
            problems.append(f"task {n}: {status}")
        elif future.exception() is not None:
            status = f"error: {future.exception()}"
            problems.append(f"task {n}: {status}")
        else:
            result = future.result()
            status = result.get("status") if isinstance(result, dict) else repr(result)
            if status != "shown":
                problems.append(f"task {n}: {json.dumps(result)[:300]}")
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    first_done = min((t for t in finished_at if t is not None), default=None)
    during = [ms for ms, ok in zip(latencies, all_running) if ok]
    return {
        "latencies_ms": latencies,
        "latencies_all_running_ms": during,
        "samples_all_running": len(during),
        "window_ms": window_ms,
        "all_begun_after_ms": all_begun_ms,
        "first_task_done_after_ms": None if first_done is None else (first_done - launched) * 1000,
        "tasks_total_ms": total_ms,
        "tasks_done_during_window": done_in_window,
        "progress_reports_total": watch.reports,
        "progress_reports_in_window": watch.window_reports,
        "tokens_reporting_in_window": len(watch.window_tokens),
        "progress_begun": len(watch.begun),
        "progress_ended": len(watch.ended),
        "show_document_requests": client.server_requests.get("window/showDocument", 0) - show_before,
        "statuses": statuses,
        "all_shown": statuses.get("shown", 0) == STREAMING_TASKS,
        "problems": problems,
    }


@dataclass
class CheckWatch:
    """When each task's check ran, as the client sees it: from its "checking the
    edit" progress report to its next report or its end."""

    started: dict[str, float] = field(default_factory=dict)
    windows: list[tuple[float, float]] = field(default_factory=list)

    def __call__(self, method: str, params: Any) -> None:
        if method != "$/progress" or not isinstance(params, dict):
            return
        token, value = params.get("token"), params.get("value") or {}
        now = time.perf_counter()
        if token in self.started and value.get("kind") in ("report", "end"):
            self.windows.append((self.started.pop(token), now))
        if value.get("kind") == "report" and CHECKING in str(value.get("message", "")):
            self.started[token] = now


async def measure_checked(setup: Setup, task_timeout: float) -> dict[str, Any]:
    """A fresh server: code actions, back to back, while CHECKED_TASKS fix tasks run
    and have their edits checked; a first fix task beforehand loads what the check
    stage imports (ast-grep, the rules, the grammar), so the window measures warm
    checks."""
    config = setup.base / "checked-config.toml"
    config.write_text(CHECKED_USER_CONFIG, encoding="utf-8")
    checked_setup = Setup(setup.base, setup.workspace, setup.document, config, setup.logs,
                          {**setup.env, "ASSISTANT_ROUTER_CONFIG": str(config)}, setup.text)
    client, _ = await start(checked_setup, REAL, "checked")
    try:
        await open_document(client, checked_setup)
        for i in range(WARMUP_REQUESTS):
            await timed_code_action(client, code_action_params(setup.uri, 40_000 + i))

        def argument(line: int) -> dict[str, Any]:
            return {"task": "fix", "uri": setup.uri,
                    "range": {"start": {"line": line, "character": 0}, "end": {"line": line + TASK_SPAN,
                                                                                "character": 0}}}

        first_started = time.perf_counter()
        first = await client.request("workspace/executeCommand",
                                     {"command": "assistant.run", "arguments": [argument(9)]}, timeout=60)
        first_ms = (time.perf_counter() - first_started) * 1000
        watch = CheckWatch()
        client.add_listener(watch)

        async def launch() -> list[Any]:
            futures = []
            for n in range(CHECKED_TASKS):
                line = 9 + 24 * (2 + n * (DOC_LINES // 24 - 4) // CHECKED_TASKS)  # a class's first line
                futures.append(client.send_request(
                    "workspace/executeCommand", {"command": "assistant.run", "arguments": [argument(line)]}))
                await client.flush()
                await asyncio.sleep(CHECKED_STAGGER_S)
            return futures

        samples: list[tuple[float, float, float]] = []  # (sent, answered, ms)
        launcher = asyncio.create_task(launch())
        window_start = time.perf_counter()
        i = 0
        while not launcher.done() or not all(f.done() for f in launcher.result()):
            if time.perf_counter() - window_start > task_timeout:
                raise RuntimeError(f"the {CHECKED_TASKS} fix tasks did not finish within {task_timeout:g} s")
            sent = time.perf_counter()
            elapsed, result = await timed_code_action(client, code_action_params(setup.uri, 50_000 + i))
            check_actions(REAL, result)
            samples.append((sent, time.perf_counter(), elapsed))
            i += 1
        window_ms = (time.perf_counter() - window_start) * 1000
        results = [f.result() for f in launcher.result()]
    finally:
        await stop(client)
    problems = []
    statuses: dict[str, int] = {}
    check_outcomes: dict[str, int] = {}
    for n, result in enumerate([first, *results]):
        status = result.get("status") if isinstance(result, dict) else repr(result)
        statuses[str(status)] = statuses.get(str(status), 0) + 1
        checks = result.get("checks") if isinstance(result, dict) else None
        if not checks:  # the phase measures nothing unless the edits were checked
            problems.append(f"fix task {n}: no checks in its result: {json.dumps(result)[:300]}")
            continue
        for check in checks:
            outcome = f"{check.get('name')} {'not run' if check.get('passed') is None else check.get('passed')}"
            check_outcomes[outcome] = check_outcomes.get(outcome, 0) + 1
    windows = sorted(watch.windows)
    during = [ms for sent, answered, ms in samples if any(a < answered and sent < b for a, b in windows)]
    return {
        "latencies_ms": [ms for _, _, ms in samples],
        "during_checks_ms": during,
        "window_ms": window_ms,
        "check_windows_ms": [round((b - a) * 1000, 2) for a, b in windows],
        "first_task_ms": first_ms,
        "statuses": statuses,
        "check_outcomes": check_outcomes,
        "problems": problems,
    }


class LogWatch:
    """Reads a growing log file from where it last stopped; finds one line."""

    def __init__(self, path: Path, needle: str) -> None:
        self.path, self.needle, self._seen = path, needle, b""

    def line(self) -> str | None:
        with contextlib.suppress(OSError), self.path.open("rb") as f:
            f.seek(len(self._seen))
            self._seen += f.read()
        text = self._seen.decode("utf-8", errors="replace")
        if (at := text.find(self.needle)) < 0:
            return None
        return text[at:].splitlines()[0]


async def measure_sdk_warmup(setup: Setup) -> dict[str, Any]:
    """A server whose policy uses both SDK adapters: code actions from
    ``initialized`` on, split into the first WARMUP_WINDOW_S seconds while the
    warm-up runs and later; then two explain tasks through the real anthropic
    adapter against the loopback fake."""
    from assistant_router.testing.loopback import LoopbackProviders

    fake = await LoopbackProviders(key=LOOPBACK_KEY, chunk_chars=16).start()
    try:
        config = setup.base / "sdk-config.toml"
        config.write_text(SDK_USER_CONFIG.format(anthropic_url=fake.anthropic_url), encoding="utf-8")
        env = {**setup.env, "ASSISTANT_ROUTER_CONFIG": str(config), "ASSISTANT_ROUTER_LOG": "debug",
               "ANTHROPIC_API_KEY": LOOPBACK_KEY, "OPENAI_API_KEY": LOOPBACK_KEY}
        sdk_setup = Setup(setup.base, setup.workspace, setup.document, config, setup.logs, env, setup.text)
        # Compile the SDKs' byte code into the bench's cache first, as pip does at
        # install time: otherwise the warm-up compiles thousands of modules from
        # source, each compile() holding the interpreter for up to tens of ms.
        subprocess.run([sys.executable, "-c", "import anthropic, openai"], env=env, check=True)
        client, _ = await start(sdk_setup, REAL, "sdk")
        warm_log = LogWatch(setup.logs / "real-sdk.log", WARMUP_LINE)
        try:
            await open_document(client, sdk_setup)
            initialized = time.perf_counter()
            during: list[float] = []  # first WARMUP_WINDOW_S s, warm-up not yet finished
            in_window_after: list[float] = []  # first WARMUP_WINDOW_S s, warm-up finished
            warm_line = None
            i = 0
            while (since := time.perf_counter() - initialized) < WARMUP_WINDOW_S or warm_line is None:
                if since > 30:
                    raise RuntimeError("the SDK warm-up did not finish within 30 s (no debug line on stderr)")
                elapsed, result = await timed_code_action(client, code_action_params(setup.uri, 20_000 + i))
                check_actions(REAL, result)
                i += 1
                if warm_line is None:
                    warm_line = warm_log.line()
                if time.perf_counter() - initialized <= WARMUP_WINDOW_S:
                    (during if warm_line is None else in_window_after).append(elapsed)
            later_n = min(max(len(during), 200), WARMUP_LATER_SAMPLES)
            later = []
            for j in range(later_n):
                elapsed, result = await timed_code_action(client, code_action_params(setup.uri, 30_000 + j))
                check_actions(REAL, result)
                later.append(elapsed)
            sent_at_warmup = len(fake.requests)
            tasks = []
            for line in (100, 400):
                argument = {"task": "explain", "uri": setup.uri,
                            "range": {"start": {"line": line, "character": 0},
                                      "end": {"line": line + TASK_SPAN, "character": 0}}}
                started = time.perf_counter()
                result = await client.request("workspace/executeCommand",
                                              {"command": "assistant.run", "arguments": [argument]}, timeout=60)
                tasks.append({"ms": (time.perf_counter() - started) * 1000,
                              "status": result.get("status") if isinstance(result, dict) else repr(result),
                              "provider": result.get("provider") if isinstance(result, dict) else None})
        finally:
            await stop(client)
    finally:
        await fake.close()
    return {
        "first_request_ms": during[0] if during else None,
        "during_ms": during[1:],  # the first request also loads what code actions import lazily: reported apart
        "in_window_after_warmup": len(in_window_after),
        "later_ms": later,
        "warmup_log": warm_line,
        "sdk_imports_log": LogWatch(setup.logs / "real-sdk.log", SDK_IMPORTS_LINE).line(),
        "requests_before_tasks": sent_at_warmup,
        "tasks": tasks,
        "requests_to_fake": len(fake.requests),
    }


# --------------------------------------------------------------------------- #
# Report


def machine() -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    def ver(name: str) -> str | None:
        try:
            return version(name)
        except PackageNotFoundError:
            return None

    os_name = platform.platform()
    with contextlib.suppress(OSError):
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                os_name = line.partition("=")[2].strip('"')
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.partition(":")[2].strip()
                break
    return {
        "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu": cpu,
        "os": os_name,
        "python": platform.python_version(),
        "python_executable": sys.executable,
        "pygls": ver("pygls"),
        "lsprotocol": ver("lsprotocol"),
        "assistant-router": ver("assistant-router"),
    }


def evaluate(figures: dict[str, Any]) -> list[dict[str, Any]]:
    spawn, ca, streaming = figures["spawn_ms"], figures["code_action_ms"], figures["streaming"]
    rows = []

    def ratio_row(label: str, real: float, bare: float, limit: float) -> None:
        ratio = real / bare
        rows.append({"metric": label, REAL: real, BARE: bare, "ratio": ratio,
                     "goal": f"<= {limit:g}x bare", "pass": ratio <= limit})

    ratio_row("spawn→initialize median (ms)", spawn[REAL]["median"], spawn[BARE]["median"], GOAL_SPAWN_RATIO)
    rows.append({"metric": "spawn→initialize min (ms)", REAL: spawn[REAL]["min"], BARE: spawn[BARE]["min"],
                 "ratio": spawn[REAL]["min"] / spawn[BARE]["min"], "goal": "(info)", "pass": None})
    ratio_row("code action median (ms)", ca[REAL]["median"], ca[BARE]["median"], GOAL_CODE_ACTION_RATIO)
    ratio_row("code action p99 (ms)", ca[REAL]["p99"], ca[BARE]["p99"], GOAL_CODE_ACTION_RATIO)
    p99 = streaming["summary"]["p99"]
    valid = streaming["samples_all_running"] == streaming["samples"] and streaming["all_shown"]
    rows.append({"metric": f"code action p99, {STREAMING_TASKS} tasks streaming (ms)", REAL: p99, BARE: None,
                 "ratio": None, "goal": f"< {GOAL_STREAMING_P99_MS:g} ms",
                 "pass": p99 < GOAL_STREAMING_P99_MS and valid})
    sdk = figures["sdk_warmup"]
    if sdk["during"] is not None:
        rows.append({"metric": f"code action p99, SDK warm-up running, first {WARMUP_WINDOW_S:g} s (ms)",
                     REAL: sdk["during"]["p99"], BARE: None, "ratio": sdk["during"]["p99"] / sdk["later"]["p99"],
                     "goal": f"< {GOAL_STREAMING_P99_MS:g} ms",
                     "pass": sdk["during"]["p99"] < GOAL_STREAMING_P99_MS})
    rows.append({"metric": "code action p99, after the warm-up (ms)", REAL: sdk["later"]["p99"], BARE: None,
                 "ratio": None, "goal": "(info)", "pass": None})
    first, second = sdk["tasks"]
    shown = first["status"] == second["status"] == "shown"
    rows.append({"metric": "first explain task, real anthropic adapter (ms)", REAL: first["ms"], BARE: None,
                 "ratio": first["ms"] / second["ms"], "goal": f"<= {GOAL_FIRST_TASK_RATIO:g}x second",
                 "pass": shown and first["ms"] <= GOAL_FIRST_TASK_RATIO * second["ms"]})
    rows.append({"metric": "second explain task (ms)", REAL: second["ms"], BARE: None, "ratio": None,
                 "goal": "(info)", "pass": None})
    checked = figures["checked"]
    valid = not checked["problems"] and len(checked["check_windows_ms"]) == CHECKED_TASKS
    during = checked["during_checks"]
    rows.append({"metric": f"code action p99, {CHECKED_TASKS} edits being checked (ms)",
                 REAL: during["p99"] if during else None, BARE: None, "ratio": None,
                 "goal": f"< {GOAL_STREAMING_P99_MS:g} ms",
                 "pass": bool(during) and valid and during["p99"] < GOAL_STREAMING_P99_MS})
    rows.append({"metric": f"code action p99, all {CHECKED_TASKS} fix tasks' window (ms)",
                 REAL: checked["summary"]["p99"], BARE: None, "ratio": None, "goal": "(info)", "pass": None})
    return rows


def fmt(value: Any, spec: str = ".2f") -> str:
    if value is None:
        return "n/a"
    return format(value, spec)


def render_table(rows: list[dict[str, Any]]) -> str:
    header = ["metric", REAL, BARE, "ratio", "goal", "result"]
    body = [
        [r["metric"], fmt(r[REAL]), fmt(r[BARE]), "n/a" if r["ratio"] is None else f"{r['ratio']:.2f}x", r["goal"],
         "-" if r["pass"] is None else ("PASS" if r["pass"] else "FAIL")]
        for r in rows
    ]
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]
    align = ["<", ">", ">", ">", "<", "<"]

    def line(cells: list[str]) -> str:
        return "  ".join(f"{c:{a}{w}}" for c, a, w in zip(cells, align, widths)).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule, *(line(b) for b in body)])


def print_report(figures: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    m = figures["machine"]
    s = figures["streaming"]
    info = figures["code_action_info"]
    print()
    print(f"assistant-router benchmark: {m['cpus']} CPUs ({m['cpu']}), {m['os']}, Python {m['python']}, "
          f"pygls {m['pygls']}, lsprotocol {m['lsprotocol']}")
    print(f"spawns: {figures['runs']} per server (+1 warm-up each); code actions: {figures['samples']} per server "
          f"after {WARMUP_REQUESTS} warm-up; document: {DOC_LINES} lines; byte code: {figures['bytecode']}; "
          f"mock stream: {figures['stream_options']}")
    print()
    print(render_table(rows))
    print()
    print(f"first code action right after initialized: {REAL} {info[REAL]['first_after_initialized_ms']:.1f} ms, "
          f"{BARE} {info[BARE]['first_after_initialized_ms']:.1f} ms")
    print(f"code actions per answer: {REAL} {info[REAL]['actions']} ({info[REAL]['response_bytes']} bytes), "
          f"{BARE} {info[BARE]['actions']} ({info[BARE]['response_bytes']} bytes)")
    print(f"streaming: {s['samples_all_running']}/{s['samples']} samples taken while all {STREAMING_TASKS} tasks ran; "
          f"window {s['window_ms']:.0f} ms; {s['progress_reports_in_window']} $/progress reports in the window "
          f"from {s['tokens_reporting_in_window']} tasks; first task done after "
          f"{fmt(s['first_task_done_after_ms'], '.0f')} ms, all after {s['tasks_total_ms']:.0f} ms; "
          f"statuses {s['statuses']}; median {s['summary']['median']:.2f} ms, max {s['summary']['max']:.2f} ms")
    if s["samples_all_running"] < s["samples"]:
        print(f"WARNING: {s['samples'] - s['samples_all_running']} samples were taken after a task had finished; "
              "raise --stream-delay-ms so the streams outlast the window")
    sdk = figures["sdk_warmup"]
    during = sdk["during"]
    print(f"SDK warm-up: {sdk['sdk_imports_log'] or 'no debug line'}; {sdk['warmup_log'] or 'no final line'}; "
          f"{during['n'] if during else 0} code actions "
          f"while it ran in the first {WARMUP_WINDOW_S:g} s (median {fmt(during and during['median'])} ms, "
          f"max {fmt(during and during['max'])} ms; the first after initialized {fmt(sdk['first_request_ms'])} ms, "
          f"apart), {sdk['in_window_after_warmup']} in the window after it, {sdk['later']['n']} later "
          f"(median {sdk['later']['median']:.2f} ms); requests to the fake before the tasks: "
          f"{sdk['requests_before_tasks']}, after: {sdk['requests_to_fake']}; "
          "tasks: " + ", ".join(f"{t['status']} from {t['provider']}" for t in sdk["tasks"]))
    if sdk["requests_before_tasks"]:
        print("WARNING: the server sent requests to a provider before any task ran")
    c = figures["checked"]
    during = c["during_checks"]
    windows = c["check_windows_ms"]
    print(f"checked edits: {c['summary']['n']} code actions in {c['window_ms']:.0f} ms while {CHECKED_TASKS} fix "
          f"tasks ran, {during['n'] if during else 0} of them while a check ran (median "
          f"{fmt(during and during['median'])} ms, max {fmt(during and during['max'])} ms); checks as the client saw "
          f"them: {len(windows)}, median {fmt(statistics.median(windows) if windows else None, '.1f')} ms, max "
          f"{fmt(max(windows) if windows else None, '.1f')} ms; statuses {c['statuses']}; outcomes "
          f"{c['check_outcomes']}; the first fix task (cold checks, not measured) {c['first_task_ms']:.0f} ms")
    for problem in c["problems"]:
        print(f"WARNING: {problem}")
    for problem in s["problems"]:
        print(f"WARNING: {problem}")
    for note in figures["notes"]:
        print(f"NOTE: {note}")
    print()
    passed = [r for r in rows if r["pass"] is True]
    failed = [r for r in rows if r["pass"] is False]
    print(f"goals: {len(passed)} passed, {len(failed)} missed"
          + (": " + "; ".join(f"{r['metric']} ({r['goal']})" for r in failed) if failed else ""))


def scan_logs(setup: Setup) -> list[str]:
    notes = [f"server {label} exited with status {code} after shutdown/exit" for label, code in EXIT_CODES if code != 0]
    for path in sorted(setup.logs.glob("*.log")):
        text = path.read_text(encoding="utf-8", errors="replace")
        if "Traceback" in text or " ERROR " in text:
            first = next((ln for ln in text.splitlines() if "Traceback" in ln or " ERROR " in ln), "")
            notes.append(f"{path.name} has errors on stderr: {first[:200]}")
    return notes


# --------------------------------------------------------------------------- #


async def run(args: argparse.Namespace, setup: Setup) -> dict[str, Any]:
    log(f"spawn → initialize, {args.runs} spawns per server (interleaved)...")
    spawn = await measure_spawn(setup, args.runs)
    log(f"code action latency, {args.samples} requests per server (alternating)...")
    latencies, info, real = await measure_code_actions(setup, args.samples)
    try:
        log(f"code action latency while {STREAMING_TASKS} tasks stream ({args.samples} requests)...")
        streaming = await measure_streaming(setup, real, args.samples, args.task_timeout)
    finally:
        await stop(real)
    log(f"code actions during the SDK warm-up (first {WARMUP_WINDOW_S:g} s after initialized), then 2 tasks...")
    sdk = await measure_sdk_warmup(setup)
    log(f"code actions while {CHECKED_TASKS} fix tasks have their edits checked...")
    checked = await measure_checked(setup, args.task_timeout)
    for kind in (REAL, BARE):
        info[kind]["warmup_median_ms"] = statistics.median(info[kind].pop("warmup_ms"))
    streaming_summary = summary(streaming["latencies_ms"])
    figures = {
        "machine": machine(),
        "runs": args.runs,
        "samples": args.samples,
        "stream_options": {"delay_ms": args.stream_delay_ms, "chunk_chars": args.stream_chunk_chars},
        "bytecode": "inherited environment" if args.inherit_bytecode_env else "cached (temporary PYTHONPYCACHEPREFIX)",
        "environment": {k: setup.env.get(k) for k in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")},
        "spawn_ms": {k: {**summary(v), "all": [round(x, 2) for x in v]} for k, v in spawn.items()},
        "code_action_ms": {k: summary(v) for k, v in latencies.items()},
        "code_action_info": info,
        "streaming": {
            **{k: v for k, v in streaming.items() if not k.startswith("latencies")},
            "samples": len(streaming["latencies_ms"]),
            "summary": streaming_summary,
            "summary_all_running": summary(streaming["latencies_all_running_ms"])
            if streaming["latencies_all_running_ms"] else None,
        },
        "sdk_warmup": {
            **{k: v for k, v in sdk.items() if not k.endswith("_ms") or k == "first_request_ms"},
            "during": summary(sdk["during_ms"]) if sdk["during_ms"] else None,
            "later": summary(sdk["later_ms"]),
        },
        "checked": {
            **{k: v for k, v in checked.items() if not k.endswith("_ms") or k in ("window_ms", "first_task_ms",
                                                                                 "check_windows_ms")},
            "summary": summary(checked["latencies_ms"]),
            "during_checks": summary(checked["during_checks_ms"]) if checked["during_checks_ms"] else None,
        },
        "notes": scan_logs(setup),
    }
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="spawns per server (default: 10)")
    parser.add_argument("--samples", type=int, default=500, help="code-action requests per measurement (default: 500)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON instead of the table")
    parser.add_argument("--stream-delay-ms", type=float, default=20, help="mock delay per chunk (default: 20)")
    parser.add_argument("--stream-chunk-chars", type=int, default=1, help="mock chunk size in characters (default: 1)")
    parser.add_argument("--task-timeout", type=float, default=60, help="seconds to wait for the 20 tasks (default: 60)")
    parser.add_argument("--timeout", type=float, default=180, help="overall time limit in seconds (default: 180)")
    parser.add_argument(
        "--inherit-bytecode-env",
        action="store_true",
        help="leave PYTHONDONTWRITEBYTECODE/PYTHONPYCACHEPREFIX as inherited instead of giving both servers "
        "a byte-code cache in the temporary directory",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (server logs) and print it")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.samples < 1:
        parser.error("--runs and --samples must be at least 1")

    base = Path(tempfile.mkdtemp(prefix="assistant-router-bench-"))
    setup = make_setup(base, args.stream_delay_ms, args.stream_chunk_chars, args.inherit_bytecode_env)

    async def guarded() -> dict[str, Any]:
        try:
            return await asyncio.wait_for(run(args, setup), args.timeout)
        finally:
            for client in list(LIVE):
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(stop(client), 10)
                client.kill()

    try:
        figures = asyncio.run(guarded())
    except (TimeoutError, Exception) as exc:
        if isinstance(exc, asyncio.TimeoutError):
            log(f"benchmark failed: it did not finish within --timeout {args.timeout:g} s")
        else:
            log(f"benchmark failed: {type(exc).__name__}: {exc}")
        for path in sorted(setup.logs.glob("*.log"))[-2:]:
            tail = path.read_text(errors="replace")[-2000:]
            if tail.strip():
                log(f"--- {path.name} (tail) ---\n{tail}")
        log(f"server logs kept in {setup.logs}")
        return 2
    finally:
        for client in LIVE:  # only if the loop died before its own cleanup
            client.kill()
        if args.keep:
            log(f"temporary files kept in {base}")
    if not args.keep:
        shutil.rmtree(base, ignore_errors=True)

    rows = evaluate(figures)
    figures["goals"] = [
        {"metric": r["metric"], "goal": r["goal"], "pass": r["pass"], "ratio": r["ratio"]}
        for r in rows
        if r["pass"] is not None
    ]
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print_report(figures, rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
