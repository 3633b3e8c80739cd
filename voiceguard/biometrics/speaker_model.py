"""The two models speaker-change detection runs: Silero VAD (where the speech is) and a pyannote.audio
speaker-embedding model (whose voice it is).

The embedding model is loaded with pyannote's own ``Model.from_pretrained``: a local checkpoint (a
``pytorch_model.bin`` file, or a directory holding one) or a Hugging Face hub name such as
``pyannote/wespeaker-voxceleb-resnet34-LM`` with a token for gated models. Silero's model ships inside its
wheel, so VAD never downloads anything. Both run on the CPU in the detector's worker thread, one window at a
time; nothing here keeps audio or embeddings between calls of its methods.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from voiceguard.biometrics.pcm import Samples
from voiceguard.biometrics.pyannote_import import SpeakerStackMissing, import_pyannote
from voiceguard.config import ConfigError

MODEL_SAMPLE_RATE: Final = 16_000
"""Silero VAD and pyannote's published embedding models take 16 kHz audio."""

Embedding = npt.NDArray[np.float32]


class SpeakerModelError(ConfigError):
    """The configured speaker model cannot be loaded; the message says what to fix."""


@dataclass(frozen=True, slots=True)
class VadSettings:
    threshold: float = 0.5
    min_speech_ms: int = 250
    min_silence_ms: int = 100


def _looks_local(source: str) -> bool:
    return source.startswith(("/", "./", "../", "~")) or (os.sep in source and Path(source).exists())


def load_embedding_model(source: str, token: str | None) -> Any:
    """pyannote's ``Model`` for ``source``, in inference mode; raises ``SpeakerModelError`` with the fix."""
    import_pyannote()
    from pyannote.audio import Model
    from pyannote.audio.core.task import Problem

    local = Path(source).expanduser()
    if _looks_local(source) or local.exists():
        if not local.exists():
            raise SpeakerModelError(f"biometrics.speaker_model: no speaker model checkpoint at {local}")
        target: str = str(local)
    else:
        target = source
    try:
        model = Model.from_pretrained(target, token=token)
    except Exception as exc:
        where = "from the Hugging Face hub" if target == source and not local.exists() else f"from {target}"
        raise SpeakerModelError(f"biometrics.speaker_model: cannot load {source!r} {where}: {exc}") from exc
    if model is None:
        raise SpeakerModelError(
            f"biometrics.speaker_model: the hub did not give {source!r}: check the name, that the token has "
            "accepted the model's conditions, and that the hub is reachable"
        )
    problem = getattr(model.specifications, "problem", None)
    if problem is not Problem.REPRESENTATION:
        raise SpeakerModelError(
            f"biometrics.speaker_model: {source!r} is a {getattr(problem, 'name', problem)} model, "
            "not a speaker-embedding model"
        )
    model.eval()
    return model


class SpeakerModels:
    """VAD and embedding, loaded once per process and used from one worker thread."""

    def __init__(self, embedding_model: Any, vad: VadSettings) -> None:
        import torch
        from silero_vad import get_speech_timestamps, load_silero_vad  # type: ignore[import-untyped]

        self._torch = torch
        self._embedding = embedding_model
        with warnings.catch_warnings():
            # Silero ships a TorchScript model; torch 2.13 deprecates loading those, not running them.
            warnings.filterwarnings("ignore", r"`torch\.jit\.load` is deprecated", DeprecationWarning)
            self._vad_model = load_silero_vad()
        self._timestamps = get_speech_timestamps
        self._vad = vad
        rate = getattr(getattr(embedding_model, "hparams", None), "sample_rate", MODEL_SAMPLE_RATE)
        if rate != MODEL_SAMPLE_RATE:
            raise SpeakerModelError(
                f"biometrics.speaker_model takes {rate} Hz audio; voiceguard feeds it 16000 Hz"
            )

    @classmethod
    def load(cls, source: str, token: str | None, vad: VadSettings, threads: int = 1) -> SpeakerModels:
        try:
            import torch
        except ImportError as exc:
            raise SpeakerStackMissing(
                "biometrics.speaker_model needs the speaker extra: pip install 'voiceguard[speaker]'"
            ) from exc
        torch.set_num_threads(threads)
        return cls(load_embedding_model(source, token), vad)

    def speech(self, samples: Samples) -> Samples:
        """Only the stretches of ``samples`` (16 kHz) that Silero VAD takes for speech, joined."""
        if samples.size < 512:
            return samples[:0]
        with self._torch.inference_mode():
            regions = self._timestamps(
                self._torch.from_numpy(samples),
                self._vad_model,
                threshold=self._vad.threshold,
                sampling_rate=MODEL_SAMPLE_RATE,
                min_speech_duration_ms=self._vad.min_speech_ms,
                min_silence_duration_ms=self._vad.min_silence_ms,
                speech_pad_ms=0,
            )
        if not regions:
            return samples[:0]
        return np.concatenate([samples[region["start"] : region["end"]] for region in regions])

    def embed(self, window: Samples) -> Embedding:
        """The speaker embedding of one stretch of speech (16 kHz)."""
        torch = self._torch
        with torch.inference_mode():
            waveform = torch.from_numpy(np.ascontiguousarray(window)).reshape(1, 1, -1)
            out = self._embedding(waveform)
        vector = out[0] if isinstance(out, tuple) else out
        return np.asarray(vector.reshape(-1).float().numpy(), dtype=np.float32)
