"""Synthetic talkers and a speaker-embedding checkpoint the tests build themselves.

A talker is a formant synthesiser: a glottal pulse train at its own pitch (with vibrato, jitter and falling
intonation) through three vocal-tract resonances scaled by its own tract length, cut into syllables with
fricative noise between them. Silero VAD takes it for speech. Each talker keeps to one vowel, so every window
of its speech has the same spectrum and two talkers differ in pitch and formants: what a speaker model with
random weights can tell apart (one trained on real voices is needed for real speech).

The checkpoint is a real pyannote.audio ``XVectorMFCC`` with seeded random weights, given the specifications
a trained embedding model carries, and saved by Lightning's own ``Trainer.save_checkpoint`` as the
``pytorch_model.bin`` that ``Model.from_pretrained`` reads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
from scipy.signal import lfilter, resample_poly

RATE: Final = 16_000
VOWELS: Final = {
    "a": (730.0, 1090.0, 2440.0),
    "i": (270.0, 2290.0, 3010.0),
    "o": (640.0, 1190.0, 2390.0),
}
BANDWIDTHS: Final = (90.0, 110.0, 170.0)
Audio = npt.NDArray[np.float32]


def talker(seconds: float, pitch: float, tract: float, vowel: str, seed: int) -> Audio:
    """``seconds`` of one synthetic talker at 16 kHz, peak 0.5."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    hop = RATE // 100
    frames = n // hop + 1
    voiced = np.zeros(frames)
    noisy = np.zeros(frames)
    index = 0
    while index < frames:
        consonant, vowel_frames = int(rng.integers(5, 9)), int(rng.integers(12, 22))
        noisy[index : index + consonant] = rng.uniform(0.2, 0.5) if rng.random() < 0.6 else 0.0
        start = index + consonant
        shape = np.sin(np.pi * (np.arange(vowel_frames) + 1) / (vowel_frames + 1))
        voiced[start : start + vowel_frames] = shape[: max(0, min(vowel_frames, frames - start))]
        index = start + vowel_frames + (int(rng.integers(10, 25)) if rng.random() < 0.12 else 0)
    t = np.arange(n) / RATE
    jitter = np.repeat(rng.standard_normal(frames), hop)[:n]
    f0 = (
        pitch
        * (1 - 0.15 * ((t % 2.5) / 2.5))
        * (1 + 0.02 * np.sin(2 * np.pi * 4.5 * t))
        * (1 + 0.02 * jitter)
    )
    phase = np.cumsum(f0) / RATE % 1.0
    glottis = np.where(phase < 0.6, 0.5 * (1 - np.cos(np.pi * phase / 0.6)), 0.0)
    noise = rng.standard_normal(n)
    amplitude = np.repeat(voiced, hop)[:n]
    source = (np.diff(glottis, prepend=0.0) * RATE / pitch / 10 + 0.03 * noise) * amplitude
    tract_out = source
    for formant, bandwidth in zip(VOWELS[vowel], BANDWIDTHS, strict=True):
        radius = np.exp(-np.pi * bandwidth / RATE)
        theta = 2 * np.pi * formant * tract / RATE
        tract_out = lfilter([1 - radius], [1, -2 * radius * np.cos(theta), radius * radius], tract_out)
    tract_out = tract_out / (np.max(np.abs(tract_out)) + 1e-9)
    hiss = lfilter([1, -0.95], [1], noise) * np.repeat(noisy, hop)[:n] * 0.15
    out = tract_out + hiss
    return (out / np.max(np.abs(out)) * 0.5).astype(np.float32)


ALICE: Final = {"pitch": 110.0, "tract": 1.0, "vowel": "a"}
BOB: Final = {"pitch": 220.0, "tract": 1.2, "vowel": "i"}


def alice(seconds: float, seed: int = 1) -> Audio:
    return talker(seconds, seed=seed, **ALICE)  # type: ignore[arg-type]


def bob(seconds: float, seed: int = 2) -> Audio:
    return talker(seconds, seed=seed, **BOB)  # type: ignore[arg-type]


def pcm16(audio: Audio) -> bytes:
    return (np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes()


def mulaw_8k(audio: Audio) -> bytes:
    """G.711 µ-law at 8 kHz, as Twilio sends a call's audio."""
    x = np.clip(resample_poly(audio, 1, 2) * 32768, -32635, 32635).astype(np.int32)
    sign = np.where(x < 0, 0x80, 0)
    magnitude = np.abs(x) + 0x84
    exponent = np.floor(np.log2(magnitude)).astype(np.int32) - 7
    exponent = np.clip(exponent, 0, 7)
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return (~(sign | (exponent << 4) | mantissa) & 0xFF).astype(np.uint8).tobytes()


def save_checkpoint(directory: Path, seed: int = 0) -> Path:
    """A pyannote.audio x-vector embedding model with seeded random weights, saved as Lightning does."""
    from voiceguard.biometrics.pyannote_import import import_pyannote

    import_pyannote()  # first: it decides how torchaudio loads
    import lightning
    import torch
    from pyannote.audio.core.task import Problem, Resolution, Specifications
    from pyannote.audio.models.embedding import XVectorMFCC

    torch.manual_seed(seed)
    model = XVectorMFCC(sample_rate=RATE, mfcc={"melkwargs": {"n_mels": 40}})
    model.specifications = Specifications(
        problem=Problem.REPRESENTATION, resolution=Resolution.CHUNK, duration=3.0
    )
    trainer = lightning.Trainer(
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.strategy.connect(model)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "pytorch_model.bin"
    trainer.save_checkpoint(path)
    return path
