"""The audit sink: proxy records in, durable hash-chained records out, outages visible.

``handle`` runs on the request path and only encodes a small dict and queues it (no I/O). ``durable`` is what
the proxy awaits before a response's last bytes: it resolves once the exchange's records are committed by
the writer's group commit. The same object is ``runtime.audit`` (``append`` for consent, retention and admin
records) and reports the store's health to ``/readyz`` and to metrics.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

import structlog
from opentelemetry.metrics import CallbackOptions, Observation

from voiceguard import __version__
from voiceguard.audit.canonical import JsonValue
from voiceguard.audit.chain import Checkpoint, CheckpointSigner
from voiceguard.audit.mapping import PolicySource, describe
from voiceguard.audit.record import (
    LOGGING_STARTED,
    LOGGING_STOPPED,
    RECORDS_DROPPED,
    RESERVED_DATA_KEYS,
    BadRecord,
    Entry,
    make_entry,
)
from voiceguard.audit.store import AuditStore, StoreUnavailable
from voiceguard.audit.writer import AuditWriter
from voiceguard.config import AuditConfig
from voiceguard.keys import KeyStore
from voiceguard.proxy.runtime import Readiness
from voiceguard.records import EventObserved, Record, TurnFinished
from voiceguard.session import Call, Exchange
from voiceguard.telemetry import names
from voiceguard.telemetry.metrics import LATENCY_BUCKETS_S, Metrics

log = structlog.get_logger("voiceguard.audit")

READINESS_COMPONENT: Final = "audit"
STOP_TIMEOUT_S: Final = 2.0
"""At least this long to commit what is queued at shutdown (twice the store timeout if longer)."""
OUTAGE_LOG_INTERVAL_S: Final = 10.0


class AuditUnavailable(Exception):
    """A record could not be made durable in time while the log fails closed."""


@dataclass(slots=True)
class _SubjectHash:
    subject: str
    hashed: str


class AuditSink:
    """Sink, durable sink, closable sink and ``runtime.audit`` in one: they share one queue and writer."""

    name = "audit"

    def __init__(
        self,
        store: AuditStore,
        keys: KeyStore,
        config: AuditConfig,
        *,
        metrics: Metrics,
        readiness: Readiness,
        clock_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self.store = store
        self.config = config
        self.signer = CheckpointSigner(keys.signing_key("audit"))
        self.policy_source: PolicySource | None = None
        """Set by the policy layer: names the policy pack (and its hash) in force for a call."""
        self._keys = keys
        self._readiness = readiness
        self._clock_ns = clock_ns
        self._source = config.source or socket.gethostname()
        self._store_kind = store.description.split(":", 1)[0]
        self.writer = AuditWriter(store, self.signer, config, self, clock_us=lambda: clock_ns() // 1000)
        self._last_outage_log = 0.0
        self._started = False
        attributes = {names.ATTR_AUDIT_STORE: self._store_kind}
        self._attributes = attributes
        meter = metrics.meter
        self._records = meter.create_counter(names.AUDIT_RECORDS, unit="{record}")
        self._dropped = meter.create_counter(names.AUDIT_DROPPED, unit="{record}")
        self._errors = meter.create_counter(names.AUDIT_STORE_ERRORS, unit="{error}")
        self._checkpoints = meter.create_counter(names.AUDIT_CHECKPOINTS, unit="{checkpoint}")
        self._timeouts = meter.create_counter(names.AUDIT_DURABLE_TIMEOUTS, unit="{response}")
        self._commit_duration = meter.create_histogram(
            names.AUDIT_COMMIT_DURATION, unit="s", explicit_bucket_boundaries_advisory=LATENCY_BUCKETS_S
        )
        meter.create_observable_gauge(names.AUDIT_STORE_UP, callbacks=[self._observe_up])
        meter.create_observable_gauge(names.AUDIT_QUEUE_DEPTH, callbacks=[self._observe_queue])

    # --- Sink (request path: no I/O) ----------------------------------------------------------------

    def wants(self, kind: type[Record]) -> bool:
        """Observed events and turns are telemetry, never evidence (``describe`` keeps none of them)."""
        return not issubclass(kind, EventObserved | TurnFinished)

    def handle(self, record: Record) -> None:
        described = describe(record, self._subject_of, self.policy_source)
        if described is None:
            return
        entry = make_entry(
            described.kind,
            described.data,
            time_us=described.at_ns // 1000,
            call_id=described.call_id,
            source=self._source,
        )
        self.writer.submit(entry)

    def _subject_of(self, call: Call) -> str | None:
        if not call.subject:
            return None
        cached = call.scratch(_SubjectHash, lambda: _SubjectHash("", ""))
        if cached.subject != call.subject:
            cached.subject = call.subject
            cached.hashed = self._keys.subject_hash(call.subject)
        return cached.hashed

    # --- DurableSink --------------------------------------------------------------------------------

    async def durable(self, exchange: Exchange) -> None:
        await self._wait(self.writer.last_ticket)

    async def _wait(self, ticket: int) -> None:
        if await self.writer.wait_durable(ticket, self.config.durable_timeout_seconds):
            return
        self._timeouts.add(1, self._attributes)
        if self.config.fail_closed:
            raise AuditUnavailable(f"audit record not durable: {self.writer.last_error or 'store too slow'}")

    # --- runtime.audit ------------------------------------------------------------------------------

    @property
    def refuses_traffic(self) -> bool:
        return self.config.fail_closed and not self.writer.healthy

    async def append(
        self,
        kind: str,
        fields: Mapping[str, JsonValue],
        *,
        call_id: str | None = None,
        subject: str | None = None,
    ) -> None:
        """Record a state change from outside the request path; returns once it is durable."""
        clash = RESERVED_DATA_KEYS.intersection(fields)
        if clash or "subject" in fields:
            raise BadRecord(
                f"{kind}: pass the person as subject=, and do not use {sorted(clash) or 'subject'}"
            )
        data = dict(fields)
        if subject is not None:
            data["subject"] = self._keys.subject_hash(subject)
        ticket = self._submit(kind, data, call_id=call_id)
        if ticket is not None:
            await self._wait(ticket)
        elif self.config.fail_closed:
            raise AuditUnavailable(f"{kind}: audit queue full, record dropped")

    def _submit(
        self, kind: str, data: Mapping[str, JsonValue], *, call_id: str | None = None, force: bool = False
    ) -> int | None:
        entry = make_entry(kind, data, time_us=self._clock_ns() // 1000, call_id=call_id, source=self._source)
        return self.writer.submit(entry, force=force)

    async def checkpoint_now(self) -> bool:
        """Commit everything queued and sign the head, so an export made now is covered to its end."""
        return await self.writer.checkpoint_now(self.config.durable_timeout_seconds)

    # --- ClosableSink -------------------------------------------------------------------------------

    async def start(self) -> None:
        try:
            await self.store.open()
        except StoreUnavailable as exc:
            self.writer.mark_down(exc)
        self.writer.start()
        self._started = True
        self._submit(
            LOGGING_STARTED,
            {"version": __version__, "store": self._store_kind, "pid": os.getpid(), "replica": self._source},
        )

    async def close(self) -> None:
        if not self._started:
            return
        self._submit(
            LOGGING_STOPPED, {"reason": "shutdown", "pid": os.getpid(), "replica": self._source}, force=True
        )
        lost = await self.writer.stop(max(STOP_TIMEOUT_S, 2 * self.config.store_timeout_seconds))
        if lost:
            log.error("audit_records_lost_at_shutdown", records=lost, error=self.writer.last_error)
        await self.store.close()

    # --- WriterObserver -----------------------------------------------------------------------------

    def committed(self, records: int, seconds: float, checkpoint: Checkpoint | None) -> None:
        if records:
            self._records.add(records, self._attributes)
            self._commit_duration.record(seconds, self._attributes)
        if checkpoint is not None:
            self._checkpoints.add(1, self._attributes)

    def failed(self, error: StoreUnavailable, queued: int) -> None:
        self._errors.add(1, self._attributes)
        mode = "refusing traffic (fail_closed)" if self.config.fail_closed else "traffic continues"
        self._readiness.set_problem(
            READINESS_COMPONENT, f"audit store unavailable, {queued} records queued, {mode}: {error}"
        )
        now = time.monotonic()
        if now - self._last_outage_log >= OUTAGE_LOG_INTERVAL_S:
            self._last_outage_log = now
            log.error(
                "audit_store_unavailable",
                error=str(error),
                queued=queued,
                fail_closed=self.config.fail_closed,
            )

    def recovered(self) -> None:
        self._readiness.set_problem(READINESS_COMPONENT, None)
        self._last_outage_log = 0.0
        log.info("audit_store_recovered", queued=self.writer.queued)

    def dropped(self, queued: int) -> None:
        self._dropped.add(1, self._attributes)
        now = time.monotonic()
        if now - self._last_outage_log >= OUTAGE_LOG_INTERVAL_S:
            self._last_outage_log = now
            log.error("audit_records_dropped", queued=queued, limit=self.config.queue_max_records)

    def dropped_report(self, count: int, first_us: int, last_us: int) -> Entry:
        return make_entry(
            RECORDS_DROPPED,
            {"count": count, "first_dropped_us": first_us, "last_dropped_us": last_us},
            time_us=self._clock_ns() // 1000,
            call_id=None,
            source=self._source,
        )

    def _observe_up(self, options: CallbackOptions) -> list[Observation]:
        return [Observation(1 if self.writer.healthy else 0, self._attributes)]

    def _observe_queue(self, options: CallbackOptions) -> list[Observation]:
        return [Observation(self.writer.queued, self._attributes)]
