"""Speaker-change detection with real models: Silero VAD and a pyannote.audio checkpoint this test created.

The checkpoint has random weights, so these tests prove the mechanics (loading through pyannote's own
``Model.from_pretrained``, VAD, windows, thresholds, the worker thread, consent failing closed), not accuracy:
telling real people apart needs trained weights such as pyannote/wespeaker-voxceleb-resnet34-LM.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from tests.biometrics.synthetic_voices import RATE, alice, bob, mulaw_8k, pcm16
from voiceguard.biometrics.call_state import CALL_SPEAKERS, CallSpeakers
from voiceguard.biometrics.pcm import decode, resample
from voiceguard.biometrics.speaker_change import SpeakerChangeDetector, SpeakerSettings
from voiceguard.biometrics.speaker_model import SpeakerModelError, SpeakerModels, VadSettings
from voiceguard.config import ConfigError
from voiceguard.events import AudioChunk, Direction
from voiceguard.records import CallEnded
from voiceguard.session import Call
from voiceguard.testing import make_call

THRESHOLD = 0.02
"""Between what this checkpoint gives for two windows of one talker and for two talkers (checked below)."""
FRAME = 160
"""20 ms of 8 kHz µ-law, as Twilio frames a call."""


@pytest.fixture(scope="module")
def models(speaker_checkpoint: Path) -> SpeakerModels:
    return SpeakerModels.load(str(speaker_checkpoint), None, VadSettings())


def cosine_distance(a: np.ndarray, b: np.ndarray) -> float:
    return 1.0 - float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


def windows(models: SpeakerModels, audio: np.ndarray) -> list[np.ndarray]:
    """Embeddings of 2 s windows of speech, through the path the detector takes (µ-law 8 kHz in)."""
    samples = resample(decode(mulaw_8k(audio), "mulaw"), 8_000, RATE)
    speech = models.speech(samples)
    return [models.embed(speech[i : i + 2 * RATE]) for i in range(0, speech.size - 2 * RATE + 1, 2 * RATE)]


def test_a_lightning_checkpoint_loads_through_from_pretrained_as_a_file_or_a_directory(
    speaker_checkpoint: Path, models: SpeakerModels
) -> None:
    from_file = SpeakerModels.load(str(speaker_checkpoint / "pytorch_model.bin"), None, VadSettings())
    window = alice(2.0)
    assert models.embed(window).shape == (512,)
    np.testing.assert_allclose(models.embed(window), from_file.embed(window), rtol=1e-5)


def test_a_missing_checkpoint_or_a_model_that_embeds_nothing_is_a_configuration_error(
    tmp_path: Path,
) -> None:
    with pytest.raises(ConfigError, match="no speaker model checkpoint"):
        SpeakerModels.load(str(tmp_path / "absent"), None, VadSettings())
    not_a_checkpoint = tmp_path / "pytorch_model.bin"
    not_a_checkpoint.write_bytes(b"not a checkpoint")
    with pytest.raises(SpeakerModelError, match="cannot load"):
        SpeakerModels.load(str(tmp_path), None, VadSettings())


def test_vad_keeps_the_synthetic_talkers_speech_and_drops_noise(models: SpeakerModels) -> None:
    speech = alice(4.0)
    assert models.speech(speech).size > 0.8 * speech.size
    noise = (0.01 * np.random.default_rng(0).standard_normal(4 * RATE)).astype(np.float32)
    assert models.speech(noise).size == 0
    assert models.speech(np.zeros(4 * RATE, dtype=np.float32)).size == 0


def test_the_created_checkpoint_puts_two_talkers_beyond_the_threshold_and_one_talker_within(
    models: SpeakerModels,
) -> None:
    first, again, other = (
        windows(models, alice(10)),
        windows(models, alice(10, seed=7)),
        windows(models, bob(10)),
    )
    same = [cosine_distance(first[0], e) for e in first[1:] + again]
    different = [cosine_distance(first[0], e) for e in other]
    assert len(same) >= 6 and len(different) >= 3
    assert max(same) < THRESHOLD < min(different)


async def detect(
    checkpoint: Path, *chunks: np.ndarray, call: Call | None = None, **overrides: object
) -> tuple[SpeakerChangeDetector, Call]:
    """Stream ``chunks`` of one call through a detector as Twilio would (µ-law, 20 ms frames)."""
    settings = SpeakerSettings(model=str(checkpoint), threshold=THRESHOLD, **overrides)  # type: ignore[arg-type]
    detector = SpeakerChangeDetector(settings, needed=lambda call: True)
    await detector.load()
    call = call or make_call(jurisdiction="US-IL")
    feed = detector.feed(call)
    for audio in chunks:
        data = mulaw_8k(audio)
        for offset in range(0, len(data), FRAME):
            frame = data[offset : offset + FRAME]
            feed.audio(
                AudioChunk(Direction.TO_UPSTREAM, len(frame), len(frame) / 8_000, "mulaw", 8_000), frame
            )
            await asyncio.sleep(0)
    feed.flush()
    await detector.idle()
    return detector, call


async def test_a_second_talker_joining_is_detected_and_one_talker_alone_is_not(
    speaker_checkpoint: Path,
) -> None:
    detector, call = await detect(speaker_checkpoint, alice(8), bob(8))
    speakers = call.scratch(CALL_SPEAKERS, CallSpeakers)
    assert (speakers.voices, speakers.changes, speakers.unverified) == (2, 1, False)
    await detector.close()

    detector, call = await detect(speaker_checkpoint, alice(8), alice(8, seed=9))
    speakers = call.scratch(CALL_SPEAKERS, CallSpeakers)
    assert (speakers.voices, speakers.changes, speakers.unverified) == (1, 0, False)
    await detector.close()


async def test_audio_beyond_the_queue_goes_unchecked_and_the_call_is_unverified(
    speaker_checkpoint: Path,
) -> None:
    detector, call = await detect(speaker_checkpoint, alice(2), queue_seconds=0.5)
    speakers = call.scratch(CALL_SPEAKERS, CallSpeakers)
    assert speakers.unverified and speakers.unchecked_reason == "overloaded"
    assert speakers.unchecked_seconds >= 1.0
    await detector.close()


async def test_compressed_audio_cannot_be_checked_and_the_call_is_unverified(
    speaker_checkpoint: Path,
) -> None:
    detector = SpeakerChangeDetector(SpeakerSettings(model=str(speaker_checkpoint)), needed=lambda c: True)
    await detector.load()
    call = make_call(jurisdiction="US-IL")
    detector.feed(call).audio(AudioChunk(Direction.TO_UPSTREAM, 400, 0.02, "opus", 48_000), b"\x00" * 400)
    speakers = call.scratch(CALL_SPEAKERS, CallSpeakers)
    assert speakers.unchecked_reason == "undecodable" and speakers.voices == 0
    await detector.close()


async def test_calls_whose_jurisdiction_gates_no_voiceprints_are_not_analysed(
    speaker_checkpoint: Path,
) -> None:
    detector = SpeakerChangeDetector(
        SpeakerSettings(model=str(speaker_checkpoint), threshold=THRESHOLD),
        needed=lambda call: call.jurisdiction == "US-IL",
    )
    await detector.load()
    call = make_call(jurisdiction="US-CA")
    data = pcm16(alice(3))
    detector.feed(call).audio(AudioChunk(Direction.TO_UPSTREAM, len(data), 3.0, "linear16", RATE), data)
    await detector.idle()
    assert call.scratch(CALL_SPEAKERS, CallSpeakers).voices == 0 and detector.queued_seconds == 0
    await detector.close()


async def test_the_calls_embeddings_are_overwritten_when_the_call_ends(speaker_checkpoint: Path) -> None:
    detector, call = await detect(speaker_checkpoint, alice(6))
    voices = call.scratch("voiceguard.speakers.voices", lambda: None)
    assert voices is not None
    centroid = voices.registry._centroids[0]
    assert centroid.any()
    detector.handle(CallEnded(call, 0))
    await detector.close()
    assert not centroid.any() and voices.registry._centroids == []
