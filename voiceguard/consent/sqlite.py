"""Consent records in a SQLite file under the data directory (the default store).

Calls into SQLite run in a worker thread so the event loop never waits on the disk. Writes take the
database lock up front (``BEGIN IMMEDIATE``) so a record and its change-log entry land together even when
another process (a second replica on the same host) writes at the same time.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

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
from voiceguard.sqlite_file import SqliteFile

T = TypeVar("T")
_PLACEHOLDERS = ", ".join("?" * 12)

SCHEMA = """
CREATE TABLE IF NOT EXISTS consent (
    id TEXT PRIMARY KEY,
    subject_hash TEXT NOT NULL,
    purpose TEXT NOT NULL,
    jurisdiction TEXT,
    notice_version TEXT NOT NULL,
    notice_sha256 TEXT,
    signature TEXT NOT NULL,
    evidence_ref TEXT,
    granted_at INTEGER NOT NULL,
    expires_at INTEGER,
    withdrawn_at INTEGER,
    withdrawal_reason TEXT
);
CREATE INDEX IF NOT EXISTS consent_subject ON consent (subject_hash);
CREATE TABLE IF NOT EXISTS consent_change (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    consent_id TEXT NOT NULL,
    subject_hash TEXT NOT NULL,
    at INTEGER NOT NULL
);
"""


class SqliteConsentStore:
    """A consent store in one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = SqliteFile(path, "consent database", ConsentStoreError)

    async def open(self) -> None:
        await self._file.open(SCHEMA)

    async def close(self) -> None:
        await self._file.close()

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        return await self._file.run(work)

    async def insert(self, record: ConsentRecord) -> ConsentChange:
        def write(db: sqlite3.Connection) -> ConsentChange:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute(
                    f"INSERT INTO consent ({COLUMNS}) VALUES ({','.join('?' * 12)})", record_row(record)
                )
                change = _log(
                    db, ChangeKind.GRANTED, record.id, record.subject_hash, to_micros(record.granted_at)
                )
                db.execute("COMMIT")
                return change
            except BaseException:
                db.execute("ROLLBACK")
                raise

        return await self._run(write)

    async def withdraw(self, withdrawal: Withdrawal) -> list[tuple[ConsentRecord, ConsentChange]]:
        at = to_micros(withdrawal.at)
        where, params = _active_filter(withdrawal)

        def write(db: sqlite3.Connection) -> list[tuple[ConsentRecord, ConsentChange]]:
            db.execute("BEGIN IMMEDIATE")
            try:
                rows = db.execute(f"SELECT {COLUMNS} FROM consent WHERE {where}", params).fetchall()
                changed = []
                for row in rows:
                    record = row_record(row)
                    db.execute(
                        "UPDATE consent SET withdrawn_at = ?, withdrawal_reason = ? WHERE id = ?",
                        (at, withdrawal.reason, record.id),
                    )
                    change = _log(db, ChangeKind.WITHDRAWN, record.id, record.subject_hash, at)
                    withdrawn = row_record((*row[:10], at, withdrawal.reason))
                    changed.append((withdrawn, change))
                db.execute("COMMIT")
                return changed
            except BaseException:
                db.execute("ROLLBACK")
                raise

        return await self._run(write)

    async def records(self, subject_hash: str) -> list[ConsentRecord]:
        def read(db: sqlite3.Connection) -> list[ConsentRecord]:
            rows = db.execute(
                f"SELECT {COLUMNS} FROM consent WHERE subject_hash = ? ORDER BY granted_at", (subject_hash,)
            ).fetchall()
            return [row_record(row) for row in rows]

        return await self._run(read)

    async def search(
        self,
        subject_hash: str | None = None,
        purpose: Purpose | None = None,
        include_withdrawn: bool = False,
        limit: int = MAX_LIST,
    ) -> list[ConsentRecord]:
        clauses, params = [], []
        if subject_hash is not None:
            clauses.append("subject_hash = ?")
            params.append(subject_hash)
        if purpose is not None:
            clauses.append("purpose = ?")
            params.append(purpose.value)
        if not include_withdrawn:
            clauses.append("withdrawn_at IS NULL")
        where = " AND ".join(clauses) or "1 = 1"

        def read(db: sqlite3.Connection) -> list[ConsentRecord]:
            rows = db.execute(
                f"SELECT {COLUMNS} FROM consent WHERE {where} ORDER BY granted_at DESC, id LIMIT ?",
                (*params, min(limit, MAX_LIST)),
            ).fetchall()
            return [row_record(row) for row in rows]

        return await self._run(read)

    async def changes_since(self, seq: int, limit: int = MAX_LIST) -> list[ConsentChange]:
        def read(db: sqlite3.Connection) -> list[ConsentChange]:
            rows = db.execute(
                "SELECT seq, kind, consent_id, subject_hash, at FROM consent_change WHERE seq > ? "
                "ORDER BY seq LIMIT ?",
                (seq, limit),
            ).fetchall()
            return [change_row(row) for row in rows]

        return await self._run(read)

    async def last_seq(self) -> int:
        def read(db: sqlite3.Connection) -> int:
            row = db.execute("SELECT COALESCE(MAX(seq), 0) FROM consent_change").fetchone()
            return int(row[0])

        return await self._run(read)


def _log(
    db: sqlite3.Connection, kind: ChangeKind, consent_id: str, subject_hash: str, at: int
) -> ConsentChange:
    cursor = db.execute(
        "INSERT INTO consent_change (kind, consent_id, subject_hash, at) VALUES (?, ?, ?, ?)",
        (kind.value, consent_id, subject_hash, at),
    )
    seq = cursor.lastrowid
    assert seq is not None
    return change_row((seq, kind.value, consent_id, subject_hash, at))


def _active_filter(withdrawal: Withdrawal) -> tuple[str, list[object]]:
    """SQL for the records a withdrawal hits: still active, and matching its id or subject/purpose."""
    clauses = ["withdrawn_at IS NULL"]
    params: list[object] = []
    if withdrawal.consent_id is not None:
        clauses.append("id = ?")
        params.append(withdrawal.consent_id)
    if withdrawal.subject_hash is not None:
        clauses.append("subject_hash = ?")
        params.append(withdrawal.subject_hash)
    if withdrawal.purpose is not None:
        clauses.append("purpose = ?")
        params.append(withdrawal.purpose.value)
    if withdrawal.consent_id is None and withdrawal.subject_hash is None:
        raise ConsentStoreError("a withdrawal names a consent id or a subject")
    return " AND ".join(clauses), params
