"""How long a piece of audio lasts, computed from its size and declared format, never from its samples.

Adapters report audio as ``AudioChunk`` metadata only; the seconds feed the turn clock (end-of-speech
detection, how long the agent's reply plays). Uncompressed formats are exact; compressed ones without a
declared bit rate are unknown (``None``) rather than guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from voiceguard.events import AudioChunk, Direction

BYTES_PER_SAMPLE: Final = {
    "linear16": 2,
    "pcm16": 2,
    "pcm": 2,
    "wav": 2,
    "linear32": 4,
    "mulaw": 1,
    "ulaw": 1,
    "alaw": 1,
    "audio/x-mulaw": 1,
}
"""Sample widths of the uncompressed encodings the vendors name (Deepgram, Twilio, ElevenLabs, Gemini);
``wav`` counts its samples as 16-bit PCM (the 44-byte header is negligible)."""

_BASE64: Final = re.compile(rb"[A-Za-z0-9+/]*={0,2}")


def pcm_seconds(
    n_bytes: int, encoding: str | None, sample_rate: int | None, channels: int = 1
) -> float | None:
    """Seconds of uncompressed audio in ``n_bytes``; ``None`` when the format does not tell."""
    width = BYTES_PER_SAMPLE.get(encoding or "")
    if width is None or not sample_rate or sample_rate <= 0 or channels <= 0:
        return None
    return n_bytes / (width * sample_rate * channels)


def bitrate_seconds(n_bytes: int, bit_rate: int | None) -> float | None:
    """Seconds of constant-bit-rate compressed audio (mp3, opus, aac at a declared bit rate)."""
    if not bit_rate or bit_rate <= 0:
        return None
    return n_bytes * 8 / bit_rate


def base64_decoded_size(payload: str | bytes) -> int | None:
    """The size of what a base64 string decodes to, without decoding it; ``None`` if it is not base64."""
    data = payload.encode("ascii", "replace") if isinstance(payload, str) else payload
    if len(data) % 4 or not _BASE64.fullmatch(data):
        return None
    return len(data) // 4 * 3 - (len(data) - len(data.rstrip(b"=")))


def positive_int(value: object) -> int | None:
    """An integer option as a query string or JSON carries it (``"16000"``, ``16000``); ``None`` otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    # ASCII only and bounded: "²".isdigit() is true, and int() refuses more than 4300 digits.
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 18:
        number = int(value)
        return number if number > 0 else None
    return None


@dataclass(frozen=True, slots=True)
class AudioFormat:
    """The declared format of one audio stream, so each chunk's duration is one division."""

    encoding: str | None = None
    sample_rate: int | None = None
    channels: int = 1
    bit_rate: int | None = None

    def seconds(self, n_bytes: int) -> float | None:
        seconds = pcm_seconds(n_bytes, self.encoding, self.sample_rate, self.channels)
        return seconds if seconds is not None else bitrate_seconds(n_bytes, self.bit_rate)

    def chunk(self, direction: Direction, n_bytes: int) -> AudioChunk:
        """The metadata of ``n_bytes`` of this audio travelling ``direction``."""
        return AudioChunk(direction, n_bytes, self.seconds(n_bytes), self.encoding, self.sample_rate)


UNKNOWN: Final = AudioFormat()
_RATE: Final = re.compile(r"rate=([0-9]{1,9})")


def from_elevenlabs(output_format: str | None) -> AudioFormat:
    """ElevenLabs ``output_format``: ``<codec>_<rate>[_<kbps>]``, default ``mp3_44100_128``."""
    parts = (output_format or "mp3_44100_128").split("_")
    codec = parts[0]
    rate = positive_int(parts[1]) if len(parts) > 1 else None
    kbps = positive_int(parts[2]) if len(parts) > 2 else None
    return AudioFormat(encoding=codec, sample_rate=rate, bit_rate=kbps * 1000 if kbps else None)


def from_mime(mime: str | None, default_rate: int | None = None) -> AudioFormat:
    """A MIME type such as ``audio/pcm;rate=16000`` (16-bit little-endian mono PCM, Gemini Live)."""
    if not mime:
        return AudioFormat("pcm16", default_rate)
    base = mime.split(";", 1)[0].strip().lower()
    match = _RATE.search(mime)
    rate = int(match.group(1)) if match else default_rate
    if base in ("audio/pcm", "audio/l16"):
        return AudioFormat("pcm16", rate)
    return AudioFormat(base, rate)
