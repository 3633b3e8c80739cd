"""Audio is measured without decoding: base64 sizes, invalid base64, WAVE headers."""

from __future__ import annotations

import base64
import os
import struct

import pytest

from voiceguard.protocols.audioformat import (
    G711_ALAW,
    G711_ULAW,
    PCM16_24K,
    base64_decoded_size,
    base64_size,
    pcm16,
    wav_header,
)
from voiceguard.simulator.audio import tone_pcm16, wav


@pytest.mark.parametrize("size", [0, 1, 2, 3, 4, 959, 960, 961])
def test_base64_size_matches_the_decoded_length(size: int) -> None:
    text = base64.b64encode(os.urandom(size))
    framed = b'{"audio": "' + text + b'"}'
    assert base64_size(framed, 11, 11 + len(text)) == size
    assert base64_decoded_size(text.decode()) == size


@pytest.mark.parametrize("text", ["AAA", "A=AA", "AA=A", "AA*A", "AAAA====", "é" * 4])
def test_invalid_base64_has_no_size(text: str) -> None:
    assert base64_decoded_size(text) is None


def test_wav_header_gives_format_and_data_offset() -> None:
    header = wav_header(wav(tone_pcm16(0.1, 8000), 8000)[:64])
    assert header is not None
    assert (header.format, header.data_offset) == (pcm16(8000), 44)
    assert wav_header(b"RIFF\x00\x00") is None
    assert wav_header(b"ID3\x03" + bytes(60)) is None


def test_a_wave_header_of_another_sample_width_still_gives_its_duration() -> None:
    fmt = struct.pack("<HHIIHH", 1, 1, 8000, 8000, 1, 8)
    head = b"RIFF" + struct.pack("<I", 36) + b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt
    header = wav_header(head + b"data" + struct.pack("<I", 8000))
    assert header is not None and header.data_offset == 44
    assert header.format.seconds(8000) == pytest.approx(1.0)


def test_telephony_and_realtime_formats_know_their_duration() -> None:
    assert G711_ULAW.seconds(8000) == pytest.approx(1.0)
    assert G711_ALAW.seconds(4000) == pytest.approx(0.5)
    assert PCM16_24K.seconds(48_000) == pytest.approx(1.0)
    assert pcm16(16_000, channels=2).seconds(64_000) == pytest.approx(1.0)
