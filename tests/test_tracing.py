"""One trace per call: a scripted cascade call through the real openai SDK, and a realtime call, read back
from the SDK's in-memory exporter."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path

import openai
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.engines import shared_engine
from voiceguard import server
from voiceguard.events import (
    AudioChunk,
    Direction,
    Event,
    PolicyDecision,
    PromptText,
    ResponseDone,
    ResponseStarted,
    SpeechStarted,
    SpeechStopped,
    Stage,
    TextDelta,
    Transcript,
    Usage,
)
from voiceguard.guards.base import GuardChain, GuardContext
from voiceguard.pipeline import Pipeline
from voiceguard.protocols.base import ExchangeInfo
from voiceguard.session import Call, CallContext
from voiceguard.simulator import RunningApp
from voiceguard.simulator.audio import tone_pcm16, wav
from voiceguard.simulator.backend import Backend
from voiceguard.telemetry import ids, names
from voiceguard.testing import in_memory_tracing, settings_for

MS = 1_000_000
CALL_ID = "call-cascade-1"


class ReportsPii:
    """Reports a PII decision for every prompt, as the PII guard does (entity counts by type)."""

    name = "reports-pii"

    def start(self, call: Call) -> None:
        pass

    def finish(self, call: Call) -> None:
        pass

    def process(self, ctx: GuardContext, event: Event) -> Iterable[Event]:
        yield event
        if isinstance(event, PromptText):
            yield PolicyDecision("pii.redact", "redact", "applied", counts=(("PHONE_NUMBER", 2),))


@dataclass
class Traced:
    proxy: server.RunningServer
    exporter: InMemorySpanExporter


async def traced_proxy(tmp_path: Path, upstream: RunningApp, **telemetry: object) -> AsyncIterator[Traced]:
    settings = settings_for({"openai": upstream.url}, tmp_path / "data", telemetry=telemetry)
    sink, exporter = in_memory_tracing(settings)
    proxy = await server.start(
        settings, extra_sinks=[sink], guards=[ReportsPii()], pii_engine=shared_engine(settings)
    )
    try:
        yield Traced(proxy, exporter)
    finally:
        await proxy.close()


@pytest.fixture
async def traced(tmp_path: Path, openai_upstream: RunningApp) -> AsyncIterator[Traced]:
    async for running in traced_proxy(tmp_path, openai_upstream):
        yield running


async def cascade_call(proxy: server.RunningServer, headers: dict[str, str]) -> bytes:
    """One turn of a pipeline agent: transcribe the caller, ask the LLM (streamed), speak the reply."""
    async with openai.AsyncOpenAI(
        api_key="sk-test", base_url=f"{proxy.url}/openai/v1", max_retries=0, default_headers=headers
    ) as client:
        heard = await client.audio.transcriptions.create(
            model="gpt-4o-mini-transcribe", file=("caller.wav", wav(tone_pcm16(1.0)), "audio/wav")
        )
        stream = await client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": heard.text}],
            stream=True,
            stream_options={"include_usage": True},
        )
        reply = "".join([chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices])
        async with client.audio.speech.with_streaming_response.create(
            model="gpt-4o-mini-tts", voice="alloy", input=reply, response_format="pcm"
        ) as speech:
            return b"".join([part async for part in speech.iter_bytes()])


def by_name(spans: Iterable[ReadableSpan]) -> dict[str, ReadableSpan]:
    return {span.name: span for span in spans}


def parent_of(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


async def test_cascade_call_is_one_trace_with_a_turn_and_a_span_per_stage(
    traced: Traced, backend: Backend
) -> None:
    audio = await cascade_call(traced.proxy, {"X-VoiceGuard-Call-Id": CALL_ID})
    assert audio
    await traced.proxy.close()  # the named call ends at shutdown: its turn closes and every span is flushed
    spans = by_name(traced.exporter.get_finished_spans())
    assert set(spans) == {
        "voice.call",
        "voice.turn",
        "stt gpt-4o-mini-transcribe",
        "chat gpt-4o-mini",
        "tts gpt-4o-mini-tts",
    }
    call, turn = spans["voice.call"], spans["voice.turn"]
    stt, chat, tts = (
        spans["stt gpt-4o-mini-transcribe"],
        spans["chat gpt-4o-mini"],
        spans["tts gpt-4o-mini-tts"],
    )
    probe = Call(id=CALL_ID, named_by_client=True, started_ns=0)
    assert {span.context.trace_id for span in spans.values()} == {ids.trace_id_for(probe)}
    assert call.parent is None
    assert parent_of(turn) == call.context.span_id
    assert {parent_of(stt), parent_of(chat), parent_of(tts)} == {turn.context.span_id}

    assert call.attributes[names.GEN_AI_CONVERSATION_ID] == CALL_ID
    assert call.attributes[names.CALL_TURNS] == 1
    assert call.attributes[names.CALL_EXCHANGES] == 3
    assert chat.attributes[names.GEN_AI_OPERATION_NAME] == "chat"
    assert chat.attributes[names.GEN_AI_PROVIDER_NAME] == "openai"
    assert chat.attributes[names.GEN_AI_REQUEST_MODEL] == "gpt-4o-mini"
    assert chat.attributes[names.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert chat.attributes[names.GEN_AI_USAGE_INPUT_TOKENS] == 12
    assert chat.attributes[names.GEN_AI_USAGE_OUTPUT_TOKENS] == 4  # "You said: hello there"
    assert chat.attributes[names.SERVER_ADDRESS] == "127.0.0.1"
    assert stt.attributes[names.GEN_AI_OPERATION_NAME] == names.OPERATION_SPEECH_TO_TEXT
    assert stt.attributes[names.GEN_AI_USAGE_AUDIO_INPUT_TOKENS] == 20
    assert tts.attributes[names.GEN_AI_OUTPUT_TYPE] == "speech"
    assert tts.attributes[names.TTS_VOICE] == "alloy"
    assert tts.attributes[names.TTS_CHARACTERS] == len("You said: hello there")
    assert tts.attributes[names.AUDIO_OUTPUT_SECONDS] == pytest.approx(len(audio) / 48_000)

    # the turn's breakdown adds up: end of speech → transcript → LLM → first token → TTS → first audio
    parts = [
        names.STT_TIME_TO_FINAL,
        names.TURN_GAP_TRANSCRIPT_TO_LLM,
        names.LLM_TIME_TO_FIRST_TOKEN,
        names.TURN_GAP_LLM_TO_TTS,
        names.TTS_TIME_TO_FIRST_AUDIO,
    ]
    total = sum(float(turn.attributes[part]) for part in parts)  # type: ignore[arg-type]
    assert float(turn.attributes[names.TURN_VOICE_TO_VOICE]) == pytest.approx(total, abs=1e-6)  # type: ignore[arg-type]
    assert turn.attributes[names.TURN_END_OF_SPEECH_SOURCE] == "upload_start"
    assert turn.attributes[names.TURN_MODE] == "cascade"
    assert names.REALTIME_TIME_TO_FIRST_AUDIO not in turn.attributes
    assert float(turn.attributes[names.TURN_PROXY_OVERHEAD]) > 0  # type: ignore[arg-type]
    stage_costs = sum(float(s.attributes[names.COST_USD]) for s in (stt, chat, tts))  # type: ignore[arg-type]
    assert float(turn.attributes[names.COST_USD]) == pytest.approx(stage_costs, abs=2e-6)  # type: ignore[arg-type]
    assert float(call.attributes[names.COST_USD]) > 0  # type: ignore[arg-type]

    # the PII guard's decision is an event on the stage it happened in
    [decision] = chat.events
    assert decision.name == names.EVENT_POLICY_DECISION
    assert decision.attributes is not None
    assert decision.attributes[names.POLICY_RULE] == "pii.redact"
    assert decision.attributes[names.POLICY_COUNT_PREFIX + "PHONE_NUMBER"] == 2

    # content capture is off by default: no text of the caller on any span
    assert not [key for span in spans.values() for key in span.attributes or {} if ".pii." in key]

    # each upstream request carried the traceparent of the span that describes it
    sent = [received.headers["traceparent"] for received in backend.received]
    expected = [ids.traceparent(span.context.trace_id, span.context.span_id) for span in (stt, chat, tts)]
    assert sent == expected


async def test_incoming_traceparent_is_the_call_spans_parent_and_names_the_call(traced: Traced) -> None:
    client_trace, client_span = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    await cascade_call(traced.proxy, {"traceparent": f"00-{client_trace}-{client_span}-01"})
    await traced.proxy.close()
    spans = by_name(traced.exporter.get_finished_spans())
    call = spans["voice.call"]
    assert f"{call.context.trace_id:032x}" == client_trace
    assert call.parent is not None and f"{call.parent.span_id:016x}" == client_span
    assert call.attributes[names.CALL_ID] == client_trace
    assert {f"{span.context.trace_id:032x}" for span in spans.values()} == {client_trace}


async def test_content_is_recorded_only_when_enabled_and_only_redacted(
    tmp_path: Path, openai_upstream: RunningApp
) -> None:
    async for traced in traced_proxy(tmp_path, openai_upstream, capture_content=True):
        await cascade_call(traced.proxy, {"X-VoiceGuard-Call-Id": "call-content"})
        await traced.proxy.close()
        spans = by_name(traced.exporter.get_finished_spans())
    stt = spans["stt gpt-4o-mini-transcribe"]
    chat = spans["chat gpt-4o-mini"]
    assert stt.attributes[names.CONTENT_USER_TRANSCRIPT] == "***** *****"  # "hello there", masked
    assert chat.attributes[names.CONTENT_INPUT_MESSAGES] == '[{"role":"user","content":"***** *****"}]'
    assert chat.attributes[names.CONTENT_OUTPUT_TEXT] == "*** ****: ***** *****"
    assert spans["tts gpt-4o-mini-tts"].attributes[names.CONTENT_TTS_TEXT] == "*** ****: ***** *****"
    recorded = [str(value) for span in spans.values() for value in (span.attributes or {}).values()]
    assert not [value for value in recorded if "hello" in value]


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000 * 1_000_000_000

    def __call__(self) -> int:
        return self.now

    def at(self, ms: int) -> None:
        self.now = 1_700_000_000 * 1_000_000_000 + ms * MS


def test_realtime_call_has_a_turn_and_a_response_span_per_reply_and_the_socket_under_the_call() -> None:
    """Driven at the pipeline with the events a realtime adapter reports (that adapter lives on its own
    branch), on an exact clock, so the per-turn numbers are known."""
    sink, exporter = in_memory_tracing()
    clock = Clock()
    pipeline = Pipeline(GuardChain([]), [sink], max_calls=10, call_idle_seconds=60, clock=clock)
    info = ExchangeInfo("openai", "realtime", Stage.REALTIME)
    exchange = pipeline.open_exchange(
        CallContext(), route="openai", info=info, transport="websocket", method="GET", path="/v1/realtime"
    )
    assert exchange is not None
    pipeline.request_sent(exchange)

    def upstream(ms: int, *events: Event) -> None:
        clock.at(ms)
        pipeline.process(exchange, list(events), Direction.TO_CLIENT)

    def client(ms: int, *events: Event) -> None:
        clock.at(ms)
        pipeline.process(exchange, list(events), Direction.TO_UPSTREAM)

    for frame in range(10):
        client(frame * 100, AudioChunk(Direction.TO_UPSTREAM, 4800, 0.1))
    upstream(100, SpeechStarted(audio_s=0.1))
    upstream(1_030, SpeechStopped(audio_s=0.9))
    upstream(1_060, ResponseStarted("resp_1", model="gpt-realtime"))
    upstream(1_300, AudioChunk(Direction.TO_CLIENT, 4800, 0.1))
    upstream(1_320, Transcript("what is my balance", stream="item_1"), TextDelta("Your balance"))
    upstream(1_400, AudioChunk(Direction.TO_CLIENT, 48_000, 1.0))
    upstream(
        1_420,
        Usage(
            model="gpt-realtime",
            input_tokens=100,
            output_tokens=50,
            audio_input_tokens=80,
            audio_output_tokens=40,
        ),
        ResponseDone("resp_1"),
    )
    # turn 2: the caller barges in while the reply is still playing
    upstream(4_000, SpeechStarted())
    upstream(4_500, SpeechStopped())
    upstream(4_510, ResponseStarted("resp_2", model="gpt-realtime"))
    upstream(4_700, AudioChunk(Direction.TO_CLIENT, 48_000, 1.0))
    upstream(5_000, SpeechStarted())
    upstream(5_080, AudioChunk(Direction.TO_CLIENT, 4800, 0.1))
    upstream(5_100, ResponseDone("resp_2", status="cancelled"))
    clock.at(6_000)
    pipeline.finish_exchange(exchange, status=101)
    sink.tracing.force_flush()

    spans = exporter.get_finished_spans()
    [call] = [s for s in spans if s.name == "voice.call"]
    turns = sorted(
        (s for s in spans if s.name == "voice.turn"), key=lambda s: s.attributes[names.TURN_NUMBER]
    )  # type: ignore[index]
    responses = [s for s in spans if s.name == "realtime.response gpt-realtime"]
    [connection] = [s for s in spans if s.name == "voice.connection"]
    assert parent_of(connection) == call.context.span_id
    assert [t.attributes[names.TURN_NUMBER] for t in turns] == [1, 2, 3]
    assert {parent_of(t) for t in turns} == {call.context.span_id}
    assert sorted(parent_of(r) for r in responses) == sorted(t.context.span_id for t in turns[:2])

    first, second = turns[0], turns[1]
    assert first.attributes[names.TURN_MODE] == "realtime"
    assert first.attributes[names.TURN_VOICE_TO_VOICE] == pytest.approx(0.270)  # 1030 → 1300 ms
    assert first.attributes[names.TURN_END_OF_TURN_DELAY] == pytest.approx(
        0.230
    )  # 0.9 s of audio in at 800 ms
    assert first.attributes[names.GEN_AI_USAGE_AUDIO_OUTPUT_TOKENS] == 40
    assert first.attributes[names.COST_USD] == pytest.approx((20 * 4 + 80 * 32 + 10 * 16 + 40 * 64) / 1e6)
    assert second.attributes[names.TURN_INTERRUPTED] is True
    assert second.attributes[names.TURN_BARGE_IN_STOP] == pytest.approx(0.080)  # 5000 → last audio at 5080
    [first_response] = [r for r in responses if parent_of(r) == first.context.span_id]
    assert first_response.start_time == clock.now - 6_000 * MS + 1_060 * MS
    assert first_response.end_time == clock.now - 6_000 * MS + 1_420 * MS
    assert first_response.attributes[names.REALTIME_TIME_TO_FIRST_AUDIO] == pytest.approx(0.270)
    assert connection.attributes[names.GEN_AI_USAGE_OUTPUT_TOKENS] == 50
    assert call.end_time is not None and call.attributes[names.CALL_INTERRUPTIONS] == 1


async def test_realtime_call_through_the_sdk_has_a_connection_span_and_a_response_span_per_turn(
    traced: Traced, backend: Backend
) -> None:
    from tests.test_openai_realtime_dropin import GA_SESSION, client_for, events_until, speak

    backend.script(["what is my balance"])
    async with (
        client_for(traced.proxy, default_headers={"X-VoiceGuard-Call-Id": "call-realtime"}) as client,
        client.realtime.connect(model="gpt-realtime") as connection,
    ):
        await connection.session.update(session=GA_SESSION)
        await speak(connection)
        await events_until(connection, "response.done")
    await traced.proxy.close()
    spans = traced.exporter.get_finished_spans()
    [call] = [s for s in spans if s.name == "voice.call"]
    [connection_span] = [s for s in spans if s.name == "voice.connection"]
    turns = [s for s in spans if s.name == "voice.turn"]
    responses = [s for s in spans if s.name.startswith("realtime.response")]
    assert parent_of(connection_span) == call.context.span_id
    assert connection_span.attributes[names.GEN_AI_PROVIDER_NAME] == "openai"
    [answered] = [t for t in turns if t.attributes.get(names.TURN_VOICE_TO_VOICE)]
    assert answered.attributes[names.TURN_MODE] == "realtime"
    assert parent_of(answered) == call.context.span_id
    [response] = responses
    assert parent_of(response) == answered.context.span_id
    assert response.attributes[names.GEN_AI_OPERATION_NAME] == names.OPERATION_REALTIME
    assert int(response.attributes[names.GEN_AI_USAGE_OUTPUT_TOKENS]) > 0  # type: ignore[arg-type]
    assert float(response.attributes[names.REALTIME_TIME_TO_FIRST_AUDIO]) > 0  # type: ignore[arg-type]
    handshake = backend.received[-1].headers["traceparent"]
    assert handshake == ids.traceparent(connection_span.context.trace_id, connection_span.context.span_id)


async def test_a_client_trace_that_is_not_sampled_stays_unsampled_upstream_and_records_nothing(
    traced: Traced, backend: Backend
) -> None:
    client_trace = "5bf92f3577b34da6a3ce929d0e0e4736"
    await cascade_call(traced.proxy, {"traceparent": f"00-{client_trace}-00f067aa0ba902b7-00"})
    await traced.proxy.close()
    assert traced.exporter.get_finished_spans() == ()
    sent = [received.headers["traceparent"] for received in backend.received]
    assert len(sent) == 3 and all(
        value.startswith(f"00-{client_trace}-") and value.endswith("-00") for value in sent
    )


def test_every_audio_frame_of_a_realtime_turn_is_priced_even_when_the_chunk_repeats(tmp_path: Path) -> None:
    """The tracing sink prices a (model, audio chunk) once and reuses it; three equal frames still cost
    three times one frame."""
    settings = settings_for(
        {}, tmp_path, telemetry={"prices": {"voice-bot": {"audio_output_per_minute": 0.6}}}
    )
    sink, exporter = in_memory_tracing(settings)
    clock = Clock()
    pipeline = Pipeline(GuardChain([]), [sink], max_calls=10, call_idle_seconds=60, clock=clock)
    exchange = pipeline.open_exchange(
        CallContext(),
        route="openai",
        info=ExchangeInfo("openai", "realtime", Stage.REALTIME),
        transport="websocket",
        method="GET",
        path="/v1/realtime",
    )
    assert exchange is not None
    pipeline.request_sent(exchange)
    second = AudioChunk(Direction.TO_CLIENT, 48_000, 1.0)
    for ms, event in [
        (100, SpeechStarted()),
        (200, SpeechStopped()),
        (210, ResponseStarted("resp_1", model="voice-bot")),
        (300, second),
        (400, second),
        (500, second),
        (600, ResponseDone("resp_1")),
    ]:
        clock.at(ms)
        pipeline.process(exchange, [event], Direction.TO_CLIENT)
    clock.at(1_000)
    pipeline.finish_exchange(exchange, status=101)
    sink.tracing.force_flush()

    [turn] = [s for s in exporter.get_finished_spans() if s.name == "voice.turn"]
    assert turn.attributes is not None
    assert turn.attributes[names.COST_USD] == pytest.approx(3 * 0.6 / 60)
