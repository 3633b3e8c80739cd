"""The small vocabulary every part of voiceguard speaks.

Protocol adapters turn vendor wire messages into these events; guards look at them and return them
unchanged, changed (``dataclasses.replace``), held back, or joined by new ones; sinks record them. Nothing
outside ``voiceguard/protocols/`` sees a wire format: the only link back to the wire is the ``origin``
field, which is opaque to everyone but the adapter that made the event and renders it back.

Events carry no timestamps: the flow that observes them stamps the time, so adapters stay pure functions of
the bytes they are fed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final, TypeAlias


class Stage(StrEnum):
    """Which stage of a voice pipeline an exchange belongs to."""

    STT = "stt"
    LLM = "llm"
    TTS = "tts"
    REALTIME = "realtime"
    TELEPHONY = "telephony"
    OTHER = "other"


class Direction(StrEnum):
    """Which way a message travels through the proxy."""

    TO_UPSTREAM = "to_upstream"
    TO_CLIENT = "to_client"


class TextRole(StrEnum):
    """What a piece of text is, so guards can treat prompts, replies and transcripts differently."""

    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"
    TOOL = "tool"
    INSTRUCTIONS = "instructions"


class BiometricFeature(StrEnum):
    """Features that create or use voiceprints (treated as biometric collection by the policy packs)."""

    DIARIZATION = "diarization"
    SPEAKER_IDENTIFICATION = "speaker_identification"
    SPEAKER_ENROLMENT = "speaker_enrolment"
    SPEAKER_VERIFICATION = "speaker_verification"
    VOICE_CLONING = "voice_cloning"
    EMOTION_RECOGNITION = "emotion_recognition"


Origin: TypeAlias = object
"""Where an event came from on the wire; meaningful only to the adapter that created it."""


@dataclass(frozen=True, slots=True)
class Word:
    """One recognised word with its times in seconds from the start of the audio."""

    text: str
    start: float | None = None
    end: float | None = None
    speaker: str | None = None
    confidence: float | None = None


# --- the user's speech ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    """The backend's voice activity detection heard the user start speaking."""

    audio_s: float | None = None
    item_id: str | None = None


@dataclass(frozen=True, slots=True)
class SpeechStopped:
    """The backend's voice activity detection decided the user stopped speaking (end of speech)."""

    audio_s: float | None = None
    item_id: str | None = None


@dataclass(frozen=True, slots=True)
class Transcript:
    """Text recognised from the user's audio; ``is_final`` once the backend will not revise it.

    ``end_of_turn`` is set where the backend marks the end of the user's turn on the transcript itself
    (Deepgram ``speech_final``). ``stream`` names the sequence this result belongs to (a channel, an
    item id) so that guards can look across consecutive results of one stream.
    """

    text: str
    is_final: bool = True
    end_of_turn: bool = False
    words: tuple[Word, ...] = ()
    speaker: str | None = None
    language: str | None = None
    stream: str = ""
    origin: Origin = field(default=None, compare=False, repr=False)


# --- the LLM stage ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LLMRequest:
    """A request for a model reply; its text travels in the ``PromptText`` events that follow it."""

    model: str | None = None
    stream: bool = False
    message_count: int = 0
    tool_names: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PromptText:
    """One piece of text sent to a model: a message, an instruction, a tool result."""

    text: str
    role: TextRole = TextRole.USER
    origin: Origin = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A streamed piece of the agent's reply (LLM tokens, realtime output text or transcript)."""

    text: str
    stream: str = ""
    origin: Origin = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class AgentText:
    """The agent's complete reply text (a non-streamed completion, or a stream's ``done`` summary).

    ``spoken`` is true when the text is the transcript of audio the agent speaks (realtime backends).
    """

    text: str
    stream: str = ""
    spoken: bool = False
    origin: Origin = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A function call requested by the model; ``complete`` is false for a streamed fragment."""

    name: str | None
    arguments: str
    call_id: str | None = None
    complete: bool = True
    stream: str = ""
    origin: Origin = field(default=None, compare=False, repr=False)


# --- the TTS stage ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TTSText:
    """Text the agent sends to be spoken; ``stream`` groups the pieces of one streamed utterance."""

    text: str
    voice: str | None = None
    stream: str = ""
    origin: Origin = field(default=None, compare=False, repr=False)


# --- audio, usage, lifecycle -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AudioChunk:
    """Metadata of audio that passed through; the audio itself never leaves the adapter."""

    direction: Direction
    n_bytes: int
    seconds: float | None = None
    encoding: str | None = None
    sample_rate: int | None = None


@dataclass(frozen=True, slots=True)
class Usage:
    """What a model call consumed, as the backend reported it."""

    model: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    audio_input_tokens: int | None = None
    audio_output_tokens: int | None = None
    cached_input_tokens: int | None = None
    audio_seconds: float | None = None
    characters: int | None = None


@dataclass(frozen=True, slots=True)
class ResponseStarted:
    """The backend began producing a reply (a realtime response, a stream's first event)."""

    response_id: str | None = None
    model: str | None = None


@dataclass(frozen=True, slots=True)
class ResponseDone:
    """The backend finished a reply; ``status`` is e.g. completed, cancelled, failed, incomplete."""

    response_id: str | None = None
    status: str = "completed"
    finish_reason: str | None = None


@dataclass(frozen=True, slots=True)
class PlaybackTruncated:
    """The client cut the agent's audio short (barge-in handling on the client side)."""

    item_id: str | None = None
    audio_end_ms: int | None = None


@dataclass(frozen=True, slots=True)
class UpstreamError:
    """The backend reported an error inside a stream or socket; ``message`` is never recorded raw."""

    code: str | None = None
    message: str = ""
    error_type: str | None = None


@dataclass(frozen=True, slots=True)
class BiometricRequest:
    """The client asked for a feature that creates or uses a voiceprint (e.g. Deepgram ``diarize``).

    A guard that replaces this event with ``enabled=False`` makes the adapter strip the option.
    ``strippable=False`` says the request cannot be sent without the feature (an enrolment or cloning
    endpoint, a model that only diarizes): a guard refuses such a request rather than disable the feature.
    """

    feature: BiometricFeature
    enabled: bool = True
    origin: Origin = field(default=None, compare=False, repr=False)
    strippable: bool = True


@dataclass(frozen=True, slots=True)
class CallerInfo:
    """Who is on the line, as a telephony start message or session setup tells it."""

    phone_number: str | None = None
    call_sid: str | None = None


@dataclass(frozen=True, slots=True)
class BackendLatency:
    """Latencies the backend measured itself for the current reply (Deepgram Voice Agent), in seconds.

    Kept beside voiceguard's own wall-clock breakdown: the backend sees inside its pipeline, voiceguard sees
    the wire. ``None`` where the backend did not report a part.
    """

    total_s: float | None = None
    stt_s: float | None = None
    llm_s: float | None = None
    tts_s: float | None = None


@dataclass(frozen=True, slots=True)
class AudioMarking:
    """A guard asks the adapter to mark the audio this exchange returns as AI-generated (EU AI Act 50(2)).

    Yielded with the request's events; an adapter whose response format has a place for metadata (a WAV
    LIST/INFO chunk, an MP3 ID3v2 tag, a FLAC Vorbis comment) writes ``fields`` there. Adapters that cannot
    ignore it; the guard also reports the marking as response headers, which every format carries.
    """

    fields: tuple[tuple[str, str], ...]
    containers: tuple[str, ...] = ("wav", "mp3", "flac")
    """Container formats the rule asks to be marked in-band (``wav``, ``mp3``, ``flac``)."""


@dataclass(frozen=True, slots=True)
class WireAnomaly:
    """A wire message the adapter could not read as its protocol says (bad JSON, unknown event type,
    invalid base64, a missing field). The message itself is forwarded untouched; this only counts it.

    ``kind`` is one of a small fixed set (``bad_json``, ``not_an_event``, ``not_an_object``,
    ``unknown_event``, ``invalid_base64``, ``missing_field``, ``binary_frame``, ...), safe as a metric
    label; ``event_type``
    names the vendor event where one was read (bounded in length, never a metric label).
    """

    kind: str
    event_type: str | None = None


# --- what guards report --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PolicyDecision:
    """A guard's decision, reported by the chain to the sinks and never forwarded on the wire.

    ``counts`` holds non-identifying figures only (entity type → count, and the like); ``evidence`` holds
    ids, versions and hashes the rule names as its evidence. Neither may carry personal data.
    """

    rule_id: str
    action: str
    outcome: str
    counts: tuple[tuple[str, int], ...] = ()
    evidence: tuple[tuple[str, str], ...] = ()


DECISION_CONTROL: Final = "control"
"""Evidence key naming the policy control a decision acts on (``("control", "pii")``): rule ids come from
the packs (``PCI-3.4.1``), so sinks that count by control read this instead of guessing from the id."""


@dataclass(frozen=True, slots=True)
class ClientNotice:
    """A response header the client should see, so it learns what a guard did (e.g. stripped options)."""

    header: str
    value: str


Event: TypeAlias = (
    SpeechStarted
    | SpeechStopped
    | Transcript
    | LLMRequest
    | PromptText
    | TextDelta
    | AgentText
    | ToolCall
    | TTSText
    | AudioChunk
    | Usage
    | ResponseStarted
    | ResponseDone
    | PlaybackTruncated
    | UpstreamError
    | BiometricRequest
    | CallerInfo
    | BackendLatency
    | AudioMarking
    | WireAnomaly
    | PolicyDecision
    | ClientNotice
)

TEXT_EVENTS: tuple[type, ...] = (Transcript, PromptText, TextDelta, AgentText, TTSText)
"""Events whose ``text`` field carries words a person said or will hear."""

REPORT_EVENTS: tuple[type, ...] = (PolicyDecision, ClientNotice)
"""Events that guards emit for the proxy itself; the chain never forwards them to an adapter."""
