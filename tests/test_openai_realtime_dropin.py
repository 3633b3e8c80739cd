"""The openai SDK's realtime clients work through voiceguard unchanged; voiceguard understands the call."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
from collections.abc import AsyncIterator, Callable, Iterable
from pathlib import Path
from typing import Any

import openai
import pytest
import websockets

from tests.engines import shared_engine
from voiceguard import server
from voiceguard.events import TEXT_EVENTS, AudioChunk, Direction, Event, Transcript, WireAnomaly
from voiceguard.guards.base import GuardContext
from voiceguard.records import EventObserved, ExchangeFinished, TurnFinished
from voiceguard.session import Call
from voiceguard.simulator import RunningApp
from voiceguard.simulator.audio import tone_pcm16
from voiceguard.simulator.backend import Backend, Reply, Timings, ToolCallSpec
from voiceguard.testing import RecordingSink, settings_for
from voiceguard.turns import Turn

EVENT_TIMEOUT_S = 10
SPEECH = base64.b64encode(tone_pcm16(0.02)).decode()
SILENCE = base64.b64encode(bytes(960)).decode()
GA_SESSION: dict[str, Any] = {
    "type": "realtime",
    "audio": {
        "input": {
            "transcription": {"model": "gpt-4o-transcribe"},
            "turn_detection": {"type": "server_vad", "silence_duration_ms": 200},
        }
    },
}
BETA_SESSION: dict[str, Any] = {
    "input_audio_transcription": {"model": "whisper-1"},
    "turn_detection": {"type": "server_vad", "silence_duration_ms": 200},
}


def client_for(proxy: server.RunningServer, **kwargs: Any) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(api_key="sk-test", base_url=f"{proxy.url}/openai/v1", max_retries=0, **kwargs)


async def speak(connection: Any, speech_frames: int = 15, silence_frames: int = 12) -> None:
    for _ in range(speech_frames):
        await connection.input_audio_buffer.append(audio=SPEECH)
    for _ in range(silence_frames):
        await connection.input_audio_buffer.append(audio=SILENCE)


async def events_until(connection: Any, last: str) -> list[Any]:
    seen: list[Any] = []
    async with asyncio.timeout(EVENT_TIMEOUT_S):
        async for event in connection:
            seen.append(event)
            if event.type == last:
                return seen
    raise AssertionError(f"the connection closed before {last}")


async def eventually(check: Callable[[], bool]) -> None:
    """Records reach sinks after the socket closes; wait (bounded) until ``check`` holds."""
    for _ in range(250):
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the expected records never arrived")


async def turns_of(recording: RecordingSink, count: int = 1) -> list[Turn]:
    await eventually(lambda: len(recording.of(TurnFinished)) >= count)
    return [record.turn for record in recording.of(TurnFinished)]


def observed(recording: RecordingSink, kind: type) -> list[Any]:
    return [r.event for r in recording.of(EventObserved) if isinstance(r.event, kind)]


async def test_ga_client_speaks_a_turn_and_the_turn_has_every_timestamp(
    proxy: server.RunningServer, backend: Backend, recording: RecordingSink
) -> None:
    backend.script(["what is my balance"])
    async with client_for(proxy) as client, client.realtime.connect(model="gpt-realtime") as connection:
        await connection.session.update(session=GA_SESSION)
        await speak(connection)
        events = await events_until(connection, "response.done")
    types = [event.type for event in events]
    assert types.index("input_audio_buffer.speech_started") < types.index("input_audio_buffer.speech_stopped")
    completed = next(e for e in events if e.type == "conversation.item.input_audio_transcription.completed")
    assert completed.transcript == "what is my balance"
    spoken = "".join(e.delta for e in events if e.type == "response.output_audio_transcript.delta")
    assert spoken == "You said: what is my balance"
    assert events[-1].response.status == "completed" and events[-1].response.usage.output_tokens > 0
    appended = [json.loads(f) for f in backend.received[-1].frames if "append" in str(f)]
    assert [f["audio"] for f in appended] == [SPEECH] * 15 + [SILENCE] * 12

    [turn] = await turns_of(recording)
    for moment in (
        "speech_started_ns",
        "speech_stopped_ns",
        "speech_audio_end_ns",
        "transcript_final_ns",
        "llm_request_ns",
        "llm_first_token_ns",
        "first_audio_out_ns",
        "response_done_ns",
    ):
        assert getattr(turn, moment) is not None, moment
    assert turn.speech_stopped_ns is not None and turn.first_audio_out_ns is not None
    assert turn.speech_stopped_ns <= turn.first_audio_out_ns
    assert turn.audio_in_s == pytest.approx(0.54)
    assert turn.audio_out_s > 0 and turn.output_tokens > 0 and not turn.interrupted
    assert turn.models == {"realtime": "gpt-realtime"}
    exchange = recording.of(ExchangeFinished)[-1].exchange
    assert (exchange.info.operation, exchange.info.stage.value) == ("realtime", "realtime")
    audio_in = [c for c in observed(recording, AudioChunk) if c.direction is Direction.TO_UPSTREAM]
    assert len(audio_in) == 27 and {(c.encoding, c.sample_rate) for c in audio_in} == {("pcm16", 24_000)}
    metrics = proxy.runtime.metrics.prometheus_text().decode()
    counted = next(
        line
        for line in metrics.splitlines()
        if line.startswith("voiceguard_audio_duration_seconds_total") and "to_upstream" in line
    )
    assert float(counted.rsplit(" ", 1)[1]) == pytest.approx(0.54)


async def test_beta_client_with_a_ws_base_url_gets_beta_events(
    proxy: server.RunningServer, backend: Backend, recording: RecordingSink
) -> None:
    backend.script(["hello beta"])
    ws_base = f"ws://{proxy.host}:{proxy.port}/openai/v1"
    async with (
        client_for(proxy, websocket_base_url=ws_base) as client,
        client.beta.realtime.connect(model="gpt-4o-realtime-preview") as connection,
    ):
        await connection.session.update(session=BETA_SESSION)
        await speak(connection)
        events = await events_until(connection, "response.done")
    types = {event.type for event in events}
    assert {"response.audio.delta", "response.audio_transcript.delta", "conversation.item.created"} <= types
    assert "response.output_audio.delta" not in types
    assert backend.received[-1].headers["OpenAI-Beta"] == "realtime=v1"
    [turn] = await turns_of(recording)
    assert turn.transcript_final_ns is not None and turn.first_audio_out_ns is not None
    texts = [e.text for e in observed(recording, Transcript) if e.is_final]
    assert "hello beta" in texts


async def test_browser_subprotocol_auth_is_relayed_and_realtime_echoed(
    proxy: server.RunningServer, backend: Backend
) -> None:
    url = f"ws://{proxy.host}:{proxy.port}/openai/v1/realtime?model=gpt-realtime"
    offered = ["realtime", "openai-insecure-api-key.sk-test"]
    async with websockets.connect(url, subprotocols=offered) as ws:  # type: ignore[arg-type]
        assert ws.subprotocol == "realtime"
        created = json.loads(await ws.recv())
    assert created["type"] == "session.created"
    relayed = backend.received[-1].headers["Sec-WebSocket-Protocol"]
    assert [p.strip() for p in relayed.split(",")] == offered


async def test_barge_in_while_agent_audio_plays_interrupts_the_turn(
    proxy: server.RunningServer, backend: Backend, recording: RecordingSink
) -> None:
    backend.timings = Timings(chunk_interval=0.03)
    backend.script(["tell me everything", "stop"])
    replies = iter(
        [
            Reply(text="Here is a very long answer that keeps on going for quite a while longer"),
            Reply(text="Okay."),
        ]
    )
    backend.responder = lambda _text: next(replies)
    async with client_for(proxy) as client, client.realtime.connect(model="gpt-realtime") as connection:
        await connection.session.update(session=GA_SESSION)
        await speak(connection)
        await events_until(connection, "response.output_audio.delta")
        await speak(connection, speech_frames=5, silence_frames=0)
        cancelled = await events_until(connection, "response.done")
        await speak(connection, speech_frames=0, silence_frames=12)
        await events_until(connection, "response.done")
    assert cancelled[-1].response.status == "cancelled"
    assert cancelled[-1].response.status_details.reason == "turn_detected"
    first, second = sorted(await turns_of(recording, 2), key=lambda t: t.number)
    assert first.interrupted and first.barge_in_ns is not None
    assert not second.interrupted and second.response_done_ns is not None


async def test_function_call_round_trip(
    proxy: server.RunningServer, backend: Backend, recording: RecordingSink
) -> None:
    backend.responder = lambda _text: Reply(tool_calls=(ToolCallSpec("lookup_order", '{"order": "A-1"}'),))
    async with client_for(proxy) as client, client.realtime.connect(model="gpt-realtime") as connection:
        await connection.conversation.item.create(
            item={
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "where is A-1"}],
            }
        )
        await connection.response.create()
        events = await events_until(connection, "response.done")
        call = next(e for e in events if e.type == "response.function_call_arguments.done")
        await connection.conversation.item.create(
            item={"type": "function_call_output", "call_id": call.call_id, "output": "shipped"}
        )
        await connection.response.create()
        reply = await events_until(connection, "response.done")
    assert (call.name, call.arguments) == ("lookup_order", '{"order": "A-1"}')
    assert (
        "".join(e.delta for e in reply if e.type == "response.output_audio_transcript.delta")
        == "Done: shipped"
    )


async def test_malformed_frames_are_forwarded_as_they_are_and_counted(
    proxy: server.RunningServer, backend: Backend
) -> None:
    url = f"ws://{proxy.host}:{proxy.port}/openai/v1/realtime?model=gpt-realtime"
    bad = [
        '{"type": "input_audio_buffer.append", "audio": "not base64!"}',
        '{"type": "input_audio_buffer.frobnicate"}',
        "{not json",
    ]
    async with websockets.connect(url, additional_headers={"Authorization": "Bearer sk-test"}) as ws:
        await ws.recv()
        for frame in bad:
            await ws.send(frame)
        errors = [json.loads(await ws.recv()) for _ in bad]
    assert [e["error"]["code"] for e in errors] == ["invalid_value", "invalid_value", "invalid_json"]
    assert backend.received[-1].frames == bad
    metrics = proxy.runtime.metrics.prometheus_text().decode()
    for kind in ("invalid_base64", "unknown_event", "bad_json"):
        line = next(
            line
            for line in metrics.splitlines()
            if line.startswith("voiceguard_wire_anomalies") and f'voiceguard_anomaly_kind="{kind}"' in line
        )
        assert line.endswith(" 1.0")


class CardMask:
    """A guard that rewrites a card number in every text, both ways."""

    name = "card-mask"

    def start(self, call: Call) -> None:
        pass

    def finish(self, call: Call) -> None:
        pass

    def process(self, ctx: GuardContext, event: Event) -> Iterable[Event]:
        if isinstance(event, TEXT_EVENTS) and "4111" in event.text:  # type: ignore[attr-defined]
            yield dataclasses.replace(event, text=event.text.replace("4111", "####"))  # type: ignore[attr-defined,type-var]
        else:
            yield event


@pytest.fixture
async def guarded_proxy(
    tmp_path: Path, openai_upstream: RunningApp, recording: RecordingSink
) -> AsyncIterator[server.RunningServer]:
    settings = settings_for({"openai": openai_upstream.url}, tmp_path / "data")
    running = await server.start(
        settings, extra_sinks=[recording], guards=[CardMask()], pii_engine=shared_engine(settings)
    )
    yield running
    await running.close()


async def test_a_guard_rewrites_realtime_text_and_nothing_else(
    guarded_proxy: server.RunningServer, backend: Backend
) -> None:
    backend.script(["my card is 4111 2222"])
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "card 4111 9999"}]}
    async with (
        client_for(guarded_proxy) as client,
        client.realtime.connect(model="gpt-realtime") as connection,
    ):
        await connection.session.update(session=GA_SESSION)
        await connection.conversation.item.create(item=item)
        await speak(connection)
        events = await events_until(connection, "response.done")
    sent = backend.received[-1].frames
    expected = json.dumps({"type": "conversation.item.create", "item": item}).replace("4111", "####")
    assert expected in sent
    appended = [f for f in sent if "input_audio_buffer.append" in str(f)]
    assert appended[0] == json.dumps({"type": "input_audio_buffer.append", "audio": SPEECH})
    completed = next(e for e in events if e.type == "conversation.item.input_audio_transcription.completed")
    assert completed.transcript == "my card is #### 2222"
    spoken = "".join(e.delta for e in events if e.type == "response.output_audio_transcript.delta")
    assert spoken == "You said: my card is #### 2222"
    # the card as it was spoken or typed; a bare "4111" can occur by chance inside random event ids or audio
    dumps = [json.dumps(e.model_dump()) for e in events]
    assert not any("4111 2222" in d or "4111 9999" in d for d in dumps)


async def test_anomalies_do_not_reach_turns_or_break_the_call(
    proxy: server.RunningServer, backend: Backend, recording: RecordingSink
) -> None:
    url = f"ws://{proxy.host}:{proxy.port}/openai/v1/realtime?model=gpt-realtime"
    async with websockets.connect(url, additional_headers={"Authorization": "Bearer sk-test"}) as ws:
        await ws.recv()
        await ws.send(b"\x00binary")
        await ws.recv()
    await eventually(lambda: bool(observed(recording, WireAnomaly)))
    assert observed(recording, WireAnomaly) == [WireAnomaly("binary_frame")]
