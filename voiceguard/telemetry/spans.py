"""What each span of a call says: names and attributes of call, turn and stage spans, and decision events.

Pure functions of the proxy's records and the tallies the tracing sink keeps, so the layout can be read (and
tested) in one place. Durations are in seconds, as the GenAI conventions have them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import orjson
from opentelemetry.util.types import AttributeValue

from voiceguard.events import (
    AgentText,
    AudioChunk,
    Event,
    LLMRequest,
    PolicyDecision,
    PromptText,
    ResponseDone,
    ResponseStarted,
    Stage,
    TextDelta,
    ToolCall,
    Transcript,
    TTSText,
    UpstreamError,
    Usage,
)
from voiceguard.protocols.base import ExchangeInfo
from voiceguard.redaction import RecordRedactor
from voiceguard.session import Exchange
from voiceguard.telemetry import names
from voiceguard.telemetry.cost import UsageTally
from voiceguard.turns import Turn

Attributes = dict[str, AttributeValue]
MAX_POLICY_FIELDS = 32

_OPERATIONS = {
    Stage.STT: names.OPERATION_SPEECH_TO_TEXT,
    Stage.TTS: names.OPERATION_TEXT_TO_SPEECH,
    Stage.REALTIME: names.OPERATION_REALTIME,
}
_SPAN_NAMES = {
    Stage.STT: names.SPAN_STT,
    Stage.LLM: names.SPAN_CHAT,
    Stage.TTS: names.SPAN_TTS,
    Stage.REALTIME: names.SPAN_REALTIME_RESPONSE,
}


def seconds(ns: int | None) -> float | None:
    return None if ns is None else ns / 1e9


def operation_name(info: ExchangeInfo) -> str | None:
    if info.stage is Stage.LLM:
        return names.OPERATION_CHAT if info.operation == "chat" else info.operation
    return _OPERATIONS.get(info.stage)


def stage_span_name(info: ExchangeInfo, model: str | None, route: str) -> str:
    base = _SPAN_NAMES.get(info.stage)
    if base is None:
        return f"{info.operation} {route}"
    if info.stage is Stage.LLM and info.operation != "chat":
        base = info.operation
    return f"{base} {model}" if model else base


def put(attributes: Attributes, key: str, value: AttributeValue | None) -> None:
    if value is not None and value != "":
        attributes[key] = value


def usage_attributes(attributes: Attributes, tally: UsageTally) -> None:
    if not tally.seen:
        return
    if tally.input_tokens or tally.output_tokens:
        attributes[names.GEN_AI_USAGE_INPUT_TOKENS] = tally.input_tokens
        attributes[names.GEN_AI_USAGE_OUTPUT_TOKENS] = tally.output_tokens
    put(attributes, names.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, tally.cached_input_tokens or None)
    put(attributes, names.GEN_AI_USAGE_AUDIO_INPUT_TOKENS, tally.audio_input_tokens or None)
    put(attributes, names.GEN_AI_USAGE_AUDIO_OUTPUT_TOKENS, tally.audio_output_tokens or None)
    put(attributes, names.STT_AUDIO_SECONDS, round(tally.billed_audio_in_s, 6) or None)
    put(attributes, names.AUDIO_OUTPUT_SECONDS, round(tally.audio_out_s, 6) or None)
    put(attributes, names.TTS_CHARACTERS, tally.billed_characters or None)


@dataclass(slots=True)
class Content:
    """Texts of one exchange or turn, kept only when content capture is on, bounded in size."""

    budget: int
    prompts: list[tuple[str, str]] = field(default_factory=list)
    output: list[str] = field(default_factory=list)
    transcripts: list[str] = field(default_factory=list)
    speech: list[str] = field(default_factory=list)
    summary: list[str] = field(default_factory=list)

    def _take(self, text: str) -> str | None:
        if self.budget <= 0 or not text:
            return None
        piece = text[: self.budget]
        self.budget -= len(piece)
        return piece

    def observe(self, event: Event) -> None:
        if isinstance(event, PromptText):
            if (text := self._take(event.text)) is not None:
                self.prompts.append((event.role.value, text))
        elif isinstance(event, TextDelta):
            if (text := self._take(event.text)) is not None:
                self.output.append(text)
        elif isinstance(event, AgentText):
            # A stream's summary repeats its deltas; a complete reply is all there is.
            if not self.output and (text := self._take(event.text)) is not None:
                self.summary.append(text)
        elif isinstance(event, Transcript):
            if event.is_final and (text := self._take(event.text)) is not None:
                self.transcripts.append(text)
        elif isinstance(event, TTSText) and (text := self._take(event.text)) is not None:
            self.speech.append(text)

    def attributes(self, redactor: RecordRedactor) -> Attributes:
        """The content attributes, each text redacted first; a redactor error drops the texts, never leaks."""
        out: Attributes = {}
        try:
            if self.prompts:
                messages = [{"role": role, "content": redactor.redact(text)} for role, text in self.prompts]
                out[names.CONTENT_INPUT_MESSAGES] = orjson.dumps(messages).decode()
            if self.output or self.summary:
                out[names.CONTENT_OUTPUT_TEXT] = redactor.redact("".join(self.output or self.summary))
            if self.transcripts:
                out[names.CONTENT_USER_TRANSCRIPT] = redactor.redact(" ".join(self.transcripts))
            if self.speech:
                out[names.CONTENT_TTS_TEXT] = redactor.redact("".join(self.speech))
        except Exception:
            return {}
        return out


@dataclass(slots=True)
class ExchangeTrace:
    """What the tracing sink learns about one exchange from its events."""

    request_model: str | None = None
    response_model: str | None = None
    usage_model: str | None = None
    response_id: str | None = None
    finish_reasons: list[str] = field(default_factory=list)
    stream: bool | None = None
    first_output_ns: int | None = None
    voice: str | None = None
    upstream_error: str | None = None
    tally: UsageTally = field(default_factory=UsageTally)
    decisions: list[tuple[int, PolicyDecision]] = field(default_factory=list)
    content: Content | None = None

    @property
    def model(self) -> str | None:
        return self.request_model or self.response_model or self.usage_model

    def observe(self, event: Event, to_client: bool, at_ns: int) -> None:
        if type(event) is AudioChunk:
            # Most events of a realtime socket: audio only counts toward the tally and the first output.
            self.tally.observe(event)
            if to_client and self.first_output_ns is None:
                self.first_output_ns = at_ns
            return
        self.tally.observe(event)
        if self.content is not None:
            self.content.observe(event)
        if isinstance(event, LLMRequest):
            self.request_model = self.request_model or event.model
            self.stream = event.stream
        elif isinstance(event, ResponseStarted):
            self.response_model = self.response_model or event.model
            self.response_id = self.response_id or event.response_id
        elif isinstance(event, ResponseDone):
            if event.finish_reason and len(self.finish_reasons) < 16:
                self.finish_reasons.append(event.finish_reason)
        elif isinstance(event, Usage):
            self.usage_model = self.usage_model or event.model
        elif isinstance(event, TTSText):
            self.voice = self.voice or event.voice
        elif isinstance(event, UpstreamError):
            self.upstream_error = event.error_type or event.code or "upstream_error"
        if to_client and self.first_output_ns is None and _is_output(event):
            self.first_output_ns = at_ns


def _is_output(event: Event) -> bool:
    return isinstance(event, TextDelta | AgentText | ToolCall | AudioChunk | Transcript)


def exchange_attributes(exchange: Exchange, trace: ExchangeTrace, server: str | None) -> Attributes:
    info = exchange.info
    attributes: Attributes = {
        names.GEN_AI_CONVERSATION_ID: exchange.call.id,
        names.GEN_AI_PROVIDER_NAME: info.provider,
        names.ATTR_ROUTE: exchange.route,
        names.ATTR_TRANSPORT: exchange.transport,
        names.ATTR_OPERATION: info.operation,
        names.ATTR_STAGE: info.stage.value,
        names.EXCHANGE_ID: exchange.id,
        names.ATTR_OUTCOME: exchange.outcome,
        names.HTTP_REQUEST_METHOD: exchange.method,
        names.EXCHANGE_PROXY_OVERHEAD: exchange.proxy_ns / 1e9,
    }
    put(attributes, names.GEN_AI_OPERATION_NAME, operation_name(info))
    put(attributes, names.GEN_AI_REQUEST_MODEL, trace.request_model or trace.usage_model)
    put(attributes, names.GEN_AI_RESPONSE_MODEL, trace.response_model)
    put(attributes, names.GEN_AI_RESPONSE_ID, trace.response_id)
    if trace.finish_reasons:
        attributes[names.GEN_AI_RESPONSE_FINISH_REASONS] = list(trace.finish_reasons)
    put(attributes, names.GEN_AI_REQUEST_STREAM, trace.stream)
    if info.stage in (Stage.TTS, Stage.REALTIME):
        attributes[names.GEN_AI_OUTPUT_TYPE] = names.OUTPUT_TYPE_SPEECH
    elif info.stage is Stage.LLM:
        attributes[names.GEN_AI_OUTPUT_TYPE] = names.OUTPUT_TYPE_TEXT
    if trace.first_output_ns is not None and exchange.request_sent_ns is not None:
        ttfc = trace.first_output_ns - exchange.request_sent_ns
        attributes[names.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = max(0, ttfc) / 1e9
    put(attributes, names.SERVER_ADDRESS, server)
    put(attributes, names.HTTP_RESPONSE_STATUS_CODE, exchange.status)
    put(attributes, names.ATTR_ERROR_TYPE, exchange.error_type or trace.upstream_error)
    put(attributes, names.TURN_NUMBER, exchange.turn_number)
    put(attributes, names.TTS_VOICE, trace.voice)
    usage_attributes(attributes, trace.tally)
    return attributes


def decision_attributes(decision: PolicyDecision) -> Attributes:
    attributes: Attributes = {
        names.POLICY_RULE: decision.rule_id,
        names.POLICY_ACTION: decision.action,
        names.POLICY_OUTCOME: decision.outcome,
    }
    for key, count in decision.counts[:MAX_POLICY_FIELDS]:
        attributes[names.POLICY_COUNT_PREFIX + key] = count
    for key, value in decision.evidence[:MAX_POLICY_FIELDS]:
        attributes[names.POLICY_EVIDENCE_PREFIX + key] = value
    return attributes


def turn_mode(turn: Turn, stages: Iterable[Stage]) -> str:
    return "realtime" if Stage.REALTIME in stages or "realtime" in turn.models else "cascade"


def turn_attributes(call_id: str, turn: Turn, mode: str, tally: UsageTally) -> Attributes:
    attributes: Attributes = {
        names.GEN_AI_CONVERSATION_ID: call_id,
        names.TURN_NUMBER: turn.number,
        names.TURN_MODE: mode,
        names.TURN_INTERRUPTED: turn.interrupted,
    }
    put(attributes, names.TURN_END_OF_SPEECH_SOURCE, turn.end_of_speech_source or _eos_source(turn))
    for key, value in turn.breakdown_ms().items():
        if value is not None:
            attributes[names.BREAKDOWN_ATTRIBUTES[key]] = value / 1000
    put(attributes, names.GEN_AI_REQUEST_MODEL, turn.models.get("realtime") or turn.models.get("llm"))
    put(attributes, names.AUDIO_INPUT_SECONDS, round(turn.audio_in_s, 6) or None)
    put(attributes, names.AUDIO_OUTPUT_SECONDS, round(turn.audio_out_s, 6) or None)
    usage_attributes(attributes, tally)
    return attributes


def _eos_source(turn: Turn) -> str | None:
    return "upload_start" if turn.speech_stopped_ns is None and turn.stt_request_ns is not None else None


def stage_window(turn: Turn, stage: Stage, turn_end: int) -> tuple[int, int] | None:
    """Start and end of the part of a long-lived connection's work that belongs to ``turn``."""
    if stage is Stage.REALTIME:
        start = turn.response_started_ns or turn.speech_stopped_ns
        end = turn.response_done_ns or turn.last_audio_out_ns
    elif stage is Stage.STT:
        start = turn.speech_started_ns or turn.started_ns
        end = turn.transcript_final_ns or turn.speech_stopped_ns
    elif stage is Stage.TTS:
        start = turn.tts_request_ns or turn.tts_first_byte_ns
        end = turn.last_audio_out_ns
    else:
        return None
    if start is None:
        return None
    return start, max(start, end or turn_end)
