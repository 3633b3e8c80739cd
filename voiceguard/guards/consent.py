"""Which consent a call needs before a biometric feature, and whether it is on record: decisions, no I/O.

The rules are the ``biometric-consent`` rules of the policy packs in force for the call
(``voiceguard.policy.biometric``): the call's jurisdiction is the one its policy resolved (the
``X-VoiceGuard-Jurisdiction`` header, else the caller's E.164 number, else ``policy.default_jurisdiction``),
and each feature is gated by the rules that name it, so Texas, which gates speaker identification but not
diarization, lets diarization through. ``check`` answers for one call and one feature from the
``SubjectConsent`` the proxy attached to the call, so a guard never waits on a store.

Configuration on top of the packs: ``biometrics.enforcement: refuse`` turns every strip into a refusal
(an operator may be stricter than the packs, never looser); ``biometrics.treat_unknown_jurisdiction_as``
applies one jurisdiction's rules to calls whose jurisdiction came from no header and no number; a published
retention schedule (``biometrics.retention_schedule_url`` and ``..._sha256``) satisfies the packs' rules
that require one (BIPA 15(a)).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

from voiceguard.biometrics.call_state import CALL_SPEAKERS, CallSpeakers
from voiceguard.consent.model import (
    CALL_CONSENT,
    ConsentRecord,
    ConsentSlot,
    Purpose,
    SignatureMethod,
    covers,
)
from voiceguard.events import BiometricFeature
from voiceguard.policy.biometric import CONTROL, BiometricRules, FeatureGate, biometric_rules
from voiceguard.policy.context import PolicyStore, applied_in, bind
from voiceguard.policy.model import Action, AppliedPolicy
from voiceguard.session import Call

MAX_CACHED: Final = 256

FEATURE_PURPOSE: Final = {
    BiometricFeature.DIARIZATION: Purpose.VOICEPRINT,
    BiometricFeature.SPEAKER_IDENTIFICATION: Purpose.VOICEPRINT,
    BiometricFeature.SPEAKER_ENROLMENT: Purpose.VOICEPRINT,
    BiometricFeature.SPEAKER_VERIFICATION: Purpose.VOICEPRINT,
    BiometricFeature.EMOTION_RECOGNITION: Purpose.VOICEPRINT,
    BiometricFeature.VOICE_CLONING: Purpose.VOICE_CLONING,
}
"""The consent purpose each feature needs; emotion recognition runs the same speaker analysis."""

VOICEPRINT_FEATURES: Final = tuple(f for f, p in FEATURE_PURPOSE.items() if p is Purpose.VOICEPRINT)


class Enforcement(StrEnum):
    """What to do with a feature whose consent is missing."""

    STRIP = "strip"
    """Remove the option from the request (and speaker labels from responses); the client is told."""
    REFUSE = "refuse"
    """Refuse the request with the contract's error (HTTP 451)."""


@dataclass(frozen=True, slots=True)
class ConsentRule:
    """The rule a check was decided under, what counts as signed there, and what to do without consent."""

    rule_id: str
    accepted: frozenset[SignatureMethod]
    enforcement: Enforcement = Enforcement.STRIP


@dataclass(frozen=True, slots=True)
class PublishedSchedule:
    """The public retention schedule BIPA 15(a) requires before collection: where, and its SHA-256."""

    url: str
    sha256: str

    def evidence(self) -> tuple[tuple[str, str], ...]:
        return (("policy_url", self.url), ("policy_sha256", self.sha256))


_ANY_SIGNATURE: Final = frozenset(SignatureMethod)
_SIGNED: Final = frozenset({SignatureMethod.WRITTEN, SignatureMethod.ELECTRONIC})


@dataclass(frozen=True, slots=True)
class ConsentCheck:
    """The answer for one call and one feature."""

    allowed: bool
    reason: str
    """``no_rule``, ``consented``, ``no_subject``, ``no_consent``, ``signature_not_accepted``,
    ``store_unavailable``, ``speaker_without_consent``, ``speaker_unverified`` or
    ``no_retention_schedule``."""
    rule: ConsentRule | None = None
    record: ConsentRecord | None = None
    schedule: PublishedSchedule | None = None

    def evidence(self) -> tuple[tuple[str, str], ...]:
        """Ids, versions and hashes for the decision record (never the subject)."""
        found: list[tuple[str, str]] = []
        record = self.record
        if record is not None:
            found += [
                ("consent_id", record.id),
                ("notice_version", record.notice_version),
                ("signature", record.signature.value),
                ("record_digest", record.digest()),
            ]
        if self.schedule is not None:
            found += self.schedule.evidence()
        return tuple(found)


@dataclass(frozen=True, slots=True)
class CallRules:
    """The rules of one call, and the jurisdiction consent records must have been given under."""

    jurisdiction: str | None
    rules: BiometricRules


class ConsentRules:
    """The packs' consent rules as each call's policy resolves them, with the configuration on top."""

    def __init__(
        self,
        store: PolicyStore,
        *,
        enforcement: Enforcement = Enforcement.STRIP,
        treat_unknown_as: str | None = None,
        schedule: PublishedSchedule | None = None,
    ) -> None:
        self.store = store
        self.enforcement = enforcement
        self.treat_unknown_as = treat_unknown_as
        self.schedule = schedule
        self._parsed: dict[int, tuple[AppliedPolicy, BiometricRules]] = {}

    def for_call(self, call: Call) -> CallRules:
        policy = bind(call, self.store)
        applied, code = policy.applied, policy.jurisdiction
        if self.treat_unknown_as is not None and policy.source in ("default", "none"):
            applied, code = applied_in(call, self.store, self.treat_unknown_as), self.treat_unknown_as
        cached = self._parsed.get(id(applied))
        if cached is None or cached[0] is not applied:
            if len(self._parsed) >= MAX_CACHED:
                self._parsed.clear()
            cached = (applied, biometric_rules(applied.control(CONTROL)))
            self._parsed[id(applied)] = cached
        return CallRules(code, cached[1])

    def gates_voiceprints(self, call: Call) -> bool:
        """Whether any voiceprint feature needs consent on this call (speaker-change detection runs then)."""
        rules = self.for_call(call).rules
        return any(rules.gate(feature.value) is not None for feature in VOICEPRINT_FEATURES)

    def _rule(self, gate: FeatureGate) -> ConsentRule:
        accepted = _SIGNED if gate.signed_only else _ANY_SIGNATURE
        refuse = gate.action is Action.BLOCK or self.enforcement is Enforcement.REFUSE
        return ConsentRule(gate.rule_id, accepted, Enforcement.REFUSE if refuse else Enforcement.STRIP)

    def check(self, call: Call, feature: BiometricFeature, at: datetime) -> ConsentCheck:
        """Whether ``call`` may use ``feature`` now, and under which rule and record."""
        found = self.for_call(call)
        gate = found.rules.gate(feature.value)
        if gate is None:
            return ConsentCheck(True, "no_rule")
        rule = self._rule(gate)
        consent = _consent(call, FEATURE_PURPOSE[feature], found.jurisdiction, rule, at)
        if not consent.allowed:
            return consent
        requirement = found.rules.retention_policy
        if requirement is not None:
            if self.schedule is None:
                refuse = requirement.action is Action.BLOCK or rule.enforcement is Enforcement.REFUSE
                enforcement = Enforcement.REFUSE if refuse else Enforcement.STRIP
                required = ConsentRule(requirement.rule_id, rule.accepted, enforcement)
                return ConsentCheck(False, "no_retention_schedule", required, consent.record)
            return ConsentCheck(True, consent.reason, rule, consent.record, self.schedule)
        return consent


def _consent(
    call: Call, purpose: Purpose, jurisdiction: str | None, rule: ConsentRule, at: datetime
) -> ConsentCheck:
    view = call.scratch(CALL_CONSENT, ConsentSlot).view
    if view is None:
        return ConsentCheck(False, "no_subject", rule)
    if not view.loaded:
        return ConsentCheck(False, "store_unavailable", rule)
    if purpose is Purpose.VOICEPRINT:
        speakers = call.scratch(CALL_SPEAKERS, CallSpeakers)
        if speakers.others_joined:
            return ConsentCheck(False, "speaker_without_consent", rule)
        if speakers.unverified:
            return ConsentCheck(False, "speaker_unverified", rule)
    found = _matching(view.active(purpose, at), jurisdiction)
    if not found:
        return ConsentCheck(False, "no_consent", rule)
    signed = [record for record in found if record.signature in rule.accepted]
    if not signed:
        return ConsentCheck(False, "signature_not_accepted", rule, found[0])
    return ConsentCheck(True, "consented", rule, signed[0])


def _matching(records: Iterable[ConsentRecord], jurisdiction: str | None) -> list[ConsentRecord]:
    """Records given under a notice for this jurisdiction (or one that covers every jurisdiction)."""
    return [
        r
        for r in records
        if r.jurisdiction is None or (jurisdiction is not None and covers(r.jurisdiction, jurisdiction))
    ]
