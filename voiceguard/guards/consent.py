"""Which consent a call needs before a purpose, and whether it is on record: decisions only, no I/O.

A ``ConsentRule`` names the jurisdictions it covers, the purposes it gates, the signature methods that count
(BIPA: a written release, and since PA 103-0769 an electronic signature; a spoken "yes" does not) and what
to do without consent (strip the feature, or refuse the request). ``check`` answers for one call and one
purpose from the ``SubjectConsent`` the proxy attached to the call when it started, so a guard never waits
on a store. Where several rules cover a call (a country rule and a state rule), every one must be met.

The embedded rules mirror the policy packs (``policies/bipa.yaml``, ``texas-cubi.yaml``, ...); they are the
defaults until packs that declare consent requirements are loaded.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
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
from voiceguard.session import Call

_CACHE_LIMIT: Final = 1024


class Enforcement(StrEnum):
    """What to do with a feature whose consent is missing."""

    STRIP = "strip"
    """Remove the option from the request (and speaker labels from responses); the client is told."""
    REFUSE = "refuse"
    """Refuse the request with the contract's error (HTTP 451)."""


@dataclass(frozen=True, slots=True)
class ConsentRule:
    """Consent a law requires before some purposes, where it applies, and what counts as signed."""

    rule_id: str
    jurisdictions: frozenset[str]
    purposes: frozenset[Purpose]
    accepted: frozenset[SignatureMethod]
    enforcement: Enforcement = Enforcement.STRIP

    def applies(self, jurisdiction: str, purpose: Purpose) -> bool:
        return purpose in self.purposes and any(covers(j, jurisdiction) for j in self.jurisdictions)


_ANY_SIGNATURE: Final = frozenset(SignatureMethod)
_SIGNED: Final = frozenset({SignatureMethod.WRITTEN, SignatureMethod.ELECTRONIC})
_BIOMETRIC: Final = frozenset({Purpose.VOICEPRINT, Purpose.VOICE_CLONING})

DEFAULT_CONSENT_RULES: Final = (
    ConsentRule("BIPA-15b-CONSENT", frozenset({"US-IL"}), _BIOMETRIC, _SIGNED),
    ConsentRule("TX-CUBI", frozenset({"US-TX"}), _BIOMETRIC, _ANY_SIGNATURE),
    ConsentRule("WA-19.375", frozenset({"US-WA"}), _BIOMETRIC, _ANY_SIGNATURE),
    ConsentRule("CO-6-1-1314", frozenset({"US-CO"}), _BIOMETRIC, _ANY_SIGNATURE),
    ConsentRule("GDPR-9", frozenset({"EU", "GB"}), _BIOMETRIC, _SIGNED),
)
"""Voiceprints and voice clones need consent in Illinois, Texas, Washington, Colorado and the EU/EEA/UK.

GDPR Art. 9(2)(a) asks for *explicit* consent the controller can demonstrate, so only signed forms count
there by default; Texas, Washington and Colorado do not prescribe a written form.
"""


@dataclass(frozen=True, slots=True)
class ConsentCheck:
    """The answer for one call and one purpose."""

    allowed: bool
    reason: str
    """``no_rule``, ``consented``, ``no_subject``, ``no_consent``, ``signature_not_accepted``,
    ``store_unavailable``, ``speaker_without_consent`` or ``speaker_unverified``."""
    rule: ConsentRule | None = None
    record: ConsentRecord | None = None

    def evidence(self) -> tuple[tuple[str, str], ...]:
        """Ids, versions and hashes for the decision record (never the subject)."""
        record = self.record
        if record is None:
            return ()
        return (
            ("consent_id", record.id),
            ("notice_version", record.notice_version),
            ("signature", record.signature.value),
            ("record_digest", record.digest()),
        )


class ConsentRules:
    """The consent rules in force, with the answer per (jurisdiction, purpose) memoised."""

    def __init__(self, rules: Sequence[ConsentRule], treat_unknown_as: str | None = None) -> None:
        self.rules = tuple(rules)
        self.treat_unknown_as = treat_unknown_as
        self._applicable: dict[tuple[str, Purpose], tuple[ConsentRule, ...]] = {}

    def jurisdiction_of(self, call: Call) -> str | None:
        return call.jurisdiction or self.treat_unknown_as

    def applicable(self, jurisdiction: str | None, purpose: Purpose) -> tuple[ConsentRule, ...]:
        if jurisdiction is None:
            return ()
        key = (jurisdiction, purpose)
        found = self._applicable.get(key)
        if found is None:
            if len(self._applicable) >= _CACHE_LIMIT:
                self._applicable.clear()
            found = tuple(rule for rule in self.rules if rule.applies(jurisdiction, purpose))
            self._applicable[key] = found
        return found

    def check(self, call: Call, purpose: Purpose, at: datetime) -> ConsentCheck:
        """Whether ``call`` may use ``purpose`` now, and under which rule and record."""
        jurisdiction = self.jurisdiction_of(call)
        rules = self.applicable(jurisdiction, purpose)
        if not rules or jurisdiction is None:
            return ConsentCheck(True, "no_rule")
        view = call.scratch(CALL_CONSENT, ConsentSlot).view
        speakers = call.scratch(CALL_SPEAKERS, CallSpeakers)
        for rule in rules:
            if view is None:
                return ConsentCheck(False, "no_subject", rule)
            if not view.loaded:
                return ConsentCheck(False, "store_unavailable", rule)
            if speakers.others_joined and purpose is Purpose.VOICEPRINT:
                return ConsentCheck(False, "speaker_without_consent", rule)
            if speakers.unverified and purpose is Purpose.VOICEPRINT:
                return ConsentCheck(False, "speaker_unverified", rule)
            found = _matching(view.active(purpose, at), jurisdiction)
            if not found:
                return ConsentCheck(False, "no_consent", rule)
            signed = [record for record in found if record.signature in rule.accepted]
            if not signed:
                return ConsentCheck(False, "signature_not_accepted", rule, found[0])
        return ConsentCheck(True, "consented", rules[0], signed[0])


def _matching(records: Iterable[ConsentRecord], jurisdiction: str) -> list[ConsentRecord]:
    """Records given under a notice for this jurisdiction (or one that covers every jurisdiction)."""
    return [r for r in records if r.jurisdiction is None or covers(r.jurisdiction, jurisdiction)]
