"""Voice anonymisation: added latency per 20 ms frame, how far it moves a voice, how little it moves words.

Run: ``python -m benchmarks.voice_anonymisation``. Prints, side by side for the original and the
anonymised audio:

- compute time per 20 ms frame of 16 kHz PCM (p50/p99) and the algorithmic delay;
- a speaker-similarity score: cosine similarity of mean LPC-cepstrum vectors. This is a classical,
  untrained stand-in for a speaker-verification model (no trained embedding model ships offline here); it
  tracks the vocal-tract envelope the transform changes, so read it as "how far the envelope moved", not as
  an equal-error rate. With the ``speaker`` weights of a real model the same script shape applies;
- transcripts of both by PocketSphinx (its English model ships in the ``pocketsphinx`` wheel) and the word
  error rate between them, when ``pocketsphinx`` is installed; speech comes from ``espeak-ng`` (Debian
  package) in two voices. Without either tool the script says so and prints what it can.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import time
from typing import Final

import numpy as np

from voiceguard.biometrics.anonymise import McAdamsAnonymiser

RATE: Final = 16_000
FRAME_BYTES: Final = RATE // 50 * 2
SENTENCE: Final = "please transfer me to the billing department about my last invoice"


def speech(voice: str) -> bytes | None:
    if shutil.which("espeak-ng") is None:
        return None
    wav = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", "150", "--stdout", SENTENCE], capture_output=True, check=True
    ).stdout
    pcm = np.frombuffer(wav[44:], dtype="<i2").astype(np.float64)
    source_rate = 22_050
    resampled = np.interp(np.arange(0, len(pcm), source_rate / RATE), np.arange(len(pcm)), pcm)
    return resampled.astype("<i2").tobytes()


def anonymise(pcm: bytes, alpha: float) -> tuple[bytes, list[float]]:
    anonymiser = McAdamsAnonymiser(RATE, alpha=alpha)
    out, timings = [], []
    for offset in range(0, len(pcm), FRAME_BYTES):
        started = time.perf_counter_ns()
        out.append(anonymiser.process(pcm[offset : offset + FRAME_BYTES]))
        timings.append((time.perf_counter_ns() - started) / 1e6)
    out.append(anonymiser.flush())
    return b"".join(out)[anonymiser.delay_samples * 2 :], timings


def cepstral_profile(pcm: bytes, order: int = 16) -> np.ndarray:
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    frames = [samples[i : i + 400] * np.hamming(400) for i in range(0, len(samples) - 400, 160)]
    energetic = [f for f in frames if np.sqrt(np.mean(f**2)) > 300]
    ceps = [np.fft.irfft(np.log(np.abs(np.fft.rfft(f, 512)) + 1e-6))[1 : order + 1] for f in energetic]
    return np.mean(ceps, axis=0)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def transcribe(pcm: bytes) -> str | None:
    try:
        from pocketsphinx import Decoder
    except ImportError:
        return None
    decoder = Decoder(samprate=RATE)
    decoder.start_utt()
    decoder.process_raw(pcm, full_utt=True)
    decoder.end_utt()
    return decoder.hyp().hypstr if decoder.hyp() else ""


def wer(reference: str, hypothesis: str) -> float:
    ref, hyp = reference.split(), hypothesis.split()
    d = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, d[0] = d[0], i
        for j, h in enumerate(hyp, 1):
            prev, d[j] = d[j], min(d[j] + 1, d[j - 1] + 1, prev + (r != h))
    return d[len(hyp)] / max(1, len(ref))


def main() -> None:
    print("voice anonymisation (McAdams, 16 kHz, 20 ms frames, 50% overlap)")
    noise = (np.random.default_rng(1).normal(0, 3000, RATE * 5)).astype("<i2").tobytes()
    _, timings = anonymise(noise, 0.8)
    timings.sort()
    p99 = timings[int(len(timings) * 0.99)]
    print(f"  compute per 20 ms frame: p50 {statistics.median(timings):.3f} ms  p99 {p99:.3f} ms")
    print(f"  algorithmic delay: {McAdamsAnonymiser(RATE).delay_samples / RATE * 1000:.1f} ms")
    voices = {name: speech(name) for name in ("en-us", "en-us+m3")}
    if any(pcm is None for pcm in voices.values()):
        print("  espeak-ng is not installed (apt-get install espeak-ng): no speech, no similarity or WER")
        return
    a, b = voices["en-us"], voices["en-us+m3"]
    assert a is not None and b is not None
    base_a, base_b = cepstral_profile(a), cepstral_profile(b)
    print(f"  envelope similarity, voice A vs voice B (different speakers): {cosine(base_a, base_b):.3f}")
    for alpha in (0.9, 0.8, 0.7):
        anon_a, _ = anonymise(a, alpha)
        similarity = cosine(base_a, cepstral_profile(anon_a))
        line = f"  alpha {alpha}: envelope similarity A vs anonymised A {similarity:.3f}"
        original_text, anon_text = transcribe(a), transcribe(anon_a)
        if original_text is None or anon_text is None:
            line += "  (pocketsphinx not installed: no transcripts)"
        else:
            line += (
                f"  WER vs script: original {wer(SENTENCE, original_text):.2f}, "
                f"anonymised {wer(SENTENCE, anon_text):.2f}"
            )
        print(line)


if __name__ == "__main__":
    main()
