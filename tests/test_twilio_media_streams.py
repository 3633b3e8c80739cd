"""A phone bridge behind voiceguard: Twilio Media Streams relayed to an agent server, frame for frame."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import orjson
import pytest
import websockets

from tests.conftest import ProxyFactory
from tests.voice_support import MaskDtmf, running_proxy
from voiceguard.events import AudioChunk, CallerInfo, Direction, PlaybackTruncated, Transcript, WireAnomaly
from voiceguard.records import CallEnded, EventObserved, ExchangeStarted
from voiceguard.server import RunningServer
from voiceguard.simulator import RunningApp
from voiceguard.simulator.backend import Backend
from voiceguard.simulator.twilio_media import twilio_media_stream
from voiceguard.testing import RecordingSink

CALLER = "+13125550100"
SIGNATURE = "tM5Cp3Qy0k8wP1uYvK3m2Xz9sA4="


@pytest.fixture
async def phone_proxy(make_proxy: ProxyFactory, agent_server: RunningApp) -> RunningServer:
    return await make_proxy({}, routes={"phone": {"upstream": agent_server.url, "protocol": "twilio"}})


def stream_url(proxy: RunningServer) -> str:
    return f"ws://{proxy.host}:{proxy.port}/phone/media"


async def test_a_call_is_relayed_byte_for_byte_and_observed(
    phone_proxy: RunningServer, backend: Backend, recording: RecordingSink
) -> None:
    async with twilio_media_stream(stream_url(phone_proxy), signature=SIGNATURE) as call:
        await call.start({"From": CALLER, "agent": "billing"})
        await call.speak(1.0)
        reply = await call.play_reply()
        await call.dtmf("7")
        await call.stop()
        await asyncio.wait_for(call.ws.receive(), 5)  # the agent closes after stop
    received = backend.received[-1]
    assert received.path == "/media"
    assert received.headers["X-Twilio-Signature"] == SIGNATURE
    events = [e for e in received.frames if isinstance(e, str)]
    assert [orjson.loads(f)["event"] for f in events[:3]] == ["connected", "start", "media"]
    assert orjson.loads(events[-2])["dtmf"]["digit"] == "7" and orjson.loads(events[-1])["event"] == "stop"
    assert [m["event"] for m in reply][-1] == "mark" and all(m["event"] == "media" for m in reply[:-1])

    observed = [record.event for record in recording.of(EventObserved)]
    assert CallerInfo(phone_number=CALLER, call_sid="CA0123456789abcdef0123456789abcdef") in observed
    inbound = [e for e in observed if isinstance(e, AudioChunk) and e.direction is Direction.TO_UPSTREAM]
    outbound = [e for e in observed if isinstance(e, AudioChunk) and e.direction is Direction.TO_CLIENT]
    assert len(inbound) == 50 and abs(sum(e.seconds or 0 for e in inbound) - 1.0) < 1e-9
    assert sum(e.n_bytes for e in outbound) == sum(
        len(base64.b64decode(m["media"]["payload"])) for m in reply[:-1]
    )
    assert Transcript("7", stream="dtmf") in observed
    (ended,) = recording.of(CallEnded)
    assert ended.call.subject == CALLER and ended.call.caller_number == CALLER
    (started,) = recording.of(ExchangeStarted)
    assert started.exchange.info.provider == "twilio"


async def test_keypad_digits_masked_by_a_guard_never_reach_the_agent(
    tmp_path: Path, agent_server: RunningApp, backend: Backend, recording: RecordingSink
) -> None:
    routes = {"phone": {"upstream": agent_server.url, "protocol": "twilio"}}
    async with (
        running_proxy(tmp_path, {}, recording, [MaskDtmf()], routes=routes) as proxy,
        twilio_media_stream(stream_url(proxy)) as call,
    ):
        await call.start({"caller": CALLER})
        for digit in "4111":
            await call.dtmf(digit)
        await call.stop()
        await asyncio.wait_for(call.ws.receive(), 5)
    digits = [
        orjson.loads(frame)["dtmf"]["digit"]
        for frame in backend.received[-1].frames
        if isinstance(frame, str) and '"dtmf"' in frame
    ]
    assert digits == ["*", "*", "*", "*"]


async def test_the_agents_clear_is_a_barge_in(
    phone_proxy: RunningServer, backend: Backend, recording: RecordingSink
) -> None:
    async with twilio_media_stream(stream_url(phone_proxy)) as call:
        await call.start({})
        await call.dtmf("*")  # the simulated agent clears Twilio's buffer on a star
        cleared = orjson.loads((await asyncio.wait_for(call.ws.receive(), 5)).data)
        await call.stop()
    assert cleared == {"event": "clear", "streamSid": call.stream_sid}
    assert PlaybackTruncated() in [record.event for record in recording.of(EventObserved)]


async def test_malformed_frames_from_a_raw_client_are_forwarded_and_counted(
    phone_proxy: RunningServer, backend: Backend
) -> None:
    frames = [
        '{"event":"connected","protocol":"Call","version":"1.0.0"}',
        '{"event":"media","streamSid":"MZ1","media":{"track":"inbound","payload":"%%%"}}',
        '{"event":"media",',
        '{"event":"somethingNew","streamSid":"MZ1"}',
    ]
    async with websockets.connect(stream_url(phone_proxy)) as ws:
        for frame in frames:
            await ws.send(frame)
        await ws.send(b"\x00\x01")
        await ws.close()
    for _ in range(50):
        if len(backend.received[-1].frames) == 5:
            break
        await asyncio.sleep(0.02)
    assert backend.received[-1].frames == [*frames, b"\x00\x01"]
    metrics = phone_proxy.runtime.metrics.prometheus_text().decode()
    counted = [line for line in metrics.splitlines() if line.startswith("voiceguard_wire_anomalies")]
    kinds = {kind: f'voiceguard_anomaly_kind="{kind}"' for kind in ("invalid_base64", "malformed_json")}
    assert all(any(label in line for line in counted) for label in kinds.values())
    assert WireAnomaly("unexpected_binary", "media_stream").kind in metrics
