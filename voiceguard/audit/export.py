"""Exports: the records an auditor or a SIEM asked for, with what it takes to verify them offline.

Every export, whatever its format, is the same stream of "native lines":

- a header: the log's origin, the public keys, the filter, how hashes and signatures are computed;
- for each stretch of the log between two checkpoints that holds a wanted record: the checkpoint that opens
  it (unless the stretch starts at the beginning), then every record of the stretch in order, as the record
  itself when the filter wants it and as its 32-byte leaf hash when not, then the checkpoint that closes it.

So every exported record can be chained from a signed head to the next signed head, and records of other
calls stay out of the file, represented by hashes that reveal nothing. The exporter verifies the stream as
it writes it and hands the result to the format (the HTML report prints it). Nothing is held in memory but
one page of rows: stores are read page by page, and output is produced line by line.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, Final, Protocol

import orjson

from voiceguard import __version__
from voiceguard.audit.canonical import format_time
from voiceguard.audit.chain import CHECKPOINT_HEADER, Checkpoint, PublicKey
from voiceguard.audit.record import RecordFilter, StoredRecord
from voiceguard.audit.store import PAGE_SIZE, AuditStore
from voiceguard.audit.verify import ChainVerifier, Failure, Report

EXPORT_VERSION: Final = 1
LEAVES_PER_LINE: Final = 1000
CHUNK_BYTES: Final = 64 * 1024

NativeLine = dict[str, Any]


class ExportFormat(Protocol):
    """Turns native lines into one output format."""

    media_type: str
    extension: str

    def begin(self, header: NativeLine) -> str: ...

    def line(self, native: NativeLine) -> str: ...

    def end(self, report: Report) -> str: ...


def member(mapping: Any, key: str) -> dict[str, Any]:
    """``mapping[key]`` when it is an object, else an empty one: export lines are read defensively."""
    value = mapping.get(key) if isinstance(mapping, dict) else None
    return value if isinstance(value, dict) else {}


def native_json(native: NativeLine) -> str:
    return orjson.dumps(native).decode()


def header_line(origin: str, keys: Sequence[PublicKey], selection: RecordFilter, now_us: int) -> NativeLine:
    return {
        "voiceguard_audit_export": EXPORT_VERSION,
        "generator": f"voiceguard {__version__}",
        "generated": format_time(now_us),
        "origin": origin,
        "filter": selection.describe(),
        "public_keys": [key.to_json() for key in keys],
        "hashing": {
            "record": "canonical JSON of 'record' (RFC 8785)",
            "leaf": "SHA-256(0x00 || record)",
            "hash": "SHA-256(0x01 || prev || leaf), prev of the first record = 32 zero bytes",
            "checkpoint_signature": (
                f"Ed25519 over '{CHECKPOINT_HEADER}\\n<origin>\\n<size>\\n<head>\\n<time>\\n"
                "<previous signature>\\n'"
            ),
        },
    }


def checkpoint_line(checkpoint: Checkpoint) -> NativeLine:
    return {"checkpoint": checkpoint.to_json()}


def leaves_line(first_seq: int, leaves: list[str]) -> NativeLine:
    return {"leaves": {"from": first_seq, "hashes": leaves}}


async def native_lines(
    store: AuditStore, selection: RecordFilter, header: NativeLine
) -> AsyncIterator[NativeLine]:
    """The export stream for ``selection`` (see the module docstring), up to the log's current head."""
    yield header
    limit = (await store.head()).size
    position = 0
    while True:
        wanted = await store.next_match(position, selection)
        if wanted is None or wanted > limit:
            return
        opening = await store.checkpoint_before(wanted)
        closing = await store.checkpoint_covering(wanted)
        start = opening.size if opening is not None else 0
        if opening is not None and start > position:
            yield checkpoint_line(opening)
        end = closing.size if closing is not None else limit
        async for line in _stretch(store, selection, max(start, position), end):
            yield line
        if closing is None:
            return
        yield checkpoint_line(closing)
        position = end


async def _stretch(
    store: AuditStore, selection: RecordFilter, after: int, through: int
) -> AsyncIterator[NativeLine]:
    run: list[str] = []
    run_start = after + 1
    while after < through:
        rows: list[StoredRecord] = await store.records(after, PAGE_SIZE, through)
        if not rows:
            return
        for row in rows:
            if selection.matches(row.time_us, row.call_id):
                if run:
                    yield leaves_line(run_start, run)
                    run = []
                yield row.export_line()
            else:
                if not run:
                    run_start = row.seq
                run.append(row.leaf)
                if len(run) >= LEAVES_PER_LINE:
                    yield leaves_line(run_start, run)
                    run = []
        after = rows[-1].seq
    if run:
        yield leaves_line(run_start, run)


def feed(verifier: ChainVerifier, native: NativeLine) -> None:
    """Check one native line (shared by the exporter and the offline verifier)."""
    if "record" in native:
        content = native["record"]
        if not isinstance(content, dict):
            verifier.report.failure = verifier.report.failure or _malformed("a record line without a record")
            return
        row = StoredRecord(
            seq=int(content.get("seq", 0)),
            time_us=0,
            kind=str(content.get("kind", "")),
            call_id=content.get("call"),
            body="",
            leaf="",
            prev=str(native.get("prev", "")),
            hash=str(native.get("hash", "")),
        )
        verifier.record(row, content)
    elif "checkpoint" in native:
        try:
            verifier.checkpoint(Checkpoint.from_json(native["checkpoint"]))
        except ValueError as exc:
            verifier.report.failure = verifier.report.failure or _malformed(str(exc))
    elif "leaves" in native:
        leaves = native["leaves"]
        if not isinstance(leaves, dict) or not isinstance(leaves.get("hashes"), list):
            verifier.report.failure = verifier.report.failure or _malformed("a leaves line without hashes")
            return
        verifier.leaves(int(leaves.get("from", 0)), [str(leaf) for leaf in leaves["hashes"]])


def _malformed(message: str) -> Failure:
    return Failure(None, f"malformed export line: {message}")


class Export:
    """One export run: iterate ``chunks()``, then read ``report``."""

    def __init__(
        self,
        store: AuditStore,
        selection: RecordFilter,
        keys: Sequence[PublicKey],
        output: ExportFormat,
        *,
        now_us: int,
        on_record: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.selection = selection
        self.keys = list(keys)
        self.output = output
        self.now_us = now_us
        self.on_record = on_record
        self.report: Report | None = None
        self.records = 0

    async def chunks(self) -> AsyncIterator[str]:
        header = header_line(self.store.origin, self.keys, self.selection, self.now_us)
        verifier = ChainVerifier(self.store.origin, {key.key_id: key for key in self.keys}, export=True)
        pending: list[str] = []
        size = 0
        async for native in native_lines(self.store, self.selection, header):
            if native is header:
                text = self.output.begin(header)
            else:
                feed(verifier, native)
                text = self.output.line(native)
                if "record" in native:
                    self.records += 1
                    if self.on_record is not None:
                        self.on_record()
            pending.append(text)
            size += len(text)
            if size >= CHUNK_BYTES:
                yield "".join(pending)
                pending, size = [], 0
        self.report = verifier.finish()
        pending.append(self.output.end(self.report))
        yield "".join(pending)
