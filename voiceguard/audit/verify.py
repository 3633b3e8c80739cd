"""Checking a log: every record against its hash and its neighbour, every checkpoint against its signature.

One ``ChainVerifier`` folds a stream of records, leaf-hash runs and checkpoints, in log order, and stops at
the first thing that does not verify, naming the record. It serves both the store (``verify_store``: the
whole log, contiguous, checkpoints chained by their previous signatures) and an export (``export`` mode:
runs of records separated by jumps, each run anchored on a signed checkpoint and closed by the next one).

What it catches: a changed record (its content no longer hashes to its stored hash), a record changed with
its hash recomputed (the next record no longer links to it, or the covering checkpoint's head differs), a
deleted record (a gap in sequence numbers), reordered records (content sequence number differs from the
position), a truncated tail (a checkpoint signs more records than remain; or, when the checkpoints were cut
too, a checkpoint saved earlier with ``voiceguard audit checkpoint``), a forged or deleted checkpoint (bad
signature, unknown key, or a broken chain of previous signatures).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from voiceguard.audit.canonical import NotCanonical, canonical
from voiceguard.audit.chain import GENESIS, NO_PREVIOUS, Checkpoint, PublicKey, leaf_hash, link_hash
from voiceguard.audit.record import StoredRecord
from voiceguard.audit.store import PAGE_SIZE, AuditStore


@dataclass(frozen=True, slots=True)
class Failure:
    """The first thing that did not verify; ``seq`` names the record (None when it is a checkpoint)."""

    seq: int | None
    message: str


@dataclass(slots=True)
class Report:
    origin: str
    records: int = 0
    """Records checked (in an export: records it contains)."""
    size: int = 0
    """The last sequence number reached."""
    checkpoints: int = 0
    signed_through: int = 0
    """Records up to here are covered by a verified checkpoint."""
    unsigned: int = 0
    """Records checked that no verified checkpoint covers (a tail written after the last checkpoint)."""
    key_ids: set[str] = field(default_factory=set)
    failure: Failure | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None


class ChainVerifier:
    """Folds records and checkpoints in log order; ``failure`` is set at the first problem."""

    def __init__(
        self,
        origin: str,
        keys: Mapping[str, PublicKey],
        *,
        export: bool = False,
        trusted: Checkpoint | None = None,
    ) -> None:
        self.report = Report(origin)
        self._keys = dict(keys)
        self._export = export
        self._trusted = trusted
        self._size = 0
        self._head = GENESIS
        self._run_records = 0
        """Records since the last verified checkpoint (in an export: the current run)."""
        self._last_checkpoint: Checkpoint | None = None

    @property
    def failure(self) -> Failure | None:
        return self.report.failure

    def _fail(self, seq: int | None, message: str) -> bool:
        if self.report.failure is None:
            self.report.failure = Failure(seq, message)
        return False

    # --- feeding ------------------------------------------------------------------------------------

    def record(self, row: StoredRecord, content: Mapping[str, Any] | None = None) -> bool:
        """Check one record; ``content`` is its parsed JSON when it came from an export."""
        if self.failure is not None:
            return False
        seq = row.seq
        expected = self._size + 1
        if seq < expected:
            return self._fail(
                seq, f"record #{seq} appears again after #{self._size} (duplicated or reordered)"
            )
        if seq > expected:
            missing = f"#{expected}" if seq == expected + 1 else f"#{expected} to #{seq - 1}"
            return self._fail(
                expected, f"record {missing} missing: the log jumps from #{self._size} to #{seq}"
            )
        if row.prev != self._head:
            return self._fail(
                seq,
                f"record #{seq} does not link to record #{seq - 1}: its prev hash differs from that record's "
                "hash (one of them was altered or replaced)",
            )
        parsed = content if content is not None else self._parse(row)
        if parsed is None:
            return False
        body = row.body
        if content is not None:
            try:
                body = canonical(content)
            except NotCanonical as exc:
                return self._fail(seq, f"record #{seq} is not canonical JSON: {exc}")
        leaf = leaf_hash(body)
        if row.leaf and row.leaf != leaf:
            return self._fail(
                seq,
                f"record #{seq} was changed after it was written: its content no longer hashes to its leaf",
            )
        chained = link_hash(row.prev, leaf)
        if row.hash != chained:
            return self._fail(
                seq, f"record #{seq} was changed after it was written: its content no longer matches its hash"
            )
        if not self._same_columns(row, parsed):
            return False
        self._size = seq
        self._head = chained
        self._run_records += 1
        self.report.records += 1
        self.report.size = seq
        return True

    def _parse(self, row: StoredRecord) -> Mapping[str, Any] | None:
        try:
            parsed = json.loads(row.body)
            if not isinstance(parsed, dict) or canonical(parsed) != row.body:
                raise ValueError("not canonical")
        except (ValueError, NotCanonical):
            self._fail(row.seq, f"record #{row.seq} is not canonical JSON (its stored text was altered)")
            return None
        return parsed

    def _same_columns(self, row: StoredRecord, content: Mapping[str, Any]) -> bool:
        seq = row.seq
        if content.get("seq") != seq:
            return self._fail(
                seq,
                f"record #{seq} holds the content of record #{content.get('seq')} (records were reordered)",
            )
        if self._export:
            return True
        if content.get("kind") != row.kind or content.get("call") != row.call_id:
            return self._fail(
                seq, f"record #{seq}: its kind or call column disagrees with its hashed content"
            )
        return True

    def leaves(self, first_seq: int, leaves: Sequence[str]) -> bool:
        """Records left out of an export, represented by their leaf hashes."""
        if self.failure is not None:
            return False
        if first_seq != self._size + 1:
            return self._fail(first_seq, f"leaf hashes start at #{first_seq}, expected #{self._size + 1}")
        try:
            for leaf in leaves:
                self._head = link_hash(self._head, leaf)
        except ValueError:
            return self._fail(first_seq, f"malformed leaf hash in the run starting at #{first_seq}")
        self._size += len(leaves)
        self.report.size = self._size
        return True

    def checkpoint(self, checkpoint: Checkpoint) -> bool:
        if self.failure is not None:
            return False
        where = f"checkpoint at size {checkpoint.size}"
        key = self._keys.get(checkpoint.key_id)
        if key is None:
            return self._fail(
                None, f"{where} is signed by key {checkpoint.key_id}, which is not a trusted key"
            )
        if checkpoint.origin != self.report.origin:
            return self._fail(None, f"{where} belongs to log {checkpoint.origin}, not {self.report.origin}")
        if not checkpoint.verify(key):
            return self._fail(None, f"{where}: the signature does not verify (forged or altered checkpoint)")
        if not self._export:
            expected = self._last_checkpoint.signature if self._last_checkpoint else NO_PREVIOUS
            if checkpoint.previous_signature != expected:
                return self._fail(
                    None,
                    f"{where} does not chain to the checkpoint before it (one was removed or replaced)",
                )
        self._last_checkpoint = checkpoint
        self.report.key_ids.add(checkpoint.key_id)
        if checkpoint.size > self._size:
            if self._export and self._run_records == 0:
                # The start of a run: the export skips ahead to a signed head.
                self._size, self._head = checkpoint.size, checkpoint.head
                self.report.checkpoints += 1
                return True
            first = self._size + 1
            if self._export:
                return self._fail(first, f"records from #{first} are not closed by the {where}")
            return self._fail(
                first,
                f"record #{first} is missing: the {where} signed {checkpoint.size} records but the log ends "
                f"at #{self._size} (truncated)",
            )
        if checkpoint.size < self._size:
            return self._fail(None, f"{where} arrives after record #{self._size} (checkpoints out of order)")
        if checkpoint.head != self._head:
            return self._fail(
                self._size,
                f"records up to #{self._size} do not match the signed {where}: a record at or before "
                f"#{self._size} was rewritten along with its hashes",
            )
        self.report.checkpoints += 1
        self.report.signed_through = checkpoint.size
        self._run_records = 0
        return True

    def finish(self) -> Report:
        if self.failure is None and self._trusted is not None:
            self._check_trusted(self._trusted)
        self.report.unsigned = self.report.size - self.report.signed_through if self.failure is None else 0
        if self._export:
            self.report.unsigned = self._run_records
        return self.report

    def _check_trusted(self, trusted: Checkpoint) -> None:
        if trusted.size > self._size:
            self._fail(
                self._size + 1,
                f"record #{self._size + 1} is missing: a checkpoint saved earlier signed {trusted.size} "
                f"records but the log ends at #{self._size} (truncated together with its checkpoints)",
            )

    def at_trusted(self) -> None:
        """Called when the fold reaches the trusted checkpoint's size: heads must agree."""
        trusted = self._trusted
        if (
            trusted is not None
            and self.failure is None
            and self._size == trusted.size
            and trusted.head != self._head
        ):
            self._fail(self._size, f"records up to #{self._size} differ from the checkpoint saved earlier")


async def verify_store(
    store: AuditStore,
    keys: Sequence[PublicKey],
    *,
    trusted: Checkpoint | None = None,
    progress: Callable[[int], None] | None = None,
) -> Report:
    """Verify the whole log in the store, streaming it page by page."""
    by_id = {key.key_id: key for key in keys}
    verifier = ChainVerifier(store.origin, by_id, trusted=trusted)
    if trusted is not None:
        problem = _trusted_problem(trusted, store.origin, by_id)
        if problem is not None:
            verifier.report.failure = Failure(None, problem)
            return verifier.report
    checkpoints: list[Checkpoint] = await store.checkpoints(0, PAGE_SIZE)
    after = 0

    async def feed_checkpoints(below: int | None) -> None:
        nonlocal checkpoints
        while checkpoints and (below is None or checkpoints[0].size < below):
            checkpoint = checkpoints.pop(0)
            verifier.checkpoint(checkpoint)
            if not checkpoints:
                checkpoints = await store.checkpoints(checkpoint.size, PAGE_SIZE)

    while verifier.failure is None:
        rows = await store.records(after, PAGE_SIZE)
        if not rows:
            break
        for row in rows:
            await feed_checkpoints(row.seq)
            if not verifier.record(row):
                break
            verifier.at_trusted()
        after = rows[-1].seq
        if progress is not None:
            progress(len(rows))
    await feed_checkpoints(None)
    return verifier.finish()


def _trusted_problem(trusted: Checkpoint, origin: str, keys: Mapping[str, PublicKey]) -> str | None:
    if trusted.origin != origin:
        return f"the saved checkpoint belongs to log {trusted.origin}, not {origin}"
    key = keys.get(trusted.key_id)
    if key is None or not trusted.verify(key):
        return "the saved checkpoint's signature does not verify with a trusted key"
    return None
