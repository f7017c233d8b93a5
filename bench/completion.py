#!/usr/bin/env python3
"""Benchmark: inline completion (``textDocument/inlineCompletion``) through the
real server, the real OpenAI SDK and a loopback fake of the model.

    .venv/bin/python bench/completion.py            # about 3 minutes
    .venv/bin/python bench/completion.py --quick    # about 30 s
    .venv/bin/python bench/completion.py --json figures.json

The server (``python -m assistant_router.server serve``, as bench/run.py
starts it, with its SDK warm-up, waited for) gets a user config routing the
``complete`` task to one alias, the ``openai`` provider with ``base_url``
pointing at testing/loopback.py's fake (``api = "completions"``,
fill-in-the-middle, by default; ``--api chat`` for Chat Completions), the key
in an environment variable. The fake runs on its own thread and event loop,
so that its timestamps do not wait for the client's; it answers each request
after ``--first-token-ms`` (80) to the first token, then the rest at once,
and records when each request arrived, when its first text chunk and its
last byte were sent, and whether the client closed the connection first. The
client is bench/rpc.py's raw JSON-RPC client; it declares
``textDocument.inlineCompletion``.

Phases, a 2,000-line Python document (bench/run.py's):

1. **Invoked overhead**: ``--invoked`` sequential Invoked requests at the end
   of lines spread over the document (each a new position, so nothing comes
   from the cache), alternating request by request with
   bench/bare_completion_server.py (a bare pygls server making the same SDK
   call); the overhead is the end-to-end time (request written → answer read)
   minus the fake's own time for that request (its arrival → its last byte,
   from its records), split into before and after; the bare server stops then;
2. **idle code actions**: ``--samples`` ``textDocument/codeAction`` requests,
   one every 10 ms, nothing else running;
3. **typing**: a Python body typed at 10 keys a second (one incremental
   ``didChange`` then one Automatic request per keystroke, as Neovim sends
   them, never cancelling a superseded one), a ``--pause-ms`` (700) pause
   after each word; meanwhile code actions, one every 10 ms. Measured: for
   each pause, the time from the request of the pause's last keystroke to its
   answer with items ("pause latency"; the goal); for every request that got
   items, the time from it to its answer; what every request answered (items
   from the model, items from the cache, an empty list); from the fake's
   records, the upstream requests opened and those closed before their last
   byte, and how soon after the superseding request was sent they closed;
   code-action latency against phase 2;
4. **typing along a shown completion**: ``--along`` times, an Invoked request
   on a new blank line, then its completion typed character by character (all
   but the last, at 10 keys a second, an Automatic request after each): the
   share answered from the cache with the rest of the completion (exactly),
   and the upstream requests opened meanwhile (none expected).

Goals (the inline-completion issue): overhead median < 5 ms and p99 < 15 ms;
pause latency p50 < 250 ms and p95 < 600 ms; code actions while completions
run: p99 < 20 ms and the median within 2 ms of idle. It is a measurement:
exit status 0 even when a goal is missed, 2 when it could not measure.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from rpc import RpcClient  # noqa: E402
from run import (  # noqa: E402
    DOC_LINES,
    DOC_NAME,
    client_capabilities,
    code_action_params,
    fmt,
    machine,
    make_document,
    percentile,
)

from assistant_router.testing.loopback import LoopbackProviders, RecordedRequest  # noqa: E402

KEY_ENV = "ASSISTANT_ROUTER_BENCH_KEY"
KEY = "bench-completion-key"
ALIAS = "fim"
MODEL = "bench-fim"
INVOKED, AUTOMATIC = 1, 2  # InlineCompletionTriggerKind
ACCEPTED_COMMAND = "assistant.inlineCompletionAccepted"
WARM_UP_LINE = "warm-up finished in"  # server/features/lifecycle.py, at debug level
REAL, BARE = "assistant-router", "bare pygls"
BARE_SERVER = Path(__file__).resolve().parent / "bare_completion_server.py"
KEY_INTERVAL_S = 0.1  # 10 keys a second
CODE_ACTION_INTERVAL_S = 0.01
INDENT = "        "  # inside a method of the generated document

GOAL_OVERHEAD_MEDIAN_MS = 5.0
GOAL_OVERHEAD_P99_MS = 15.0
GOAL_PAUSE_P50_MS = 250.0
GOAL_PAUSE_P95_MS = 600.0
GOAL_CODE_ACTION_P99_MS = 20.0
GOAL_CODE_ACTION_MEDIAN_DELTA_MS = 2.0

USER_CONFIG = """\
# Written by bench/completion.py: the complete task goes to the loopback fake.
[models.{alias}]
provider = "openai"
model = "{model}"
api = "{api}"
base_url = "{url}"
api_key_env = "{key_env}"
context_window = 32000
retries = 0

[completion]
debounce_ms = {debounce_ms}

[routes]
complete = "{alias}"
"""

# What is typed in phase 3: a method body, word by word.
TYPED_LINES = [
    "total = self.size * amount",
    "if total > limit:",
    "    raise ValueError(total)",
    "names = [tag.upper() for tag in self.tags]",
    "result = dict(name=self.name, size=total)",
    "for index, name in enumerate(names):",
    "    result[name] = index",
    "return json.dumps(result, indent=2)",
]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def summary(values: list[float]) -> dict[str, Any] | None:
    if not values:
        return None
    return {"n": len(values), "median": statistics.median(values), "p95": percentile(values, 95),
            "p99": percentile(values, 99), "min": min(values), "max": max(values), "mean": statistics.fmean(values)}


# --------------------------------------------------------------------------- #
# The fake, on its own thread


class FakeThread:
    """A :class:`LoopbackProviders` serving from its own thread and event loop."""

    def __init__(self, **options: Any) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="loopback fake", daemon=True)
        self.thread.start()

        async def make() -> LoopbackProviders:
            return await LoopbackProviders(**options).start()

        self.fake = asyncio.run_coroutine_threadsafe(make(), self.loop).result(10)

    @property
    def records(self) -> list[RecordedRequest]:
        return list(self.fake.requests)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self.fake.close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


# --------------------------------------------------------------------------- #
# The editor's side: the document as the client holds it


@dataclass
class Editor:
    client: RpcClient
    uri: str
    text: str
    version: int = 1
    lines: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.lines = self.text.split("\n")

    def find(self, start: int) -> int:
        """The first line from ``start`` on that ends a method (an indented return)."""
        return next(n for n in range(start, len(self.lines)) if self.lines[n].startswith(INDENT + "return "))

    def before(self, line: int, character: int) -> str:
        return "\n".join(self.lines[:line] + [self.lines[line][:character]])

    async def insert(self, line: int, character: int, text: str) -> tuple[int, int]:
        """Type ``text`` at (line, character): one incremental didChange.
        Returns the cursor after it."""
        self.version += 1
        here = {"line": line, "character": character}
        await self.client.notify("textDocument/didChange", {
            "textDocument": {"uri": self.uri, "version": self.version},
            "contentChanges": [{"range": {"start": here, "end": here}, "text": text}],
        })
        current = self.lines[line]
        pieces = (current[:character] + text + current[character:]).split("\n")
        self.lines[line:line + 1] = pieces
        if len(pieces) == 1:
            return line, character + len(text)
        return line + len(pieces) - 1, len(pieces[-1]) - len(current) + character

    def request(self, line: int, character: int, trigger: int) -> asyncio.Future:
        return self.client.send_request("textDocument/inlineCompletion", {
            "textDocument": {"uri": self.uri},
            "position": {"line": line, "character": character},
            "context": {"triggerKind": trigger},
        })


def items_of(result: Any) -> list[dict[str, Any]]:
    if isinstance(result, dict):
        return list(result.get("items") or [])
    if isinstance(result, list):
        return result
    return []


@dataclass
class Sent:
    """One inline-completion request as the client saw it."""

    sent: float
    before: str  # the document's text before the cursor
    future: asyncio.Future
    answered: float | None = None
    pause: bool = False  # the last keystroke before a pause

    @property
    def ms(self) -> float | None:
        return None if self.answered is None else (self.answered - self.sent) * 1000

    def items(self) -> list[dict[str, Any]]:
        if not self.future.done() or self.future.cancelled() or self.future.exception() is not None:
            return []
        return items_of(self.future.result())


def track(sent: Sent) -> Sent:
    def done(future: asyncio.Future) -> None:
        sent.answered = time.monotonic()
        if not future.cancelled():
            future.exception()  # read, so an error is not logged as never retrieved

    sent.future.add_done_callback(done)
    return sent


def sent_for(record: RecordedRequest, api: str) -> str:
    """The text before the cursor as the fake received it."""
    if api == "completions":
        return record.prompt
    prompt = record.prompt  # the code comes last, after "the cursor marked <CURSOR>:"
    return prompt[:prompt.rfind("<CURSOR>")] if "<CURSOR>" in prompt else prompt


def match(records: list[RecordedRequest], requests: list[Sent], api: str) -> dict[int, RecordedRequest]:
    """Which upstream request each LSP request opened (by the text before the
    cursor, unique while typing: the document only grows)."""
    out: dict[int, RecordedRequest] = {}
    for record in records:
        text = sent_for(record, api)
        for index in range(len(requests) - 1, -1, -1):
            tail = requests[index].before[-300:]
            if index not in out and text.endswith(tail):
                out[index] = record
                break
    return out


# --------------------------------------------------------------------------- #
# Phases


async def timed_code_action(client: RpcClient, params: dict[str, Any]) -> float:
    started = time.monotonic()
    result = await client.request("textDocument/codeAction", params, timeout=30)
    if not isinstance(result, list) or not result:
        raise RuntimeError(f"code action answered {result!r}")
    return (time.monotonic() - started) * 1000


async def code_actions(client: RpcClient, uri: str, stop: asyncio.Event | None, samples: int,
                       start: int) -> list[tuple[float, float, float]]:
    """Code actions one every CODE_ACTION_INTERVAL_S, until ``stop`` or
    ``samples`` of them: (sent, answered, ms)."""
    out = []
    i = 0
    while (stop is None and i < samples) or (stop is not None and not stop.is_set()):
        sent = time.monotonic()
        ms = await timed_code_action(client, code_action_params(uri, start + i))
        out.append((sent, time.monotonic(), ms))
        i += 1
        await asyncio.sleep(CODE_ACTION_INTERVAL_S)
    return out


async def invoked_once(editor: Editor, fake: FakeThread, line: int, command: bool) -> dict[str, float] | str:
    """One Invoked request at the end of ``line``, alone: its timings, or what went wrong."""
    character = len(editor.lines[line])
    known = len(fake.fake.requests)
    sent = time.monotonic()
    result = await asyncio.wait_for(editor.request(line, character, INVOKED), 30)
    answered = time.monotonic()
    new = fake.records[known:]
    items = items_of(result)
    if len(new) != 1 or not items or new[0].finished is None:
        return f"line {line}: {len(new)} upstream requests, {len(items)} items, {json.dumps(result)[:200]}"
    if command and (items[0].get("command") or {}).get("command") != ACCEPTED_COMMAND:
        return f"line {line}: the item has no {ACCEPTED_COMMAND} command"
    record = new[0]
    total = (answered - sent) * 1000
    own = (record.finished - record.started) * 1000
    return {"e2e_ms": total, "fake_ms": own, "overhead_ms": total - own,
            "before_upstream_ms": (record.started - sent) * 1000,
            "after_upstream_ms": (answered - record.finished) * 1000}


async def measure_invoked(editors: dict[str, Editor], fake: FakeThread, count: int, start: int) -> dict[str, Any]:
    """Sequential Invoked requests at the ends of lines spread over the
    document (a new position each time: nothing comes from the cache),
    alternating between the servers request by request (ABBA)."""
    out: dict[str, dict[str, Any]] = {kind: {"problems": []} for kind in editors}
    kinds = list(editors)
    for i in range(count):
        line = 30 + ((start + i) * 7919) % (DOC_LINES - 60)
        for kind in (kinds if i % 2 == 0 else kinds[::-1]):
            timings = await invoked_once(editors[kind], fake, line, command=kind == REAL)
            if isinstance(timings, str):
                out[kind]["problems"].append(f"Invoked request {i}, {timings}")
                continue
            for key, value in timings.items():
                out[kind].setdefault(key, []).append(value)
    first = [(r.first_text - r.started) * 1000 for r in fake.records if r.first_text is not None]
    for figures in out.values():
        figures["first_token_ms"] = statistics.median(first)
    return out


def keystrokes(words: int) -> list[tuple[str, bool]]:
    """(text inserted, a pause follows) per keystroke: TYPED_LINES word by word,
    a newline (with the next line's indentation, as editors indent) between lines."""
    out: list[tuple[str, bool]] = []
    typed_words = 0
    for n, line in enumerate(TYPED_LINES * 10):
        if n:
            following = (TYPED_LINES * 10)[n]
            out.append(("\n" + INDENT + " " * (len(following) - len(following.lstrip())), False))
        body = line.lstrip()
        for w, word in enumerate(body.split(" ")):
            if w:
                out.append((" ", False))
            out.extend((c, False) for c in word)
            out[-1] = (out[-1][0], True)
            typed_words += 1
            if typed_words >= words:
                return out
    return out


async def measure_typing(editor: Editor, fake: FakeThread, words: int, pause_s: float, api: str,
                         anchor_line: int) -> dict[str, Any]:
    """Phase 3: typing with an Automatic request per keystroke, code actions meanwhile."""
    anchor_line = editor.find(anchor_line)
    line, character = await editor.insert(anchor_line, len(editor.lines[anchor_line]), "\n" + INDENT)
    await asyncio.sleep(0.3)  # the didChange is in, nothing in flight
    known = len(fake.fake.requests)
    stop = asyncio.Event()
    actions = asyncio.create_task(code_actions(editor.client, editor.uri, stop, 0, 60_000))
    requests: list[Sent] = []
    started = time.monotonic()
    at = started
    for text, pause in keystrokes(words):
        await asyncio.sleep(max(0.0, at - time.monotonic()))
        line, character = await editor.insert(line, character, text)
        requests.append(track(Sent(time.monotonic(), editor.before(line, character),
                                   editor.request(line, character, AUTOMATIC), pause=pause)))
        await editor.client.flush()
        at += KEY_INTERVAL_S + (pause_s if pause else 0.0)
    await asyncio.sleep(max(0.0, at - time.monotonic()))
    await asyncio.wait([r.future for r in requests], timeout=10)
    stop.set()
    samples = await actions
    window = (started, time.monotonic())
    records = fake.records[known:]
    opened = match(records, requests, api)
    outcomes = {"items from the model": 0, "items from the cache": 0, "empty list": 0, "no answer": 0,
                "error": 0}
    with_items_ms: list[float] = []
    pause_ms: list[float] = []
    pauses_without_items = 0
    for index, request in enumerate(requests):
        future = request.future
        if not future.done():
            outcomes["no answer"] += 1
        elif future.cancelled() or future.exception() is not None:
            outcomes["error"] += 1
        elif request.items():
            outcomes["items from the model" if index in opened else "items from the cache"] += 1
            with_items_ms.append(request.ms)
        else:
            outcomes["empty list"] += 1
        if request.pause:
            if request.items():
                pause_ms.append(request.ms)
            else:
                pauses_without_items += 1
    closed_early = [r for r in records if r.disconnected is not None and r.finished is None]
    # How soon an upstream request closed after the request superseding it was sent.
    close_ms = []
    early = {id(r) for r in closed_early}
    for index, record in opened.items():
        if id(record) in early and index + 1 < len(requests):
            close_ms.append((record.disconnected - requests[index + 1].sent) * 1000)
    streams = [(r.started, r.finished or r.disconnected or window[1]) for r in records]
    during = [ms for sent, answered, ms in samples if any(a < answered and sent < b for a, b in streams)]
    return {
        "keystrokes": len(requests),
        "pauses": sum(r.pause for r in requests),
        "window_s": window[1] - window[0],
        "outcomes": outcomes,
        "pause_ms": pause_ms,
        "pauses_without_items": pauses_without_items,
        "with_items_ms": with_items_ms,
        "upstream_opened": len(records),
        "upstream_matched": len(opened),
        "upstream_closed_early": len(closed_early),
        "upstream_finished": sum(r.finished is not None for r in records),
        "close_after_superseded_ms": close_ms,
        "code_action_ms": [ms for _, _, ms in samples],
        "code_action_while_streaming_ms": during,
        # The slowest code actions, and when they were sent: ms after the last
        # keystroke, and after the last upstream request's arrival at the fake.
        "code_action_slowest": [
            {"ms": round(ms, 2),
             "after_keystroke_ms": round(min(((sent - r.sent) * 1000 for r in requests if r.sent <= sent),
                                             default=-1.0), 1),
             "after_upstream_ms": round(min(((sent - r.started) * 1000 for r in records if r.started <= sent),
                                            default=-1.0), 1)}
            for sent, _, ms in sorted(samples, key=lambda s: -s[2])[:12]],
    }


async def measure_along(editor: Editor, fake: FakeThread, times: int, anchor_line: int,
                        chars: int | None) -> dict[str, Any]:
    """Phase 4: a completion shown on a new blank line, then typed along (all
    but its last character, or its first ``chars``)."""
    typed = hits = exact = upstream = shown_failures = 0
    hit_ms: list[float] = []
    problems: list[str] = []
    for n in range(times):
        line_no = editor.find(anchor_line + n * 48)
        line, character = await editor.insert(line_no, len(editor.lines[line_no]), "\n" + INDENT)
        await asyncio.sleep(0.05)
        result = await asyncio.wait_for(editor.request(line, character, INVOKED), 30)
        items = items_of(result)
        if not items:
            shown_failures += 1
            problems.append(f"along {n}: the Invoked request showed nothing: {json.dumps(result)[:200]}")
            continue
        completion = items[0]["insertText"]
        known = len(fake.fake.requests)
        requests: list[tuple[Sent, str]] = []
        at = time.monotonic()
        for i, char in enumerate(completion[:-1][:chars]):
            await asyncio.sleep(max(0.0, at - time.monotonic()))
            line, character = await editor.insert(line, character, char)
            requests.append((track(Sent(time.monotonic(), "", editor.request(line, character, AUTOMATIC))),
                             completion[i + 1:]))
            await editor.client.flush()
            at += KEY_INTERVAL_S
        await asyncio.wait([r.future for r, _ in requests], timeout=10)
        upstream += len(fake.records) - known
        for request, rest in requests:
            typed += 1
            items = request.items()
            if not items:
                continue
            hits += 1
            hit_ms.append(request.ms)
            exact += items[0].get("insertText") == rest
    return {"completions": times - shown_failures, "typed": typed, "hits": hits, "exact": exact,
            "upstream_opened": upstream, "hit_ms": hit_ms, "problems": problems}


# --------------------------------------------------------------------------- #
# Set-up and the run


@dataclass
class Setup:
    base: Path
    workspace: Path
    document: Path
    logs: Path
    env: dict[str, str]
    text: str


def make_setup(base: Path, url: str, api: str, debounce_ms: int) -> Setup:
    workspace = base / "workspace"
    workspace.mkdir()
    text = make_document()
    document = workspace / DOC_NAME
    document.write_text(text, encoding="utf-8")
    config = base / "config.toml"
    config.write_text(USER_CONFIG.format(alias=ALIAS, model=MODEL, api=api, url=url, key_env=KEY_ENV,
                                         debounce_ms=debounce_ms), encoding="utf-8")
    logs = base / "logs"
    logs.mkdir()
    env = dict(os.environ)
    env.update({
        "ASSISTANT_ROUTER_CONFIG": str(config),
        "XDG_CACHE_HOME": str(base / "cache"),
        "XDG_DATA_HOME": str(base / "data"),  # the ledger
        "ASSISTANT_ROUTER_WARM_UP": "1",  # as an editor's server runs
        "ASSISTANT_ROUTER_LOG": "debug",  # for the warm-up's last line (nothing is logged per completion)
        "PYTHONPYCACHEPREFIX": str(base / "pycache"),  # byte code cached, as installed (bench/run.py)
        KEY_ENV: KEY,
    })
    for name in ("PYTHONDONTWRITEBYTECODE", "PYTHONPROFILEIMPORTTIME", "PYTHONASYNCIODEBUG", "PYTHONDEVMODE",
                 "OPENAI_BASE_URL", "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "ASSISTANT_ROUTER_OFFLINE"):
        env.pop(name, None)
    return Setup(base, workspace, document, logs, env, text)


def initialize_params(setup: Setup) -> dict[str, Any]:
    capabilities = client_capabilities()
    capabilities["textDocument"]["inlineCompletion"] = {"dynamicRegistration": False}
    root = setup.workspace.as_uri()
    return {"processId": os.getpid(), "clientInfo": {"name": "assistant-router-bench", "version": "1"},
            "rootUri": root, "workspaceFolders": [{"uri": root, "name": setup.workspace.name}],
            "capabilities": capabilities, "trace": "off"}


@dataclass
class Scale:
    samples: int
    invoked: int
    words: int
    along: int
    pause_ms: float
    along_chars: int | None = None  # None: all but the last


FULL = Scale(samples=1000, invoked=300, words=60, along=4, pause_ms=700)
QUICK = Scale(samples=200, invoked=40, words=8, along=1, pause_ms=700, along_chars=20)


async def open_server(argv: list[str], setup: Setup, env: dict[str, str], label: str) -> tuple[RpcClient, Editor]:
    """Spawn, initialize (inline completion must be advertised), open the document."""
    client = await RpcClient.spawn(argv, env=env, cwd=setup.workspace, stderr_path=setup.logs / f"{label}.log")
    client.label = label
    LIVE.append(client)
    result = await client.request("initialize", initialize_params(setup), timeout=30)
    if (result or {}).get("capabilities", {}).get("inlineCompletionProvider") is None:
        raise RuntimeError(f"{label}: inline completion is not advertised to a client that declares it")
    await client.notify("initialized", {})
    uri = setup.document.as_uri()
    await client.notify("textDocument/didOpen", {"textDocument": {
        "uri": uri, "languageId": "python", "version": 1, "text": setup.text}})
    return client, Editor(client, uri, setup.text)


LIVE: list[RpcClient] = []
EXIT_CODES: dict[str, int | None] = {}


async def stop(client: RpcClient) -> None:
    with contextlib.suppress(Exception):
        EXIT_CODES[client.label] = await client.close()
    client.kill()
    with contextlib.suppress(ValueError):
        LIVE.remove(client)


def invoked_figures(figures: dict[str, Any]) -> dict[str, Any]:
    return {
        "n": len(figures.get("overhead_ms", [])),
        "overhead": summary(figures.get("overhead_ms", [])),
        "e2e": summary(figures.get("e2e_ms", [])),
        "fake": summary(figures.get("fake_ms", [])),
        "before_upstream": summary(figures.get("before_upstream_ms", [])),
        "after_upstream": summary(figures.get("after_upstream_ms", [])),
        "fake_first_token_median_ms": figures["first_token_ms"],
        "problems": figures["problems"],
    }


async def run(args: argparse.Namespace, scale: Scale) -> dict[str, Any]:
    fake = FakeThread(key=KEY, chunk_chars=16, first_token_s=args.first_token_ms / 1000, signature="fake")
    base = Path(tempfile.mkdtemp(prefix="assistant-router-completion-bench-"))
    load_before = os.getloadavg()
    try:
        setup = make_setup(base, fake.fake.openai_url, args.api, args.debounce_ms)
        setup.env["ASSISTANT_ROUTER_WARM_UP"] = "1" if args.warm_up else "0"
        # The SDK's byte code, compiled first as pip does at install time (bench/run.py).
        subprocess.run([sys.executable, "-c", "import openai"], env=setup.env, check=True)
        real, editor = await open_server([sys.executable, "-m", "assistant_router.server", "serve"], setup,
                                         setup.env, "server")
        bare_env = {**setup.env, "BENCH_BASE_URL": fake.fake.openai_url, "BENCH_API": args.api, "BENCH_MODEL": MODEL}
        bare, bare_editor = await open_server([sys.executable, str(BARE_SERVER)], setup, bare_env, "bare")
        uri = editor.uri
        log("waiting for the server's SDK warm-up to finish...")
        waited = time.monotonic()
        while args.warm_up and WARM_UP_LINE not in (setup.logs / "server.log").read_text(errors="replace"):
            if time.monotonic() - waited > 60:
                raise RuntimeError("the SDK warm-up did not finish within 60 s (no debug line on stderr)")
            await asyncio.sleep(0.05)
        warm_up_s = time.monotonic() - waited
        log("warm-up: code actions and Invoked completions...")
        for i in range(20):
            await timed_code_action(real, code_action_params(uri, i))
        editors = {REAL: editor, BARE: bare_editor}
        warm = await measure_invoked(editors, fake, 10, 10_000)
        if any(w["problems"] for w in warm.values()):
            raise RuntimeError("warm-up: " + "; ".join([p for w in warm.values() for p in w["problems"]][:3]))
        log(f"Invoked completions, sequential, alternating with the bare server ({scale.invoked} each)...")
        invoked = await measure_invoked(editors, fake, scale.invoked, 0)
        await stop(bare)
        log(f"idle code actions ({scale.samples}, one every {CODE_ACTION_INTERVAL_S * 1000:g} ms)...")
        idle = [ms for _, _, ms in await code_actions(real, uri, None, scale.samples, 100)]
        log(f"typing at 10 keys/s, {scale.words} words, {scale.pause_ms:g} ms pause after each...")
        typing = await measure_typing(editor, fake, scale.words, scale.pause_ms / 1000, args.api, DOC_LINES // 2)
        log(f"typing along {scale.along} shown completion(s)...")
        along = await measure_along(editor, fake, scale.along, DOC_LINES // 4, scale.along_chars)
        await stop(real)
    finally:
        for client in list(LIVE):
            await stop(client)
        fake.close()
        notes = scan_log(base / "logs" / "server.log") + scan_log(base / "logs" / "bare.log")
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
        else:
            log(f"temporary files kept in {base}")
    notes += [f"{label} exited with status {code} after shutdown/exit" for label, code in EXIT_CODES.items()
              if code != 0]
    return {
        "machine": {**machine(), "load_average_before": load_before, "load_average_after": os.getloadavg()},
        "mode": "quick" if args.quick else "full",
        "api": args.api,
        "first_token_ms_configured": args.first_token_ms,
        "debounce_ms": args.debounce_ms,
        "warm_up_waited_s": warm_up_s,
        "scale": scale.__dict__,
        "idle_code_action": summary(idle),
        "invoked": invoked_figures(invoked[REAL]),
        "invoked_bare": invoked_figures(invoked[BARE]),
        "typing": {
            **{k: v for k, v in typing.items() if not k.endswith("_ms")},
            "pause": summary(typing["pause_ms"]),
            "with_items": summary(typing["with_items_ms"]),
            "close_after_superseded": summary(typing["close_after_superseded_ms"]),
            "code_action": summary(typing["code_action_ms"]),
            "code_action_while_streaming": summary(typing["code_action_while_streaming_ms"]),
        },
        "along": {**{k: v for k, v in along.items() if k != "hit_ms"},
                  "hit_rate": along["hits"] / along["typed"] if along["typed"] else None,
                  "hit": summary(along["hit_ms"])},
        "notes": notes,
    }


def scan_log(path: Path) -> list[str]:
    with contextlib.suppress(OSError):
        text = path.read_text(encoding="utf-8", errors="replace")
        lines = [ln for ln in text.splitlines() if "Traceback" in ln or " ERROR " in ln]
        if lines:
            return [f"server stderr has errors: {lines[0][:200]}"]
    return []


# --------------------------------------------------------------------------- #
# Report


def evaluate(f: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []

    def row(metric: str, value: float | None, goal: str = "(info)", passed: bool | None = None) -> None:
        rows.append({"metric": metric, "value": value, "goal": goal, "pass": passed})

    inv = f["invoked"]
    ok = not inv["problems"]
    over = inv["overhead"] or {}
    row("Invoked: server overhead median (ms)", over.get("median"), f"< {GOAL_OVERHEAD_MEDIAN_MS:g} ms",
        ok and over.get("median", 1e9) < GOAL_OVERHEAD_MEDIAN_MS)
    row("Invoked: server overhead p99 (ms)", over.get("p99"), f"< {GOAL_OVERHEAD_P99_MS:g} ms",
        ok and over.get("p99", 1e9) < GOAL_OVERHEAD_P99_MS)
    bare = (f["invoked_bare"]["overhead"] or {})
    row("Invoked: bare pygls + same SDK call, overhead median (ms)", bare.get("median"))
    row("Invoked: bare pygls + same SDK call, overhead p99 (ms)", bare.get("p99"))
    row("Invoked: end-to-end median (ms)", (inv["e2e"] or {}).get("median"))
    row("Invoked: the fake's own time median (ms)", (inv["fake"] or {}).get("median"))
    t = f["typing"]
    pause = t["pause"] or {}
    row("typing: pause latency p50 (ms)", pause.get("median"), f"< {GOAL_PAUSE_P50_MS:g} ms",
        bool(pause) and pause["median"] < GOAL_PAUSE_P50_MS)
    row("typing: pause latency p95 (ms)", pause.get("p95"), f"< {GOAL_PAUSE_P95_MS:g} ms",
        bool(pause) and pause["p95"] < GOAL_PAUSE_P95_MS and not t["pauses_without_items"])
    items = t["with_items"] or {}
    row("typing: requests with items, p50 (ms)", items.get("median"))
    row("typing: requests with items, p95 (ms)", items.get("p95"))
    row("typing: upstream requests opened", t["upstream_opened"])
    row("typing: upstream closed early (cancel-previous)", t["upstream_closed_early"])
    row("typing: closed after superseding request, median (ms)", (t["close_after_superseded"] or {}).get("median"))
    a = f["along"]
    row("typing along a shown completion: cache hit rate (%)",
        None if a["hit_rate"] is None else 100 * a["hit_rate"])
    row("typing along: upstream requests opened", a["upstream_opened"])
    idle, busy = f["idle_code_action"], t["code_action"]
    stream = t["code_action_while_streaming"] or busy
    row("code action idle p50 (ms)", idle["median"])
    row("code action idle p99 (ms)", idle["p99"])
    row("code action while typing p50 (ms)", busy["median"], f"<= idle + {GOAL_CODE_ACTION_MEDIAN_DELTA_MS:g} ms",
        busy["median"] <= idle["median"] + GOAL_CODE_ACTION_MEDIAN_DELTA_MS)
    row("code action while typing p99 (ms)", busy["p99"], f"< {GOAL_CODE_ACTION_P99_MS:g} ms",
        busy["p99"] < GOAL_CODE_ACTION_P99_MS)
    row("code action while a stream was open p99 (ms)", stream["p99"], f"< {GOAL_CODE_ACTION_P99_MS:g} ms",
        stream["p99"] < GOAL_CODE_ACTION_P99_MS)
    return rows


def render(rows: list[dict[str, Any]]) -> str:
    header = ["metric", "value", "goal", "result"]
    body = [[r["metric"], fmt(r["value"], ".0f" if isinstance(r["value"], int) else ".2f"), r["goal"],
             "-" if r["pass"] is None else ("PASS" if r["pass"] else "FAIL")] for r in rows]
    widths = [max(len(b[i]) for b in [header, *body]) for i in range(4)]
    align = ["<", ">", "<", "<"]

    def line(cells: list[str]) -> str:
        return "  ".join(f"{c:{a}{w}}" for c, a, w in zip(cells, align, widths)).rstrip()

    return "\n".join([line(header), "  ".join("-" * w for w in widths), *(line(b) for b in body)])


def print_report(f: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    m = f["machine"]
    print()
    print(f"inline completion benchmark ({f['mode']}): {m['cpus']} CPUs ({m['cpu']}), {m['os']}, "
          f"Python {m['python']}, pygls {m['pygls']}; api = \"{f['api']}\", the fake's first token after "
          f"{f['first_token_ms_configured']:g} ms (measured median {f['invoked']['fake_first_token_median_ms']:.2f}"
          f" ms), debounce {f['debounce_ms']} ms")
    print()
    print(render(rows))
    print()
    inv = f["invoked"]
    print(f"Invoked: {inv['n']} requests; overhead before the upstream request arrived median "
          f"{fmt((inv['before_upstream'] or {}).get('median'))} ms, after its last byte "
          f"{fmt((inv['after_upstream'] or {}).get('median'))} ms; overhead max "
          f"{fmt((inv['overhead'] or {}).get('max'))} ms")
    t = f["typing"]
    print(f"typing: {t['keystrokes']} keystrokes in {t['window_s']:.1f} s, {t['pauses']} pauses "
          f"({t['pauses_without_items']} without items); answers {t['outcomes']}; upstream opened "
          f"{t['upstream_opened']} ({t['upstream_matched']} matched to a keystroke), finished "
          f"{t['upstream_finished']}, "
          f"closed early {t['upstream_closed_early']}; code actions {t['code_action']['n']} "
          f"({(t['code_action_while_streaming'] or {}).get('n', 0)} while a stream was open)")
    a = f["along"]
    print(f"typing along: {a['completions']} completion(s), {a['typed']} characters typed, {a['hits']} answered from "
          f"the cache ({a['exact']} with exactly the rest), median {fmt((a['hit'] or {}).get('median'))} ms; "
          f"upstream requests opened meanwhile: {a['upstream_opened']}")
    bare = f["invoked_bare"]
    print(f"bare pygls with the same SDK call: {bare['n']} requests; overhead before the upstream request "
          f"median {fmt((bare['before_upstream'] or {}).get('median'))} ms, after its last byte "
          f"{fmt((bare['after_upstream'] or {}).get('median'))} ms; end-to-end median "
          f"{fmt((bare['e2e'] or {}).get('median'))} ms")
    print(f"load average before {m['load_average_before'][0]:.2f}, after {m['load_average_after'][0]:.2f}")
    for problem in inv["problems"] + bare["problems"] + a["problems"]:
        print(f"WARNING: {problem}")
    for note in f["notes"]:
        print(f"NOTE: {note}")
    passed = [r for r in rows if r["pass"] is True]
    failed = [r for r in rows if r["pass"] is False]
    print()
    print(f"goals: {len(passed)} passed, {len(failed)} missed"
          + (": " + "; ".join(f"{r['metric']} ({r['goal']})" for r in failed) if failed else ""))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smaller run (about 30 s)")
    parser.add_argument("--json", metavar="FILE", help="also write the figures to FILE as JSON")
    parser.add_argument("--api", choices=["completions", "chat"], default="completions",
                        help="the alias's wire API (default: completions, fill-in-the-middle)")
    parser.add_argument("--first-token-ms", type=float, default=80, help="the fake's time to first token (80)")
    parser.add_argument("--debounce-ms", type=int, default=125, help="[completion] debounce_ms (default: 125, "
                        "the shipped default)")
    parser.add_argument("--samples", type=int, help="idle code actions")
    parser.add_argument("--invoked", type=int, help="sequential Invoked requests")
    parser.add_argument("--words", type=int, help="words typed in the typing phase")
    parser.add_argument("--along", type=int, help="shown completions typed along")
    parser.add_argument("--pause-ms", type=float, help="the pause after each typed word (700)")
    parser.add_argument("--no-warm-up", dest="warm_up", action="store_false",
                        help="start the server without its SDK warm-up (the smoke test: less CPU)")
    parser.add_argument("--timeout", type=float, default=600, help="overall limit in seconds (600)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (server log)")
    args = parser.parse_args(argv)
    scale = QUICK if args.quick else FULL
    scale = Scale(**{k: v if getattr(args, k, None) is None else getattr(args, k) for k, v in scale.__dict__.items()})
    if min(scale.samples, scale.invoked, scale.words, scale.along) < 1:
        parser.error("--samples, --invoked, --words and --along must be at least 1")
    try:
        figures = asyncio.run(asyncio.wait_for(run(args, scale), args.timeout))
    except Exception as exc:
        log(f"benchmark failed: {type(exc).__name__}: {exc}")
        return 2
    rows = evaluate(figures)
    figures["goals"] = [{"metric": r["metric"], "goal": r["goal"], "pass": r["pass"], "value": r["value"]}
                        for r in rows]
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2), encoding="utf-8")
    print_report(figures, rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
