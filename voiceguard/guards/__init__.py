"""Policy steps run on every event, in the order ``build_guards`` gives them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from voiceguard.config import Settings
from voiceguard.guards.base import Guard
from voiceguard.guards.biometrics import BiometricsGuard
from voiceguard.guards.consent import ConsentRules, Enforcement, PublishedSchedule
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
    ``policies`` is the store the proxy reloads (loaded from ``settings.policy`` when not given); ``keys``
    seals the PII guard's pseudonym vaults (the process's ``KeyStore``); ``pii_engine`` is the engine
    built once at start-up and shared with the record redactor (built here when not given).
    """
    if policies is None:
        from voiceguard.policy.setup import policy_store

        policies = policy_store(settings)
    from voiceguard.guards.ai_marking import AiMarkingGuard
    from voiceguard.guards.disclosure import DisclosureGuard
    from voiceguard.guards.policy_context import PolicyContextGuard

    guards: list[Guard] = [PolicyContextGuard(policies)]
    if settings.pii.enabled:
        from voiceguard.guards.pii import PiiGuard, PiiGuardSettings
        from voiceguard.pii.engine import build_engine, engine_settings

        engine = pii_engine or build_engine(engine_settings(settings.pii))
        guards.append(
            PiiGuard(engine, PiiGuardSettings.from_config(settings.pii), sealer=keys, policies=policies)
        )
    guards.append(BiometricsGuard(consent_rules(settings, policies)))
    guards.extend([DisclosureGuard(policies), AiMarkingGuard(policies)])
    return guards


def consent_rules(settings: Settings, policies: PolicyStore) -> ConsentRules:
    """The packs' consent rules with the configuration's enforcement, fallback and published schedule."""
    config = settings.biometrics
    schedule = None
    if config.retention_schedule_url is not None and config.retention_schedule_sha256 is not None:
        schedule = PublishedSchedule(config.retention_schedule_url, config.retention_schedule_sha256)
    return ConsentRules(
        policies,
        enforcement=Enforcement(config.enforcement),
        treat_unknown_as=config.treat_unknown_jurisdiction_as,
        schedule=schedule,
    )
