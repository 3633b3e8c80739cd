"""Redacted words are silenced or beeped in kept recordings, padded, in PCM and in µ-law."""

from __future__ import annotations

import itertools
import math
from array import array

import pytest

from voiceguard.events import Word
from voiceguard.pii.audio import (
    MULAW_SILENCE,
    TimeSpan,
    linear_to_mulaw,
    mute_mulaw,
    mute_pcm16,
    redact_recording,
    time_spans,
    words_to_redact,
)
from voiceguard.pii.engine import PiiEngine

RATE = 8000


def tone(seconds: float, hz: float = 440.0, rate: int = RATE) -> list[int]:
    return [int(12000 * math.sin(2 * math.pi * hz * n / rate)) for n in range(int(seconds * rate))]


def pcm(samples: list[int]) -> bytes:
    return array("h", samples).tobytes()


def samples_of(audio: bytes) -> array[int]:
    out = array("h")
    out.frombytes(audio)
    return out


def rms(samples: array[int] | list[int]) -> float:
    return math.sqrt(sum(s * s for s in samples) / max(1, len(samples)))


def zero_crossings(samples: array[int]) -> int:
    return sum(1 for a, b in itertools.pairwise(samples) if (a < 0) != (b < 0))


SPOKEN = [
    Word("my", 0.0, 0.3),
    Word("card", 0.3, 0.6),
    Word("is", 0.6, 0.8),
    *[Word(digit, 1.0 + 0.25 * i, 1.2 + 0.25 * i) for i, digit in enumerate(["four", "one"] + ["one"] * 14)],
    Word("thanks", 5.5, 5.9),
]


def test_the_words_of_a_spoken_card_are_the_ones_to_redact(pattern_engine: PiiEngine) -> None:
    assert words_to_redact(SPOKEN, pattern_engine) == list(range(3, 19))


def test_spans_are_padded_merged_and_clipped() -> None:
    words = [Word("a", 0.1, 0.2), Word("b", 0.3, 0.4), Word("c", 2.0, 2.5)]
    assert time_spans(words, [0, 1, 2], padding_s=0.25, duration_s=2.6) == [
        TimeSpan(0.0, 0.65),
        TimeSpan(1.75, 2.6),
    ]


def test_a_redacted_word_without_times_mutes_everything() -> None:
    words = [Word("four"), Word("one", 1.0, 1.2)]
    assert time_spans(words, [0], duration_s=3.0) == [TimeSpan(0.0, 3.0)]


def test_pcm_spans_are_silenced_and_the_rest_is_untouched() -> None:
    original = tone(3.0)
    out = samples_of(mute_pcm16(pcm(original), RATE, [TimeSpan(1.0, 2.0)]))
    assert len(out) == len(original)
    assert rms(out[RATE : 2 * RATE]) == 0
    assert (
        list(out[: RATE - 1]) == original[: RATE - 1]
        and list(out[2 * RATE + 1 :]) == original[2 * RATE + 1 :]
    )


def test_pcm_spans_can_be_beeped_instead() -> None:
    out = samples_of(mute_pcm16(pcm([0] * 3 * RATE), RATE, [TimeSpan(1.0, 2.0)], beep_hz=1000))
    beep = out[RATE : 2 * RATE]
    assert rms(beep) > 3000 and abs(zero_crossings(beep) - 2000) < 20
    assert rms(out[:RATE]) == 0


def test_stereo_frames_are_muted_on_both_channels() -> None:
    interleaved = [value for sample in tone(2.0) for value in (sample, -sample)]
    out = samples_of(mute_pcm16(pcm(interleaved), RATE, [TimeSpan(0.5, 1.0)], channels=2))
    assert rms(out[RATE : 2 * RATE]) == 0 and rms(out[2 * RATE :]) > 1000


def test_mulaw_spans_are_silenced_or_beeped() -> None:
    original = bytes(linear_to_mulaw(sample) for sample in tone(2.0))
    silenced = mute_mulaw(original, RATE, [TimeSpan(0.5, 1.0)])
    assert set(silenced[RATE // 2 : RATE]) == {MULAW_SILENCE}
    assert silenced[:3000] == original[:3000] and silenced[RATE + 1 :] == original[RATE + 1 :]
    beeped = mute_mulaw(original, RATE, [TimeSpan(0.5, 1.0)], beep_hz=1000)
    assert len(set(beeped[RATE // 2 : RATE])) > 4


def test_mulaw_encoding_matches_g711() -> None:
    assert [linear_to_mulaw(v) for v in (0, -1, 32767, -32768, 1000)] == [0xFF, 0x7F, 0x80, 0x00, 0xCE]


def test_a_recording_with_a_spoken_card_keeps_only_the_words_around_it(pattern_engine: PiiEngine) -> None:
    audio = pcm(tone(6.0))
    redacted, spans = redact_recording(
        audio, encoding="pcm16", sample_rate=RATE, words=SPOKEN, engine=pattern_engine
    )
    [span] = spans
    assert (span.start_s, span.end_s) == (0.75, pytest.approx(4.95 + 0.25))
    out = samples_of(redacted)
    assert rms(out[int(0.76 * RATE) : int(5.19 * RATE)]) == 0
    assert rms(out[: int(0.7 * RATE)]) > 1000 and rms(out[int(5.5 * RATE) :]) > 1000
