"""The HTML usage report in a real headless Chromium (Debian's ``chromium``),
with the network blocked: it loads, logs no console error, requests nothing
but its own file, fits a narrow window, and leaves screenshots in
test-artifacts/ (usage-report.png at 1100 px, usage-report-narrow.png at 400 px).

Chromium is driven over the DevTools protocol on ``--remote-debugging-pipe``
(file descriptors 3 and 4, NUL-terminated JSON), with the standard library only.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from assistant_router.engine.usage.ledger import AttemptRow, open_ledger

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CDP_TIMEOUT_S = 20.0  # per step, on a loaded machine; a healthy run takes about a second each
DAY = 86400.0


def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        if os.environ.get("ASSISTANT_ROUTER_REQUIRE_EDITORS"):
            pytest.fail("chromium is not installed (Debian: apt-get install chromium)")
        pytest.skip("chromium is not installed")
    return path


def _above_four(fd: int) -> int:
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return moved


class DevTools:
    """One browser over the pipe: commands by id, events kept for inspection."""

    def __init__(self, binary: str, profile: Path) -> None:
        commands_read, self._commands = os.pipe()
        self._replies, replies_write = os.pipe()
        # The child's ends above 4, so moving them onto 3 and 4 never overwrites one with the other.
        commands_read, replies_write = (_above_four(fd) for fd in (commands_read, replies_write))
        self._log = profile.with_suffix(".log")
        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--remote-debugging-pipe",
                 f"--user-data-dir={profile}", "--no-first-run", "--no-default-browser-check", "--disable-extensions",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync", "--mute-audio",
                 "--hide-scrollbars",
                 # No name resolves: should the page ask for anything remote, it gets nothing.
                 "--host-resolver-rules=MAP * ~NOTFOUND", "about:blank"]
        # Chromium reads commands on fd 3 and writes replies on fd 4: bash puts the pipes there (dash
        # cannot name a descriptor above 9).
        moves = f"3<&{commands_read} 4>&{replies_write} {commands_read}<&- {replies_write}>&-"
        # A file, not a pipe: nobody reads it while the test runs, and a full pipe would stall Chromium.
        with self._log.open("wb") as log:
            self.process = subprocess.Popen(
                ["bash", "-c", f'exec "$0" "$@" {moves}', binary, *flags], pass_fds=(commands_read, replies_write),
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log)
        os.close(commands_read)
        os.close(replies_write)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []
        self.session: str | None = None

    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self._replies], [], [], remaining)[0]:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self._replies, 1 << 20)
            if not chunk:
                raise RuntimeError(f"Chromium exited: {self._log.read_text(errors='replace')[-2000:]}")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)  # type: ignore[no-any-return]

    def call(self, method: str, params: dict[str, Any] | None = None, browser: bool = False) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if self.session and not browser:
            message["sessionId"] = self.session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + CDP_TIMEOUT_S
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})  # type: ignore[no-any-return]
            self.events.append(reply)

    def wait_for(self, method: str) -> dict[str, Any]:
        seen = next((e for e in self.events if e.get("method") == method), None)
        deadline = time.monotonic() + CDP_TIMEOUT_S
        while seen is None:
            event = self._read(deadline)
            self.events.append(event)
            seen = event if event.get("method") == method else None
        return seen

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        return result["result"].get("value")

    def screenshot(self, width: int, path: Path) -> None:
        """The whole page at ``width`` CSS pixels."""
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False})
        height = self.evaluate("document.documentElement.scrollHeight")
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": int(height), "deviceScaleFactor": 1, "mobile": False})
        shot = self.call("Page.captureScreenshot", {"format": "png"})
        path.write_bytes(base64.b64decode(shot["data"]))

    def close(self) -> None:
        try:
            self.call("Browser.close", browser=True)
        except (OSError, RuntimeError, TimeoutError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        os.close(self._commands)
        os.close(self._replies)


def varied_rows(now: float) -> list[AttemptRow]:
    """Nine days of two projects: three models, four tasks, failures followed
    by fallbacks, checked fixes (escalated, held), a cooled-down skip, a
    cancel, usage the router estimated, a model without a price, and a model
    name that is markup."""
    rows = []
    models = [("codex", "openai", "gpt-5.3-codex", 0.0021, 700, 2400),
              ("opus", "anthropic", "claude-opus-4-6", 0.043, 1100, 5200),
              ("local", "openai", "<script>alert(1)</script>", None, 250, 1800)]
    tasks = ["refactor", "explain", "review", "fix"]
    for day in range(9):
        for n in range(3 + day % 4):
            alias, provider, model, cost, ttft, total = models[(day + n) % 3]
            task, run = tasks[(day * 3 + n) % 4], f"d{day}n{n}"
            at = now - (8 - day) * DAY - n * 600
            fallback = day % 3 == 1 and n == 0
            if fallback:  # the primary failed first; another model answered
                rows.append(AttemptRow(at - 5, "/repo/app", task, "opus", "anthropic", "claude-opus-4-6", "failed",
                                       run, total_ms=3000, error_type="RetryableProviderError"))
            applied = task in ("refactor", "fix")
            rows.append(AttemptRow(
                at, "/repo/app" if n % 2 == 0 else "/repo/<lib>", task, alias, provider, model, "ok", run,
                1200 + 300 * n, 150 + 40 * day, cost_usd=None if cost is None else cost * (1 + n / 3),
                ttft_ms=ttft + 40 * n, total_ms=total + 300 * day, fallback=fallback, applied=applied,
                kept=(day + n) % 4 != 0 if applied else None, estimated=alias == "local" or (day, n) == (5, 1)))
    # Checked fixes, first by codex: passed first time, failed and saved by opus, failed twice (held).
    for n, outcomes in enumerate([("passed",), ("passed",), ("failed", "passed"), ("failed", "failed")]):
        at, run = now - 3 * DAY + n * 600, f"check{n}"
        for index, outcome in enumerate(outcomes):
            alias, provider, model, cost = (("codex", "openai", "gpt-5.3-codex", 0.0021) if index == 0 else
                                            ("opus", "anthropic", "claude-opus-4-6", 0.043))
            rows.append(AttemptRow(at + index, "/repo/app", "fix", alias, provider, model, "ok", run, 1500, 300,
                                   cost_usd=cost, ttft_ms=600, total_ms=3000, check_outcome=outcome,
                                   escalated=index > 0, applied=outcome == "passed",
                                   security_findings=1 if (n, index) == (3, 0) else 0))
    rows.append(AttemptRow(now - 2 * DAY, "/repo/app", "review", "opus", "anthropic", "claude-opus-4-6", "skipped",
                           "skip1", error_type="CoolingDown"))
    rows.append(AttemptRow(now - DAY, "/repo/app", "explain", "codex", "openai", "gpt-5.3-codex", "cancelled",
                           "cancel1", total_ms=400))
    return rows


def test_the_report_in_headless_chromium(tmp_path: Path, user_config: Path):
    binary = chromium()
    started = time.monotonic()
    ledger = open_ledger(f"sqlite://{tmp_path / 'data' / 'assistant-router' / 'ledger.sqlite3'}")
    ledger.record(varied_rows(time.time()))
    ledger.close()
    report = tmp_path / "report.html"
    env = {**os.environ, "ASSISTANT_ROUTER_CONFIG": str(user_config), "XDG_DATA_HOME": str(tmp_path / "data")}
    cli = subprocess.run([str(Path(sys.executable).parent / "assistant-router"), "usage", "--days", "14",
                          "--html", str(report)], env=env, capture_output=True, text=True, timeout=60)
    assert cli.returncode == 0, cli.stderr
    page = report.read_text()
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page

    browser = DevTools(binary, tmp_path / "profile")
    try:
        (target,) = [t for t in browser.call("Target.getTargets")["targetInfos"] if t["type"] == "page"]
        browser.session = browser.call("Target.attachToTarget", {"targetId": target["targetId"],
                                                                 "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            browser.call(f"{domain}.enable")
        browser.call("Emulation.setDeviceMetricsOverride",
                     {"width": 1100, "height": 900, "deviceScaleFactor": 1, "mobile": False})
        browser.call("Page.navigate", {"url": report.as_uri()})
        browser.wait_for("Page.loadEventFired")

        shape = browser.evaluate("""({
            title: document.title,
            sections: [...document.querySelectorAll('section')].map(s => s.id),
            charts: [...document.querySelectorAll('figure svg')].map(s => s.getBoundingClientRect().height),
            tables: document.querySelectorAll('table caption').length,
            overflow: document.documentElement.scrollWidth - window.innerWidth,
        })""")
        assert shape["title"].startswith("assistant-router usage")
        assert shape["sections"] == ["spend", "cost", "acceptance", "checks", "failures", "latency", "suggestions",
                                     "models"]
        assert len(shape["charts"]) == 7 and all(h > 100 for h in shape["charts"]), shape
        assert shape["tables"] == 6 and shape["overflow"] <= 0, shape
        ARTIFACTS.mkdir(exist_ok=True)
        wide, narrow = ARTIFACTS / "usage-report.png", ARTIFACTS / "usage-report-narrow.png"
        browser.screenshot(1100, wide)
        browser.screenshot(400, narrow)
        # A narrow window scrolls tables inside their box, never the page sideways.
        assert browser.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0

        problems = [e for e in browser.events if e.get("method") in ("Runtime.exceptionThrown", "Log.entryAdded",
                                                                      "Runtime.consoleAPICalled")
                    and (e["method"] == "Runtime.exceptionThrown" or e["params"].get("type") == "error"
                         or e["params"].get("entry", {}).get("level") == "error")]
        requests = [e["params"]["request"]["url"] for e in browser.events if e.get("method") ==
                    "Network.requestWillBeSent"]
        assert problems == [] and requests == [report.as_uri()], (problems, requests)

        # The watchers see what they watch for: a console error and a remote request, made on purpose.
        browser.evaluate("console.error('probe'); fetch('https://example.invalid/probe').catch(() => 0); 1")
        browser.wait_for("Runtime.consoleAPICalled")
        browser.call("Runtime.evaluate", {"expression": "new Promise(r => setTimeout(r, 100))", "awaitPromise": True})
        assert any(e.get("method") == "Network.requestWillBeSent"
                   and e["params"]["request"]["url"] == "https://example.invalid/probe" for e in browser.events)
    finally:
        browser.close()
    assert wide.stat().st_size > 10_000 and narrow.stat().st_size > 10_000
    print(f"\nscreenshots: {wide} and {narrow} ({time.monotonic() - started:.1f} s)")
