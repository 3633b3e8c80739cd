"""Everything one demo run produced, and the demo's claims checked against it.

Each claim the demo prints is checked here from a record that does not depend on the rendering: what the
agent's SDK clients got back, what the simulated vendors received, the audit log and the trace file. A
claim that fails makes ``voiceguard demo`` exit 1.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from voiceguard.demo import script
from voiceguard.demo.agent import AgentLog, AgentTurn
from voiceguard.demo.evidence import AuditEvidence, CallRecorder, Decision, TraceEvidence
from voiceguard.demo.vendors import SimulatedVendors

STRIPPED_HEADER = "x-voiceguard-stripped"
TRACE_TOLERANCE_MS = 0.001
"""Span attributes are seconds as floats: a round trip through them may move the last digits."""


@dataclass
class DemoRun:
    call_id: str
    output: Path
    config_path: Path
    voiceguard_url: str
    agent: AgentLog
    vendors: SimulatedVendors
    recorder: CallRecorder
    audit: AuditEvidence
    trace: TraceEvidence
    otlp_endpoint: str | None
    seconds: float

    def decisions(self, rule: str, action: str | None = None) -> list[Decision]:
        return [
            d for d in self.recorder.decisions if d.rule == rule and (action is None or d.action == action)
        ]


@dataclass(frozen=True, slots=True)
class Check:
    claim: str
    ok: bool
    detail: str = ""


def injected_prefix(turn: AgentTurn, scripted: script.ScriptedTurn) -> str:
    """What voiceguard put in front of the LLM's reply ("" when the agent got the reply as written)."""
    if turn.reply == scripted.agent_reply or not turn.reply.endswith(scripted.agent_reply):
        return ""
    return turn.reply[: -len(scripted.agent_reply)].strip()


def _diarization_checks(run: DemoRun) -> list[Check]:
    options = run.vendors.listen_options()
    asked = [key for query in options for key, _ in query if key.startswith("diarize")]
    header = run.agent.listen_headers.get(STRIPPED_HEADER, "")
    labels = [s for turn in run.agent.turns for s in turn.speakers if s is not None]
    return [
        Check("Deepgram never received the diarize option", bool(options) and not asked, ", ".join(asked)),
        Check(f"the agent was told ({STRIPPED_HEADER})", "diarization" in header, header or "no header"),
        Check("no speaker label came back to the agent", not labels, f"{len(labels)} labels"),
    ]


def _card_checks(run: DemoRun) -> list[Check]:
    said = script.card_said()
    leaked = [
        body for body in run.vendors.llm_bodies() if said.encode() in body or b"4111111111111111" in body
    ]
    card_turn = next(i for i, t in enumerate(script.TURNS) if t.charges_card)
    prompts = run.vendors.prompts()
    placeholder = prompts[card_turn] if card_turn < len(prompts) else ""
    arguments = [args for turn in run.agent.turns for name, args in turn.tool_calls if name == "charge_card"]
    return [
        Check("the LLM vendor never received the card number", not leaked, f"{len(leaked)} requests"),
        Check("the LLM vendor got a placeholder instead", "<CREDIT_CARD_" in placeholder, placeholder),
        Check("the agent's tool call got the card number back", any(said in a for a in arguments)),
    ]


def _disclosure_checks(run: DemoRun) -> list[Check]:
    turns = list(zip(run.agent.turns, script.TURNS, strict=False))
    first = injected_prefix(*turns[0]) if turns else ""
    asked = next((i for i, (_, s) in enumerate(turns) if "robot" in s.caller_says), None)
    admission = injected_prefix(*turns[asked]) if asked is not None else ""
    marked = [t.speech_headers.get("x-voiceguard-ai-generated") == "true" for t in run.agent.turns]
    return [
        Check("the AI disclosure was put into the first reply", bool(first), first),
        Check("the reply to the robot question admits it is an AI", bool(admission), admission),
        Check("every TTS response is marked AI-generated", bool(marked) and all(marked)),
    ]


def _record_checks(run: DemoRun) -> list[Check]:
    shown = Counter((d.rule, d.action, d.outcome, d.stage) for d in run.recorder.decisions)
    logged = Counter(
        (d["rule"], d["action"], d["outcome"], d["stage"]) for d in run.audit.decisions(run.call_id)
    )
    traced = run.trace.breakdowns(run.call_id)
    mismatched = [
        turn.number
        for turn in run.recorder.turns
        if not _same_breakdown(
            {k: v for k, v in turn.breakdown_ms().items() if v is not None}, traced.get(turn.number, {})
        )
    ]
    trace_ids = run.trace.trace_ids(run.call_id)
    report = run.audit.report
    return [
        Check("the audit log verifies", report.ok, report.failure.message if report.failure else ""),
        Check("the audit log holds every decision shown", shown == logged and bool(shown)),
        Check(
            "the trace file holds every turn, with the same latencies",
            bool(run.recorder.turns) and not mismatched and len(traced) == len(run.recorder.turns),
            f"turns {mismatched}" if mismatched else "",
        ),
        Check("the whole call is one trace", len(trace_ids) == 1, ", ".join(sorted(trace_ids))),
    ]


def _same_breakdown(shown: dict[str, float], traced: dict[str, float]) -> bool:
    return shown.keys() == traced.keys() and all(
        abs(value - traced[key]) <= TRACE_TOLERANCE_MS for key, value in shown.items()
    )


def checks(run: DemoRun) -> list[Check]:
    return [*_diarization_checks(run), *_card_checks(run), *_disclosure_checks(run), *_record_checks(run)]
