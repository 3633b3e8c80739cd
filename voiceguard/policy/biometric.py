"""What the ``biometric-consent`` rules in force require of one call, feature by feature.

Each rule of the control names the features it gates (``features: [diarization, ...]``) and what counts as
consent (``require_written_release`` or ``require_explicit_consent``: only a written or electronic
signature; otherwise any recorded form). Rules are read one by one rather than merged, because laws differ
per feature: Illinois gates diarization, Texas only identification, enrolment, verification and cloning.
For one feature, every rule that names it applies: the most specific one is reported, the strictest action
wins (``enforce``: strip the feature, ``block``: refuse the request), and a signature any of them requires
is required. ``observe`` rules gate nothing on the wire.

A rule with ``require_retention_policy: true`` (BIPA 15(a), Colorado) gates every feature the call's rules
gate until a published retention schedule (its URL and SHA-256) is configured.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from voiceguard.policy.model import Action, Control, PolicySet, Rule

CONTROL: Final = "biometric-consent"
SIGNED_FLAGS: Final = ("require_written_release", "require_explicit_consent")
RETENTION_POLICY_FLAG: Final = "require_retention_policy"


@dataclass(frozen=True, slots=True)
class FeatureGate:
    """What a call's rules require before one feature: the rule reported, the action, the signature."""

    feature: str
    rule_id: str
    """The most specific rule naming the feature (what decisions and refusals are reported under)."""
    rules: tuple[str, ...]
    action: Action
    signed_only: bool
    """Only a written or electronic signature counts (BIPA's written release, GDPR's explicit consent)."""


@dataclass(frozen=True, slots=True)
class Requirement:
    """A rule that gates every biometric feature of the call until something is configured."""

    rule_id: str
    action: Action


@dataclass(frozen=True, slots=True)
class BiometricRules:
    """The ``biometric-consent`` rules of one call, per feature."""

    gates: Mapping[str, FeatureGate]
    retention_policy: Requirement | None = None
    """Set when a rule requires a published retention schedule before any biometric collection."""

    def gate(self, feature: str) -> FeatureGate | None:
        return self.gates.get(feature)


NO_RULES: Final = BiometricRules(MappingProxyType({}))


def _flag(rule: Rule, name: str) -> bool:
    return rule.parameters.get(name) is True


def _features(rule: Rule) -> tuple[str, ...]:
    features = rule.parameters.get("features")
    if not isinstance(features, tuple):
        return ()
    return tuple(item for item in features if isinstance(item, str))


def biometric_rules(control: Control | None) -> BiometricRules:
    """Read the call's merged ``biometric-consent`` control back into per-feature gates."""
    if control is None:
        return NO_RULES
    acting = [rule for rule in control.sources if rule.action is not Action.OBSERVE]
    by_feature: dict[str, list[Rule]] = {}
    for rule in acting:
        for feature in _features(rule):
            by_feature.setdefault(feature, []).append(rule)
    gates = {
        feature: FeatureGate(
            feature,
            rules[0].id,
            tuple(rule.id for rule in rules),
            max((rule.action for rule in rules), key=lambda action: action.strictness),
            any(_flag(rule, flag) for rule in rules for flag in SIGNED_FLAGS),
        )
        for feature, rules in by_feature.items()
    }
    schedule = next((rule for rule in acting if _flag(rule, RETENTION_POLICY_FLAG)), None)
    requirement = Requirement(schedule.id, schedule.action) if schedule is not None else None
    return BiometricRules(MappingProxyType(gates), requirement)


@dataclass(frozen=True, slots=True)
class ConsentRequirement:
    """One pack rule that gates biometric features, as the published retention schedule lists it."""

    rule_id: str
    jurisdictions: tuple[str, ...]
    features: tuple[str, ...]
    signed_only: bool


def consent_requirements(policy: PolicySet) -> tuple[ConsentRequirement, ...]:
    """Every enabled rule that gates a feature on consent, in pack order."""
    return tuple(
        ConsentRequirement(
            rule.id,
            rule.jurisdictions,
            _features(rule),
            any(_flag(rule, flag) for flag in SIGNED_FLAGS),
        )
        for rule in policy.rules()
        if rule.control == CONTROL and rule.action is not Action.OBSERVE and _features(rule)
    )
