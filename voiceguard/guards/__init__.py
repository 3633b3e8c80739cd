"""Policy steps run on every event, in the order ``build_guards`` gives them."""

from __future__ import annotations

import dataclasses

from voiceguard.config import Settings
from voiceguard.guards.base import Guard
from voiceguard.guards.biometrics import BiometricsGuard
from voiceguard.guards.consent import DEFAULT_CONSENT_RULES, ConsentRules, Enforcement


def build_guards(settings: Settings) -> list[Guard]:
    """The guard chain for these settings; order is data, decided here and nowhere else."""
    return [BiometricsGuard(consent_rules(settings))]


def consent_rules(settings: Settings) -> ConsentRules:
    """The consent rules in force, with the configured enforcement for strippable features."""
    enforcement = Enforcement(settings.biometrics.enforcement)
    rules = [dataclasses.replace(rule, enforcement=enforcement) for rule in DEFAULT_CONSENT_RULES]
    return ConsentRules(rules, treat_unknown_as=settings.biometrics.treat_unknown_jurisdiction_as)
