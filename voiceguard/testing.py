"""Factories for tests: in-memory sinks, settings pointed at local upstreams, calls and contexts.

Kept in the package (not under tests/) so that users writing their own guards or adapters can test them the
same way voiceguard does.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from voiceguard.config import Settings, TelemetryConfig, load_settings
from voiceguard.events import Direction, Event, Stage
from voiceguard.guards.base import GuardContext
from voiceguard.protocols.base import ExchangeInfo
from voiceguard.records import EventObserved, Record
from voiceguard.redaction import MaskEverything, RecordRedactor
from voiceguard.session import Call
from voiceguard.telemetry.metrics import Metrics
from voiceguard.telemetry.provider import build_tracing
from voiceguard.telemetry.tracing import TracingSink, upstream_hosts

R = TypeVar("R")


@dataclass
class RecordingSink:
    """Keeps every record in memory, for assertions."""

    name: str = "recording"
    records: list[Record] = field(default_factory=list)

    def handle(self, record: Record) -> None:
        self.records.append(record)

    def of(self, kind: type[R]) -> list[R]:
        return [record for record in self.records if isinstance(record, kind)]

    def events(self, kind: type[R]) -> list[R]:
        """The events of ``kind`` that went through the pipeline, in order (after the guards)."""
        return [r.event for r in self.of(EventObserved) if isinstance(r.event, kind)]


def settings_for(
    upstreams: Mapping[str, str],
    data_dir: Path,
    **overrides: Any,
) -> Settings:
    """Settings on embedded defaults, with routes pointed at local upstreams, listening on a free port."""
    routes = {name: {"upstream": url} for name, url in upstreams.items()}
    merged: dict[str, Any] = {"listen": {"port": 0}, "data_dir": str(data_dir), "routes": routes}
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return load_settings(None, env={}, overrides=merged)


def make_call(call_id: str = "call-1", jurisdiction: str | None = None, subject: str | None = None) -> Call:
    now = time.time_ns()
    return Call(
        id=call_id,
        named_by_client=True,
        started_ns=now,
        subject=subject,
        jurisdiction=jurisdiction,
        last_seen_ns=now,
    )


def guard_context(
    call: Call | None = None,
    stage: Stage = Stage.LLM,
    direction: Direction = Direction.TO_UPSTREAM,
    provider: str = "openai",
    operation: str = "chat",
    exchange_id: str = "exchange-1",
) -> GuardContext:
    return GuardContext(call or make_call(), ExchangeInfo(provider, operation, stage), direction, exchange_id)


def run_guard(guard: Any, ctx: GuardContext, *events: Event) -> list[Event]:
    """Feed events to one guard and collect everything it yields."""
    out: list[Event] = []
    for event in events:
        out.extend(guard.process(ctx, event))
    return out


def in_memory_tracing(
    settings: Settings | None = None, redactor: RecordRedactor | None = None
) -> tuple[TracingSink, InMemorySpanExporter]:
    """A tracing sink whose spans land in memory (add it through ``server.start(extra_sinks=...)``)."""
    config = settings.telemetry if settings is not None else TelemetryConfig()
    exporter = InMemorySpanExporter()
    resource = Resource.create({"service.name": "voiceguard-test"})
    metrics = Metrics(resource)
    tracing = build_tracing(config, {}, resource, metrics.meter, [exporter])
    assert tracing is not None
    servers = upstream_hosts(settings) if settings is not None else {}
    return TracingSink(tracing, config, redactor or MaskEverything(), servers=servers), exporter
