"""The ledger: one row per attempt (inline completions: per hour), in SQLite (default) or PostgreSQL.

SQLite lives in the user data directory, in WAL mode, so several editor
windows (several server processes) write to it at once; each write is one
short transaction, retried while another process holds the lock. With
``ledger_url = "postgresql://…"`` in the user config a whole team shares one
ledger and one budget. The schema is versioned; migrations run on open.

Calls block: the server makes them from one worker thread (``LedgerWorker``).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")  # a row type


@dataclass
class AttemptRow:
    time: float  # epoch seconds, UTC
    project: str  # the workspace root ("" outside any)
    task: str
    alias: str
    provider: str
    model: str
    status: str  # ok, failed, skipped, cancelled; refused (nothing was sent: no attempt, one row per run)
    run_id: str  # the same for every attempt of one task
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    cost_usd: float | None = None  # None: unknown price
    ttft_ms: int | None = None
    total_ms: int = 0
    error_type: str | None = None
    fallback: bool = False  # this model was not the chain's first
    applied: bool = False  # an edit from this attempt was applied
    kept: bool | None = None  # still in the document later (None: not known yet)
    estimated: bool = False  # the provider reported no usage: the tokens are the router's estimate
    check_outcome: str | None = None  # the answer's checks: passed, failed, not run; None: not checked (not an edit)
    escalated: bool = False  # the task came to this model because an answer before failed its checks
    security_findings: int = 0  # safety-rule findings in this answer, caught before anything was applied
    id: int | None = None


COLUMNS = [f.name for f in fields(AttemptRow) if f.name != "id"]


@dataclass
class ChoiceRow:
    """One question to the user when the classifier was unsure (the request's
    text is never stored: only its SHA-256)."""

    time: float  # epoch seconds, UTC
    project: str
    request_sha256: str  # hex digest of the request's UTF-8 text
    offered: tuple[str, ...]  # the task names offered, in order (most likely first)
    chosen: str | None  # the task chosen; None: dismissed
    top_task: str  # the classifier's most likely task
    confidence: float  # the classifier's confidence in it
    id: int | None = None


CHOICE_COLUMNS = [f.name for f in fields(ChoiceRow) if f.name != "id"]


@dataclass
class CompletionRow:
    """Inline completions, added up per UTC hour, project and model (hundreds
    an hour would be as many attempt rows): what was asked, shown, accepted
    and what it cost. One event adds its counts to its hour's row."""

    time: float  # the hour's start, epoch seconds, UTC
    project: str
    alias: str
    provider: str
    model: str
    requests: int = 0  # completions asked for (after the debounce, before the cache)
    cached: int = 0  # answered from the cache of a shown completion: no model call
    calls: int = 0  # upstream requests opened
    cancelled: int = 0  # closed early: a newer request for the document, or the editor cancelled
    failed: int = 0
    refused: int = 0  # nothing sent: excluded, over budget
    shown: int = 0  # items returned to the editor
    accepted: int = 0  # items the user took (the item's command ran)
    accepted_chars: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    cost_usd: float | None = 0.0  # None: a call at an unknown price
    first_token_ms: int = 0  # sum over the calls that answered, for the mean
    answered: int = 0  # calls that answered
    id: int | None = None


COMPLETION_KEYS = ["time", "project", "alias", "provider", "model"]
COMPLETION_COUNTS = [f.name for f in fields(CompletionRow) if f.name not in {"id", "cost_usd", *COMPLETION_KEYS}]
COMPLETION_COLUMNS = [*COMPLETION_KEYS, *COMPLETION_COUNTS, "cost_usd"]

# Each migration is a list of statements; the index + 1 is the schema version it produces.
_SQLITE_MIGRATIONS: list[list[str]] = [
    [
        """CREATE TABLE attempts (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            time REAL NOT NULL, project TEXT NOT NULL, task TEXT NOT NULL, alias TEXT NOT NULL,
            provider TEXT NOT NULL, model TEXT NOT NULL, status TEXT NOT NULL, run_id TEXT NOT NULL,
            input_tokens INTEGER NOT NULL DEFAULT 0, output_tokens INTEGER NOT NULL DEFAULT 0,
            cached_input_tokens INTEGER NOT NULL DEFAULT 0, cost_usd REAL, ttft_ms INTEGER,
            total_ms INTEGER NOT NULL DEFAULT 0, error_type TEXT, fallback INTEGER NOT NULL DEFAULT 0,
            applied INTEGER NOT NULL DEFAULT 0, kept INTEGER)""",
        "CREATE INDEX attempts_project_time ON attempts (project, time)",
    ],
    ["ALTER TABLE attempts ADD COLUMN estimated INTEGER NOT NULL DEFAULT 0"],  # 2: usage the router estimated
    [  # 3: the questions asked when the classifier was unsure
        """CREATE TABLE choices (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            time REAL NOT NULL, project TEXT NOT NULL, request_sha256 TEXT NOT NULL, offered TEXT NOT NULL,
            chosen TEXT, top_task TEXT NOT NULL, confidence REAL NOT NULL)""",
        "CREATE INDEX choices_project_time ON choices (project, time)",
    ],
    [  # 4: checked answers
        "ALTER TABLE attempts ADD COLUMN check_outcome TEXT",
        "ALTER TABLE attempts ADD COLUMN escalated INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE attempts ADD COLUMN security_findings INTEGER NOT NULL DEFAULT 0",
    ],
    [  # 5: inline completions, per hour and model
        """CREATE TABLE completions (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            time REAL NOT NULL, project TEXT NOT NULL, alias TEXT NOT NULL, provider TEXT NOT NULL,
            model TEXT NOT NULL, """ + ", ".join(f"{c} INTEGER NOT NULL DEFAULT 0" for c in COMPLETION_COUNTS)
        + """, cost_usd REAL, UNIQUE (time, project, alias, provider, model))""",
    ],
]
_POSTGRES_MIGRATIONS: list[list[str]] = [
    [
        """CREATE TABLE attempts (
            id BIGSERIAL PRIMARY KEY,
            time DOUBLE PRECISION NOT NULL, project TEXT NOT NULL, task TEXT NOT NULL, alias TEXT NOT NULL,
            provider TEXT NOT NULL, model TEXT NOT NULL, status TEXT NOT NULL, run_id TEXT NOT NULL,
            input_tokens BIGINT NOT NULL DEFAULT 0, output_tokens BIGINT NOT NULL DEFAULT 0,
            cached_input_tokens BIGINT NOT NULL DEFAULT 0, cost_usd DOUBLE PRECISION, ttft_ms BIGINT,
            total_ms BIGINT NOT NULL DEFAULT 0, error_type TEXT, fallback BOOLEAN NOT NULL DEFAULT FALSE,
            applied BOOLEAN NOT NULL DEFAULT FALSE, kept BOOLEAN)""",
        "CREATE INDEX attempts_project_time ON attempts (project, time)",
    ],
    ["ALTER TABLE attempts ADD COLUMN estimated BOOLEAN NOT NULL DEFAULT FALSE"],  # 2
    [  # 3
        """CREATE TABLE choices (
            id BIGSERIAL PRIMARY KEY,
            time DOUBLE PRECISION NOT NULL, project TEXT NOT NULL, request_sha256 TEXT NOT NULL,
            offered TEXT NOT NULL, chosen TEXT, top_task TEXT NOT NULL, confidence DOUBLE PRECISION NOT NULL)""",
        "CREATE INDEX choices_project_time ON choices (project, time)",
    ],
    [  # 4
        "ALTER TABLE attempts ADD COLUMN check_outcome TEXT",
        "ALTER TABLE attempts ADD COLUMN escalated BOOLEAN NOT NULL DEFAULT FALSE",
        "ALTER TABLE attempts ADD COLUMN security_findings BIGINT NOT NULL DEFAULT 0",
    ],
    [  # 5
        """CREATE TABLE completions (
            id BIGSERIAL PRIMARY KEY,
            time DOUBLE PRECISION NOT NULL, project TEXT NOT NULL, alias TEXT NOT NULL, provider TEXT NOT NULL,
            model TEXT NOT NULL, """ + ", ".join(f"{c} BIGINT NOT NULL DEFAULT 0" for c in COMPLETION_COUNTS)
        + """, cost_usd DOUBLE PRECISION, UNIQUE (time, project, alias, provider, model))""",
    ],
]


class Ledger:
    """Shared SQL; subclasses open the connection and name the dialect."""

    placeholder = "?"
    migrations: list[list[str]] = _SQLITE_MIGRATIONS

    def __init__(self) -> None:
        self._connection: Any = None

    # ------------------------------------------------------------ dialect
    def _connect(self) -> Any:
        raise NotImplementedError

    def _transaction(self, work: Callable[[Any], T], *, read_only: bool = False) -> T:
        raise NotImplementedError

    # ------------------------------------------------------------- schema
    @property
    def connection(self) -> Any:
        if self._connection is None:
            self._connection = self._connect()
            self._migrate()
        return self._connection

    def _lock_for_migration(self, cursor: Any) -> None:
        """Keep two processes from migrating at once (SQLite's BEGIN IMMEDIATE already does)."""

    def _migrate(self) -> None:
        def migrate(cursor: Any) -> None:
            self._lock_for_migration(cursor)
            cursor.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            cursor.execute("SELECT MAX(version) FROM schema_version")
            current = cursor.fetchone()[0] or 0
            for version, statements in enumerate(self.migrations, start=1):
                if version <= current:
                    continue
                for statement in statements:
                    cursor.execute(statement)
                cursor.execute(f"INSERT INTO schema_version (version) VALUES ({self.placeholder})", (version,))
                logger.info("ledger schema migrated to version %d", version)

        self._transaction(migrate)

    @property
    def schema_version(self) -> int:
        def read(cursor: Any) -> int:
            cursor.execute("SELECT MAX(version) FROM schema_version")
            return cursor.fetchone()[0] or 0

        return self._transaction(read)

    # ------------------------------------------------------------ queries
    def record(self, rows: Sequence[AttemptRow]) -> list[int]:
        marks = ", ".join([self.placeholder] * len(COLUMNS))
        sql = f"INSERT INTO attempts ({', '.join(COLUMNS)}) VALUES ({marks}) RETURNING id"

        def insert(cursor: Any) -> list[int]:
            ids = []
            for row in rows:
                values = asdict(row)
                cursor.execute(sql, [values[c] for c in COLUMNS])
                ids.append(cursor.fetchone()[0])
            return ids

        return self._transaction(insert)

    def record_choice(self, row: ChoiceRow) -> int:
        marks = ", ".join([self.placeholder] * len(CHOICE_COLUMNS))
        sql = f"INSERT INTO choices ({', '.join(CHOICE_COLUMNS)}) VALUES ({marks}) RETURNING id"
        values = {**asdict(row), "offered": ",".join(row.offered)}

        def insert(cursor: Any) -> int:
            cursor.execute(sql, [values[c] for c in CHOICE_COLUMNS])
            return int(cursor.fetchone()[0])

        return self._transaction(insert)

    def add_completions(self, row: CompletionRow) -> None:
        """Add ``row``'s counts to its hour's row (created when it is the first)."""
        marks = ", ".join([self.placeholder] * len(COMPLETION_COLUMNS))
        sums = ", ".join(f"{c} = completions.{c} + excluded.{c}" for c in COMPLETION_COUNTS)
        # An unknown price stays unknown: budgets then count the tokens at the provider's highest price.
        cost = "cost_usd = completions.cost_usd + excluded.cost_usd"
        sql = (f"INSERT INTO completions ({', '.join(COMPLETION_COLUMNS)}) VALUES ({marks}) "
               f"ON CONFLICT ({', '.join(COMPLETION_KEYS)}) DO UPDATE SET {sums}, {cost}")
        values = asdict(row)
        self._transaction(lambda cursor: cursor.execute(sql, [values[c] for c in COMPLETION_COLUMNS]))

    def completions(self, since: float = 0, project: str | None = None) -> list[CompletionRow]:
        return self._select("completions", COMPLETION_COLUMNS, since, project, lambda values: CompletionRow(**values))

    def choices(self, since: float = 0, project: str | None = None) -> list[ChoiceRow]:
        def make(values: dict[str, Any]) -> ChoiceRow:
            return ChoiceRow(**{**values, "offered": tuple(filter(None, values["offered"].split(",")))})

        return self._select("choices", CHOICE_COLUMNS, since, project, make)

    def _select(self, table: str, columns: list[str], since: float, project: str | None,
                make: Callable[[dict[str, Any]], R]) -> list[R]:
        """The rows of ``table`` since ``since`` (and of ``project``), in the order written."""
        p = self.placeholder
        sql = f"SELECT id, {', '.join(columns)} FROM {table} WHERE time >= {p}"
        params: list[Any] = [since]
        if project is not None:
            sql += f" AND project = {p}"
            params.append(project)
        sql += " ORDER BY id"

        def read(cursor: Any) -> list[R]:
            cursor.execute(sql, params)
            return [make(dict(zip(["id", *columns], record, strict=True))) for record in cursor.fetchall()]

        return self._transaction(read, read_only=True)

    def mark_kept(self, row_id: int, kept: bool) -> None:
        sql = f"UPDATE attempts SET kept = {self.placeholder} WHERE id = {self.placeholder}"
        self._transaction(lambda cursor: cursor.execute(sql, (kept, row_id)))

    def spend(self, project: str, since: float, task: str | None = None) -> float:
        """Known costs of a project since ``since`` (epoch seconds)."""
        p = self.placeholder
        sql = f"SELECT COALESCE(SUM(cost_usd), 0) FROM attempts WHERE project = {p} AND time >= {p}"
        params: list[Any] = [project, since]
        if task is not None:
            sql += f" AND task = {p}"
            params.append(task)

        def read(cursor: Any) -> float:
            cursor.execute(sql, params)
            return float(cursor.fetchone()[0] or 0)

        return self._transaction(read, read_only=True)

    def rows(self, since: float = 0, project: str | None = None) -> list[AttemptRow]:
        def make(values: dict[str, Any]) -> AttemptRow:
            for flag in ("fallback", "applied", "estimated"):
                values[flag] = bool(values[flag])
            values["kept"] = None if values["kept"] is None else bool(values["kept"])
            return AttemptRow(**values)

        return self._select("attempts", COLUMNS, since, project, make)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


class SqliteLedger(Ledger):
    BUSY_TIMEOUT_S = 30.0

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path

    def _connect(self) -> Any:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=self.BUSY_TIMEOUT_S, isolation_level=None)
        connection.execute(f"PRAGMA busy_timeout={int(self.BUSY_TIMEOUT_S * 1000)}")
        # Switching to WAL needs a moment alone with the file and does not wait
        # for the busy handler: retry while another process holds it.
        deadline = time.monotonic() + self.BUSY_TIMEOUT_S
        while connection.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            try:
                connection.execute("PRAGMA journal_mode=WAL")
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        return connection

    def _transaction(self, work: Callable[[Any], T], *, read_only: bool = False) -> T:
        cursor = self.connection.cursor()
        # BEGIN IMMEDIATE takes the write lock at once (waiting up to the busy
        # timeout) instead of failing later on an upgrade from a read lock. A
        # read takes none: in WAL mode it never waits for another process's
        # write (budgets and inline completions read while other windows write).
        for attempt in range(50):
            try:
                cursor.execute("BEGIN" if read_only else "BEGIN IMMEDIATE")
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or attempt == 49:
                    raise
                time.sleep(0.05)
        try:
            result = work(cursor)
            cursor.execute("COMMIT")
            return result
        except BaseException:
            cursor.execute("ROLLBACK")
            raise

class PostgresLedger(Ledger):
    placeholder = "%s"
    migrations = _POSTGRES_MIGRATIONS

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url

    def _connect(self) -> Any:
        import psycopg

        return psycopg.connect(self.url, autocommit=False)

    def _transaction(self, work: Callable[[Any], T], *, read_only: bool = False) -> T:
        connection = self.connection
        try:
            with connection.cursor() as cursor:
                result = work(cursor)
            connection.commit()
            return result
        except BaseException:
            connection.rollback()
            raise

    def _lock_for_migration(self, cursor: Any) -> None:
        cursor.execute("SELECT pg_advisory_xact_lock(7236120)")  # held until this transaction ends


def default_ledger_path() -> Path:
    import platformdirs

    return platformdirs.user_data_path("assistant-router") / "ledger.sqlite3"


def open_ledger(url: str | None) -> Ledger:
    """``None``: SQLite in the user data directory; ``sqlite:///path``;
    ``postgresql://…`` (or ``postgres://…``)."""
    if not url:
        return SqliteLedger(default_ledger_path())
    if url.startswith("sqlite://"):
        return SqliteLedger(Path(url.removeprefix("sqlite://")).expanduser())
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresLedger(url)
    raise ValueError(f"unsupported ledger_url {url!r}: use sqlite:///path or postgresql://…")


class LedgerWorker:
    """Runs ledger calls on one thread, off the event loop; a broken ledger
    is logged, never fatal (usage is not worth a failed task)."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledger")

    async def call(self, method: str, *args: Any, default: Any = None) -> Any:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, lambda: getattr(self.ledger, method)(*args))
        except Exception as exc:  # a locked file, a lost database connection…
            logger.error("ledger %s failed: %s", method, exc)
            return default

    def close(self) -> None:
        self._executor.submit(self.ledger.close)
        self._executor.shutdown(wait=True)
