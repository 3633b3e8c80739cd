"""The decision of which voice a window belongs to, and the decoding of caller audio, without models."""

from __future__ import annotations

import numpy as np
import pytest

from tests.biometrics.synthetic_voices import alice, mulaw_8k
from voiceguard.biometrics.call_state import CallSpeakers
from voiceguard.biometrics.pcm import ALAW, MULAW, decodable, decode, resample
from voiceguard.biometrics.voices import Verdict, VoiceRegistry

NORTH = np.array([0.0, 1.0, 0.0], dtype=np.float32)
EAST = np.array([1.0, 0.0, 0.0], dtype=np.float32)
UP = np.array([0.0, 0.0, 1.0], dtype=np.float32)


def near(vector: np.ndarray, nudge: float) -> np.ndarray:
    return np.asarray(vector + nudge * np.array([0.05, 0.03, 0.04], dtype=np.float32), dtype=np.float32)


def test_the_first_window_is_the_first_voice_and_like_windows_stay_with_it() -> None:
    registry = VoiceRegistry(threshold=0.3)
    assert registry.observe(NORTH * 3).verdict is Verdict.FIRST
    same = registry.observe(near(NORTH, 1))
    assert same.verdict is Verdict.SAME and same.voice == 0 and same.distance < 0.01
    assert registry.voices == 1


def test_a_new_voice_counts_only_after_enough_agreeing_windows() -> None:
    registry = VoiceRegistry(threshold=0.3, confirm=2)
    registry.observe(NORTH)
    assert registry.observe(EAST).verdict is Verdict.PENDING
    joined = registry.observe(near(EAST, 1))
    assert joined.verdict is Verdict.NEW and joined.voice == 1 and joined.distance > 0.9
    assert registry.voices == 2
    assert registry.observe(EAST).verdict is Verdict.SAME
    assert registry.observe(NORTH).voice == 0


def test_one_odd_window_between_the_subjects_windows_adds_nobody() -> None:
    registry = VoiceRegistry(threshold=0.3, confirm=2)
    registry.observe(NORTH)
    assert registry.observe(EAST).verdict is Verdict.PENDING
    assert registry.observe(NORTH).verdict is Verdict.SAME
    assert registry.observe(UP).verdict is Verdict.PENDING
    assert registry.voices == 1


def test_two_unlike_candidates_that_disagree_start_the_confirmation_again() -> None:
    registry = VoiceRegistry(threshold=0.3, confirm=2)
    registry.observe(NORTH)
    assert registry.observe(EAST).verdict is Verdict.PENDING
    assert registry.observe(UP).verdict is Verdict.PENDING
    assert registry.observe(UP).verdict is Verdict.NEW


def test_forget_overwrites_the_embeddings_and_a_bad_embedding_is_an_error() -> None:
    registry = VoiceRegistry(threshold=0.3)
    registry.observe(NORTH)
    centroid = registry._centroids[0]
    registry.forget()
    assert not centroid.any() and registry._centroids == []
    with pytest.raises(ValueError, match="non-finite"):
        registry.observe(np.array([np.nan, 0, 0], dtype=np.float32))
    with pytest.raises(ValueError, match="between 0 and 2"):
        VoiceRegistry(threshold=0)


def test_unchecked_audio_makes_the_call_unverified_with_the_first_reason() -> None:
    speakers = CallSpeakers()
    assert not speakers.unverified
    speakers.unchecked(1.0, "overloaded")
    speakers.unchecked(0.5, "model_error")
    assert speakers.unverified and speakers.unchecked_reason == "overloaded"
    assert speakers.unchecked_seconds == 1.5


def test_g711_tables_follow_the_standard() -> None:
    assert MULAW[0xFF] == 0 and MULAW[0x7F] == 0
    assert MULAW[0x00] == -32124 and MULAW[0x80] == 32124
    assert ALAW[0xD5] == 8 and ALAW[0x55] == -8
    assert ALAW[0xAA] == 32256 and ALAW[0x2A] == -32256


def test_mulaw_from_a_telephone_call_decodes_close_to_the_original() -> None:
    original = alice(0.5)
    decoded = resample(decode(mulaw_8k(original), "mulaw"), 8_000, 16_000)
    assert decoded.dtype == np.float32 and decoded.size == original.size
    correlation = np.corrcoef(original[200:-200], decoded[200:-200])[0, 1]
    assert correlation > 0.95


def test_pcm16_decodes_little_endian_and_ignores_a_trailing_odd_byte() -> None:
    samples = decode(np.array([0, 16384, -32768], dtype="<i2").tobytes() + b"\x01", "linear16")
    assert samples.tolist() == [0.0, 0.5, -1.0]


def test_only_uncompressed_audio_with_a_rate_is_decodable() -> None:
    assert decodable("mulaw", 8_000) and decodable("linear16", 48_000) and decodable("alaw", 8_000)
    assert not decodable("opus", 48_000) and not decodable("linear16", None)
    with pytest.raises(ValueError, match="opus"):
        decode(b"\x00", "opus")
