"""Building speaker-change detection from the settings, importing its libraries only when it is on.

The detector needs the ``speaker`` extra (numpy, torch, pyannote.audio, Silero VAD); a proxy without it
never imports them. It analyses only calls whose policy packs gate a voiceprint feature.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from voiceguard.config import Settings
from voiceguard.guards import consent_rules
from voiceguard.policy.context import PolicyStore
from voiceguard.session import Call
from voiceguard.telemetry.metrics import Metrics

if TYPE_CHECKING:
    from voiceguard.biometrics.speaker_change import SpeakerChangeDetector


def build_speaker_detector(
    settings: Settings, metrics: Metrics | None, policies: PolicyStore
) -> SpeakerChangeDetector | None:
    """The detector when ``biometrics.speaker_model`` is set; raises ``ConfigError`` without the extra."""
    config = settings.biometrics
    if config.speaker_model is None:
        return None
    try:
        from voiceguard.biometrics.speaker_change import SpeakerChangeDetector, SpeakerSettings
    except ImportError as exc:
        from voiceguard.biometrics.pyannote_import import SpeakerStackMissing

        raise SpeakerStackMissing(
            f"biometrics.speaker_model needs the speaker extra: pip install 'voiceguard[speaker]' ({exc})"
        ) from exc
    rules = consent_rules(settings, policies)

    def needed(call: Call) -> bool:
        return rules.gates_voiceprints(call)

    detector_settings = SpeakerSettings(
        model=config.speaker_model,
        token=os.environ.get(config.speaker_model_token_env) or None,
        threshold=config.speaker_threshold,
        window_seconds=config.speaker_window_seconds,
        confirm_windows=config.speaker_confirm_windows,
        vad_threshold=config.speaker_vad_threshold,
        queue_seconds=config.speaker_queue_seconds,
    )
    return SpeakerChangeDetector(detector_settings, needed, metrics)
