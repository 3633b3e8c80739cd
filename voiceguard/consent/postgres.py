"""Consent records in PostgreSQL, for several replicas that share one registry.

Every write also sends ``NOTIFY`` on a channel named after the schema, in the same transaction, so replicas
listening learn of a withdrawal as soon as it commits; the change-log poll of the registry stays as the
fallback for a listener connection that dropped. Needs the ``postgres`` extra (asyncpg).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from voiceguard.consent.model import ConsentRecord, Purpose, to_micros
from voiceguard.consent.store import (
    COLUMNS,
    MAX_LIST,
    ChangeKind,
    ConsentChange,
    ConsentStoreError,
    Withdrawal,
    change_row,
    record_row,
    row_record,
)

_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,39}")

SCHEMA = """
CREATE SCHEMA IF NOT EXISTS {schema};
CREATE TABLE IF NOT EXISTS {schema}.consent (
    id TEXT PRIMARY KEY,
    subject_hash TEXT NOT NULL,
    purpose TEXT NOT NULL,
    jurisdiction TEXT,
    notice_version TEXT NOT NULL,
    notice_sha256 TEXT,
    signature TEXT NOT NULL,
    evidence_ref TEXT,
    granted_at BIGINT NOT NULL,
    expires_at BIGINT,
    withdrawn_at BIGINT,
    withdrawal_reason TEXT
);
CREATE INDEX IF NOT EXISTS consent_subject ON {schema}.consent (subject_hash);
CREATE TABLE IF NOT EXISTS {schema}.consent_change (
    seq BIGSERIAL PRIMARY KEY,
    kind TEXT NOT NULL,
    consent_id TEXT NOT NULL,
    subject_hash TEXT NOT NULL,
    at BIGINT NOT NULL
);
"""


def _asyncpg() -> Any:
    try:
        import asyncpg
    except ImportError as exc:
        raise ConsentStoreError(
            "the PostgreSQL consent store needs asyncpg: pip install 'voiceguard[postgres]'"
        ) from exc
    return asyncpg


class PostgresConsentStore:
    """A consent store in one PostgreSQL schema."""

    def __init__(self, dsn: str, schema: str = "voiceguard") -> None:
        if not _SCHEMA_NAME.fullmatch(schema):
            raise ConsentStoreError(f"schema {schema!r} must be lower-case letters, digits and _ (max 40)")
        self.dsn = dsn
        self.schema = schema
        self.channel = f"{schema}_consent"
        self._pool: Any = None
        self._listener: Any = None

    async def open(self) -> None:
        asyncpg = _asyncpg()
        try:
            self._pool = await asyncpg.create_pool(self.dsn, min_size=1, max_size=4, command_timeout=10)
            # One schema set-up at a time, even when several replicas start together.
            async with self._pool.acquire() as connection, connection.transaction():
                await connection.execute("SELECT pg_advisory_xact_lock(hashtext($1))", self.schema)
                await connection.execute(SCHEMA.format(schema=self.schema))
        except (OSError, asyncpg.PostgresError) as exc:
            await self.close()
            raise ConsentStoreError(f"cannot open the PostgreSQL consent store: {exc}") from exc

    async def close(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None and not listener.is_closed():
            await listener.close()
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    async def listen(self, on_subject: Callable[[str], None]) -> None:
        """Call ``on_subject(subject_hash)`` whenever any replica changes that subject's consent."""
        asyncpg = _asyncpg()
        try:
            self._listener = await asyncpg.connect(self.dsn)
            await self._listener.add_listener(self.channel, lambda _c, _p, _ch, payload: on_subject(payload))
        except (OSError, asyncpg.PostgresError) as exc:
            raise ConsentStoreError(f"cannot listen for consent changes: {exc}") from exc

    def listening(self) -> bool:
        return self._listener is not None and not self._listener.is_closed()

    async def _fetch(self, query: str, *args: object) -> list[Any]:
        asyncpg = _asyncpg()
        if self._pool is None:
            raise ConsentStoreError("the consent store is not open")
        try:
            async with self._pool.acquire() as connection:
                return list(await connection.fetch(query.format(schema=self.schema), *args))
        except (OSError, asyncpg.PostgresError) as exc:
            raise ConsentStoreError(f"PostgreSQL consent store: {exc}") from exc

    async def _write(self, work: Callable[[Any], Any]) -> Any:
        asyncpg = _asyncpg()
        if self._pool is None:
            raise ConsentStoreError("the consent store is not open")
        try:
            async with self._pool.acquire() as connection, connection.transaction():
                return await work(connection)
        except (OSError, asyncpg.PostgresError) as exc:
            raise ConsentStoreError(f"PostgreSQL consent store: {exc}") from exc

    async def _log(
        self, connection: Any, kind: ChangeKind, consent_id: str, subject: str, at: int
    ) -> ConsentChange:
        seq = await connection.fetchval(
            f"INSERT INTO {self.schema}.consent_change (kind, consent_id, subject_hash, at) "
            "VALUES ($1, $2, $3, $4) RETURNING seq",
            kind.value,
            consent_id,
            subject,
            at,
        )
        await connection.execute("SELECT pg_notify($1, $2)", self.channel, subject)
        return change_row((seq, kind.value, consent_id, subject, at))

    async def insert(self, record: ConsentRecord) -> ConsentChange:
        placeholders = ", ".join(f"${i}" for i in range(1, 13))

        async def work(connection: Any) -> ConsentChange:
            await connection.execute(
                f"INSERT INTO {self.schema}.consent ({COLUMNS}) VALUES ({placeholders})", *record_row(record)
            )
            return await self._log(
                connection, ChangeKind.GRANTED, record.id, record.subject_hash, to_micros(record.granted_at)
            )

        result: ConsentChange = await self._write(work)
        return result

    async def withdraw(self, withdrawal: Withdrawal) -> list[tuple[ConsentRecord, ConsentChange]]:
        at = to_micros(withdrawal.at)
        clauses, params = ["withdrawn_at IS NULL"], []
        for column, value in (
            ("id", withdrawal.consent_id),
            ("subject_hash", withdrawal.subject_hash),
            ("purpose", withdrawal.purpose.value if withdrawal.purpose else None),
        ):
            if value is not None:
                params.append(value)
                clauses.append(f"{column} = ${len(params)}")
        if withdrawal.consent_id is None and withdrawal.subject_hash is None:
            raise ConsentStoreError("a withdrawal names a consent id or a subject")

        async def work(connection: Any) -> list[tuple[ConsentRecord, ConsentChange]]:
            rows = await connection.fetch(
                f"UPDATE {self.schema}.consent SET withdrawn_at = ${len(params) + 1}, "
                f"withdrawal_reason = ${len(params) + 2} WHERE {' AND '.join(clauses)} RETURNING {COLUMNS}",
                *params,
                at,
                withdrawal.reason,
            )
            changed = []
            for row in rows:
                record = row_record(tuple(row))
                changed.append(
                    (
                        record,
                        await self._log(connection, ChangeKind.WITHDRAWN, record.id, record.subject_hash, at),
                    )
                )
            return changed

        result: list[tuple[ConsentRecord, ConsentChange]] = await self._write(work)
        return result

    async def records(self, subject_hash: str) -> list[ConsentRecord]:
        rows = await self._fetch(
            f"SELECT {COLUMNS} FROM {{schema}}.consent WHERE subject_hash = $1 ORDER BY granted_at",
            subject_hash,
        )
        return [row_record(tuple(row)) for row in rows]

    async def search(
        self,
        subject_hash: str | None = None,
        purpose: Purpose | None = None,
        include_withdrawn: bool = False,
        limit: int = MAX_LIST,
    ) -> list[ConsentRecord]:
        clauses: list[str] = []
        params: list[object] = []
        if subject_hash is not None:
            params.append(subject_hash)
            clauses.append(f"subject_hash = ${len(params)}")
        if purpose is not None:
            params.append(purpose.value)
            clauses.append(f"purpose = ${len(params)}")
        if not include_withdrawn:
            clauses.append("withdrawn_at IS NULL")
        params.append(min(limit, MAX_LIST))
        where = " AND ".join(clauses) or "TRUE"
        rows = await self._fetch(
            f"SELECT {COLUMNS} FROM {{schema}}.consent WHERE {where} "
            f"ORDER BY granted_at DESC, id LIMIT ${len(params)}",
            *params,
        )
        return [row_record(tuple(row)) for row in rows]

    async def changes_since(self, seq: int, limit: int = MAX_LIST) -> list[ConsentChange]:
        rows = await self._fetch(
            "SELECT seq, kind, consent_id, subject_hash, at FROM {schema}.consent_change "
            "WHERE seq > $1 ORDER BY seq LIMIT $2",
            seq,
            limit,
        )
        return [change_row(tuple(row)) for row in rows]

    async def last_seq(self) -> int:
        rows = await self._fetch("SELECT COALESCE(MAX(seq), 0) FROM {schema}.consent_change")
        return int(rows[0][0])
