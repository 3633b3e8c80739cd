"""Silencing (or beeping) the words that were redacted, in a recording that is kept.

Only where consent allows keeping audio at all (recording storage is another part's job): before it is
stored, every span of audio in which a redacted word was spoken is replaced by silence or a tone, using the
STT word timestamps, padded on both sides (250 ms by default, as elizaOS does) because word timings are
approximate and a digit said at the edge of a word must not survive. Sans-IO: bytes in, bytes out.

Fail closed: if a redacted word has no timestamps, the whole recording is muted — there is no way to know
where it was said.
"""

from __future__ import annotations

import math
import sys
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

from voiceguard.events import Word
from voiceguard.pii.engine import PiiEngine

DEFAULT_PADDING_S: Final = 0.25
BEEP_HZ: Final = 1000.0
BEEP_LEVEL: Final = 0.2
"""Tone amplitude as a fraction of full scale: clearly audible, never clipping."""
MULAW_SILENCE: Final = 0xFF

Encoding = Literal["pcm16", "mulaw"]


@dataclass(frozen=True, slots=True)
class TimeSpan:
    """A stretch of the recording, in seconds from its start."""

    start_s: float
    end_s: float


def words_to_redact(
    words: Sequence[Word], engine: PiiEngine, entities: frozenset[str] | None = None
) -> list[int]:
    """Indices of the words that belong to a PII finding (the words joined by spaces are analysed)."""
    offsets, position = [], 0
    for word in words:
        offsets.append((position, position + len(word.text)))
        position += len(word.text) + 1
    text = " ".join(word.text for word in words)
    findings = engine.analyze(text, engine.supported if entities is None else entities)
    return [
        index
        for index, (start, end) in enumerate(offsets)
        if any(finding.start < end and start < finding.end for finding in findings)
    ]


def time_spans(
    words: Sequence[Word],
    indices: Sequence[int],
    *,
    padding_s: float = DEFAULT_PADDING_S,
    duration_s: float | None = None,
) -> list[TimeSpan]:
    """The padded, merged time spans of the given words; all of the audio if one of them has no times."""
    spans: list[TimeSpan] = []
    for index in sorted(indices):
        word = words[index]
        if word.start is None or word.end is None:
            return [TimeSpan(0.0, duration_s if duration_s is not None else math.inf)]
        start = max(0.0, word.start - padding_s)
        end = word.end + padding_s if duration_s is None else min(duration_s, word.end + padding_s)
        if spans and start <= spans[-1].end_s:
            spans[-1] = TimeSpan(spans[-1].start_s, max(spans[-1].end_s, end))
        else:
            spans.append(TimeSpan(start, end))
    return spans


def _frame_range(span: TimeSpan, sample_rate: int, frames: int) -> range:
    first = max(0, min(frames, int(span.start_s * sample_rate)))
    last = frames if math.isinf(span.end_s) else max(first, min(frames, math.ceil(span.end_s * sample_rate)))
    return range(first, last)


def _tone(count: int, offset: int, sample_rate: int, hz: float) -> list[int]:
    amplitude = BEEP_LEVEL * 32767
    step = 2 * math.pi * hz / sample_rate
    return [int(amplitude * math.sin(step * (offset + n))) for n in range(count)]


def mute_pcm16(
    audio: bytes,
    sample_rate: int,
    spans: Sequence[TimeSpan],
    *,
    channels: int = 1,
    beep_hz: float | None = None,
) -> bytes:
    """16-bit little-endian PCM with ``spans`` replaced by silence (or a tone of ``beep_hz``)."""
    samples = array("h")
    samples.frombytes(audio[: len(audio) - len(audio) % (2 * channels)])
    if sys.byteorder != "little":
        samples.byteswap()
    frames = len(samples) // channels
    for span in spans:
        window = _frame_range(span, sample_rate, frames)
        if not window:
            continue
        if beep_hz is None:
            fill = [0] * (len(window) * channels)
        else:
            tone = _tone(len(window), window.start, sample_rate, beep_hz)
            fill = [value for value in tone for _ in range(channels)]
        samples[window.start * channels : window.stop * channels] = array("h", fill)
    if sys.byteorder != "little":
        samples.byteswap()
    return samples.tobytes() + audio[len(samples) * 2 :]


def linear_to_mulaw(sample: int) -> int:
    """G.711 µ-law encoding of one 16-bit sample."""
    bias, clip = 0x84, 32635
    sign = 0x80 if sample < 0 else 0
    magnitude = min(abs(sample), clip) + bias
    exponent = max(0, magnitude.bit_length() - 8)
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


def mute_mulaw(
    audio: bytes, sample_rate: int, spans: Sequence[TimeSpan], *, beep_hz: float | None = None
) -> bytes:
    """8-bit µ-law (telephony, Twilio media streams) with ``spans`` silenced or beeped."""
    out = bytearray(audio)
    for span in spans:
        window = _frame_range(span, sample_rate, len(out))
        if not window:
            continue
        if beep_hz is None:
            out[window.start : window.stop] = bytes([MULAW_SILENCE]) * len(window)
        else:
            tone = _tone(len(window), window.start, sample_rate, beep_hz)
            out[window.start : window.stop] = bytes(linear_to_mulaw(value) for value in tone)
    return bytes(out)


def redact_recording(
    audio: bytes,
    *,
    encoding: Encoding,
    sample_rate: int,
    words: Sequence[Word],
    engine: PiiEngine,
    channels: int = 1,
    padding_s: float = DEFAULT_PADDING_S,
    beep: bool = False,
) -> tuple[bytes, list[TimeSpan]]:
    """The recording with every PII word silenced (or beeped), and the spans that were changed."""
    bytes_per_frame = channels * (2 if encoding == "pcm16" else 1)
    duration = len(audio) / bytes_per_frame / sample_rate
    spans = time_spans(words, words_to_redact(words, engine), padding_s=padding_s, duration_s=duration)
    beep_hz = BEEP_HZ if beep else None
    if encoding == "pcm16":
        return mute_pcm16(audio, sample_rate, spans, channels=channels, beep_hz=beep_hz), spans
    return mute_mulaw(audio, sample_rate, spans, beep_hz=beep_hz), spans
