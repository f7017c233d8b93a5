"""The ledger, the same suite on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from assistant_router.engine.usage.ledger import AttemptRow, ChoiceRow, PostgresLedger, SqliteLedger, open_ledger


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite://{tmp_path / 'ledger.sqlite3'}"
    return request.getfixturevalue("postgres_url")


def row(**changes) -> AttemptRow:
    values = dict(time=time.time(), project="/repo", task="review", alias="opus", provider="anthropic",
                  model="claude-opus-4-6", status="ok", run_id="r1", input_tokens=1000, output_tokens=200,
                  cost_usd=0.01)
    values.update(changes)
    return AttemptRow(**values)


def test_open_ledger_by_url(tmp_path):
    assert isinstance(open_ledger(f"sqlite://{tmp_path / 'x.db'}"), SqliteLedger)
    assert isinstance(open_ledger("postgresql://u@localhost/db"), PostgresLedger)
    with pytest.raises(ValueError, match="unsupported ledger_url"):
        open_ledger("mysql://x")


def test_rows_round_trip_and_spend(ledger_url):
    ledger = open_ledger(ledger_url)
    first, second, third = ledger.record([
        row(), row(task="refactor", cost_usd=0.02, applied=True, fallback=True, ttft_ms=120),
        row(project="/other", cost_usd=1.0), ])
    ledger.record([row(cost_usd=None, status="failed", error_type="RetryableProviderError")])
    ledger.mark_kept(second, True)

    rows = ledger.rows(0, "/repo")
    assert [r.id for r in rows[:2]] == [first, second] and third not in [r.id for r in rows]
    refactor = rows[1]
    assert (refactor.applied, refactor.fallback, refactor.kept, refactor.ttft_ms) == (True, True, True, 120)
    assert rows[0].kept is None and rows[2].cost_usd is None
    assert ledger.spend("/repo", 0) == pytest.approx(0.03)
    assert ledger.spend("/repo", 0, "refactor") == pytest.approx(0.02)
    assert ledger.spend("/repo", time.time() + 60) == 0
    assert ledger.schema_version == 5
    ledger.close()


def test_migrations_run_once(ledger_url):
    open_ledger(ledger_url).record([row()])
    reopened = open_ledger(ledger_url)
    assert reopened.schema_version == 5 and len(reopened.rows()) == 1


def test_choices_round_trip_without_the_request_text(ledger_url):
    ledger = open_ledger(ledger_url)
    asked = ChoiceRow(time.time(), "/repo", "ab" * 32, ("debug", "explain", "review"), "explain", "debug", 0.41)
    dismissed = ChoiceRow(time.time(), "/repo", "cd" * 32, ("test", "fix"), None, "test", 0.3)
    ledger.record_choice(asked)
    ledger.record_choice(dismissed)
    ledger.record_choice(ChoiceRow(time.time(), "/other", "ef" * 32, ("fix",), "fix", "fix", 0.2))

    rows = ledger.choices(0, "/repo")
    assert [(r.offered, r.chosen, r.top_task) for r in rows] == [
        (("debug", "explain", "review"), "explain", "debug"), (("test", "fix"), None, "test")]
    assert rows[0].request_sha256 == "ab" * 32 and rows[0].confidence == pytest.approx(0.41)
    assert len(ledger.choices()) == 3 and ledger.choices(time.time() + 60) == []
    ledger.close()


def test_estimated_usage_round_trips(ledger_url):
    ledger = open_ledger(ledger_url)
    ledger.record([row(), row(estimated=True, run_id="r2")])
    assert [r.estimated for r in ledger.rows()] == [False, True]
    ledger.close()


def test_a_version_1_ledger_migrates_and_keeps_its_rows(tmp_path):
    """Version 2 adds ``estimated``; rows written before it read as reported usage."""
    import sqlite3

    from assistant_router.engine.usage import ledger as module

    path = tmp_path / "old.sqlite3"
    connection = sqlite3.connect(path)
    for statement in module._SQLITE_MIGRATIONS[0]:
        connection.execute(statement)
    connection.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    connection.execute("INSERT INTO schema_version VALUES (1)")
    connection.execute("INSERT INTO attempts (time, project, task, alias, provider, model, status, run_id, "
                       "input_tokens, cost_usd) VALUES (1, '/repo', 'review', 'opus', 'anthropic', 'm', 'ok', 'r0', "
                       "10, 0.5)")
    connection.commit()
    connection.close()

    ledger = open_ledger(f"sqlite://{path}")
    ledger.record([row(estimated=True)])

    assert ledger.schema_version == 5
    old, new = ledger.rows()
    assert (old.input_tokens, old.cost_usd, old.estimated) == (10, 0.5, False) and new.estimated is True
    ledger.close()


WRITER = """
import sys, time
from assistant_router.engine.usage.ledger import AttemptRow, open_ledger
url, worker, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ledger = open_ledger(url)
for index in range(count):
    ledger.record([AttemptRow(time.time(), "/repo", "review", "opus", "anthropic", "m", "ok",
                              f"{worker}-{index}", cost_usd=0.001)])
ledger.close()
"""


def test_concurrent_writers_from_several_processes_lose_nothing(ledger_url):
    """Several editor windows are several server processes writing at once."""
    import subprocess
    import sys

    # No ledger yet: the windows even race to create it and its schema.
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, ledger_url, str(n), "60"]) for n in range(4)]
    assert [w.wait(120) for w in writers] == [0, 0, 0, 0]
    ledger = open_ledger(ledger_url)
    rows = ledger.rows()
    assert len(rows) == 240 and len({r.run_id for r in rows}) == 240
    assert ledger.spend("/repo", 0) == pytest.approx(0.24)


def test_sqlite_uses_wal(tmp_path: Path):
    ledger = SqliteLedger(tmp_path / "l.db")
    ledger.record([row()])
    assert ledger.connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_read_does_not_wait_for_another_process_writing(tmp_path: Path):
    """Budgets and inline completions read the spend while other windows write:
    a read takes no write lock (WAL), so it is answered at once."""
    import sqlite3

    ledger = SqliteLedger(tmp_path / "ledger.sqlite3")
    ledger.record([row()])
    ledger.connection.execute("PRAGMA busy_timeout=200")  # a read that waited for the lock would fail fast
    other = sqlite3.connect(tmp_path / "ledger.sqlite3", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another server, mid-write
    try:
        assert len(ledger.rows(0, "/repo")) == 1 and ledger.completions(0) == []
    finally:
        other.execute("ROLLBACK")


def test_completions_add_up_per_hour_and_model(ledger_url):
    from assistant_router.engine.usage.ledger import CompletionRow

    ledger = open_ledger(ledger_url)
    hour = 1_800_000_000.0 // 3600 * 3600

    def add(at: float, alias: str = "mini", cost: float | None = 0.001, **counts: int) -> None:
        ledger.add_completions(CompletionRow(at, "/repo", alias, "openai", "m", cost_usd=cost, **counts))

    add(hour, requests=1, calls=1, shown=1, input_tokens=500)
    add(hour, requests=1, cached=1, shown=1, cost=0.0)
    add(hour, accepted=1, accepted_chars=12, cost=0.0)
    add(hour + 3600, requests=1, calls=1, cancelled=1)
    add(hour, alias="local", cost=None, requests=1, calls=1)
    add(hour, alias="local", requests=1, calls=1)

    rows = {(row.time, row.alias): row for row in ledger.completions(0, "/repo")}
    assert len(rows) == 3  # one row per hour and model, however many completions
    first = rows[(hour, "mini")]
    assert (first.requests, first.calls, first.cached, first.shown, first.accepted, first.accepted_chars,
            first.input_tokens) == (2, 1, 1, 2, 1, 12, 500)
    assert first.cost_usd == pytest.approx(0.001)
    assert rows[(hour + 3600, "mini")].cancelled == 1
    assert rows[(hour, "local")].cost_usd is None and rows[(hour, "local")].requests == 2  # unknown stays unknown
    assert ledger.completions(hour + 1, "/repo") == [rows[(hour + 3600, "mini")]]
