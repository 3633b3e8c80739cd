"""The shared audit store: PostgreSQL, for several voiceguard replicas writing one log.

Order under concurrent writers: every append transaction first takes a transaction-scoped advisory lock
(``pg_advisory_xact_lock``, one key per schema), then reads the head, links and inserts its batch, and
commits, which releases the lock. Appends from all replicas are therefore serialised, each batch chained
to the head the previous batch committed; a replica that crashes mid-transaction leaves nothing behind.
Durability is PostgreSQL's: a commit returns once its WAL record is flushed (``synchronous_commit`` on,
the server default). The tables live in their own schema (``postgres_schema``), created on first use.

A lost connection is reopened on the next operation; until then every call raises ``StoreUnavailable``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final, TypeVar

import asyncpg

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

_RECORD_COLUMNS: Final = ("seq", "time_us", "kind", "call_id", "body", "leaf", "prev", "hash")
_CHECKPOINT_COLUMNS: Final = ("size", "head", "time_us", "previous_signature", "key_id", "signature")
_FAILURES: Final = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)


def _redact_dsn(dsn: str) -> str:
    """The DSN without its password, for messages."""
    scheme, sep, rest = dsn.partition("://")
    if not sep or "@" not in rest:
        return dsn if "password" not in dsn else "postgres (DSN hidden: it holds a password)"
    credentials, _, location = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}@{location}"


class PostgresStore:
    """An audit log in one PostgreSQL schema."""

    def __init__(self, dsn: str, schema: str, *, timeout_s: float = 5.0) -> None:
        self._dsn = dsn
        self.schema = schema
        self._timeout_s = timeout_s
        self._lock_key = int.from_bytes(
            hashlib.sha256(f"voiceguard-audit:{schema}".encode()).digest()[:8], "big", signed=True
        )
        self._writer: asyncpg.Connection | None = None
        self._reader: asyncpg.Connection | None = None
        self._origin = ""
        q = f'"{schema}"'
        self._records = f"{q}.audit_records"
        self._checkpoints = f"{q}.audit_checkpoints"
        self._meta = f"{q}.audit_meta"

    @property
    def description(self) -> str:
        return f"postgres:{_redact_dsn(self._dsn)} schema {self.schema}"

    @property
    def origin(self) -> str:
        return self._origin

    # --- plumbing -----------------------------------------------------------------------------------

    async def _connect(self) -> asyncpg.Connection:
        connection: asyncpg.Connection = await asyncpg.connect(
            self._dsn, timeout=self._timeout_s, command_timeout=self._timeout_s
        )
        return connection

    async def _with(self, role: str, work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        """Run ``work`` on the writer or reader connection; a failure drops that connection."""
        connection = self._writer if role == "writer" else self._reader
        try:
            if connection is None or connection.is_closed():
                connection = await self._connect()
                if role == "writer":
                    self._writer = connection
                    await self._init_schema(connection)
                else:
                    self._reader = connection
            if not self._origin:
                await self._load_origin(connection)
            return await work(connection)
        except _FAILURES as exc:
            await self._drop(role)
            raise StoreUnavailable(f"{self.description}: {exc}") from exc

    async def _drop(self, role: str) -> None:
        connection = self._writer if role == "writer" else self._reader
        if role == "writer":
            self._writer = None
        else:
            self._reader = None
        if connection is not None and not connection.is_closed():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.close(), timeout=1.0)
            if not connection.is_closed():
                connection.terminate()

    async def _init_schema(self, connection: asyncpg.Connection) -> None:
        async with connection.transaction():
            await connection.execute("SELECT pg_advisory_xact_lock($1)", self._lock_key)
            await connection.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
            await connection.execute(
                f"CREATE TABLE IF NOT EXISTS {self._meta} (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
            )
            await connection.execute(
                f"""CREATE TABLE IF NOT EXISTS {self._records} (
                    seq BIGINT PRIMARY KEY, time_us BIGINT NOT NULL, kind TEXT NOT NULL, call_id TEXT,
                    body TEXT NOT NULL, leaf TEXT NOT NULL, prev TEXT NOT NULL, hash TEXT NOT NULL)"""
            )
            await connection.execute(
                f"CREATE INDEX IF NOT EXISTS audit_records_time ON {self._records} (time_us)"
            )
            await connection.execute(
                f"CREATE INDEX IF NOT EXISTS audit_records_call ON {self._records} (call_id, seq)"
            )
            await connection.execute(
                f"""CREATE TABLE IF NOT EXISTS {self._checkpoints} (
                    size BIGINT PRIMARY KEY, head TEXT NOT NULL, time_us BIGINT NOT NULL,
                    previous_signature TEXT NOT NULL, key_id TEXT NOT NULL, signature TEXT NOT NULL)"""
            )
            await connection.execute(
                f"INSERT INTO {self._meta} (key, value) VALUES ('origin', $1) ON CONFLICT (key) DO NOTHING",
                new_origin(),
            )

    async def _load_origin(self, connection: asyncpg.Connection) -> None:
        try:
            origin = await connection.fetchval(f"SELECT value FROM {self._meta} WHERE key = 'origin'")
        except asyncpg.UndefinedTableError:
            origin = None
        if origin is None:
            raise StoreUnavailable(f"{self.description}: no audit log here yet")
        self._origin = str(origin)

    # --- lifecycle ----------------------------------------------------------------------------------

    async def open(self) -> None:
        async def nothing(connection: asyncpg.Connection) -> None:
            return None

        await self._with("writer", nothing)

    async def close(self) -> None:
        await self._drop("writer")
        await self._drop("reader")

    # --- writing ------------------------------------------------------------------------------------

    async def _locked(self, work: Callable[[asyncpg.Connection, Head, Checkpoint | None], Awaitable[T]]) -> T:
        async def transaction(connection: asyncpg.Connection) -> T:
            async with connection.transaction():
                await connection.execute("SELECT pg_advisory_xact_lock($1)", self._lock_key)
                row = await connection.fetchrow(
                    f"SELECT seq, hash FROM {self._records} ORDER BY seq DESC LIMIT 1"
                )
                head = Head(int(row["seq"]), str(row["hash"])) if row else EMPTY_HEAD
                last = await connection.fetchrow(
                    f"SELECT {', '.join(_CHECKPOINT_COLUMNS)} FROM {self._checkpoints} "
                    "ORDER BY size DESC LIMIT 1"
                )
                return await work(connection, head, self._checkpoint(last) if last else None)

        return await self._with("writer", transaction)

    async def append(
        self,
        entries: Sequence[Entry],
        signer: CheckpointSigner | None,
        checkpoint_every: int | None,
        now_us: int,
    ) -> AppendResult:
        async def work(connection: asyncpg.Connection, head: Head, last: Checkpoint | None) -> AppendResult:
            rows, checkpoint = plan_append(
                head, last, entries, signer, self._origin, checkpoint_every, now_us
            )
            if rows:
                await connection.copy_records_to_table(
                    "audit_records",
                    schema_name=self.schema,
                    columns=_RECORD_COLUMNS,
                    records=[
                        (r.seq, r.time_us, r.kind, r.call_id, r.body, r.leaf, r.prev, r.hash) for r in rows
                    ],
                )
            if checkpoint is not None:
                await self._insert_checkpoint(connection, checkpoint)
            return AppendResult(Head(rows[-1].seq, rows[-1].hash) if rows else head, checkpoint)

        return await self._locked(work)

    async def checkpoint(self, signer: CheckpointSigner, now_us: int) -> Checkpoint | None:
        async def work(
            connection: asyncpg.Connection, head: Head, last: Checkpoint | None
        ) -> Checkpoint | None:
            checkpoint = plan_checkpoint(head, last, signer, self._origin, now_us)
            if checkpoint is not None:
                await self._insert_checkpoint(connection, checkpoint)
            return checkpoint

        return await self._locked(work)

    async def _insert_checkpoint(self, connection: asyncpg.Connection, checkpoint: Checkpoint) -> None:
        await connection.execute(
            f"INSERT INTO {self._checkpoints} ({', '.join(_CHECKPOINT_COLUMNS)}) "
            "VALUES ($1, $2, $3, $4, $5, $6)",
            checkpoint.size,
            checkpoint.head,
            checkpoint.time_us,
            checkpoint.previous_signature,
            checkpoint.key_id,
            checkpoint.signature,
        )

    # --- reading ------------------------------------------------------------------------------------

    async def _fetch(self, sql: str, *params: Any) -> list[asyncpg.Record]:
        async def work(connection: asyncpg.Connection) -> list[asyncpg.Record]:
            rows: list[asyncpg.Record] = await connection.fetch(sql, *params)
            return rows

        return await self._with("reader", work)

    async def head(self) -> Head:
        rows = await self._fetch(f"SELECT seq, hash FROM {self._records} ORDER BY seq DESC LIMIT 1")
        return Head(int(rows[0]["seq"]), str(rows[0]["hash"])) if rows else EMPTY_HEAD

    async def records(self, after_seq: int, limit: int, through_seq: int | None = None) -> list[StoredRecord]:
        columns = ", ".join(_RECORD_COLUMNS)
        if through_seq is None:
            rows = await self._fetch(
                f"SELECT {columns} FROM {self._records} WHERE seq > $1 ORDER BY seq LIMIT $2",
                after_seq,
                limit,
            )
        else:
            rows = await self._fetch(
                f"SELECT {columns} FROM {self._records} WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3",
                after_seq,
                through_seq,
                limit,
            )
        return [StoredRecord(*row) for row in rows]

    def _filter(self, selection: RecordFilter, first: int) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        for column, operator, value in (
            ("time_us", ">=", selection.since_us),
            ("time_us", "<", selection.until_us),
            ("call_id", "=", selection.call_id),
        ):
            if value is not None:
                params.append(value)
                clauses.append(f" AND {column} {operator} ${first + len(params) - 1}")
        return "".join(clauses), params

    async def next_match(self, after_seq: int, selection: RecordFilter) -> int | None:
        where, params = self._filter(selection, 2)
        rows = await self._fetch(
            f"SELECT seq FROM {self._records} WHERE seq > $1{where} ORDER BY seq LIMIT 1", after_seq, *params
        )
        return int(rows[0]["seq"]) if rows else None

    async def count(self, selection: RecordFilter) -> int:
        where, params = self._filter(selection, 1)
        rows = await self._fetch(f"SELECT count(*) AS n FROM {self._records} WHERE TRUE{where}", *params)
        return int(rows[0]["n"])

    async def checkpoints(self, after_size: int, limit: int) -> list[Checkpoint]:
        rows = await self._fetch(
            f"SELECT {', '.join(_CHECKPOINT_COLUMNS)} FROM {self._checkpoints} WHERE size > $1 "
            "ORDER BY size LIMIT $2",
            after_size,
            limit,
        )
        return [self._checkpoint(row) for row in rows]

    async def checkpoint_covering(self, seq: int) -> Checkpoint | None:
        rows = await self._fetch(
            f"SELECT {', '.join(_CHECKPOINT_COLUMNS)} FROM {self._checkpoints} WHERE size >= $1 "
            "ORDER BY size LIMIT 1",
            seq,
        )
        return self._checkpoint(rows[0]) if rows else None

    async def checkpoint_before(self, seq: int) -> Checkpoint | None:
        rows = await self._fetch(
            f"SELECT {', '.join(_CHECKPOINT_COLUMNS)} FROM {self._checkpoints} WHERE size < $1 "
            "ORDER BY size DESC LIMIT 1",
            seq,
        )
        return self._checkpoint(rows[0]) if rows else None

    def _checkpoint(self, row: asyncpg.Record) -> Checkpoint:
        return Checkpoint(
            self._origin,
            int(row["size"]),
            str(row["head"]),
            int(row["time_us"]),
            str(row["previous_signature"]),
            str(row["key_id"]),
            str(row["signature"]),
        )
