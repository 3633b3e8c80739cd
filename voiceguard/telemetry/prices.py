"""The price table voiceguard estimates call cost from, until the operator configures their own.

List prices in US dollars as the vendors published them in 2025 (per million tokens, per minute of audio,
per million characters). They are estimates for dashboards, not invoices: contracts, discounts, batch and
cache pricing differ. Override or add models under ``telemetry.prices`` in the config file; a model missing
from the table is reported as unpriced (``voiceguard.cost`` gets no increment and spans no cost attribute).
"""

from __future__ import annotations

from typing import Final

DEFAULT_PRICES: Final[dict[str, dict[str, float]]] = {
    # OpenAI chat models (per million tokens)
    "gpt-4o-mini": {"input_per_mtok": 0.15, "cached_input_per_mtok": 0.075, "output_per_mtok": 0.60},
    "gpt-4o": {"input_per_mtok": 2.50, "cached_input_per_mtok": 1.25, "output_per_mtok": 10.00},
    "gpt-4.1-mini": {"input_per_mtok": 0.40, "cached_input_per_mtok": 0.10, "output_per_mtok": 1.60},
    "gpt-4.1": {"input_per_mtok": 2.00, "cached_input_per_mtok": 0.50, "output_per_mtok": 8.00},
    # OpenAI speech-to-text (per minute of input audio)
    "whisper-1": {"audio_input_per_minute": 0.006},
    "gpt-4o-transcribe": {
        "audio_input_per_minute": 0.006,
        "audio_input_per_mtok": 6.00,
        "output_per_mtok": 10.00,
    },
    "gpt-4o-mini-transcribe": {
        "audio_input_per_minute": 0.003,
        "audio_input_per_mtok": 3.00,
        "output_per_mtok": 5.00,
    },
    # OpenAI text-to-speech
    "tts-1": {"per_million_characters": 15.00},
    "tts-1-hd": {"per_million_characters": 30.00},
    "gpt-4o-mini-tts": {"input_per_mtok": 0.60, "audio_output_per_minute": 0.015},
    # OpenAI realtime (text and audio tokens priced apart)
    "gpt-realtime": {
        "input_per_mtok": 4.00,
        "cached_input_per_mtok": 0.40,
        "output_per_mtok": 16.00,
        "audio_input_per_mtok": 32.00,
        "audio_output_per_mtok": 64.00,
    },
    "gpt-4o-realtime-preview": {
        "input_per_mtok": 5.00,
        "cached_input_per_mtok": 2.50,
        "output_per_mtok": 20.00,
        "audio_input_per_mtok": 40.00,
        "audio_output_per_mtok": 80.00,
    },
    "gpt-4o-mini-realtime-preview": {
        "input_per_mtok": 0.60,
        "cached_input_per_mtok": 0.30,
        "output_per_mtok": 2.40,
        "audio_input_per_mtok": 10.00,
        "audio_output_per_mtok": 20.00,
    },
    # Deepgram (streaming speech-to-text per minute; Aura text-to-speech per million characters)
    "nova-3": {"audio_input_per_minute": 0.0077},
    "nova-2": {"audio_input_per_minute": 0.0058},
    "aura-2": {"per_million_characters": 30.00},
    # Anthropic (per million tokens)
    "claude-3-5-haiku-latest": {
        "input_per_mtok": 0.80,
        "cached_input_per_mtok": 0.08,
        "output_per_mtok": 4.00,
    },
    "claude-sonnet-4-5": {"input_per_mtok": 3.00, "cached_input_per_mtok": 0.30, "output_per_mtok": 15.00},
}
