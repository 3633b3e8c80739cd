"""Speaker-change detection: notices when a new voice joins a call, so consent is scoped per speaker.

The WebSocket relay hands each frame of the caller's audio to the call's ``SpeakerFeed`` (a bytes append,
nothing more on the event loop). Every second of audio goes to one worker thread as a job: decode (G.711 or
16-bit PCM) and resample to 16 kHz, keep what Silero VAD calls speech, and once a window of speech is
gathered, embed it with the pyannote.audio model and place it among the call's voices (``voices.py``). The
verdict comes back to the event loop, which updates the call's ``CallSpeakers``; the biometrics guard reads
that on the next event, so a second voice voids the subject's voiceprint consent for the rest of the call.

The audio path never waits on this: frames are relayed before and whatever the detector does. Consent fails
closed: audio that cannot be analysed (the queue of ``speaker_queue_seconds`` is full, the encoding is
compressed, the model raised) marks the call unverified, which the guard treats like a second voice.

Only calls under a jurisdiction whose rules gate voiceprints are analysed (``needed``): elsewhere no decision
depends on it, and the detector computes speaker embeddings, which are themselves biometric. They live in the
call's ``VoiceRegistry`` only, in memory, and are overwritten when the call ends.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import structlog

from voiceguard.biometrics.call_state import CALL_SPEAKERS, CallSpeakers
from voiceguard.biometrics.pcm import Samples, decodable, decode, resample
from voiceguard.biometrics.speaker_model import MODEL_SAMPLE_RATE, SpeakerModels, VadSettings
from voiceguard.biometrics.voices import Observation, Verdict, VoiceRegistry
from voiceguard.events import AudioChunk
from voiceguard.protocols.audioformat import pcm_seconds
from voiceguard.records import CallEnded, Record
from voiceguard.session import Call
from voiceguard.telemetry import names
from voiceguard.telemetry.metrics import Metrics

log = structlog.get_logger("voiceguard.biometrics.speakers")

BLOCK_SECONDS: Final = 1.0
"""Caller audio per job: long enough for VAD to see whole syllables, short enough to notice a voice soon."""
_CALL_VOICES: Final = "voiceguard.speakers.voices"
OVERLOADED: Final = "overloaded"
UNDECODABLE: Final = "undecodable"
MODEL_ERROR: Final = "model_error"


@dataclass(frozen=True, slots=True)
class SpeakerSettings:
    model: str
    token: str | None = None
    threshold: float = 0.5
    window_seconds: float = 2.0
    confirm_windows: int = 2
    vad_threshold: float = 0.5
    queue_seconds: float = 30.0


@dataclass(slots=True)
class _CallVoices:
    """A call's voices; ``registry`` is touched by the worker thread only."""

    registry: VoiceRegistry
    ended: bool = False


@dataclass(slots=True)
class _StreamSpeech:
    """Speech of one audio stream not yet embedded; worker thread only."""

    pieces: list[Samples] = field(default_factory=list)
    samples: int = 0

    def add(self, speech: Samples) -> None:
        if speech.size:
            self.pieces.append(speech)
            self.samples += int(speech.size)

    def take(self, size: int) -> Samples:
        joined = np.concatenate(self.pieces)
        rest = joined[size:]
        self.pieces = [rest] if rest.size else []
        self.samples = int(rest.size)
        return joined[:size]


@dataclass(frozen=True, slots=True)
class _Verdicts:
    observations: tuple[Observation, ...]
    voices: int


class SpeakerChangeDetector:
    """One per process: the models, the worker thread, and the jobs in flight.

    Also a sink, for ``CallEnded``. The server calls ``load`` before it opens anything else and ``close`` at
    shutdown (it is not a ``ClosableSink``, so a model that cannot load leaves nothing half-started).
    """

    name = "speakers"

    def __init__(
        self,
        settings: SpeakerSettings,
        needed: Callable[[Call], bool],
        metrics: Metrics | None = None,
    ) -> None:
        self.settings = settings
        self.needed = needed
        self.models: SpeakerModels | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._jobs: set[asyncio.Future[_Verdicts]] = set()
        self.queued_seconds = 0.0
        self._window = int(settings.window_seconds * MODEL_SAMPLE_RATE)
        meter = metrics.meter if metrics is not None else None
        self._changes = meter.create_counter(names.SPEAKER_CHANGES, unit="{voice}") if meter else None
        self._unchecked = meter.create_counter(names.SPEAKER_UNCHECKED, unit="s") if meter else None
        self._compute = meter.create_histogram(names.SPEAKER_WINDOW_DURATION, unit="s") if meter else None

    # --- lifecycle ----------------------------------------------------------------------------------------

    async def load(self) -> None:
        """Load the models before traffic; a model that cannot load stops start-up with the reason."""
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="voiceguard-speakers")
        settings = self.settings
        vad = VadSettings(threshold=settings.vad_threshold)
        started = time.perf_counter()
        self.models = await asyncio.get_running_loop().run_in_executor(
            self._executor, SpeakerModels.load, settings.model, settings.token, vad
        )
        seconds = round(time.perf_counter() - started, 2)
        log.info("speaker_model_loaded", model=settings.model, seconds=seconds)

    async def idle(self) -> None:
        """Return once every block queued so far has been analysed and applied."""
        while self._jobs:
            await asyncio.gather(*self._jobs, return_exceptions=True)
            await asyncio.sleep(0)  # let the done-callbacks apply their verdicts

    async def close(self) -> None:
        await self.idle()
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    def wants(self, kind: type[Record]) -> bool:
        """Audio arrives through ``feed``; the only record read is a call's end (``SelectiveSink``)."""
        return issubclass(kind, CallEnded)

    def handle(self, record: Record) -> None:
        if isinstance(record, CallEnded):
            voices = record.call.scratch(_CALL_VOICES, self._new_call)
            voices.ended = True
            if self._executor is not None:
                self._executor.submit(voices.registry.forget)
            else:
                voices.registry.forget()

    # --- feeding ----------------------------------------------------------------------------------------

    def feed(self, call: Call) -> SpeakerFeed:
        """A feed for one audio stream of ``call`` (one WebSocket)."""
        return SpeakerFeed(self, call)

    def _new_call(self) -> _CallVoices:
        settings = self.settings
        return _CallVoices(VoiceRegistry(settings.threshold, settings.confirm_windows))

    def submit(self, call: Call, stream: _StreamSpeech, data: bytes, chunk: AudioChunk, final: bool) -> None:
        """Queue one block of ``call``'s audio; audio beyond the queue's bound goes unchecked."""
        encoding, rate = chunk.encoding, chunk.sample_rate
        seconds = _seconds(len(data), encoding, rate)
        if self._executor is None or self.models is None:
            self.mark_unchecked(call, seconds, OVERLOADED)
            return
        if self.queued_seconds + seconds > self.settings.queue_seconds:
            self.mark_unchecked(call, seconds, OVERLOADED)
            return
        assert encoding is not None and rate is not None
        voices = call.scratch(_CALL_VOICES, self._new_call)
        self.queued_seconds += seconds
        job = asyncio.get_running_loop().run_in_executor(
            self._executor, self._analyse, voices, stream, data, encoding, rate, final
        )
        self._jobs.add(job)
        job.add_done_callback(lambda done: self._finished(call, seconds, done))

    def _finished(self, call: Call, seconds: float, job: asyncio.Future[_Verdicts]) -> None:
        self._jobs.discard(job)
        self.queued_seconds = max(0.0, self.queued_seconds - seconds)
        if job.cancelled():
            self.mark_unchecked(call, seconds, OVERLOADED)
            return
        error = job.exception()
        if error is not None:
            log.error(
                "speaker_analysis_failed", call_id=call.id, error=type(error).__name__, detail=str(error)
            )
            self.mark_unchecked(call, seconds, MODEL_ERROR)
            return
        self._apply(call, job.result())

    def _apply(self, call: Call, verdicts: _Verdicts) -> None:
        speakers = call.scratch(CALL_SPEAKERS, CallSpeakers)
        for observation in verdicts.observations:
            if observation.verdict is Verdict.NEW:
                speakers.changes += 1
                if self._changes is not None:
                    self._changes.add(1)
                log.warning(
                    "speaker_joined",
                    call_id=call.id,
                    voice=observation.voice,
                    distance=round(observation.distance, 3),
                )
        speakers.voices = max(speakers.voices, verdicts.voices)

    def mark_unchecked(self, call: Call, seconds: float, reason: str) -> None:
        speakers = call.scratch(CALL_SPEAKERS, CallSpeakers)
        if speakers.unchecked_reason is None:
            log.warning("speaker_audio_unchecked", call_id=call.id, reason=reason)
        speakers.unchecked(seconds, reason)
        if self._unchecked is not None:
            self._unchecked.add(seconds, {names.ATTR_UNCHECKED_REASON: reason})

    # --- the worker thread ------------------------------------------------------------------------------

    def _analyse(
        self, voices: _CallVoices, stream: _StreamSpeech, data: bytes, encoding: str, rate: int, final: bool
    ) -> _Verdicts:
        models = self.models
        assert models is not None
        registry = voices.registry
        if voices.ended:
            return _Verdicts((), registry.voices)
        started = time.perf_counter()
        samples = resample(decode(data, encoding), rate, MODEL_SAMPLE_RATE)
        stream.add(models.speech(samples))
        observations: list[Observation] = []
        while stream.samples >= self._window:
            observations.append(registry.observe(models.embed(stream.take(self._window))))
        if final and stream.samples >= self._window // 2:
            observations.append(registry.observe(models.embed(stream.take(stream.samples))))
        if self._compute is not None:
            self._compute.record(time.perf_counter() - started)
        return _Verdicts(tuple(observations), registry.voices)


class SpeakerFeed:
    """Collects one stream's caller audio into blocks for the detector; used on the event loop."""

    __slots__ = ("_buffer", "_call", "_chunk", "_detector", "_stream")

    def __init__(self, detector: SpeakerChangeDetector, call: Call) -> None:
        self._detector = detector
        self._call = call
        self._stream = _StreamSpeech()
        self._buffer = bytearray()
        self._chunk: AudioChunk | None = None

    def audio(self, chunk: AudioChunk, data: bytes) -> None:
        """One frame of the caller's audio as the adapter described it."""
        call, detector = self._call, self._detector
        if not data or not detector.needed(call):
            return
        if not decodable(chunk.encoding, chunk.sample_rate):
            detector.mark_unchecked(call, chunk.seconds or 0.0, UNDECODABLE)
            return
        previous = self._chunk
        if previous is not None and (previous.encoding, previous.sample_rate) != (
            chunk.encoding,
            chunk.sample_rate,
        ):
            self.flush(final=False)
        self._chunk = chunk
        self._buffer += data
        if _seconds(len(self._buffer), chunk.encoding, chunk.sample_rate) >= BLOCK_SECONDS:
            self.flush(final=False)

    def flush(self, final: bool = True) -> None:
        """Send what is buffered; ``final`` at the end of the stream, so a short last stretch is embedded."""
        chunk = self._chunk
        if chunk is None or not (self._buffer or final):
            return
        data = bytes(self._buffer)
        self._buffer.clear()
        self._detector.submit(self._call, self._stream, data, chunk, final)


def _seconds(n_bytes: int, encoding: str | None, rate: int | None) -> float:
    return pcm_seconds(n_bytes, encoding, rate) or 0.0
