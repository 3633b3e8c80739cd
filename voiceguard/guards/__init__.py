"""Policy steps run on every event, in the order ``build_guards`` gives them."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from voiceguard.config import Settings
from voiceguard.guards.base import Guard
from voiceguard.guards.biometrics import BiometricsGuard
from voiceguard.guards.consent import DEFAULT_CONSENT_RULES, ConsentRules, Enforcement
from voiceguard.policy.context import PolicyStore

if TYPE_CHECKING:
    from voiceguard.pii.engine import PiiEngine
    from voiceguard.pii.vault import Sealer


def build_guards(
    settings: Settings,
    policies: PolicyStore | None = None,
    *,
    keys: Sealer | None = None,
    pii_engine: PiiEngine | None = None,
) -> list[Guard]:
    """The guard chain for these settings; order is data, decided here and nowhere else.

    The policy guard runs first so every later guard (and every decision) sees the call's resolved policy.
    The PII guard runs next, so nothing after it (and nothing upstream) sees raw PII, and it restores
    pseudonyms in replies before the disclosure guard looks at the text the client will actually receive.
    The biometrics guard strips or refuses voiceprint features for callers without consent on record.
    ``keys`` seals the PII guard's pseudonym vaults (the process's ``KeyStore``); ``pii_engine`` is the
    engine built once at start-up and shared with the record redactor (built here when not given).
    """
    guards: list[Guard] = []
    if policies is not None:
        from voiceguard.guards.policy_context import PolicyContextGuard

        guards.append(PolicyContextGuard(policies))
    if settings.pii.enabled:
        from voiceguard.guards.pii import PiiGuard, PiiGuardSettings
        from voiceguard.pii.engine import build_engine, engine_settings

        engine = pii_engine or build_engine(engine_settings(settings.pii))
        guards.append(PiiGuard(engine, PiiGuardSettings.from_config(settings.pii), sealer=keys))
    guards.append(BiometricsGuard(consent_rules(settings)))
    if policies is not None:
        from voiceguard.guards.ai_marking import AiMarkingGuard
        from voiceguard.guards.disclosure import DisclosureGuard

        guards.extend([DisclosureGuard(policies), AiMarkingGuard(policies)])
    return guards


def consent_rules(settings: Settings) -> ConsentRules:
    """The consent rules in force, with the configured enforcement for strippable features."""
    enforcement = Enforcement(settings.biometrics.enforcement)
    rules = [dataclasses.replace(rule, enforcement=enforcement) for rule in DEFAULT_CONSENT_RULES]
    return ConsentRules(rules, treat_unknown_as=settings.biometrics.treat_unknown_jurisdiction_as)
