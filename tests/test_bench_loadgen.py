"""The load generator's pure parts and the round order: what every benchmark figure rests on."""

from __future__ import annotations

import pytest

from benchmarks.loadgen import AUDIO_BODY, BOUNDARY, _check_loopback, multipart_body, wav
from benchmarks.run import Sizes, Target, rotated


def test_wav_header_describes_16khz_mono_pcm16() -> None:
    audio = wav(1)
    assert audio[:4] == b"RIFF" and audio[8:16] == b"WAVEfmt "
    assert int.from_bytes(audio[24:28], "little") == 16_000
    assert int.from_bytes(audio[40:44], "little") == 32_000 == len(audio) - 44


def test_multipart_upload_carries_the_model_and_the_file() -> None:
    body = multipart_body(b"RIFFdata")
    assert body.startswith(f"--{BOUNDARY}\r\n".encode()) and body.endswith(f"--{BOUNDARY}--\r\n".encode())
    assert b'name="model"\r\n\r\nwhisper-1\r\n' in body
    assert b'filename="turn.wav"\r\nContent-Type: audio/wav\r\n\r\nRIFFdata\r\n' in body
    assert len(AUDIO_BODY) > 96_000


def test_the_generator_refuses_anything_but_loopback() -> None:
    _check_loopback("http://127.0.0.1:8080/openai")
    with pytest.raises(ValueError, match="loopback"):
        _check_loopback("http://api.openai.com/v1")


def test_rounds_rotate_so_no_target_always_follows_another() -> None:
    targets = [Target(name, f"http://127.0.0.1/{name}") for name in "abc"]
    orders = ["".join(t.name for t in rotated(targets, index)) for index in range(4)]
    assert orders == ["abc", "bca", "cab", "abc"]
    assert rotated([], 3) == []


def test_sizes_quick_is_smaller_and_overrides_apply() -> None:
    full, quick = Sizes.pick(False, None, None, 10), Sizes.pick(True, None, None, 10)
    assert quick.requests < full.requests and len(quick.rates) < len(full.rates)
    assert 200 in full.call_steps and 200 in quick.call_steps
    tuned = Sizes.pick(True, 50, 0.5, 4)
    assert (tuned.requests, tuned.rps_seconds, tuned.frame_seconds, tuned.clients) == (50, 0.5, 0.5, 4)
