"""The controls a rule can speak to: what each one governs and which actions make sense for it.

A control is the thing a guard (or the audit log) acts on; every rule names one, and rules of the same
control are merged for a call (``merge.py``). ``lint`` refuses unknown controls and actions a control cannot
take, so a pack never promises what voiceguard cannot do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from voiceguard.policy.model import Action

_ALL = frozenset(Action)
_OBSERVE = frozenset({Action.OBSERVE})


@dataclass(frozen=True, slots=True)
class ControlSpec:
    name: str
    summary: str
    actions: frozenset[Action]
    enforced_by: str
    """Which part of voiceguard acts on the control (shown by ``voiceguard policy show``)."""


CONTROLS: Final = {
    spec.name: spec
    for spec in (
        ControlSpec(
            "disclosure",
            "the caller is told they speak with an AI, at the latest with the agent's first utterance",
            _ALL,
            "disclosure guard",
        ),
        ControlSpec(
            "ai-question",
            "when the caller asks whether they speak with a machine, the next reply admits it",
            _ALL,
            "disclosure guard",
        ),
        ControlSpec(
            "ai-marking",
            "synthetic audio carries a machine-readable AI-generated marking",
            frozenset({Action.OBSERVE, Action.ENFORCE}),
            "AI-marking guard",
        ),
        ControlSpec(
            "pii",
            "per-entity treatment of personal data on each channel (see the PII defaults pack)",
            _ALL,
            "PII guard",
        ),
        ControlSpec(
            "biometric-consent",
            "features that create or use voiceprints need consent on record",
            _ALL,
            "biometrics guard",
        ),
        ControlSpec(
            "biometric-retention",
            "stored biometric data is destroyed on schedule",
            frozenset({Action.OBSERVE, Action.ENFORCE}),
            "retention job",
        ),
        ControlSpec(
            "recording-consent",
            "every party is told, and agrees, before audio is recorded or transcribed",
            _ALL,
            "consent guard",
        ),
        ControlSpec(
            "consent-withdrawal",
            "withdrawn consent stops processing from then on",
            _ALL,
            "consent guard",
        ),
        ControlSpec(
            "erasure", "personal data is erased on request", _OBSERVE | {Action.ENFORCE}, "audit log"
        ),
        ControlSpec(
            "audit", "what the audit log records and keeps", _OBSERVE | {Action.ENFORCE}, "audit log"
        ),
        ControlSpec(
            "outbound-call",
            "automated outbound calls: prior consent, identification, opt-out",
            _OBSERVE,
            "review only (not on the wire)",
        ),
        ControlSpec(
            "governance",
            "organisational duties (published policies, contracts, records of processing)",
            _OBSERVE,
            "review only (not on the wire)",
        ),
    )
}

PII_FLOWS: Final = ("llm", "speech")
"""Where PII travels: text bound for an LLM upstream, and everything else in flight (STT and realtime
transcripts, TTS text, replies to the client). What voiceguard records is always redacted."""

PII_ENTITIES: Final = frozenset(
    {
        "CREDIT_CARD",
        "CVV",
        "US_SSN",
        "US_BANK_NUMBER",
        "IBAN_CODE",
        "PHONE_NUMBER",
        "EMAIL_ADDRESS",
        "PERSON",
        "LOCATION",
    }
)
"""The entity types the PII guard detects (Presidio's names; ``CVV`` is voiceguard's own)."""
