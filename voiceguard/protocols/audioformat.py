"""Measuring audio without touching it: its format, how long it lasts, how many bytes a base64 text holds.

Audio is biometric data: adapters report it as ``AudioChunk`` metadata only (bytes, seconds, format) and
never copy it out. The seconds feed the turn clock (end-of-speech detection, how long the agent's reply
plays); they come from the size and the declared format, never from the samples. Uncompressed formats are
exact; compressed ones without a declared bit rate are unknown (``None``) rather than guessed. Base64 is
measured from its length and its alphabet checked with C-level ``bytes.translate`` (faster than a regular
expression or a decode); nothing is decoded and the audio is never sliced out.
"""

from __future__ import annotations

import re
import struct
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
    "g711_ulaw": 1,
    "g711_alaw": 1,
    "audio/x-mulaw": 1,
}
"""Sample widths of the uncompressed encodings the vendors name (Deepgram, Twilio, ElevenLabs, Gemini);
``wav`` counts its samples as 16-bit PCM (the 44-byte header is negligible)."""

_ALPHABET: Final = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="


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


def pcm16(sample_rate: int, channels: int = 1) -> AudioFormat:
    """16-bit little-endian linear PCM."""
    return AudioFormat("pcm16", sample_rate, channels)


PCM16_24K: Final = pcm16(24_000)
G711_ULAW: Final = AudioFormat("g711_ulaw", 8_000)
G711_ALAW: Final = AudioFormat("g711_alaw", 8_000)


def base64_size(data: bytes, start: int, end: int) -> int | None:
    """Decoded size of the base64 text ``data[start:end]``; ``None`` when it is not valid base64.

    The span is never sliced out: ``translate`` over the whole message keeps only the bytes outside the
    base64 alphabet (the JSON around it, tens of bytes), and the span is valid when none of them lies
    inside it, i.e. when the head and the tail alone account for all of them.
    """
    length = end - start
    if length % 4:
        return None
    outside = len(data[:start].translate(None, _ALPHABET)) + len(data[end:].translate(None, _ALPHABET))
    if len(data.translate(None, _ALPHABET)) != outside:
        return None
    pad = data.find(b"=", start, end)
    if pad < 0:
        return length // 4 * 3
    padding = end - pad
    if padding > 2 or data.count(b"=", pad, end) != padding:
        return None
    return length // 4 * 3 - padding


def base64_decoded_size(payload: str | bytes) -> int | None:
    """The size of what a base64 string decodes to, without decoding it; ``None`` if it is not base64."""
    if isinstance(payload, str):
        try:
            payload = payload.encode("ascii")
        except UnicodeEncodeError:
            return None
    return base64_size(payload, 0, len(payload))


@dataclass(frozen=True, slots=True)
class WavHeader:
    """The format of a RIFF/WAVE stream and where its sample data starts."""

    format: AudioFormat
    data_offset: int


WAV_MAX_HEADER: Final = 4096
"""A WAVE header longer than this (metadata chunks before ``data``) is not measured."""


def wav_header(head: bytes) -> WavHeader | None:
    """Read a WAVE header from the first bytes of a stream; ``None`` if incomplete or not PCM WAVE."""
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    position = 12
    audio: AudioFormat | None = None
    while position + 8 <= len(head):
        chunk_id = head[position : position + 4]
        (size,) = struct.unpack_from("<I", head, position + 4)
        body = position + 8
        if chunk_id == b"fmt " and body + 16 <= len(head):
            code, channels, rate, _byte_rate, _align, bits = struct.unpack_from("<HHIIHH", head, body)
            if code == 1 and bits == 16:
                audio = pcm16(rate, channels)
            else:
                # other sample formats (8-bit, float, G.711 in WAVE) last as long as their bit rate says
                audio = AudioFormat(f"wav-{code}-{bits}bit", rate, channels, rate * channels * bits or None)
        elif chunk_id == b"data":
            return WavHeader(audio, body) if audio is not None else None
        position = body + size + (size & 1)
    return None


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
