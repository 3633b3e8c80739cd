"""Synthetic audio for the simulator: tones in the formats the vendors return.

The simulator is not a speech engine; its audio is a tone whose length follows the text, which is what
latency and byte-accounting need. MP3 is answered with silent MPEG-1 Layer III frames of the same length (a
valid stream any decoder or tag reader accepts); formats that need a real encoder (opus, aac, flac) are
answered with the same PCM bytes under the requested content type, and say so in a header.
"""

from __future__ import annotations

import math
import struct
from typing import Final

SECONDS_PER_CHARACTER: Final = 0.06
"""Roughly 15 characters per second of speech."""

CONTENT_TYPES: Final = {
    "mp3": "audio/mpeg",
    "opus": "audio/ogg",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}


def tone_pcm16(seconds: float, sample_rate: int = 24_000, frequency: float = 220.0) -> bytes:
    """Mono 16-bit little-endian PCM of a quiet sine tone."""
    count = max(1, int(seconds * sample_rate))
    step = 2 * math.pi * frequency / sample_rate
    samples = (int(3000 * math.sin(step * index)) for index in range(count))
    return struct.pack(f"<{count}h", *samples)


def wav(pcm: bytes, sample_rate: int = 24_000) -> bytes:
    """A RIFF/WAVE file around mono 16-bit PCM."""
    header = struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF",
        36 + len(pcm),
        b"WAVE",
        b"fmt ",
        16,
        1,
        1,
        sample_rate,
        sample_rate * 2,
        2,
        16,
        b"data",
        len(pcm),
    )
    return header + pcm


def speech_for(text: str, sample_rate: int = 24_000) -> bytes:
    """PCM whose duration follows the length of ``text``."""
    return tone_pcm16(max(0.2, len(text) * SECONDS_PER_CHARACTER), sample_rate)


def mulaw(pcm: bytes) -> bytes:
    """G.711 µ-law of 16-bit little-endian PCM (what telephony carries; ``audioop`` is gone in 3.13)."""
    out = bytearray()
    for (sample,) in struct.iter_unpack("<h", pcm):
        sign = 0x80 if sample < 0 else 0
        magnitude = min(-sample if sample < 0 else sample, 32635) + 0x84
        exponent = max(0, min(7, magnitude.bit_length() - 8))
        mantissa = (magnitude >> (exponent + 3)) & 0x0F
        out.append(~(sign | (exponent << 4) | mantissa) & 0xFF)
    return bytes(out)


def mulaw_tone(seconds: float, sample_rate: int = 8_000) -> bytes:
    """µ-law audio of a quiet tone, one byte per sample."""
    return mulaw(tone_pcm16(seconds, sample_rate))


MP3_FRAME_SECONDS: Final = 1152 / 44_100
_SILENT_MP3_FRAME: Final = b"\xff\xfb\x90\xc4" + bytes(413)
"""MPEG-1 Layer III, 128 kbit/s, 44.1 kHz, mono, no padding (417 bytes): zero side info decodes as silence."""


def silent_mp3(seconds: float) -> bytes:
    """A headerless MP3 stream (no ID3 tag, as TTS services send it) of about ``seconds`` of silence."""
    return _SILENT_MP3_FRAME * max(1, round(seconds / MP3_FRAME_SECONDS))
