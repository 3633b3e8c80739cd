"""Voice anonymisation by McAdams-coefficient pole shifting: sans-IO, streaming, 16-bit PCM in and out.

Speech is modelled per frame as a source (the LPC residual) through a vocal-tract filter (the LPC
polynomial). Raising the angle of every complex pole of that filter to the power ``alpha`` moves the
formants, which carry much of what makes a voice identifiable, while the residual keeps the timing and
pitch that a recogniser needs (Patino et al., 2021; the VoicePrivacy Challenge baseline B2). Frames of
``frame_ms`` with 50 % overlap are windowed (periodic Hann, which sums to one at that overlap) and added
back, so with ``alpha = 1`` the signal comes out unchanged apart from the delay.

The transform runs on the audio a client sends to a third-party speech-to-text service and on audio that
voiceguard stores, so that neither the vendor nor the store holds the caller's own voiceprint. It adds
half a frame (10 ms at the default 20 ms) of algorithmic delay; ``benchmarks/voice_anonymisation.py``
measures the compute per frame, how far it moves the voice and how little it changes transcripts.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt
from scipy.linalg import solve_toeplitz
from scipy.signal import lfilter

Samples = npt.NDArray[np.float64]

DEFAULT_ALPHA: Final = 0.8
DEFAULT_ORDER: Final = 20
_STABLE: Final = 0.999


def mcadams_frame(frame: Samples, alpha: float, order: int) -> Samples:
    """One windowed frame with its formants moved; silence and degenerate frames come back as they were."""
    autocorrelation = np.correlate(frame, frame, "full")[len(frame) - 1 : len(frame) + order]
    if autocorrelation[0] <= 1e-9:
        return frame
    autocorrelation[0] *= 1.0 + 1e-9  # white-noise correction keeps the Toeplitz system well posed
    try:
        predictor = solve_toeplitz(autocorrelation[:-1], autocorrelation[1:])
    except np.linalg.LinAlgError:
        return frame
    lpc = np.concatenate(([1.0], -predictor))
    residual = lfilter(lpc, [1.0], frame)
    poles = np.roots(lpc)
    complex_upper = np.iscomplex(poles) & (np.angle(poles) > 0)
    angles = np.angle(poles[complex_upper])
    moved = np.minimum(np.abs(poles[complex_upper]), _STABLE) * np.exp(1j * np.power(angles, alpha))
    real_poles = poles[~np.iscomplex(poles)]
    new_poles = np.concatenate((moved, np.conj(moved), np.clip(real_poles.real, -_STABLE, _STABLE)))
    new_lpc = np.real(np.poly(new_poles))
    shaped: Samples = lfilter([1.0], new_lpc, residual)
    return shaped


class McAdamsAnonymiser:
    """Streams 16-bit little-endian mono PCM through the McAdams transform.

    ``process`` takes any number of bytes and returns the anonymised bytes completed so far; output lags
    input by ``delay_samples``; ``flush`` returns the rest at the end of the stream. The byte count out
    equals the byte count in, so a vendor that times audio by its length sees the same durations.
    """

    def __init__(
        self,
        sample_rate: int,
        alpha: float = DEFAULT_ALPHA,
        frame_ms: float = 20.0,
        order: int = DEFAULT_ORDER,
    ) -> None:
        if not 0.5 <= alpha <= 1.5:
            raise ValueError("alpha must lie between 0.5 and 1.5 (1.0 leaves the voice unchanged)")
        self.sample_rate = sample_rate
        self.alpha = alpha
        self.order = order
        self.frame = max(2 * order, int(sample_rate * frame_ms / 1000) // 2 * 2)
        self.hop = self.frame // 2
        self.window = np.hanning(self.frame + 1)[:-1]
        self._pending = b""
        self._input = np.zeros(self.frame - self.hop)
        self._output = np.zeros(self.frame)
        self._released = 0
        self._received = 0

    @property
    def delay_samples(self) -> int:
        """Samples of algorithmic delay: what has gone in but cannot come out until the next frame."""
        return self.frame - self.hop

    def process(self, pcm: bytes) -> bytes:
        data = self._pending + pcm
        usable = len(data) // 2 * 2
        self._pending = data[usable:]
        samples = np.frombuffer(data[:usable], dtype="<i2").astype(np.float64) / 32768.0
        self._received += len(samples)
        out = self._run(samples)
        self._released += len(out)
        return _pcm(out)

    def flush(self) -> bytes:
        """The end of the stream: push the held samples out (the first ``delay_samples`` out were silence)."""
        owed = self._received - self._released
        if owed <= 0:
            return b""
        out = self._run(np.zeros(self.frame + self.hop))[:owed]
        self._released += len(out)
        return _pcm(out)

    def _run(self, samples: Samples) -> Samples:
        """Overlap-add every complete frame; returns ``hop`` finished samples per frame."""
        buffer = np.concatenate((self._input, samples))
        chunks = []
        start = 0
        while start + self.frame <= len(buffer):
            shaped = mcadams_frame(buffer[start : start + self.frame] * self.window, self.alpha, self.order)
            self._output += shaped
            chunks.append(self._output[: self.hop].copy())
            self._output = np.concatenate((self._output[self.hop :], np.zeros(self.hop)))
            start += self.hop
        self._input = buffer[start:]
        return np.concatenate(chunks) if chunks else np.zeros(0)


def _pcm(samples: Samples) -> bytes:
    return np.clip(np.round(samples * 32768.0), -32768, 32767).astype("<i2").tobytes()
