"""Every metric, span and attribute name voiceguard emits, in one place.

OpenTelemetry's GenAI conventions are used where they exist; voice-specific names live under the
documented ``voiceguard.*`` prefix. Nothing else in the code spells a telemetry name as a string literal.
"""

from __future__ import annotations

from typing import Final

from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as _gen_ai
from opentelemetry.semconv._incubating.metrics import gen_ai_metrics as _gen_ai_metrics

# --- metrics ---------------------------------------------------------------------------------------------

REQUESTS: Final = "voiceguard.requests"
"""Counter: proxied exchanges (HTTP requests, WebSocket connections) by route, transport, status, outcome."""
REQUEST_DURATION: Final = "voiceguard.request.duration"
"""Histogram (s): from the client's request to the end of the response or socket."""
UPSTREAM_TTFB: Final = "voiceguard.upstream.time_to_first_byte"
"""Histogram (s): request sent upstream to the first response byte (or the WebSocket upgrade)."""
PROXY_OVERHEAD: Final = "voiceguard.proxy.overhead"
"""Histogram (s): time spent inside voiceguard per exchange, excluding waiting on either peer."""
ACTIVE_CALLS: Final = "voiceguard.calls.active"
"""Up-down counter: calls currently open."""
UPSTREAM_ERRORS: Final = "voiceguard.upstream.errors"
"""Counter: upstream failures by route and error type (refused, timeout, reset, 5xx)."""
WS_MESSAGES: Final = "voiceguard.websocket.messages"
"""Counter: WebSocket messages relayed, by route and direction."""
WIRE_ANOMALIES: Final = "voiceguard.wire.anomalies"
"""Counter: wire messages an adapter could not read (forwarded untouched), by route and anomaly kind."""
AUDIO_DURATION: Final = "voiceguard.audio.duration"
"""Counter (s): audio relayed, by route, direction and encoding, where the format tells its duration."""

AUDIT_RECORDS: Final = "voiceguard.audit.records"
"""Counter: audit records committed to the store."""
AUDIT_DROPPED: Final = "voiceguard.audit.records.dropped"
"""Counter: audit records dropped because the store was down and the queue was full."""
AUDIT_STORE_ERRORS: Final = "voiceguard.audit.store.errors"
"""Counter: failed audit store operations (each retry counts)."""
AUDIT_STORE_UP: Final = "voiceguard.audit.store.up"
"""Gauge: 1 while the audit store takes records, 0 during an outage."""
AUDIT_QUEUE_DEPTH: Final = "voiceguard.audit.queue.depth"
"""Gauge: audit records waiting to be committed."""
AUDIT_COMMIT_DURATION: Final = "voiceguard.audit.commit.duration"
"""Histogram (s): one group commit (every record queued at the time, in one transaction)."""
AUDIT_CHECKPOINTS: Final = "voiceguard.audit.checkpoints"
"""Counter: signed checkpoints written by this process."""
AUDIT_DURABLE_TIMEOUTS: Final = "voiceguard.audit.durable.timeouts"
"""Counter: responses that completed before their audit records were durable (store slow or down)."""
PII_ANALYSIS_FAILURES: Final = "voiceguard.pii.analysis_failures"
"""Counter: texts the PII engine could not analyse (and that were masked instead), by reason."""
SPEAKER_CHANGES: Final = "voiceguard.speaker.changes"
"""Counter: voices that joined a call after its first one (speaker-change detection)."""
SPEAKER_UNCHECKED: Final = "voiceguard.speaker.unchecked"
"""Counter (s): caller audio the speaker-change detector could not analyse, by reason."""
SPEAKER_WINDOW_DURATION: Final = "voiceguard.speaker.window.duration"
"""Histogram (s): compute for one block of caller audio (decode, VAD, embeddings)."""

# --- metric attribute keys (low cardinality only: never a call id) ------------------------------------------

ATTR_ROUTE: Final = "voiceguard.route"
ATTR_TRANSPORT: Final = "voiceguard.transport"
ATTR_STATUS_CLASS: Final = "http.response.status_class"
ATTR_OUTCOME: Final = "voiceguard.outcome"
ATTR_ERROR_TYPE: Final = "error.type"
ATTR_DIRECTION: Final = "voiceguard.direction"
ATTR_PROVIDER: Final = "gen_ai.provider.name"
ATTR_OPERATION: Final = "voiceguard.operation"
ATTR_ANOMALY_KIND: Final = "voiceguard.anomaly.kind"
ATTR_AUDIO_ENCODING: Final = "voiceguard.audio.encoding"
ATTR_AUDIT_STORE: Final = "voiceguard.audit.store"
ATTR_UNCHECKED_REASON: Final = "voiceguard.speaker.unchecked.reason"
ATTR_PII_REASON: Final = "voiceguard.pii.reason"
"""Why PII analysis failed: ``timeout`` or ``error``."""

# --- log fields ---------------------------------------------------------------------------------------------

LOG_REQUEST: Final = "request"
LOG_CALL_ENDED: Final = "call_ended"

# --- voice telemetry (traces and metrics of calls and turns) ------------------------------------------------
# GenAI semantic-convention names are re-exported from OpenTelemetry's own constants so they stay in step with
# the SDK; names the conventions do not have yet (speech, turns, voice latency, policy) live under
# ``voiceguard.*``. Every content-bearing attribute has a ``.pii.`` path segment, so a collector can strip
# them by pattern; audio is never an attribute.

GEN_AI_CONVERSATION_ID: Final = _gen_ai.GEN_AI_CONVERSATION_ID
GEN_AI_OPERATION_NAME: Final = _gen_ai.GEN_AI_OPERATION_NAME
GEN_AI_PROVIDER_NAME: Final = _gen_ai.GEN_AI_PROVIDER_NAME
GEN_AI_REQUEST_MODEL: Final = _gen_ai.GEN_AI_REQUEST_MODEL
GEN_AI_REQUEST_STREAM: Final = _gen_ai.GEN_AI_REQUEST_STREAM
GEN_AI_RESPONSE_MODEL: Final = _gen_ai.GEN_AI_RESPONSE_MODEL
GEN_AI_RESPONSE_ID: Final = _gen_ai.GEN_AI_RESPONSE_ID
GEN_AI_RESPONSE_FINISH_REASONS: Final = _gen_ai.GEN_AI_RESPONSE_FINISH_REASONS
GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK: Final = _gen_ai.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK
GEN_AI_OUTPUT_TYPE: Final = _gen_ai.GEN_AI_OUTPUT_TYPE
GEN_AI_USAGE_INPUT_TOKENS: Final = _gen_ai.GEN_AI_USAGE_INPUT_TOKENS
GEN_AI_USAGE_OUTPUT_TOKENS: Final = _gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS
GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: Final = _gen_ai.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS
GEN_AI_USAGE_AUDIO_INPUT_TOKENS: Final = "gen_ai.usage.audio.input_tokens"
"""Merged in semantic-conventions-genai PR #440; not yet in the Python constants."""
GEN_AI_USAGE_AUDIO_OUTPUT_TOKENS: Final = "gen_ai.usage.audio.output_tokens"
GEN_AI_TOKEN_TYPE: Final = _gen_ai.GEN_AI_TOKEN_TYPE
GEN_AI_CLIENT_OPERATION_DURATION: Final = _gen_ai_metrics.GEN_AI_CLIENT_OPERATION_DURATION
GEN_AI_CLIENT_TOKEN_USAGE: Final = _gen_ai_metrics.GEN_AI_CLIENT_TOKEN_USAGE
GEN_AI_CLIENT_TIME_TO_FIRST_CHUNK: Final = _gen_ai_metrics.GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK
SERVER_ADDRESS: Final = "server.address"
HTTP_REQUEST_METHOD: Final = "http.request.method"
HTTP_RESPONSE_STATUS_CODE: Final = "http.response.status_code"

OPERATION_CHAT: Final = "chat"
OPERATION_SPEECH_TO_TEXT: Final = "speech_to_text"
"""Proposed in semantic-conventions-genai PR #390 (open); used until the conventions settle."""
OPERATION_TEXT_TO_SPEECH: Final = "text_to_speech"
OPERATION_REALTIME: Final = "realtime"
OUTPUT_TYPE_SPEECH: Final = "speech"
OUTPUT_TYPE_TEXT: Final = "text"

# span names
SPAN_CALL: Final = "voice.call"
SPAN_TURN: Final = "voice.turn"
SPAN_STT: Final = "stt"
SPAN_CHAT: Final = "chat"
SPAN_TTS: Final = "tts"
SPAN_REALTIME_RESPONSE: Final = "realtime.response"
SPAN_CONNECTION: Final = "voice.connection"
"""A WebSocket connection of a call (a realtime session, a streaming STT or TTS socket)."""
EVENT_POLICY_DECISION: Final = "voiceguard.policy.decision"
TRACER_NAME: Final = "voiceguard"

# call attributes
CALL_ID: Final = "voiceguard.call.id"
CALL_NAMED_BY_CLIENT: Final = "voiceguard.call.named_by_client"
CALL_SUBJECT_HASH: Final = "voiceguard.call.subject_hash"
CALL_JURISDICTION: Final = "voiceguard.call.jurisdiction"
CALL_ROUTES: Final = "voiceguard.call.routes"
CALL_TURNS: Final = "voiceguard.call.turns"
CALL_INTERRUPTIONS: Final = "voiceguard.call.interruptions"
CALL_EXCHANGES: Final = "voiceguard.call.exchanges"
CALL_DURATION: Final = "voiceguard.call.duration"

# turn attributes (durations in seconds, as the GenAI conventions do)
TURN_NUMBER: Final = "voiceguard.turn.number"
TURN_MODE: Final = "voiceguard.turn.mode"
"""``cascade`` (STT → LLM → TTS exchanges) or ``realtime`` (a speech-to-speech backend)."""
TURN_INTERRUPTED: Final = "voiceguard.turn.interrupted"
TURN_END_OF_SPEECH_SOURCE: Final = "voiceguard.turn.end_of_speech_source"
TURN_VOICE_TO_VOICE: Final = "voiceguard.turn.voice_to_voice_latency"
TURN_END_OF_TURN_DELAY: Final = "voiceguard.turn.end_of_turn_delay"
STT_TIME_TO_FINAL: Final = "voiceguard.stt.time_to_final_transcript"
TURN_GAP_TRANSCRIPT_TO_LLM: Final = "voiceguard.turn.gap.transcript_to_llm"
LLM_TIME_TO_FIRST_TOKEN: Final = "voiceguard.llm.time_to_first_token"
LLM_DURATION: Final = "voiceguard.llm.duration"
TURN_GAP_LLM_TO_TTS: Final = "voiceguard.turn.gap.llm_to_tts"
TTS_TIME_TO_FIRST_AUDIO: Final = "voiceguard.tts.time_to_first_audio"
REALTIME_TIME_TO_FIRST_AUDIO: Final = "voiceguard.realtime.time_to_first_audio"
TURN_PROXY_OVERHEAD: Final = "voiceguard.turn.proxy_overhead"
TURN_BARGE_IN_STOP: Final = "voiceguard.turn.barge_in_stop_latency"
AUDIO_INPUT_SECONDS: Final = "voiceguard.audio.input_seconds"
AUDIO_OUTPUT_SECONDS: Final = "voiceguard.audio.output_seconds"
TTS_CHARACTERS: Final = "voiceguard.tts.characters"
TTS_VOICE: Final = "voiceguard.tts.voice"
COST_USD: Final = "voiceguard.cost.usd"
"""Estimated cost from the configured price table (``telemetry.prices``), in US dollars."""

BREAKDOWN_ATTRIBUTES: Final = {
    "voice_to_voice": TURN_VOICE_TO_VOICE,
    "end_of_speech_detection": TURN_END_OF_TURN_DELAY,
    "stt_finalization": STT_TIME_TO_FINAL,
    "gap_transcript_to_llm": TURN_GAP_TRANSCRIPT_TO_LLM,
    "llm_time_to_first_token": LLM_TIME_TO_FIRST_TOKEN,
    "llm_total": LLM_DURATION,
    "gap_llm_to_tts": TURN_GAP_LLM_TO_TTS,
    "tts_time_to_first_byte": TTS_TIME_TO_FIRST_AUDIO,
    "realtime_time_to_first_audio": REALTIME_TIME_TO_FIRST_AUDIO,
    "proxy_overhead": TURN_PROXY_OVERHEAD,
    "barge_in_stop": TURN_BARGE_IN_STOP,
}
"""``Turn.breakdown_ms()`` keys → the span attribute (and histogram) each is reported as, in seconds."""

# exchange (stage span) attributes
EXCHANGE_ID: Final = "voiceguard.exchange.id"
EXCHANGE_PROXY_OVERHEAD: Final = "voiceguard.proxy.overhead"
STT_AUDIO_SECONDS: Final = "voiceguard.stt.audio_seconds"

# policy decisions (span events and metrics)
POLICY_RULE: Final = "voiceguard.policy.rule_id"
POLICY_ACTION: Final = "voiceguard.policy.action"
POLICY_OUTCOME: Final = "voiceguard.policy.outcome"
POLICY_COUNT_PREFIX: Final = "voiceguard.policy.count."
POLICY_EVIDENCE_PREFIX: Final = "voiceguard.policy.evidence."
PII_ENTITY_TYPE: Final = "voiceguard.pii.entity_type"

# content, recorded only with telemetry.capture_content on, and only after redaction
CONTENT_INPUT_MESSAGES: Final = "voiceguard.pii.input_messages"
"""Redacted prompt texts, as JSON ``[{"role", "content"}]`` (the shape of ``gen_ai.input.messages``)."""
CONTENT_OUTPUT_TEXT: Final = "voiceguard.pii.output_text"
CONTENT_USER_TRANSCRIPT: Final = "voiceguard.pii.user_transcript"
CONTENT_TTS_TEXT: Final = "voiceguard.pii.tts_text"

# voice metrics
METRIC_VOICE_TO_VOICE: Final = TURN_VOICE_TO_VOICE
METRIC_END_OF_TURN_DELAY: Final = TURN_END_OF_TURN_DELAY
METRIC_STT_TIME_TO_FINAL: Final = STT_TIME_TO_FINAL
METRIC_LLM_TIME_TO_FIRST_TOKEN: Final = LLM_TIME_TO_FIRST_TOKEN
METRIC_TTS_TIME_TO_FIRST_AUDIO: Final = TTS_TIME_TO_FIRST_AUDIO
METRIC_REALTIME_TIME_TO_FIRST_AUDIO: Final = REALTIME_TIME_TO_FIRST_AUDIO
METRIC_BARGE_IN_STOP: Final = TURN_BARGE_IN_STOP
METRIC_TURN_GAP: Final = "voiceguard.turn.gap"
"""Histogram (s): the agent's own orchestration delay between stages, by ``voiceguard.turn.gap_kind``."""
METRIC_TURN_PROXY_OVERHEAD: Final = TURN_PROXY_OVERHEAD
METRIC_TURNS: Final = "voiceguard.turns"
METRIC_INTERRUPTIONS: Final = "voiceguard.turn.interruptions"
METRIC_CALLS: Final = "voiceguard.calls"
METRIC_PII_ENTITIES: Final = "voiceguard.pii.entities"
METRIC_POLICY_DECISIONS: Final = "voiceguard.policy.decisions"
METRIC_COST: Final = "voiceguard.cost.usd"
"""Counter: estimated cost in US dollars, by stage, provider, route and model."""
METRIC_AUDIO: Final = "voiceguard.audio.duration"
METRIC_TELEMETRY_DROPPED: Final = "voiceguard.telemetry.dropped"
"""Counter: spans voiceguard could not export (queue full behind a slow collector, export failed)."""
ATTR_GAP_KIND: Final = "voiceguard.turn.gap_kind"
ATTR_STAGE: Final = "voiceguard.stage"
ATTR_SIGNAL: Final = "voiceguard.telemetry.signal"
ATTR_REASON: Final = "voiceguard.telemetry.reason"
ATTR_COST_KIND: Final = "voiceguard.cost.kind"

LOG_TRACE_ID: Final = "trace_id"
