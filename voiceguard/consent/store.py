"""The interface every consent store implements, and the row mapping the SQL stores share.

Stores keep two tables: the records (never deleted; withdrawal stamps them) and a change log with a
monotonic sequence number. The change log is how replicas that share one database learn that a subject's
consent changed: each polls ``changes_since`` (PostgreSQL also pushes a notification), so a withdrawal made
on one replica reaches the calls on every other within the poll interval.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final, Protocol

from voiceguard.consent.model import ConsentRecord, Purpose, SignatureMethod, from_micros, to_micros

MAX_LIST: Final = 1000


class ChangeKind(StrEnum):
    GRANTED = "granted"
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True, slots=True)
class ConsentChange:
    """One entry of the change log: what happened to which record, when."""

    seq: int
    kind: ChangeKind
    consent_id: str
    subject_hash: str
    at: datetime


class ConsentStoreError(Exception):
    """The store cannot be reached or refused the operation; the message says which and why."""


@dataclass(frozen=True, slots=True)
class Withdrawal:
    """Which records to withdraw: one by id, or a subject's records (of one purpose, or all)."""

    at: datetime
    consent_id: str | None = None
    subject_hash: str | None = None
    purpose: Purpose | None = None
    reason: str | None = None


class ConsentStore(Protocol):
    """Durable consent records; every method may raise ``ConsentStoreError``."""

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def insert(self, record: ConsentRecord) -> ConsentChange:
        """Store a new record and log its grant, atomically."""
        ...

    async def withdraw(self, withdrawal: Withdrawal) -> list[tuple[ConsentRecord, ConsentChange]]:
        """Stamp the matching active records as withdrawn and log each; returns what changed."""
        ...

    async def records(self, subject_hash: str) -> list[ConsentRecord]:
        """Every record of one subject, withdrawn ones included (what a call loads)."""
        ...

    async def search(
        self,
        subject_hash: str | None = None,
        purpose: Purpose | None = None,
        include_withdrawn: bool = False,
        limit: int = MAX_LIST,
    ) -> list[ConsentRecord]:
        """Records for the admin API and CLI, newest first."""
        ...

    async def changes_since(self, seq: int, limit: int = MAX_LIST) -> list[ConsentChange]:
        """Log entries after ``seq``, oldest first."""
        ...

    async def last_seq(self) -> int: ...


COLUMNS: Final = (
    "id, subject_hash, purpose, jurisdiction, notice_version, notice_sha256, signature, evidence_ref, "
    "granted_at, expires_at, withdrawn_at, withdrawal_reason"
)


def record_row(record: ConsentRecord) -> tuple[object, ...]:
    """The record as a row in ``COLUMNS`` order (times as integer microseconds)."""
    return (
        record.id,
        record.subject_hash,
        record.purpose.value,
        record.jurisdiction,
        record.notice_version,
        record.notice_sha256,
        record.signature.value,
        record.evidence_ref,
        to_micros(record.granted_at),
        to_micros(record.expires_at) if record.expires_at else None,
        to_micros(record.withdrawn_at) if record.withdrawn_at else None,
        record.withdrawal_reason,
    )


def row_record(row: Sequence[object]) -> ConsentRecord:
    def moment(value: object) -> datetime | None:
        return from_micros(int(value)) if value is not None else None  # type: ignore[call-overload]

    granted = moment(row[8])
    assert granted is not None
    return ConsentRecord(
        id=str(row[0]),
        subject_hash=str(row[1]),
        purpose=Purpose(str(row[2])),
        jurisdiction=None if row[3] is None else str(row[3]),
        notice_version=str(row[4]),
        notice_sha256=None if row[5] is None else str(row[5]),
        signature=SignatureMethod(str(row[6])),
        evidence_ref=None if row[7] is None else str(row[7]),
        granted_at=granted,
        expires_at=moment(row[9]),
        withdrawn_at=moment(row[10]),
        withdrawal_reason=None if row[11] is None else str(row[11]),
    )


def change_row(row: Sequence[object]) -> ConsentChange:
    """A change-log row ``(seq, kind, consent_id, subject_hash, at)``."""
    return ConsentChange(
        seq=int(row[0]),  # type: ignore[call-overload]
        kind=ChangeKind(str(row[1])),
        consent_id=str(row[2]),
        subject_hash=str(row[3]),
        at=from_micros(int(row[4])),  # type: ignore[call-overload]
    )
