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

from voiceguard.config import Settings, load_settings
from voiceguard.events import Direction, Event, Stage
from voiceguard.guards.base import GuardContext
from voiceguard.protocols.base import ExchangeInfo
from voiceguard.records import Record
from voiceguard.session import Call

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
