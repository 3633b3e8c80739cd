"""How long stored audio and biometric artefacts may be kept, per jurisdiction: decisions only, no I/O.

Each law gives a destruction date from two clocks: the last interaction with the subject, and the moment
the purpose of collection was satisfied. The date of an artefact is the earliest that any applicable rule
allows, and never later than the installation's own cap (``default_days``), so an artefact whose subject
is in no biometric jurisdiction still has a date.

| rule | jurisdiction | after last interaction | after the purpose is satisfied |
|---|---|---|---|
| BIPA-15a-DESTROY | US-IL | 3 years | at once |
| TX-CUBI | US-TX | — | 1 year |
| CO-6-1-1314 | US-CO | 24 months | 45 days |
| WA-19.375 | US-WA | — | at once ("no longer than necessary") |
| GDPR-5.1e | EU/EEA, GB | — | at once (storage limitation) |

The embedded rules mirror the policy packs until packs that declare retention periods are loaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from voiceguard.config import Settings
from voiceguard.consent.model import covers


@dataclass(frozen=True, slots=True)
class RetentionRule:
    """A law's limit on keeping biometric data, and the words the published schedule uses for it."""

    rule_id: str
    jurisdictions: frozenset[str]
    law: str
    days_after_last_interaction: int | None
    days_after_purpose: int | None

    def applies(self, jurisdiction: str | None) -> bool:
        return jurisdiction is not None and any(covers(j, jurisdiction) for j in self.jurisdictions)


DEFAULT_RETENTION_RULES: Final = (
    RetentionRule("BIPA-15a-DESTROY", frozenset({"US-IL"}), "Illinois BIPA, 740 ILCS 14/15(a)", 3 * 365, 0),
    RetentionRule("TX-CUBI", frozenset({"US-TX"}), "Texas CUBI, Bus. & Com. Code §503.001", None, 365),
    RetentionRule("CO-6-1-1314", frozenset({"US-CO"}), "Colorado C.R.S. 6-1-1314", 730, 45),
    RetentionRule("WA-19.375", frozenset({"US-WA"}), "Washington RCW 19.375", None, 0),
    RetentionRule("GDPR-5.1e", frozenset({"EU", "GB"}), "GDPR Art. 5(1)(e) and Art. 9", None, 0),
)


@dataclass(frozen=True, slots=True)
class Destruction:
    """When an artefact must be destroyed, and which rule set that date."""

    at: datetime
    rule_id: str


class RetentionSchedule:
    """The retention rules in force plus the installation's cap."""

    def __init__(self, rules: Sequence[RetentionRule], default_days: int) -> None:
        self.rules = tuple(rules)
        self.default_days = default_days

    def destruction(
        self,
        jurisdiction: str | None,
        created: datetime,
        last_interaction: datetime,
        purpose_satisfied: datetime | None = None,
    ) -> Destruction:
        """The earliest date any applicable rule (or the cap, counted from creation) allows."""
        best = Destruction(created + timedelta(days=self.default_days), "VOICEGUARD-RETENTION-CAP")
        for rule in self.rules:
            if not rule.applies(jurisdiction):
                continue
            candidates = []
            if rule.days_after_last_interaction is not None:
                candidates.append(last_interaction + timedelta(days=rule.days_after_last_interaction))
            if rule.days_after_purpose is not None and purpose_satisfied is not None:
                candidates.append(purpose_satisfied + timedelta(days=rule.days_after_purpose))
            for moment in candidates:
                if moment < best.at:
                    best = Destruction(moment, rule.rule_id)
        return best


def retention_schedule(settings: Settings) -> RetentionSchedule:
    """How long stored audio and biometric artefacts may be kept under these settings."""
    return RetentionSchedule(DEFAULT_RETENTION_RULES, settings.biometrics.retention_cap_days)
