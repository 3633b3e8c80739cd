"""Speaker-change detection: compute per window, side by side for the two pyannote embedding architectures.

Run: ``python -m benchmarks.speaker_change`` (needs the ``speaker`` extra). Builds, with random weights,
the x-vector model the tests use and WeSpeaker ResNet34 (the architecture of
pyannote/wespeaker-voxceleb-resnet34-LM: weights change what it says, not what it costs), saves each as a
checkpoint, loads it through ``SpeakerModels.load`` as the proxy does, and prints per 2 s window of speech
the embedding time (p50/p99), Silero VAD's time per second of audio, and how many windows per second one
worker thread keeps up with. Accuracy is not measured: that needs trained weights and real recordings.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final

from tests.biometrics.synthetic_voices import RATE, alice
from voiceguard.biometrics.speaker_model import SpeakerModels, VadSettings

WINDOW_SECONDS: Final = 2.0
ROUNDS: Final = 20


def timings(work: Callable[[], object], rounds: int = ROUNDS) -> list[float]:
    work()  # warm-up
    out = []
    for _ in range(rounds):
        started = time.perf_counter()
        work()
        out.append(time.perf_counter() - started)
    return out


def checkpoint(architecture: str, directory: Path) -> Path:
    from voiceguard.biometrics.pyannote_import import import_pyannote

    import_pyannote()
    import lightning
    from pyannote.audio.core.task import Problem, Resolution, Specifications
    from pyannote.audio.models.embedding import WeSpeakerResNet34, XVectorMFCC

    model = (
        XVectorMFCC(sample_rate=RATE, mfcc={"melkwargs": {"n_mels": 40}})
        if architecture == "xvector"
        else WeSpeakerResNet34(sample_rate=RATE)
    )
    model.specifications = Specifications(
        problem=Problem.REPRESENTATION, resolution=Resolution.CHUNK, duration=3.0
    )
    trainer = lightning.Trainer(
        accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False,
    )  # fmt: skip
    trainer.strategy.connect(model)
    path = directory / architecture / "pytorch_model.bin"
    path.parent.mkdir(parents=True)
    trainer.save_checkpoint(path)
    return path


def main() -> None:
    window = alice(WINDOW_SECONDS)
    second = alice(1.0)
    print(f"{'model':<22}{'embed p50 ms':>14}{'embed p99 ms':>14}{'VAD ms/s':>10}{'windows/s':>11}")
    with tempfile.TemporaryDirectory() as scratch:
        for architecture in ("xvector", "wespeaker-resnet34"):
            models = SpeakerModels.load(str(checkpoint(architecture, Path(scratch))), None, VadSettings())
            embed = sorted(timings(lambda models=models: models.embed(window)))
            vad = statistics.median(timings(lambda models=models: models.speech(second)))
            p50 = statistics.median(embed)
            p99 = embed[min(len(embed) - 1, int(len(embed) * 0.99))]
            print(
                f"{architecture:<22}{p50 * 1000:>14.1f}{p99 * 1000:>14.1f}{vad * 1000:>10.1f}"
                f"{1 / (p50 + vad * WINDOW_SECONDS):>11.1f}"
            )
    print(
        "windows/s: 2 s windows one worker thread analyses per second (embedding plus VAD of its audio);"
        " a call at one window per 2 s of speech needs 0.5 of them."
    )


if __name__ == "__main__":
    main()
