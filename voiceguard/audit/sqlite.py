"""The embedded audit store: one SQLite file in WAL mode, driven from two dedicated threads.

Durability: a commit in WAL mode appends the transaction to the ``-wal`` file with ``write()`` before it
returns. With ``synchronous=NORMAL`` the WAL is not fsync'ed on every commit, so the kernel's page cache
holds the latest commits: they survive the process being killed (even ``kill -9``), because the kernel
still writes them out, but not a power cut or kernel crash. ``sqlite_synchronous: full`` fsyncs every commit
and survives those too, at the price of one fsync per group commit.

Several processes may share the file: appends take SQLite's write lock with ``BEGIN IMMEDIATE`` and read the
head under it, so the chain stays linear. Writes and reads use separate connections and threads, so an
export never holds up the request path's commits (WAL readers do not block the writer).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Final, TypeVar

from voiceguard.audit.chain import Checkpoint, CheckpointSigner
from voiceguard.audit.record import Entry, RecordFilter, StoredRecord
from voiceguard.audit.store import (
    EMPTY_HEAD,
    AppendResult,
    Head,
    StoreUnavailable,
    new_origin,
    plan_append,
    plan_checkpoint,
)

T = TypeVar("T")

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS audit_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit_records (
    seq INTEGER PRIMARY KEY, time_us INTEGER NOT NULL, kind TEXT NOT NULL, call_id TEXT,
    body TEXT NOT NULL, leaf TEXT NOT NULL, prev TEXT NOT NULL, hash TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_records_time ON audit_records (time_us);
CREATE INDEX IF NOT EXISTS audit_records_call ON audit_records (call_id, seq);
CREATE TABLE IF NOT EXISTS audit_checkpoints (
    size INTEGER PRIMARY KEY, head TEXT NOT NULL, time_us INTEGER NOT NULL,
    previous_signature TEXT NOT NULL, key_id TEXT NOT NULL, signature TEXT NOT NULL);
"""
_RECORD_COLUMNS: Final = "seq, time_us, kind, call_id, body, leaf, prev, hash"
_CHECKPOINT_COLUMNS: Final = "size, head, time_us, previous_signature, key_id, signature"


def _filter_sql(selection: RecordFilter) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if selection.since_us is not None:
        clauses.append("time_us >= ?")
        params.append(selection.since_us)
    if selection.until_us is not None:
        clauses.append("time_us < ?")
        params.append(selection.until_us)
    if selection.call_id is not None:
        clauses.append("call_id = ?")
        params.append(selection.call_id)
    return "".join(f" AND {clause}" for clause in clauses), params


class SqliteStore:
    """An audit log in one SQLite file."""

    def __init__(self, path: Path, *, synchronous: str = "normal", timeout_s: float = 5.0) -> None:
        self.path = path
        self._synchronous = synchronous.upper()
        self._timeout_s = timeout_s
        self._write_thread = ThreadPoolExecutor(1, thread_name_prefix="voiceguard-audit-write")
        self._read_thread = ThreadPoolExecutor(1, thread_name_prefix="voiceguard-audit-read")
        self._writer: sqlite3.Connection | None = None
        self._reader: sqlite3.Connection | None = None
        self._origin = ""

    @property
    def description(self) -> str:
        return f"sqlite:{self.path}"

    @property
    def origin(self) -> str:
        return self._origin

    # --- plumbing -----------------------------------------------------------------------------------

    async def _on(self, thread: ThreadPoolExecutor, work: Callable[[], T]) -> T:
        def guarded() -> T:
            try:
                return work()
            except sqlite3.Error as exc:
                raise StoreUnavailable(f"{self.description}: {exc}") from exc
            except OSError as exc:
                raise StoreUnavailable(f"{self.description}: {exc.strerror or exc}") from exc

        return await asyncio.get_running_loop().run_in_executor(thread, guarded)

    def _connect(self, *, read_only: bool) -> sqlite3.Connection:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        connection = sqlite3.connect(
            self.path, timeout=self._timeout_s, isolation_level=None, check_same_thread=False
        )
        connection.execute(f"PRAGMA busy_timeout = {int(self._timeout_s * 1000)}")
        if read_only:
            connection.execute("PRAGMA query_only = 1")
        else:
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute(f"PRAGMA synchronous = {self._synchronous}")
        return connection

    def _write_connection(self) -> sqlite3.Connection:
        if self._writer is None:
            connection = self._connect(read_only=False)
            self._init_schema(connection)
            self._writer = connection
        return self._writer

    def _read_connection(self) -> sqlite3.Connection:
        if self._reader is None:
            self._reader = self._connect(read_only=True)
        return self._reader

    def _init_schema(self, connection: sqlite3.Connection) -> None:
        connection.execute("BEGIN IMMEDIATE")
        try:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    connection.execute(statement)
            row = connection.execute("SELECT value FROM audit_meta WHERE key = 'origin'").fetchone()
            if row is None:
                origin = new_origin()
                connection.execute("INSERT INTO audit_meta (key, value) VALUES ('origin', ?)", (origin,))
            else:
                origin = str(row[0])
            connection.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                connection.execute("ROLLBACK")
            raise
        self._origin = origin

    # --- lifecycle ----------------------------------------------------------------------------------

    async def open(self) -> None:
        await self._on(self._write_thread, self._write_connection)

    async def close(self) -> None:
        def close_writer() -> None:
            if self._writer is not None:
                self._writer.close()
                self._writer = None

        def close_reader() -> None:
            if self._reader is not None:
                self._reader.close()
                self._reader = None

        with contextlib.suppress(StoreUnavailable):
            await self._on(self._write_thread, close_writer)
        with contextlib.suppress(StoreUnavailable):
            await self._on(self._read_thread, close_reader)
        self._write_thread.shutdown(wait=False)
        self._read_thread.shutdown(wait=False)

    # --- writing ------------------------------------------------------------------------------------

    def _locked(self, work: Callable[[sqlite3.Connection, Head, Checkpoint | None], T]) -> T:
        connection = self._write_connection()
        connection.execute("BEGIN IMMEDIATE")
        try:
            head = _head(connection)
            last = _last_checkpoint(connection, self._origin)
            result = work(connection, head, last)
            connection.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                connection.execute("ROLLBACK")
            raise
        return result

    async def append(
        self,
        entries: Sequence[Entry],
        signer: CheckpointSigner | None,
        checkpoint_every: int | None,
        now_us: int,
    ) -> AppendResult:
        def work(connection: sqlite3.Connection, head: Head, last: Checkpoint | None) -> AppendResult:
            rows, checkpoint = plan_append(
                head, last, entries, signer, self._origin, checkpoint_every, now_us
            )
            connection.executemany(
                f"INSERT INTO audit_records ({_RECORD_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        r.seq,
                        r.time_us,
                        r.kind,
                        r.call_id,
                        r.body,
                        r.leaf,
                        r.prev,
                        r.hash,
                    )  # one row per record
                    for r in rows
                ],
            )
            if checkpoint is not None:
                _insert_checkpoint(connection, checkpoint)
            new_head = Head(rows[-1].seq, rows[-1].hash) if rows else head
            return AppendResult(new_head, checkpoint)

        return await self._on(self._write_thread, lambda: self._locked(work))

    async def checkpoint(self, signer: CheckpointSigner, now_us: int) -> Checkpoint | None:
        def work(connection: sqlite3.Connection, head: Head, last: Checkpoint | None) -> Checkpoint | None:
            checkpoint = plan_checkpoint(head, last, signer, self._origin, now_us)
            if checkpoint is not None:
                _insert_checkpoint(connection, checkpoint)
            return checkpoint

        return await self._on(self._write_thread, lambda: self._locked(work))

    # --- reading ------------------------------------------------------------------------------------

    async def _read(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        def work() -> list[tuple[Any, ...]]:
            if not self._origin:
                self._load_origin()
            return self._read_connection().execute(sql, params).fetchall()

        return await self._on(self._read_thread, work)

    def _load_origin(self) -> None:
        if not self.path.exists():
            raise StoreUnavailable(f"{self.description}: no audit log here yet")
        row = self._read_connection().execute("SELECT value FROM audit_meta WHERE key = 'origin'").fetchone()
        if row is None:
            raise StoreUnavailable(f"{self.description}: not an audit log (no origin)")
        self._origin = str(row[0])

    async def head(self) -> Head:
        rows = await self._read("SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1", ())
        return Head(int(rows[0][0]), str(rows[0][1])) if rows else EMPTY_HEAD

    async def records(self, after_seq: int, limit: int, through_seq: int | None = None) -> list[StoredRecord]:
        bound = "" if through_seq is None else " AND seq <= ?"
        params: list[Any] = [after_seq] + ([] if through_seq is None else [through_seq]) + [limit]
        rows = await self._read(
            f"SELECT {_RECORD_COLUMNS} FROM audit_records WHERE seq > ?{bound} ORDER BY seq LIMIT ?", params
        )
        return [StoredRecord(*row) for row in rows]

    async def next_match(self, after_seq: int, selection: RecordFilter) -> int | None:
        where, params = _filter_sql(selection)
        rows = await self._read(
            f"SELECT seq FROM audit_records WHERE seq > ?{where} ORDER BY seq LIMIT 1", [after_seq, *params]
        )
        return int(rows[0][0]) if rows else None

    async def count(self, selection: RecordFilter) -> int:
        where, params = _filter_sql(selection)
        rows = await self._read(f"SELECT count(*) FROM audit_records WHERE 1 = 1{where}", params)
        return int(rows[0][0])

    async def checkpoints(self, after_size: int, limit: int) -> list[Checkpoint]:
        rows = await self._read(
            f"SELECT {_CHECKPOINT_COLUMNS} FROM audit_checkpoints WHERE size > ? ORDER BY size LIMIT ?",
            (after_size, limit),
        )
        return [self._checkpoint(row) for row in rows]

    async def checkpoint_covering(self, seq: int) -> Checkpoint | None:
        rows = await self._read(
            f"SELECT {_CHECKPOINT_COLUMNS} FROM audit_checkpoints WHERE size >= ? ORDER BY size LIMIT 1",
            (seq,),
        )
        return self._checkpoint(rows[0]) if rows else None

    async def checkpoint_before(self, seq: int) -> Checkpoint | None:
        rows = await self._read(
            f"SELECT {_CHECKPOINT_COLUMNS} FROM audit_checkpoints WHERE size < ? ORDER BY size DESC LIMIT 1",
            (seq,),
        )
        return self._checkpoint(rows[0]) if rows else None

    def _checkpoint(self, row: tuple[Any, ...]) -> Checkpoint:
        return _checkpoint_from_row(self._origin, row)


def _head(connection: sqlite3.Connection) -> Head:
    row = connection.execute("SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1").fetchone()
    return Head(int(row[0]), str(row[1])) if row else EMPTY_HEAD


def _last_checkpoint(connection: sqlite3.Connection, origin: str) -> Checkpoint | None:
    row = connection.execute(
        f"SELECT {_CHECKPOINT_COLUMNS} FROM audit_checkpoints ORDER BY size DESC LIMIT 1"
    ).fetchone()
    return None if row is None else _checkpoint_from_row(origin, row)


def _checkpoint_from_row(origin: str, row: tuple[Any, ...]) -> Checkpoint:
    size, head, time_us, previous, key, signature = row
    return Checkpoint(origin, int(size), str(head), int(time_us), str(previous), str(key), str(signature))


def _insert_checkpoint(connection: sqlite3.Connection, checkpoint: Checkpoint) -> None:
    connection.execute(
        f"INSERT INTO audit_checkpoints ({_CHECKPOINT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
        (
            checkpoint.size,
            checkpoint.head,
            checkpoint.time_us,
            checkpoint.previous_signature,
            checkpoint.key_id,
            checkpoint.signature,
        ),
    )
