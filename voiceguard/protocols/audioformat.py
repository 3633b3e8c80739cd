"""Audio formats named on the wire, turned into what ``AudioChunk`` reports (encoding, rate, seconds).

Only the length of audio is computed here; the audio itself is never decoded. Compressed formats with a
fixed bitrate (mp3, opus at a named rate) give an estimate; a format whose duration cannot be known from
its size gives ``None`` rather than a guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_RATE = re.compile(r"rate=(\d+)")


@dataclass(frozen=True, slots=True)
class AudioFormat:
    encoding: str | None
    sample_rate: int | None = None
    bytes_per_second: float | None = None

    def seconds(self, n_bytes: int) -> float | None:
        if not self.bytes_per_second:
            return None
        return n_bytes / self.bytes_per_second


UNKNOWN = AudioFormat(encoding=None)

_BYTES_PER_SAMPLE = {"pcm": 2, "ulaw": 1, "alaw": 1}


def from_elevenlabs(output_format: str | None) -> AudioFormat:
    """ElevenLabs ``output_format``: ``<codec>_<rate>[_<kbps>]``, default ``mp3_44100_128``."""
    parts = (output_format or "mp3_44100_128").split("_")
    codec = parts[0]
    rate = int(parts[1]) if len(parts) > 1 and parts[1].isascii() and parts[1].isdigit() else None
    if codec in _BYTES_PER_SAMPLE and rate:
        return AudioFormat(codec, rate, float(rate * _BYTES_PER_SAMPLE[codec]))
    if codec == "wav" and rate:
        return AudioFormat("wav", rate, float(rate * 2))
    kbps = int(parts[2]) if len(parts) > 2 and parts[2].isascii() and parts[2].isdigit() else None
    return AudioFormat(codec, rate, kbps * 125.0 if kbps else None)


def from_mime(mime: str | None, default_rate: int | None = None) -> AudioFormat:
    """A MIME type such as ``audio/pcm;rate=16000`` (16-bit little-endian mono PCM)."""
    if not mime:
        return AudioFormat("pcm16", default_rate, default_rate * 2.0 if default_rate else None)
    base = mime.split(";", 1)[0].strip().lower()
    match = _RATE.search(mime)
    rate = int(match.group(1)) if match else default_rate
    if base in ("audio/pcm", "audio/l16"):
        return AudioFormat("pcm16", rate, rate * 2.0 if rate else None)
    return AudioFormat(base, rate)
