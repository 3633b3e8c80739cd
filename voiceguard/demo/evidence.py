"""What voiceguard recorded about the demo call: its turns and decisions, its audit log, its trace file.

Three independent records of one call: the proxy's own records (taken by an in-process sink, as any sink
gets them), the audit log (read back from its store and verified like ``voiceguard audit verify`` does)
and the trace file (the spans the OpenTelemetry exporter wrote). The demo shows the first and checks it
against the other two.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from voiceguard.audit.factory import open_store
from voiceguard.audit.session import local_signer, trusted_keys
from voiceguard.audit.store import PAGE_SIZE
from voiceguard.audit.verify import Report, verify_store
from voiceguard.config import Settings
from voiceguard.records import DecisionMade, Record, TurnFinished
from voiceguard.telemetry import names
from voiceguard.turns import Turn


@dataclass(frozen=True, slots=True)
class Decision:
    """A guard's decision on the demo call, as the sinks were told (never a value, only types and ids)."""

    rule: str
    action: str
    outcome: str
    stage: str
    operation: str
    counts: tuple[tuple[str, int], ...]
    evidence: tuple[tuple[str, str], ...]
    turn: int
    """The scripted turn being played when it was made (0: the call was being set up)."""

    def evidence_of(self, key: str) -> str | None:
        return dict(self.evidence).get(key)


class CallRecorder:
    """A sink keeping the closed turns and the decisions of one call (bounded: one short call)."""

    name = "demo"
    MAX_RECORDS = 10_000

    def __init__(self, call_id: str) -> None:
        self.call_id = call_id
        self.turns: list[Turn] = []
        self.decisions: list[Decision] = []
        self.playing = 0
        """The scripted turn the demo is playing; set by the runner, stamped on each decision."""

    def handle(self, record: Record) -> None:
        if len(self.decisions) + len(self.turns) >= self.MAX_RECORDS:
            return
        if isinstance(record, TurnFinished) and record.call.id == self.call_id:
            self.turns.append(record.turn)
        elif isinstance(record, DecisionMade) and record.exchange.call.id == self.call_id:
            decision = record.decision
            self.decisions.append(
                Decision(
                    decision.rule_id,
                    decision.action,
                    decision.outcome,
                    str(record.exchange.info.stage),
                    record.exchange.info.operation,
                    decision.counts,
                    decision.evidence,
                    self.playing,
                )
            )


# --- the audit log --------------------------------------------------------------------------------------


@dataclass
class AuditEvidence:
    where: str
    report: Report
    records: list[dict[str, Any]] = field(default_factory=list)
    """Every record's canonical content, in log order."""
    key_fingerprint: str | None = None

    def kinds(self) -> Counter[str]:
        return Counter(str(record["kind"]) for record in self.records)

    def decisions(self, call_id: str) -> list[dict[str, Any]]:
        """The ``data`` of the call's decision records, in log order."""
        return [r["data"] for r in self.records if r["kind"] == "decision" and r.get("call") == call_id]


async def read_audit(settings: Settings) -> AuditEvidence:
    """Verify the whole log with this installation's key and read every record back."""
    store = open_store(settings)
    try:
        report = await verify_store(store, trusted_keys(settings, ()))
        records: list[dict[str, Any]] = []
        after = 0
        while rows := await store.records(after, PAGE_SIZE):
            records.extend(row.content() for row in rows)
            after = rows[-1].seq
    finally:
        await store.close()
    signer = local_signer(settings)
    fingerprint = signer.public.fingerprint if signer is not None else None
    return AuditEvidence(store.description, report, records, fingerprint)


# --- the trace file -------------------------------------------------------------------------------------


@dataclass
class TraceEvidence:
    path: Path
    spans: list[dict[str, Any]]

    def of_call(self, call_id: str) -> list[dict[str, Any]]:
        return [s for s in self.spans if s["attributes"].get(names.GEN_AI_CONVERSATION_ID) == call_id]

    def trace_ids(self, call_id: str) -> set[str]:
        return {str(span["context"]["trace_id"]).removeprefix("0x") for span in self.of_call(call_id)}

    def span_names(self, call_id: str) -> Counter[str]:
        return Counter(str(span["name"]).split(" ")[0] for span in self.of_call(call_id))

    def breakdowns(self, call_id: str) -> dict[int, dict[str, float]]:
        """Per turn number, the latency breakdown its ``voice.turn`` span carries, in milliseconds."""
        by_attribute = {attribute: key for key, attribute in names.BREAKDOWN_ATTRIBUTES.items()}
        out: dict[int, dict[str, float]] = {}
        for span in self.of_call(call_id):
            if span["name"] != names.SPAN_TURN:
                continue
            attributes = span["attributes"]
            out[int(attributes[names.TURN_NUMBER])] = {
                by_attribute[name]: float(value) * 1000
                for name, value in attributes.items()
                if name in by_attribute
            }
        return out

    def decision_events(self, call_id: str) -> list[dict[str, Any]]:
        """The attributes of every policy-decision span event of the call."""
        return [
            event["attributes"]
            for span in self.of_call(call_id)
            for event in span.get("events", ())
            if event["name"] == names.EVENT_POLICY_DECISION
        ]


def read_trace(path: Path) -> TraceEvidence:
    spans: list[dict[str, Any]] = []
    if path.exists():
        with path.open(encoding="utf-8") as lines:
            spans = [json.loads(line) for line in lines if line.strip()]
    return TraceEvidence(path, spans)
