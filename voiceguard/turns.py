"""Turns of a call, and the timestamps the per-turn latency breakdown is computed from.

A turn runs from the user's speech start to the end of the agent's reply. The tracker is fed every event
the proxy observes, stamped with the wall-clock time voiceguard saw it, plus the moments requests went
upstream; it never reads a clock itself, so tests drive it with exact times.

What "end of speech" means depends on what the backend reports: a VAD event (realtime ``speech_stopped``,
Deepgram ``UtteranceEnd``/``speech_final``) where there is one; for a batch STT upload, the moment the upload
started (the client only uploads once the user stopped), which the breakdown then labels as such.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from voiceguard.events import (
    AgentText,
    AudioChunk,
    Direction,
    Event,
    LLMRequest,
    PlaybackTruncated,
    ResponseDone,
    ResponseStarted,
    SpeechStarted,
    SpeechStopped,
    Stage,
    TextDelta,
    ToolCall,
    Transcript,
    TTSText,
    Usage,
)

NS = 1_000_000_000
TURN_IDLE_NS = 3 * NS
"""A turn whose agent reply finished this long ago without new user speech is closed."""


def _ms(start: int | None, end: int | None) -> float | None:
    if start is None or end is None or end < start:
        return None
    return (end - start) / 1_000_000


@dataclass(slots=True)
class Turn:
    """One user utterance and the agent's reply, with wall-clock nanosecond timestamps."""

    number: int
    started_ns: int
    speech_started_ns: int | None = None
    speech_stopped_ns: int | None = None
    speech_audio_end_ns: int | None = None
    """When the audio frame holding the end of speech reached voiceguard (for end-of-speech detection)."""
    end_of_speech_source: str | None = None
    stt_request_ns: int | None = None
    transcript_final_ns: int | None = None
    llm_request_ns: int | None = None
    llm_first_token_ns: int | None = None
    llm_done_ns: int | None = None
    tts_request_ns: int | None = None
    tts_first_byte_ns: int | None = None
    first_audio_out_ns: int | None = None
    last_audio_out_ns: int | None = None
    response_started_ns: int | None = None
    response_done_ns: int | None = None
    ended_ns: int | None = None
    interrupted: bool = False
    barge_in_ns: int | None = None
    audio_in_s: float = 0.0
    audio_out_s: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    audio_input_tokens: int = 0
    audio_output_tokens: int = 0
    tts_characters: int = 0
    proxy_overhead_ns: int = 0
    models: dict[str, str] = field(default_factory=dict)
    """Model per stage (``stt``, ``llm``, ``tts``, ``realtime``), for attributes and cost."""

    @property
    def end_of_speech_ns(self) -> int | None:
        """The best known moment the user stopped speaking."""
        if self.speech_stopped_ns is not None:
            return self.speech_stopped_ns
        return self.stt_request_ns

    @property
    def has_agent_activity(self) -> bool:
        return (
            self.llm_request_ns is not None
            or self.first_audio_out_ns is not None
            or (self.response_started_ns is not None)
        )

    def breakdown_ms(self) -> dict[str, float | None]:
        """The latency breakdown of this turn in milliseconds; ``None`` where a stage was not seen."""
        first_llm_input = self.transcript_final_ns or self.end_of_speech_ns
        return {
            "voice_to_voice": _ms(self.end_of_speech_ns, self.first_audio_out_ns),
            "end_of_speech_detection": _ms(self.speech_audio_end_ns, self.speech_stopped_ns),
            "stt_finalization": _ms(self.end_of_speech_ns, self.transcript_final_ns),
            "gap_transcript_to_llm": _ms(first_llm_input, self.llm_request_ns),
            "llm_time_to_first_token": _ms(self.llm_request_ns, self.llm_first_token_ns),
            "llm_total": _ms(self.llm_request_ns, self.llm_done_ns),
            "gap_llm_to_tts": _ms(self.llm_first_token_ns, self.tts_request_ns),
            "tts_time_to_first_byte": _ms(self.tts_request_ns, self.tts_first_byte_ns),
            "realtime_time_to_first_audio": _ms(
                self.speech_stopped_ns or self.response_started_ns, self.first_audio_out_ns
            )
            if self.response_started_ns is not None
            else None,
            "proxy_overhead": self.proxy_overhead_ns / 1_000_000 if self.proxy_overhead_ns else None,
            "barge_in_stop": _ms(self.barge_in_ns, self.last_audio_out_ns) if self.interrupted else None,
        }


class _AudioClock:
    """Maps positions in the user's audio stream to when the frame carrying them arrived."""

    __slots__ = ("_marks", "position_s")

    def __init__(self) -> None:
        self.position_s = 0.0
        self._marks: deque[tuple[float, int]] = deque(maxlen=512)

    def advance(self, seconds: float, at_ns: int) -> None:
        self.position_s += seconds
        self._marks.append((self.position_s, at_ns))

    def arrival_of(self, audio_s: float) -> int | None:
        for position, at_ns in self._marks:
            if position >= audio_s - 1e-6:
                return at_ns
        return None


class TurnTracker:
    """Cuts a call into turns from the events it sees; closed turns are collected by ``drain``."""

    __slots__ = ("_audio", "_closed", "_count", "_interrupted", "current")

    def __init__(self) -> None:
        self.current: Turn | None = None
        self._interrupted: Turn | None = None
        """A barged-in turn kept open while its agent audio still flows, for the barge-in stop latency."""
        self._closed: list[Turn] = []
        self._count = 0
        self._audio = _AudioClock()

    # --- feeding ----------------------------------------------------------------------------------------

    def request_sent(self, stage: Stage, at_ns: int, overhead_ns: int = 0) -> None:
        """A request of ``stage`` went upstream (for STT uploads, LLM and TTS requests)."""
        if stage is Stage.STT:
            turn = self._turn_for_user_input(at_ns)
            if turn.stt_request_ns is None:
                turn.stt_request_ns = at_ns
        elif stage is Stage.LLM:
            turn = self._turn_for_user_input(at_ns) if self._needs_new_turn() else self._ensure(at_ns)
            if turn.llm_request_ns is None:
                turn.llm_request_ns = at_ns
        elif stage is Stage.TTS:
            turn = self._ensure(at_ns)
            if turn.tts_request_ns is None:
                turn.tts_request_ns = at_ns
        else:
            turn = self._ensure(at_ns)
        turn.proxy_overhead_ns += overhead_ns

    def add_overhead(self, overhead_ns: int) -> None:
        if self.current is not None:
            self.current.proxy_overhead_ns += overhead_ns

    def observe(self, stage: Stage, event: Event, at_ns: int, model: str | None = None) -> None:
        """Account for one event of an exchange of ``stage`` seen at ``at_ns``."""
        if isinstance(event, AudioChunk):
            self._audio_chunk(stage, event, at_ns)
        elif isinstance(event, SpeechStarted):
            self._speech_started(at_ns)
        elif isinstance(event, SpeechStopped):
            turn = self._ensure(at_ns)
            turn.speech_stopped_ns = at_ns
            turn.end_of_speech_source = "vad"
            if event.audio_s is not None:
                turn.speech_audio_end_ns = self._audio.arrival_of(event.audio_s)
        elif isinstance(event, Transcript):
            self._transcript(stage, event, at_ns)
        elif isinstance(event, LLMRequest):
            if model := event.model:
                self._ensure(at_ns).models[stage.value] = model
            if stage is Stage.REALTIME:
                turn = self._ensure(at_ns)
                if turn.llm_request_ns is None:
                    turn.llm_request_ns = at_ns
        elif isinstance(event, TextDelta | ToolCall | AgentText):
            turn = self._ensure(at_ns)
            if turn.llm_first_token_ns is None and self._is_first_token(stage, turn, event):
                turn.llm_first_token_ns = at_ns
        elif isinstance(event, TTSText):
            self._ensure(at_ns).tts_characters += len(event.text)
        elif isinstance(event, ResponseStarted) and stage is Stage.LLM:
            # A chat stream's first event: the LLM's own timestamps cover it, it is not a spoken response.
            if event.model:
                self._ensure(at_ns).models.setdefault(stage.value, event.model)
        elif isinstance(event, ResponseStarted):
            turn = self._turn_for_response(at_ns)
            if turn.response_started_ns is None:
                turn.response_started_ns = at_ns
            if stage is Stage.REALTIME and turn.llm_request_ns is None:
                # A realtime model starts its reply on its own (server VAD): its response is the request.
                turn.llm_request_ns = at_ns
            if event.model:
                turn.models[stage.value] = event.model
        elif isinstance(event, ResponseDone):
            self._response_done(stage, at_ns)
        elif isinstance(event, Usage):
            self._usage(stage, event, at_ns)
        elif isinstance(event, PlaybackTruncated) and self.current is not None:
            self.current.interrupted = True

    # --- reading ----------------------------------------------------------------------------------------

    def drain(self, now_ns: int, *, ending: bool = False) -> list[Turn]:
        """Closed turns since the last call; closes the current one if idle, or all when ``ending``."""
        interrupted = self._interrupted
        if interrupted is not None:
            last = interrupted.last_audio_out_ns or interrupted.barge_in_ns or now_ns
            if ending or now_ns - last >= TURN_IDLE_NS:
                self._close_interrupted(now_ns)
        turn = self.current
        if turn is not None and (ending or self._idle(turn, now_ns)):
            self._close(turn, now_ns)
        closed, self._closed = self._closed, []
        return closed

    # --- internals --------------------------------------------------------------------------------------

    @staticmethod
    def _is_first_token(stage: Stage, turn: Turn, event: TextDelta | ToolCall | AgentText) -> bool:
        """An LLM's first streamed text; for a realtime model, the first delta of a response it started
        (not an echo of whole items, and not a cancelled reply's echo arriving after the user spoke)."""
        if stage is Stage.LLM:
            return True
        streamed = isinstance(event, TextDelta) or (isinstance(event, ToolCall) and not event.complete)
        return stage is Stage.REALTIME and streamed and turn.response_started_ns is not None

    def _idle(self, turn: Turn, now_ns: int) -> bool:
        done = turn.response_done_ns or turn.last_audio_out_ns or turn.llm_done_ns
        if done is None:
            return False
        playing_until = done
        if turn.first_audio_out_ns is not None:
            playing_until = max(done, turn.first_audio_out_ns + int(turn.audio_out_s * NS))
        return now_ns - playing_until >= TURN_IDLE_NS

    def _ensure(self, at_ns: int) -> Turn:
        if self.current is None:
            self._count += 1
            self.current = Turn(number=self._count, started_ns=at_ns)
        return self.current

    def _needs_new_turn(self) -> bool:
        turn = self.current
        return turn is not None and turn.has_agent_activity

    def _turn_for_user_input(self, at_ns: int) -> Turn:
        if self._needs_new_turn() and self.current is not None:
            self._close(self.current, at_ns)
        return self._ensure(at_ns)

    def _turn_for_response(self, at_ns: int) -> Turn:
        self._close_interrupted(at_ns)
        turn = self.current
        if turn is not None and turn.response_done_ns is not None:
            self._close(turn, at_ns)
        return self._ensure(at_ns)

    def _close(self, turn: Turn, at_ns: int) -> None:
        turn.ended_ns = at_ns
        self._closed.append(turn)
        if self.current is turn:
            self.current = None

    def _agent_playing(self, turn: Turn, at_ns: int) -> bool:
        if turn.first_audio_out_ns is None:
            return False
        playing_until = turn.first_audio_out_ns + int(turn.audio_out_s * NS)
        responding = turn.response_done_ns is None and turn.response_started_ns is not None
        return at_ns < playing_until or responding

    def _close_interrupted(self, at_ns: int) -> None:
        turn, self._interrupted = self._interrupted, None
        if turn is not None:
            turn.ended_ns = at_ns
            self._closed.append(turn)

    def _speech_started(self, at_ns: int) -> None:
        turn = self.current
        if turn is not None and turn.has_agent_activity:
            if self._agent_playing(turn, at_ns):
                turn.interrupted = True
                turn.barge_in_ns = at_ns
                self._close_interrupted(at_ns)
                self._interrupted = turn
                self.current = None
            else:
                self._close(turn, at_ns)
        turn = self._ensure(at_ns)
        if turn.speech_started_ns is None:
            turn.speech_started_ns = at_ns

    def _audio_chunk(self, stage: Stage, event: AudioChunk, at_ns: int) -> None:
        seconds = event.seconds or 0.0
        if event.direction is Direction.TO_UPSTREAM:
            self._audio.advance(seconds, at_ns)
            if self.current is not None:
                self.current.audio_in_s += seconds
            return
        turn = self._turn_for_agent_audio(at_ns)
        if stage is Stage.TTS and turn.tts_first_byte_ns is None:
            turn.tts_first_byte_ns = at_ns
        if turn.first_audio_out_ns is None:
            turn.first_audio_out_ns = at_ns
        turn.last_audio_out_ns = at_ns
        turn.audio_out_s += seconds

    def _turn_for_agent_audio(self, at_ns: int) -> Turn:
        # Audio still flowing after a barge-in belongs to the interrupted turn, for the stop latency.
        if self._interrupted is not None and not self._current_has_reply():
            return self._interrupted
        return self._ensure(at_ns)

    def _current_has_reply(self) -> bool:
        turn = self.current
        return turn is not None and turn.has_agent_activity

    def _transcript(self, stage: Stage, event: Transcript, at_ns: int) -> None:
        # A realtime backend transcribes the user asynchronously, often after its reply has started: that
        # transcript belongs to the running turn. Elsewhere, user words after an agent reply open a new turn.
        turn = self._ensure(at_ns) if stage is Stage.REALTIME else self._turn_for_user_input(at_ns)
        if event.is_final and turn.transcript_final_ns is None:
            turn.transcript_final_ns = at_ns
        if event.end_of_turn and turn.speech_stopped_ns is None:
            turn.speech_stopped_ns = at_ns
            turn.end_of_speech_source = "stt_endpointing"
            # The endpointed result's last word ends where the user stopped: the frame carrying that
            # moment is where end-of-speech detection starts (Deepgram's speech_final has no VAD event).
            last_end = event.words[-1].end if event.words else None
            if last_end is not None and turn.speech_audio_end_ns is None:
                turn.speech_audio_end_ns = self._audio.arrival_of(last_end)

    def _response_done(self, stage: Stage, at_ns: int) -> None:
        if self._interrupted is not None and not self._current_has_reply():
            self._interrupted.response_done_ns = at_ns
            self._close_interrupted(at_ns)
            return
        turn = self._ensure(at_ns)
        if stage is Stage.LLM:
            turn.llm_done_ns = at_ns
        else:
            turn.response_done_ns = at_ns

    def _usage(self, stage: Stage, event: Usage, at_ns: int) -> None:
        turn = self._ensure(at_ns)
        turn.input_tokens += event.input_tokens or 0
        turn.output_tokens += event.output_tokens or 0
        turn.audio_input_tokens += event.audio_input_tokens or 0
        turn.audio_output_tokens += event.audio_output_tokens or 0
        if event.characters and stage is Stage.TTS and not turn.tts_characters:
            turn.tts_characters = event.characters
        if event.model:
            turn.models.setdefault(stage.value, event.model)
