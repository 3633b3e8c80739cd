"""Measuring audio without touching it: how many bytes a base64 text holds, how long PCM lasts.

Audio is biometric data: voiceguard counts it (bytes, seconds, format) and never copies it out of the
adapter. Base64 is measured from its length and its alphabet checked with C-level ``bytes.translate``
(faster than a regular expression or a decode); nothing is decoded and the audio is never sliced out.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

_ALPHABET: Final = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="


@dataclass(frozen=True, slots=True)
class AudioFormat:
    """An audio encoding; ``bytes_per_second`` is ``None`` where the duration needs a decoder (mp3...)."""

    encoding: str
    sample_rate: int | None = None
    bytes_per_second: int | None = None

    def seconds(self, n_bytes: int) -> float | None:
        return n_bytes / self.bytes_per_second if self.bytes_per_second else None


def pcm16(sample_rate: int, channels: int = 1) -> AudioFormat:
    """16-bit little-endian linear PCM."""
    return AudioFormat("pcm16", sample_rate, sample_rate * 2 * channels)


PCM16_24K: Final = pcm16(24_000)
G711_ULAW: Final = AudioFormat("g711_ulaw", 8_000, 8_000)
G711_ALAW: Final = AudioFormat("g711_alaw", 8_000, 8_000)


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


def base64_text_size(text: str) -> int | None:
    """``base64_size`` for text already parsed out of JSON (the slow path)."""
    try:
        raw = text.encode("ascii")
    except UnicodeEncodeError:
        return None
    return base64_size(raw, 0, len(raw))


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
                audio = AudioFormat("wav", rate, rate * channels * bits // 8 or None)
        elif chunk_id == b"data":
            return WavHeader(audio, body) if audio is not None else None
        position = body + size + (size & 1)
    return None
