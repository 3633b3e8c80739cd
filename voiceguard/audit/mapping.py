"""What each proxy record becomes in the audit log, and what it must never carry.

Only facts about traffic and decisions are kept: routes, operations, statuses, timings, sizes, rule ids,
entity types and counts, and the caller as a keyed hash. No body, transcript, prompt, header, credential,
client address or raw caller id is ever read here. ``EventObserved`` and ``TurnFinished`` are telemetry,
not evidence, and are not logged. Durations are integer microseconds (canonical JSON has no floats).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeAlias

from voiceguard.audit.canonical import JsonValue, format_time
from voiceguard.audit.record import CALL_ENDED, CALL_STARTED, DECISION, REQUEST
from voiceguard.records import CallEnded, CallStarted, DecisionMade, ExchangeFinished, Record
from voiceguard.session import Call, Exchange

PolicySource: TypeAlias = Callable[[Call], Mapping[str, str]]
"""Names the policy in force for a call: ``{"pack": "<sha256>", "<pack name>": "<sha256>", ...}``.

The policy layer sets one on the audit sink (``AuditSink.policy_source``); every request and decision record
of the call then carries it under ``data.policy``, so an auditor can tell which rules were applied.
"""

SubjectHasher: TypeAlias = Callable[[Call], str | None]


@dataclass(frozen=True, slots=True)
class Described:
    kind: str
    call_id: str | None
    data: dict[str, JsonValue]
    at_ns: int


def _us(ns: int) -> int:
    return ns // 1000


def _call_fields(call: Call, subject: SubjectHasher, policy: PolicySource | None) -> dict[str, JsonValue]:
    fields: dict[str, JsonValue] = {}
    hashed = subject(call)
    if hashed is not None:
        fields["subject"] = hashed
    if call.jurisdiction:
        fields["jurisdiction"] = call.jurisdiction
    if policy is not None:
        fields["policy"] = dict(policy(call))
    return fields


def _request(exchange: Exchange, subject: SubjectHasher, policy: PolicySource | None) -> dict[str, JsonValue]:
    info = exchange.info
    finished = exchange.finished_ns or exchange.started_ns
    data: dict[str, JsonValue] = {
        "exchange": exchange.id,
        "route": exchange.route,
        "provider": info.provider,
        "operation": info.operation,
        "stage": str(info.stage),
        "transport": exchange.transport,
        "method": exchange.method,
        "path": exchange.path,
        "status": exchange.status,
        "outcome": exchange.outcome,
        "started": format_time(_us(exchange.started_ns)),
        "duration_us": _us(finished - exchange.started_ns),
        "overhead_us": _us(exchange.proxy_ns),
        "bytes_in": exchange.bytes_from_client,
        "bytes_out": exchange.bytes_to_client,
    }
    if exchange.model:
        data["model"] = exchange.model
    if exchange.error_type:
        data["error"] = exchange.error_type
    if exchange.first_byte_ns and exchange.request_sent_ns:
        data["ttfb_us"] = _us(exchange.first_byte_ns - exchange.request_sent_ns)
    if exchange.transport == "websocket":
        data["messages_in"] = exchange.messages_from_client
        data["messages_out"] = exchange.messages_to_client
    data.update(_call_fields(exchange.call, subject, policy))
    return data


def _decision(
    record: DecisionMade, subject: SubjectHasher, policy: PolicySource | None
) -> dict[str, JsonValue]:
    decision = record.decision
    counts: dict[str, int] = {}
    for name, count in decision.counts:
        counts[name] = counts.get(name, 0) + count
    data: dict[str, JsonValue] = {
        "exchange": record.exchange.id,
        "route": record.exchange.route,
        "stage": str(record.exchange.info.stage),
        "rule": decision.rule_id,
        "action": decision.action,
        "outcome": decision.outcome,
        "counts": counts,
        "evidence": dict(decision.evidence),
    }
    data.update(_call_fields(record.exchange.call, subject, policy))
    return data


def describe(record: Record, subject: SubjectHasher, policy: PolicySource | None) -> Described | None:
    """The audit record for a proxy record, or ``None`` for records the audit log does not keep."""
    if isinstance(record, ExchangeFinished):
        exchange = record.exchange
        at = exchange.finished_ns or exchange.started_ns
        return Described(REQUEST, exchange.call.id, _request(exchange, subject, policy), at)
    if isinstance(record, DecisionMade):
        return Described(DECISION, record.exchange.call.id, _decision(record, subject, policy), record.at_ns)
    if isinstance(record, CallStarted):
        call = record.call
        data = {"named_by_client": call.named_by_client, **_call_fields(call, subject, None)}
        return Described(CALL_STARTED, call.id, data, record.at_ns)
    if isinstance(record, CallEnded):
        call = record.call
        ended: dict[str, JsonValue] = {
            "exchanges": call.exchange_count,
            "duration_us": _us(record.at_ns - call.started_ns),
        }
        return Described(CALL_ENDED, call.id, ended, record.at_ns)
    return None
