"""Policy steps run on every event, in the order ``build_guards`` gives them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from voiceguard.config import Settings
from voiceguard.guards.base import Guard

if TYPE_CHECKING:
    from voiceguard.pii.engine import PiiEngine
    from voiceguard.pii.vault import Sealer


def build_guards(
    settings: Settings, *, keys: Sealer | None = None, pii_engine: PiiEngine | None = None
) -> list[Guard]:
    """The guard chain for these settings; order is data, decided here and nowhere else.

    ``keys`` seals the PII guard's pseudonym vaults (the process's ``KeyStore``); ``pii_engine`` is the
    engine built once at start-up and shared with the record redactor (built here when not given).
    """
    guards: list[Guard] = []
    if settings.pii.enabled:
        from voiceguard.guards.pii import PiiGuard, PiiGuardSettings
        from voiceguard.pii.engine import build_engine, engine_settings

        engine = pii_engine or build_engine(engine_settings(settings.pii))
        guards.append(PiiGuard(engine, PiiGuardSettings.from_config(settings.pii), sealer=keys))
    return guards
