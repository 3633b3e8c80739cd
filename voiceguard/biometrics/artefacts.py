"""Stored audio and biometric artefacts: encrypted at rest, each with its destruction date, destroyed on time.

Nothing else in voiceguard writes audio or a voiceprint to disk; whatever must be kept goes through here.
Each artefact is sealed under the master key (BIPA 15(e): at least the care given to other confidential
data) in its own file, with an index row in ``artefacts.sqlite3`` holding its kind, the subject's keyed
hash, the jurisdiction, its SHA-256 and its destruction date from the ``RetentionSchedule``. ``sweep``
destroys what is due: the file is overwritten, synced and unlinked, and the row keeps the destruction time,
so the index itself is evidence of what was destroyed, when and under which rule. A legal hold (the only
exception BIPA allows: a warrant or subpoena) keeps an artefact past its date until it is released.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Final, TypeVar

from voiceguard.biometrics.retention import RetentionSchedule
from voiceguard.consent.model import from_micros, now_utc, to_micros
from voiceguard.keys import KeyStore
from voiceguard.sqlite_file import SqliteFile

T = TypeVar("T")
INDEX_FILE: Final = "artefacts.sqlite3"
COLUMNS: Final = (
    "id, kind, subject_hash, jurisdiction, purpose, sha256, size, created_at, last_interaction_at, "
    "purpose_satisfied_at, destroy_at, rule_id, legal_hold, destroyed_at"
)
SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS artefact (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, subject_hash TEXT, jurisdiction TEXT, purpose TEXT NOT NULL,
    sha256 TEXT NOT NULL, size INTEGER NOT NULL, created_at INTEGER NOT NULL,
    last_interaction_at INTEGER NOT NULL, purpose_satisfied_at INTEGER, destroy_at INTEGER NOT NULL,
    rule_id TEXT NOT NULL, legal_hold TEXT, destroyed_at INTEGER
);
CREATE INDEX IF NOT EXISTS artefact_due ON artefact (destroy_at) WHERE destroyed_at IS NULL;
CREATE INDEX IF NOT EXISTS artefact_subject ON artefact (subject_hash);
"""


_INSERT: Final = f"INSERT INTO artefact ({COLUMNS}) VALUES ({', '.join('?' * 14)})"
_SELECT_ONE: Final = f"SELECT {COLUMNS} FROM artefact WHERE id = ?"


class ArtefactError(Exception):
    """An artefact is unknown, already destroyed, or the store cannot be used."""


@dataclass(frozen=True, slots=True)
class Artefact:
    """The index entry of one stored artefact (never its content)."""

    id: str
    kind: str
    """``audio`` (a recording), ``voiceprint`` (an embedding), ``voice_model`` (a cloned voice)."""
    subject_hash: str | None
    jurisdiction: str | None
    purpose: str
    sha256: str
    size: int
    created_at: datetime
    last_interaction_at: datetime
    purpose_satisfied_at: datetime | None
    destroy_at: datetime
    rule_id: str
    legal_hold: str | None = None
    destroyed_at: datetime | None = None


def _row(artefact: Artefact) -> tuple[object, ...]:
    def micros(moment: datetime | None) -> int | None:
        return to_micros(moment) if moment is not None else None

    a = artefact
    return (
        a.id, a.kind, a.subject_hash, a.jurisdiction, a.purpose, a.sha256, a.size, to_micros(a.created_at),
        to_micros(a.last_interaction_at), micros(a.purpose_satisfied_at), to_micros(a.destroy_at),
        a.rule_id, a.legal_hold, micros(a.destroyed_at),
    )  # fmt: skip


def _artefact(row: tuple[object, ...]) -> Artefact:
    def moment(value: object) -> datetime | None:
        return from_micros(int(str(value))) if value is not None else None

    created, last, destroy = moment(row[7]), moment(row[8]), moment(row[10])
    assert created is not None and last is not None and destroy is not None
    return Artefact(
        id=str(row[0]), kind=str(row[1]), subject_hash=None if row[2] is None else str(row[2]),
        jurisdiction=None if row[3] is None else str(row[3]), purpose=str(row[4]), sha256=str(row[5]),
        size=int(str(row[6])), created_at=created, last_interaction_at=last,
        purpose_satisfied_at=moment(row[9]),
        destroy_at=destroy, rule_id=str(row[11]), legal_hold=None if row[12] is None else str(row[12]),
        destroyed_at=moment(row[13]),
    )  # fmt: skip


class ArtefactStore:
    """Artefacts under ``<data_dir>/artefacts/``; every method is safe to call from the event loop."""

    def __init__(self, data_dir: Path, keys: KeyStore, schedule: RetentionSchedule) -> None:
        self.directory = data_dir / "artefacts"
        self.keys = keys
        self.schedule = schedule
        self._index = SqliteFile(self.directory / INDEX_FILE, "artefact index", ArtefactError)

    async def open(self) -> None:
        await self._index.open(SCHEMA)

    async def close(self) -> None:
        await self._index.close()

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        return await self._index.run(work)

    def _path(self, artefact_id: str) -> Path:
        return self.directory / f"{artefact_id}.sealed"

    async def put(
        self,
        kind: str,
        data: bytes,
        *,
        purpose: str,
        subject_hash: str | None,
        jurisdiction: str | None,
        at: datetime | None = None,
    ) -> Artefact:
        """Seal ``data`` to disk and index it with its destruction date."""
        now = at or now_utc()
        artefact_id = "art_" + os.urandom(12).hex()
        due = self.schedule.destruction(jurisdiction, now, now)
        artefact = Artefact(
            artefact_id, kind, subject_hash, jurisdiction, purpose, hashlib.sha256(data).hexdigest(),
            len(data), now, now, None, due.at, due.rule_id,
        )  # fmt: skip
        sealed = self.keys.seal(data, f"artefact:{artefact_id}")

        def write(db: sqlite3.Connection) -> None:
            path = self._path(artefact_id)
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.write(descriptor, sealed)
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
            db.execute(_INSERT, _row(artefact))

        await self._run(write)
        return artefact

    async def get(self, artefact_id: str) -> Artefact:
        def read(db: sqlite3.Connection) -> Artefact:
            row = db.execute(_SELECT_ONE, (artefact_id,)).fetchone()
            if row is None:
                raise ArtefactError(f"no artefact {artefact_id}")
            return _artefact(row)

        return await self._run(read)

    async def read(self, artefact_id: str) -> bytes:
        """The content of a live artefact (a destroyed one is gone for good)."""
        artefact = await self.get(artefact_id)
        if artefact.destroyed_at is not None:
            raise ArtefactError(
                f"artefact {artefact_id} was destroyed at {artefact.destroyed_at.isoformat()}"
            )
        sealed = await asyncio.to_thread(self._path(artefact_id).read_bytes)
        return self.keys.open(sealed, f"artefact:{artefact_id}")

    async def _update(
        self, artefact_ids: list[str], change: Callable[[Artefact], Artefact]
    ) -> list[Artefact]:
        def write(db: sqlite3.Connection) -> list[Artefact]:
            changed = []
            db.execute("BEGIN IMMEDIATE")
            try:
                for artefact_id in artefact_ids:
                    row = db.execute(_SELECT_ONE, (artefact_id,)).fetchone()
                    if row is None or row[13] is not None:
                        continue
                    updated = change(_artefact(row))
                    db.execute("DELETE FROM artefact WHERE id = ?", (artefact_id,))
                    db.execute(_INSERT, _row(updated))
                    changed.append(updated)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            return changed

        return await self._run(write)

    async def _live_ids(self, subject_hash: str) -> list[str]:
        def read(db: sqlite3.Connection) -> list[str]:
            rows = db.execute(
                "SELECT id FROM artefact WHERE subject_hash = ? AND destroyed_at IS NULL", (subject_hash,)
            ).fetchall()
            return [str(row[0]) for row in rows]

        return await self._run(read)

    def _rescheduled(self, artefact: Artefact) -> Artefact:
        due = self.schedule.destruction(
            artefact.jurisdiction,
            artefact.created_at,
            artefact.last_interaction_at,
            artefact.purpose_satisfied_at,
        )
        return replace(artefact, destroy_at=due.at, rule_id=due.rule_id)

    async def interaction(self, subject_hash: str, at: datetime | None = None) -> list[Artefact]:
        """The subject interacted again: clocks that run from the last interaction restart."""
        moment = at or now_utc()
        ids = await self._live_ids(subject_hash)
        return await self._update(ids, lambda a: self._rescheduled(replace(a, last_interaction_at=moment)))

    async def purpose_satisfied(self, subject_hash: str, at: datetime | None = None) -> list[Artefact]:
        """The purpose of collection is met (BIPA: destroy now; Texas: within a year)."""
        moment = at or now_utc()
        ids = await self._live_ids(subject_hash)
        return await self._update(ids, lambda a: self._rescheduled(replace(a, purpose_satisfied_at=moment)))

    async def hold(self, artefact_id: str, reference: str | None) -> Artefact:
        """Place (``reference`` = the warrant or subpoena) or release (``None``) a legal hold."""
        changed = await self._update([artefact_id], lambda a: replace(a, legal_hold=reference))
        if not changed:
            raise ArtefactError(f"no live artefact {artefact_id}")
        return changed[0]

    async def sweep(self, at: datetime | None = None) -> list[Artefact]:
        """Destroy every artefact that is due and not on hold; returns what was destroyed."""
        moment = at or now_utc()

        def due(db: sqlite3.Connection) -> list[str]:
            rows = db.execute(
                "SELECT id FROM artefact WHERE destroyed_at IS NULL AND legal_hold IS NULL "
                "AND destroy_at <= ? ORDER BY destroy_at LIMIT 1000",
                (to_micros(moment),),
            ).fetchall()
            return [str(row[0]) for row in rows]

        ids = await self._run(due)
        for artefact_id in ids:
            await asyncio.to_thread(_shred, self._path(artefact_id))
        return await self._update(ids, lambda a: replace(a, destroyed_at=moment))


def _shred(path: Path) -> None:
    """Overwrite, sync and unlink: the sealed bytes do not survive in the file's blocks."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return
    with path.open("r+b") as handle:
        handle.write(b"\0" * size)
        handle.flush()
        os.fsync(handle.fileno())
    path.unlink()
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
