"""Caller audio as the speaker models need it: mono float samples in [-1, 1] at the model's sample rate.

Telephony sends G.711 (Twilio: µ-law at 8 kHz); speech services get 16-bit PCM at any rate. Both are decoded
here with the standard G.711 expansion tables and resampled by a polyphase filter. Compressed encodings
(opus, mp3, flac, ...) would need a codec and are not decoded: ``decodable`` says which are.
"""

from __future__ import annotations

from math import gcd
from typing import Final

import numpy as np
import numpy.typing as npt

Samples = npt.NDArray[np.float32]

PCM16_ENCODINGS: Final = frozenset({"linear16", "pcm16"})
MULAW_ENCODINGS: Final = frozenset({"mulaw", "ulaw", "audio/x-mulaw"})
ALAW_ENCODINGS: Final = frozenset({"alaw", "audio/x-alaw"})
MAX_SAMPLE_RATE: Final = 192_000


def _mulaw_table() -> npt.NDArray[np.int16]:
    """ITU-T G.711 µ-law expansion of every byte value."""
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    magnitude = (((u & 0x0F) << 3) + 0x84 << ((u >> 4) & 0x07)) - 0x84
    table = np.where(u & 0x80, -magnitude, magnitude).astype(np.int16)
    table.setflags(write=False)
    return table


def _alaw_table() -> npt.NDArray[np.int16]:
    """ITU-T G.711 A-law expansion of every byte value."""
    a = np.arange(256, dtype=np.int32) ^ 0x55
    exponent = (a & 0x70) >> 4
    mantissa = a & 0x0F
    magnitude = np.where(
        exponent == 0, (mantissa << 4) + 8, ((mantissa << 4) + 0x108) << np.maximum(exponent - 1, 0)
    )
    table = np.where(a & 0x80, magnitude, -magnitude).astype(np.int16)
    table.setflags(write=False)
    return table


MULAW: Final = _mulaw_table()
ALAW: Final = _alaw_table()


def decodable(encoding: str | None, sample_rate: int | None) -> bool:
    """Whether audio so declared can be turned into samples here."""
    if not sample_rate or not 0 < sample_rate <= MAX_SAMPLE_RATE:
        return False
    return encoding in PCM16_ENCODINGS or encoding in MULAW_ENCODINGS or encoding in ALAW_ENCODINGS


def decode(data: bytes, encoding: str) -> Samples:
    """Mono samples in [-1, 1] from 16-bit little-endian PCM, µ-law or A-law bytes."""
    if encoding in PCM16_ENCODINGS:
        usable = len(data) - len(data) % 2
        ints = np.frombuffer(data[:usable], dtype="<i2")
    elif encoding in MULAW_ENCODINGS:
        ints = MULAW[np.frombuffer(data, dtype=np.uint8)]
    elif encoding in ALAW_ENCODINGS:
        ints = ALAW[np.frombuffer(data, dtype=np.uint8)]
    else:
        raise ValueError(f"cannot decode {encoding!r} audio")
    return (ints.astype(np.float32) / 32768.0).astype(np.float32)


def resample(samples: Samples, rate: int, target: int) -> Samples:
    """``samples`` at ``rate`` resampled to ``target`` Hz (polyphase, anti-aliased)."""
    if rate == target or samples.size == 0:
        return samples
    from scipy.signal import resample_poly

    common = gcd(rate, target)
    out = resample_poly(samples, target // common, rate // common)
    return np.asarray(out, dtype=np.float32)
