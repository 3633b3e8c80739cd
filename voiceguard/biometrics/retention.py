"""How long stored audio and biometric artefacts may be kept, per jurisdiction: decisions only, no I/O.

Each law gives a destruction date from two clocks: the last interaction with the subject, and the moment
the purpose of collection was satisfied. The date of an artefact is the earliest that any applicable rule
allows, and never later than the installation's own cap (``default_days``), so an artefact whose subject
is in no biometric jurisdiction still has a date.

The rules are the ``biometric-retention`` rules of the policy packs in force (``max_retention_days``:
after the last interaction; ``max_days_after_purpose``: after the purpose is satisfied). The shipped packs:

| rule | jurisdiction | after last interaction | after the purpose is satisfied |
|---|---|---|---|
| BIPA-15a-DESTROY | US-IL | 3 years | at once |
| TX-CUBI-DESTROY | US-TX | — | 1 year |
| CO-6-1-1314-DELETE | US-CO | 24 months | 45 days |
| WA-19.375-RETAIN | US-WA | — | at once ("no longer than necessary") |
| GDPR-5.1e | EU/EEA, GB | — | at once (storage limitation) |
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from voiceguard.config import Settings
from voiceguard.consent.model import covers
from voiceguard.policy.context import PolicyStore
from voiceguard.policy.model import Action, Param, PolicySet

CONTROL: Final = "biometric-retention"


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


def _days(value: Param) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def rules_from_packs(policy: PolicySet) -> tuple[RetentionRule, ...]:
    """The retention rules the packs state, in pack order (``observe`` rules keep nothing from anyone)."""
    titles = {pack.name: pack.title for pack in policy.packs}
    return tuple(
        RetentionRule(
            rule.id,
            frozenset(rule.jurisdictions),
            f"{titles.get(rule.pack, rule.pack)}: {rule.source}",
            _days(rule.parameters.get("max_retention_days")),
            _days(rule.parameters.get("max_days_after_purpose")),
        )
        for rule in policy.rules()
        if rule.control == CONTROL and rule.action is not Action.OBSERVE
    )


@dataclass(frozen=True, slots=True)
class Destruction:
    """When an artefact must be destroyed, and which rule set that date."""

    at: datetime
    rule_id: str


class RetentionSchedule:
    """The retention rules in force plus the installation's cap."""

    def __init__(self, rules: Sequence[RetentionRule], default_days: int) -> None:
        self._rules = tuple(rules)
        self.default_days = default_days

    @property
    def rules(self) -> tuple[RetentionRule, ...]:
        return self._rules

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


class PackRetentionSchedule(RetentionSchedule):
    """The schedule of the packs in force right now: a reload changes the dates of artefacts stored later
    (and of those rescheduled by a later interaction)."""

    def __init__(self, policies: PolicyStore, default_days: int) -> None:
        super().__init__((), default_days)
        self.policies = policies
        self._source: PolicySet | None = None

    @property
    def rules(self) -> tuple[RetentionRule, ...]:
        current = self.policies.current
        if current is not self._source:
            self._rules, self._source = rules_from_packs(current), current
        return self._rules


def retention_schedule(settings: Settings, policies: PolicyStore) -> RetentionSchedule:
    """How long stored audio and biometric artefacts may be kept under these settings and packs."""
    return PackRetentionSchedule(policies, settings.biometrics.retention_cap_days)
