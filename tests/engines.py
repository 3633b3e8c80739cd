"""PII engines shared by every proxy a test session starts: loading the spaCy model is the slow part.

An engine is fully described by its ``EngineSettings`` (model, threshold, timeout, chunk size), so one
engine per distinct setting serves every proxy configured that way; a test that configures the engine
differently (a tiny ``analysis_timeout_ms``) gets an engine of its own, built once.
"""

from __future__ import annotations

import functools

from voiceguard.config import Settings
from voiceguard.pii.engine import EngineSettings, PiiEngine, build_engine, engine_settings


@functools.cache
def engine_for(settings: EngineSettings) -> PiiEngine:
    return build_engine(settings)


def shared_engine(settings: Settings) -> PiiEngine | None:
    """The engine for a proxy on ``settings`` (``None`` when PII is off: the proxy builds nothing)."""
    if not settings.pii.enabled:
        return None
    return engine_for(engine_settings(settings.pii))
