"""The interface both audit stores implement (SQLite, PostgreSQL), and the part of appending they share.

An append is one transaction: take the log's write lock, read the head (size and chain hash) *inside* the
lock, link the new records to it, insert them, and sign a checkpoint in the same transaction when one is due.
Reading the head under the lock is what keeps one linear chain when several processes append to one log.
Reads (verify, export) page by sequence number, so a log of any size streams in bounded memory.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from voiceguard.audit.chain import GENESIS, Checkpoint, CheckpointSigner, link
from voiceguard.audit.record import Entry, RecordFilter, StoredRecord

PAGE_SIZE: Final = 1000
ORIGIN_PREFIX: Final = "voiceguard-audit/"


class StoreUnavailable(Exception):
    """The store cannot be reached or refused the operation; the message says why, for logs and /readyz."""


@dataclass(frozen=True, slots=True)
class Head:
    size: int
    hash: str


EMPTY_HEAD: Final = Head(0, GENESIS)


@dataclass(frozen=True, slots=True)
class AppendResult:
    head: Head
    checkpoint: Checkpoint | None


def new_origin() -> str:
    """A log's name, fixed when its store is created and bound into every checkpoint signature."""
    return ORIGIN_PREFIX + uuid.uuid4().hex


def plan_append(
    head: Head,
    last_checkpoint: Checkpoint | None,
    entries: Sequence[Entry],
    signer: CheckpointSigner | None,
    origin: str,
    checkpoint_every: int | None,
    now_us: int,
) -> tuple[list[StoredRecord], Checkpoint | None]:
    """What one append transaction writes: the linked rows, and a checkpoint when one is due."""
    rows = link(head.size, head.hash, entries)
    size = head.size + len(rows)
    chained = rows[-1].hash if rows else head.hash
    signed_size = last_checkpoint.size if last_checkpoint is not None else 0
    checkpoint = None
    if signer is not None and checkpoint_every is not None and size - signed_size >= checkpoint_every:
        checkpoint = signer.sign(origin, size, chained, now_us, last_checkpoint)
    return rows, checkpoint


def plan_checkpoint(
    head: Head, last_checkpoint: Checkpoint | None, signer: CheckpointSigner, origin: str, now_us: int
) -> Checkpoint | None:
    """A checkpoint of ``head``, unless the last one already covers it."""
    if head.size == 0 or (last_checkpoint is not None and last_checkpoint.size >= head.size):
        return None
    return signer.sign(origin, head.size, head.hash, now_us, last_checkpoint)


class AuditStore(Protocol):
    """Where audit records and checkpoints live; every method may raise ``StoreUnavailable``."""

    @property
    def description(self) -> str:
        """Where the log is, for messages (never a password)."""
        ...

    @property
    def origin(self) -> str:
        """The log's name; known after ``open``."""
        ...

    async def open(self) -> None:
        """Connect, and create the schema and the log's origin on first use."""
        ...

    async def close(self) -> None: ...

    async def append(
        self,
        entries: Sequence[Entry],
        signer: CheckpointSigner | None,
        checkpoint_every: int | None,
        now_us: int,
    ) -> AppendResult:
        """Append in one transaction (see the module docstring)."""
        ...

    async def checkpoint(self, signer: CheckpointSigner, now_us: int) -> Checkpoint | None:
        """Sign the current head unless the last checkpoint already covers it."""
        ...

    async def head(self) -> Head: ...

    async def records(self, after_seq: int, limit: int, through_seq: int | None = None) -> list[StoredRecord]:
        """Records with ``after_seq < seq (<= through_seq)``, in order, at most ``limit``."""
        ...

    async def next_match(self, after_seq: int, selection: RecordFilter) -> int | None:
        """The sequence number of the first record after ``after_seq`` that ``selection`` wants."""
        ...

    async def count(self, selection: RecordFilter) -> int: ...

    async def checkpoints(self, after_size: int, limit: int) -> list[Checkpoint]:
        """Checkpoints with ``size > after_size``, by size (sizes strictly increase)."""
        ...

    async def checkpoint_covering(self, seq: int) -> Checkpoint | None:
        """The first checkpoint whose size is at least ``seq`` (it signs a head that includes ``seq``)."""
        ...

    async def checkpoint_before(self, seq: int) -> Checkpoint | None:
        """The last checkpoint whose size is below ``seq``."""
        ...
