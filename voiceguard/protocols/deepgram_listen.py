"""Deepgram speech-to-text: pre-recorded and live ``/v1/listen`` (and Flux ``/v2/listen``).

Facts: REFERENCE-protocols.md §3. The upload streams through unread (its size, from ``Content-Length``,
is the only thing taken from it); the JSON result is buffered, because the client waits for all of it
anyway, and parsed into transcripts (see ``deepgram_transcripts``). On the socket, binary frames are the
client's audio (``AudioChunk``, duration from the declared ``encoding``/``sample_rate``/``channels``),
``Results`` carry transcripts (``is_final``; ``speech_final`` as ``end_of_turn``), ``SpeechStarted`` and
``UtteranceEnd`` the backend's voice activity (``UtteranceEnd`` → ``SpeechStopped`` at ``last_word_end``),
``Metadata`` the billed duration; ``KeepAlive``, ``Finalize`` and ``CloseStream`` pass as they are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import orjson
from multidict import MultiDict, MultiMapping

from voiceguard.events import (
    BiometricRequest,
    Direction,
    Event,
    SpeechStarted,
    SpeechStopped,
    Stage,
    Transcript,
    Usage,
    WireAnomaly,
)
from voiceguard.protocols.base import (
    UNCHANGED_REQUEST,
    ExchangeInfo,
    RequestEdit,
    RequestHead,
    StreamCodec,
    WireUnit,
)
from voiceguard.protocols.deepgram_transcripts import TranscriptParser, render_transcripts
from voiceguard.protocols.deepgram_wire import (
    BIOMETRIC_OPTIONS,
    biometric_requests,
    listen_audio_format,
    strip_refused,
    upstream_error,
)
from voiceguard.protocols.jsonunit import JsonOrigin, JsonRender
from voiceguard.protocols.jsonvalues import as_dict, as_list, as_number
from voiceguard.protocols.sse import WireLimitExceeded
from voiceguard.protocols.wsjson import MALFORMED_JSON, JsonFrame, JsonSocketCodec, decode

PROVIDER: Final = "deepgram"
LISTEN: Final = ExchangeInfo(provider=PROVIDER, operation="listen", stage=Stage.STT)
LISTEN_LIVE: Final = ExchangeInfo(provider=PROVIDER, operation="listen_live", stage=Stage.STT)
MAX_BUFFERED_RESULT: Final = 32 * 1024 * 1024
"""A transcript of many hours with every option on stays well below this."""


def _model_name(metadata: Mapping[str, Any]) -> str | None:
    for info in as_dict(metadata.get("model_info")).values():
        if isinstance(info, dict) and isinstance(info.get("name"), str):
            return str(info["name"])
    return None


# --- pre-recorded --------------------------------------------------------------------------------------


def prerecorded_events(body: Mapping[str, Any], parser: TranscriptParser, model: str | None) -> list[Event]:
    """Every text of a pre-recorded result, then what it cost."""
    results = as_dict(body.get("results"))
    for c_index, channel in enumerate(as_list(results.get("channels"))):
        if not isinstance(channel, dict):
            continue
        path = ("results", "channels", c_index)
        for a_index, alternative in enumerate(as_list(channel.get("alternatives"))):
            if isinstance(alternative, dict):
                stream = str(c_index) if a_index == 0 else f"{c_index}.{a_index}"
                parser.alternative(alternative, (*path, "alternatives", a_index), stream)
        for s_index, search in enumerate(as_list(channel.get("search"))):
            for h_index, hit in enumerate(as_list(as_dict(search).get("hits"))):
                if isinstance(hit, dict):
                    hit_path = (*path, "search", s_index, "hits", h_index, "snippet")
                    parser.text(hit.get("snippet"), hit_path, f"{c_index}.search")
    for u_index, utterance in enumerate(as_list(results.get("utterances"))):
        if isinstance(utterance, dict):
            u_path = ("results", "utterances", u_index)
            speaker = utterance.get("speaker")
            parser.transcript(
                utterance,
                u_path,
                f"{utterance.get('channel', 0)}.utterances",
                speaker=str(speaker) if isinstance(speaker, int) and not isinstance(speaker, bool) else None,
            )
    parser.text(as_dict(results.get("summary")).get("short"), ("results", "summary", "short"), "summary")
    for key in ("topics", "intents", "sentiments"):
        parser.segments(results.get(key), ("results", key), key)
    events = list(parser.events)
    metadata = as_dict(body.get("metadata"))
    if metadata:
        events.append(
            Usage(model=_model_name(metadata) or model, audio_seconds=as_number(metadata.get("duration")))
        )
    return events


class ListenResultCodec:
    """The JSON result of a pre-recorded request: buffered, one unit."""

    def __init__(self, model: str | None, limit: int = MAX_BUFFERED_RESULT) -> None:
        self._chunks: list[bytes] = []
        self._size = 0
        self._limit = limit
        self._model = model

    def feed(self, data: bytes) -> list[WireUnit]:
        self._size += len(data)
        if self._size > self._limit:
            raise WireLimitExceeded(f"transcription result larger than {self._limit} bytes")
        self._chunks.append(data)
        return []

    def end(self) -> list[WireUnit]:
        raw = b"".join(self._chunks)
        if not raw:
            return []
        body = decode(raw)
        if body is None:
            return [WireUnit(raw=raw, events=[WireAnomaly(MALFORMED_JSON, "listen_result")])]
        parser = TranscriptParser(1, body)
        return [WireUnit(raw=raw, events=prerecorded_events(body, parser, self._model), state=parser)]

    def render(self, unit: WireUnit, events: Sequence[Event]) -> bytes:
        if not isinstance(unit.state, TranscriptParser):
            return unit.raw
        return render_transcripts(unit.raw, unit.events, events, unit.state).raw


class ListenRestCodec:
    """``POST /v1/listen``: options in the query, audio (or ``{"url"}``) in a body that streams through."""

    info = LISTEN
    needs_request_body = False

    def __init__(self) -> None:
        self._query: MultiMapping[str] | None = None
        self._events: list[Event] = []

    def request_events(self, head: RequestHead, body: bytes | None) -> list[Event]:
        self._query = head.query
        events = biometric_requests(head.query)
        length = head.headers.get("Content-Length", "")
        audio = not head.headers.get("Content-Type", "").startswith("application/json")
        if audio and length.isascii() and length.isdigit():
            events.append(listen_audio_format(head.query).chunk(Direction.TO_UPSTREAM, int(length)))
        self._events = events
        return events

    def render_request(self, events: Sequence[Event]) -> RequestEdit:
        if self._query is None:
            return UNCHANGED_REQUEST
        query = strip_refused(self._query, self._events, events)
        return UNCHANGED_REQUEST if query is None else RequestEdit(query=query)

    def response_codec(self, status: int, headers: Mapping[str, str]) -> StreamCodec | None:
        if status != 200 or not headers.get("Content-Type", "").startswith("application/json"):
            return None
        return ListenResultCodec(self._query.get("model") if self._query is not None else None)


# --- live ------------------------------------------------------------------------------------------------


_EMPTY_METADATA: Final = {"request_id": "", "model_info": {}, "model_uuid": ""}


class ListenSocketCodec(JsonSocketCodec):
    """``/v1/listen`` (and Flux ``/v2/listen``) over WebSocket."""

    info = LISTEN_LIVE

    def __init__(self) -> None:
        super().__init__()
        self._query: MultiMapping[str] | None = None
        self._format = listen_audio_format(MultiDict())
        self._handshake: list[Event] = []
        self._template: dict[str, Any] | None = None

    def handshake_events(self, head: RequestHead) -> list[Event]:
        self._query = head.query
        self._format = listen_audio_format(head.query)
        self._handshake = biometric_requests(head.query)
        return list(self._handshake)

    def render_handshake(self, events: Sequence[Event]) -> RequestEdit:
        if self._query is None:
            return UNCHANGED_REQUEST
        query = strip_refused(self._query, self._handshake, events)
        return UNCHANGED_REQUEST if query is None else RequestEdit(query=query)

    def binary(self, data: bytes, direction: Direction) -> list[Event]:
        if direction is Direction.TO_UPSTREAM:
            return [self._format.chunk(direction, len(data))]
        return [WireAnomaly("unexpected_binary", "listen")]

    def parse(self, frame: JsonFrame) -> list[Event]:
        body, kind = frame.body, frame.kind
        if frame.direction is Direction.TO_UPSTREAM:
            if kind == "Configure":
                return self._configure(frame)
            return []
        if kind == "Results":
            return self._results(frame)
        if kind == "TurnInfo":
            return self._turn_info(frame)
        if kind == "SpeechStarted":
            return [SpeechStarted(audio_s=as_number(body.get("timestamp")))]
        if kind == "UtteranceEnd":
            return [SpeechStopped(audio_s=as_number(body.get("last_word_end")))]
        if kind == "Metadata":
            return [Usage(model=_model_name(body), audio_seconds=as_number(body.get("duration")))]
        if kind in ("Error", "ConfigureFailure"):
            return [upstream_error(body)]
        return []

    def _configure(self, frame: JsonFrame) -> list[Event]:
        """``Configure`` may turn features on mid-stream; a voiceprint one is asked for like an option."""
        events: list[Event] = []
        for key, value in as_dict(frame.body.get("features")).items():
            feature = BIOMETRIC_OPTIONS.get(key)
            if feature is not None and value is True:
                events.append(BiometricRequest(feature, origin=JsonOrigin(frame.message, ("features", key))))
        return events

    def _results(self, frame: JsonFrame) -> list[Event]:
        body = frame.body
        self._template = body
        channel_index = as_list(body.get("channel_index"))
        channel = str(channel_index[0]) if channel_index else "0"
        parser = TranscriptParser(frame.message, body)
        is_final = body.get("is_final") is True
        end_of_turn = body.get("speech_final") is True
        for a_index, alternative in enumerate(as_list(as_dict(body.get("channel")).get("alternatives"))):
            if isinstance(alternative, dict):
                stream = channel if a_index == 0 else f"{channel}.{a_index}"
                path = ("channel", "alternatives", a_index)
                parser.alternative(alternative, path, stream, is_final=is_final, end_of_turn=end_of_turn)
        parser.entities(body.get("entities"), ("entities",), f"{channel}.entities")
        frame.parsed = parser
        return parser.events

    def _turn_info(self, frame: JsonFrame) -> list[Event]:
        """Flux: each ``TurnInfo`` restates the turn so far; ``EndOfTurn`` closes it."""
        body = frame.body
        event = body.get("event")
        events: list[Event] = []
        if event == "StartOfTurn":
            events.append(SpeechStarted(audio_s=as_number(body.get("audio_window_start"))))
        parser = TranscriptParser(frame.message, body)
        done = event == "EndOfTurn"
        parser.transcript(body, (), "0", is_final=done, end_of_turn=done)
        frame.parsed = parser
        return [*events, *parser.events]

    def render_body(
        self, raw: bytes, originals: Sequence[Event], out: Sequence[Event], frame: JsonFrame
    ) -> JsonRender:
        parser = (
            frame.parsed
            if isinstance(frame.parsed, TranscriptParser)
            else TranscriptParser(frame.message, frame.body)
        )
        return render_transcripts(raw, originals, out, parser)

    def inject(
        self, events: Sequence[Event], direction: Direction, template: JsonFrame | None
    ) -> list[WireUnit]:
        """A transcript a guard released later goes out as a ``Results`` message of its own."""
        if direction is not Direction.TO_CLIENT:
            return []
        units: list[WireUnit] = []
        for event in events:
            if isinstance(event, Transcript):
                units.append(WireUnit(raw=orjson.dumps(self._results_message(event))))
        return units

    def _results_message(self, event: Transcript) -> dict[str, Any]:
        base = self._template or {"type": "Results", "channel_index": [0, 1], "duration": 0.0, "start": 0.0}
        return {
            **base,
            "is_final": event.is_final,
            "speech_final": event.end_of_turn,
            "channel": {"alternatives": [{"transcript": event.text, "confidence": 0.0, "words": []}]},
            "metadata": base.get("metadata", _EMPTY_METADATA),
        }
