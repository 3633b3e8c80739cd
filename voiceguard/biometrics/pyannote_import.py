"""Importing pyannote.audio beside a CPU build of torch, where PyPI's torchaudio cannot load its C++ part.

pyannote.audio imports torchaudio as it is imported, and its embedding models compute their features with
it (WeSpeaker: ``torchaudio.compliance.kaldi.fbank``; x-vector: ``torchaudio.transforms.MFCC``). PyPI's
torchaudio wheels for Linux x86_64 are built for CUDA: their compiled libraries (``torchaudio/lib/*.so``)
link ``libc10_cuda.so``, so beside the CPU torch this project pins, ``import torchaudio`` raises ``OSError``
and there is no CPU torchaudio wheel on PyPI for a current torch.

torchaudio runs without its compiled libraries by design (a deployment where they are absent, such as a
pex): its loader then reports the extension unavailable, the parts written in PyTorch (the transforms,
``compliance.kaldi``, ``functional.resample``, the models) work as always, and the few functions that need
the C++ code raise torchaudio's own "not compiled with" error. The embedding models use only the PyTorch
parts. So when, and only when, torch is a CPU build and a torchaudio library fails to load because a CUDA
library is missing, torchaudio is imported in that mode. Nothing stands in for torchaudio: every function
that runs is torchaudio's own code, on the same inputs.

``PYANNOTE_METRICS_ENABLED=0`` (unless the operator set it) keeps pyannote's usage telemetry off: the
proxy sends nothing anywhere it was not configured to.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Final

import structlog

from voiceguard.config import ConfigError

log = structlog.get_logger("voiceguard.biometrics.speakers")

_CUDA_LIBRARIES: Final = ("libc10_cuda", "libtorch_cuda", "libcudart", "libcuda.")
_UTILS: Final = "torchaudio._extension.utils"


class SpeakerStackMissing(ConfigError):
    """The ``speaker`` extra is not installed, or its libraries cannot be imported."""


def _missing_cuda_library(exc: BaseException) -> bool:
    text = f"{exc} {exc.__cause__ or ''}"
    return any(name in text for name in _CUDA_LIBRARIES)


def _tolerant_loader(load: Callable[[str], bool]) -> Callable[[str], bool]:
    """torchaudio's ``_load_lib``, reporting a CUDA-only library as absent instead of failing."""

    def load_lib(lib: str) -> bool:
        try:
            return load(lib)
        except OSError as exc:
            if not _missing_cuda_library(exc):
                raise
            log.info("torchaudio_extension_unavailable", library=lib, reason="built for CUDA; torch is CPU")
            return False

    return load_lib


def _prepare_torchaudio() -> None:
    """Install the tolerant loader before torchaudio's package runs, if torch is a CPU build."""
    import torch

    if "torchaudio" in sys.modules or _UTILS in sys.modules or torch.version.cuda is not None:
        return
    spec = importlib.util.find_spec("torchaudio")
    if spec is None or spec.origin is None:
        raise SpeakerStackMissing("torchaudio is not installed: pip install 'voiceguard[speaker]'")
    utils_spec = importlib.util.spec_from_file_location(
        _UTILS, Path(spec.origin).parent / "_extension" / "utils.py"
    )
    if utils_spec is None or utils_spec.loader is None:
        return
    utils = importlib.util.module_from_spec(utils_spec)
    utils_spec.loader.exec_module(utils)
    utils._load_lib = _tolerant_loader(utils._load_lib)  # type: ignore[attr-defined]
    sys.modules[_UTILS] = utils


def import_pyannote() -> ModuleType:
    """``pyannote.audio``, imported once per process; raises ``SpeakerStackMissing`` with the fix."""
    os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "0")
    try:
        _prepare_torchaudio()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            import pyannote.audio
    except ImportError as exc:
        raise SpeakerStackMissing(
            f"biometrics.speaker_model needs the speaker extra: pip install 'voiceguard[speaker]' ({exc})"
        ) from exc
    except OSError as exc:
        raise SpeakerStackMissing(
            f"biometrics.speaker_model: the speaker extra's libraries do not load here: {exc}"
        ) from exc
    for warning in caught:
        # e.g. torchcodec without FFmpeg: file decoding is unavailable, and voiceguard passes waveforms.
        log.info("pyannote_import_notice", notice=str(warning.message).strip().splitlines()[0][:200])
    return pyannote.audio
