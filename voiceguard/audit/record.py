"""What an audit record is: its kinds, its canonical content, and the row a store keeps.

A record's content is one canonical JSON object (see ``canonical.py``)::

    {"call": "<call id>", "data": {...}, "kind": "request", "seq": 42,
     "source": "<replica>", "time": "2026-11-23T10:00:00.123456Z", "v": 1}

``call`` is absent for records that belong to no call. ``data`` depends on the kind and never holds raw
personal data: callers appear as keyed hashes (``KeyStore.subject_hash``), detections as entity types and
counts. ``seq`` is the record's position in the log; it is only known inside the store's write
transaction, so an ``Entry`` is encoded up to ``seq`` beforehand and the number is spliced in under the
lock (keys sort as call < data < kind < seq < source < time < v, so the splice point is fixed).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from voiceguard.audit.canonical import JsonValue, NotCanonical, canonical, format_time

FORMAT_VERSION: Final = 1
MAX_RECORD_BYTES: Final = 64 * 1024
"""A record larger than this is refused: the log is evidence, not a place for payloads."""

# --- record kinds --------------------------------------------------------------------------------------

REQUEST: Final = "request"
"""A proxied exchange finished (HTTP request/response or WebSocket connection)."""
DECISION: Final = "decision"
"""A guard's policy decision (PII redacted, disclosure injected, consent checked, feature stripped, block)."""
CALL_STARTED: Final = "call.started"
CALL_ENDED: Final = "call.ended"
LOGGING_STARTED: Final = "audit.logging_started"
LOGGING_STOPPED: Final = "audit.logging_stopped"
RECORDS_DROPPED: Final = "audit.records_dropped"
"""Records were lost while the store was down and the queue was full: the gap is itself on record."""
AUDIT_EXPORTED: Final = "audit.exported"
CONSENT_PREFIX: Final = "consent."
"""``consent.granted``, ``consent.revoked``, ... appended by the consent registry."""
RETENTION_PREFIX: Final = "retention."
"""``retention.destroyed`` and the like, appended by the retention job."""

KIND_PATTERN: Final = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")
RESERVED_DATA_KEYS: Final = frozenset({"prev", "hash"})


class BadRecord(ValueError):
    """A record cannot be written: unknown shape, a float, too large, or a malformed kind."""


@dataclass(frozen=True, slots=True)
class Entry:
    """A record waiting for its sequence number: canonical text before and after the ``seq`` member."""

    time_us: int
    kind: str
    call_id: str | None
    head: str
    tail: str
    ticket: int = 0
    """The writer's position for this entry, used to tell a waiter when it is durable."""

    def body(self, seq: int) -> str:
        return f'{self.head},"seq":{seq}{self.tail}'

    def with_ticket(self, ticket: int) -> Entry:
        return Entry(self.time_us, self.kind, self.call_id, self.head, self.tail, ticket)


def make_entry(
    kind: str, data: Mapping[str, JsonValue], *, time_us: int, call_id: str | None, source: str
) -> Entry:
    """Encode a record up to its sequence number; refuses anything that is not canonical JSON."""
    if not KIND_PATTERN.match(kind) or len(kind) > 100:
        raise BadRecord(f"record kind {kind!r} must be dotted lower-case words, e.g. 'consent.granted'")
    if call_id is not None and (not call_id or len(call_id) > 256):
        raise BadRecord("call id must be 1 to 256 characters")
    try:
        head_members = [] if call_id is None else [f'"call":{canonical(call_id)}']
        head_members.append(f'"data":{canonical(data)}')
        head_members.append(f'"kind":{canonical(kind)}')
        tail = (
            f',"source":{canonical(source)},"time":{canonical(format_time(time_us))},"v":{FORMAT_VERSION}}}'
        )
    except NotCanonical as exc:
        raise BadRecord(f"{kind}: {exc}") from None
    head = "{" + ",".join(head_members)
    if len(head) + len(tail) > MAX_RECORD_BYTES:
        raise BadRecord(f"{kind}: record exceeds {MAX_RECORD_BYTES} bytes")
    return Entry(time_us, kind, call_id, head, tail)


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """One row of the log as a store keeps it (``body`` is the canonical content; hashes are hex)."""

    seq: int
    time_us: int
    kind: str
    call_id: str | None
    body: str
    leaf: str
    prev: str
    hash: str

    def content(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed

    def export_line(self) -> dict[str, Any]:
        """The record as an export carries it: content plus the chain hashes to verify it offline."""
        return {"record": self.content(), "prev": self.prev, "hash": self.hash}


@dataclass(frozen=True, slots=True)
class RecordFilter:
    """Which records an export wants: a time range ``[since_us, until_us)`` and/or one call."""

    since_us: int | None = None
    until_us: int | None = None
    call_id: str | None = None

    def matches(self, time_us: int, call_id: str | None) -> bool:
        if self.since_us is not None and time_us < self.since_us:
            return False
        if self.until_us is not None and time_us >= self.until_us:
            return False
        return self.call_id is None or call_id == self.call_id

    def describe(self) -> dict[str, JsonValue]:
        described: dict[str, JsonValue] = {}
        if self.since_us is not None:
            described["since"] = format_time(self.since_us)
        if self.until_us is not None:
            described["until"] = format_time(self.until_us)
        if self.call_id is not None:
            described["call"] = self.call_id
        return described
