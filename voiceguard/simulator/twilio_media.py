"""A simulated phone call over Twilio Media Streams: Twilio's side, and an agent WebSocket server.

Twilio is the WebSocket client (REFERENCE-protocols.md §6), so a phone bridge behind voiceguard needs two
simulated parts: ``TwilioMediaStream`` sends what Twilio sends (``connected``, ``start`` with
``customParameters``, 20 ms ``media`` frames of base64 µ-law, ``dtmf``, ``mark`` echoes, ``stop``), and
``agent_server_app`` is the operator's agent: for each second of the caller's audio it answers with the
reply of ``Backend.responder`` as outbound ``media`` frames followed by a ``mark``; a ``clear`` is sent
when a caller's DTMF ``*`` interrupts.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Final

import aiohttp
import orjson
from aiohttp import WSMsgType, web
from multidict import CIMultiDict

from voiceguard.simulator.audio import mulaw_tone, speech_for
from voiceguard.simulator.backend import Backend, Received

BACKEND = web.AppKey("twilio_agent_backend", Backend)
SAMPLE_RATE: Final = 8_000
FRAME_BYTES: Final = 160
"""20 ms of 8 kHz µ-law, the size of the frames Twilio sends."""
UTTERANCE_AUDIO_S: Final = 1.0
MEDIA_FORMAT: Final = {"encoding": "audio/x-mulaw", "sampleRate": SAMPLE_RATE, "channels": 1}


def _b64(audio: bytes) -> str:
    return base64.b64encode(audio).decode("ascii")


# --- the agent's WebSocket server (the upstream of a ``twilio`` route) -------------------------------------


class _AgentCall:
    def __init__(self, backend: Backend, ws: web.WebSocketResponse) -> None:
        self.backend = backend
        self.ws = ws
        self.stream_sid: str | None = None
        self.heard_bytes = 0
        self.replies = itertools.count(1)

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send_str(orjson.dumps(message).decode())

    async def reply(self) -> None:
        text = self.backend.responder(self.backend.next_transcript()).text
        audio = mulaw_tone(max(0.2, len(speech_for(text, SAMPLE_RATE)) / (2 * SAMPLE_RATE)))
        for offset in range(0, len(audio), FRAME_BYTES):
            payload = _b64(audio[offset : offset + FRAME_BYTES])
            await self.send({"event": "media", "streamSid": self.stream_sid, "media": {"payload": payload}})
        await self.send(
            {"event": "mark", "streamSid": self.stream_sid, "mark": {"name": f"reply-{next(self.replies)}"}}
        )

    async def handle(self, message: dict[str, Any]) -> bool:
        """One message from Twilio; returns False at ``stop``."""
        event = message.get("event")
        if event == "start":
            self.stream_sid = message.get("streamSid")
        elif event == "media":
            payload = message.get("media", {}).get("payload", "")
            self.heard_bytes += len(payload) * 3 // 4
            if self.heard_bytes >= UTTERANCE_AUDIO_S * SAMPLE_RATE:
                self.heard_bytes = 0
                await self.reply()
        elif event == "dtmf" and message.get("dtmf", {}).get("digit") == "*":
            await self.send({"event": "clear", "streamSid": self.stream_sid})
        return event != "stop"


async def agent_socket(request: web.Request) -> web.StreamResponse:
    backend = request.app[BACKEND]
    record = Received(request.method, request.path, list(request.query.items()), CIMultiDict(request.headers))
    backend.received.append(record)
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    call = _AgentCall(backend, ws)
    with contextlib.suppress(ConnectionResetError):
        async for message in ws:
            if message.type is not WSMsgType.TEXT:
                record.frames.append(message.data)
                continue
            record.frames.append(message.data)
            try:
                body = orjson.loads(message.data)
            except orjson.JSONDecodeError:
                continue
            if isinstance(body, dict) and not await call.handle(body):
                await ws.close(code=1000, message=b"")
                break
    return ws


def agent_server_app(backend: Backend) -> web.Application:
    """A voice agent's media-stream server, answering on every path."""
    app = web.Application()
    app[BACKEND] = backend
    app.router.add_get("/{tail:.*}", agent_socket)
    return app


# --- Twilio's side ---------------------------------------------------------------------------------------


@dataclass
class TwilioMediaStream:
    """Twilio's end of one media stream: sends exactly what Twilio sends, and collects the agent's replies."""

    ws: aiohttp.ClientWebSocketResponse
    call_sid: str
    stream_sid: str
    account_sid: str
    received: list[dict[str, Any]] = field(default_factory=list)
    _sequence: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _chunk: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _timestamp_ms: int = 0

    async def _send(self, message: dict[str, Any]) -> None:
        await self.ws.send_str(orjson.dumps(message).decode())

    async def connected(self) -> None:
        await self._send({"event": "connected", "protocol": "Call", "version": "1.0.0"})

    async def start(self, custom_parameters: Mapping[str, str]) -> None:
        await self._send(
            {
                "event": "start",
                "sequenceNumber": str(next(self._sequence)),
                "start": {
                    "accountSid": self.account_sid,
                    "streamSid": self.stream_sid,
                    "callSid": self.call_sid,
                    "tracks": ["inbound"],
                    "mediaFormat": MEDIA_FORMAT,
                    "customParameters": dict(custom_parameters),
                },
                "streamSid": self.stream_sid,
            }
        )

    async def media(self, audio: bytes) -> None:
        """One frame of the caller's audio (µ-law bytes)."""
        await self.send_media_payload(_b64(audio))

    async def send_media_payload(self, payload: str) -> None:
        message = {
            "event": "media",
            "sequenceNumber": str(next(self._sequence)),
            "media": {
                "track": "inbound",
                "chunk": str(next(self._chunk)),
                "timestamp": str(self._timestamp_ms),
                "payload": payload,
            },
            "streamSid": self.stream_sid,
        }
        self._timestamp_ms += 20
        await self._send(message)

    async def speak(self, seconds: float) -> None:
        """The caller talks for ``seconds``: 20 ms frames, as Twilio paces them (without the wait)."""
        audio = mulaw_tone(seconds, SAMPLE_RATE)
        for offset in range(0, len(audio), FRAME_BYTES):
            await self.media(audio[offset : offset + FRAME_BYTES])

    async def dtmf(self, digit: str) -> None:
        await self._send(
            {
                "event": "dtmf",
                "streamSid": self.stream_sid,
                "sequenceNumber": str(next(self._sequence)),
                "dtmf": {"track": "inbound_track", "digit": digit},
            }
        )

    async def mark(self, name: str) -> None:
        """Twilio's echo of a mark: the agent's audio up to it has played."""
        await self._send(
            {
                "event": "mark",
                "sequenceNumber": str(next(self._sequence)),
                "streamSid": self.stream_sid,
                "mark": {"name": name},
            }
        )

    async def stop(self) -> None:
        await self._send(
            {
                "event": "stop",
                "sequenceNumber": str(next(self._sequence)),
                "streamSid": self.stream_sid,
                "stop": {"accountSid": self.account_sid, "callSid": self.call_sid},
            }
        )

    async def play_reply(self) -> list[dict[str, Any]]:
        """Receive the agent's reply up to its mark, "play" it at once, and echo the mark as Twilio does."""
        reply: list[dict[str, Any]] = []
        while True:
            message = await self.ws.receive()
            if message.type is not WSMsgType.TEXT:
                raise ConnectionError(f"the media stream ended: {message.type.name}")
            body = orjson.loads(message.data)
            self.received.append(body)
            reply.append(body)
            if body.get("event") == "mark":
                await self.mark(body["mark"]["name"])
                return reply


@asynccontextmanager
async def twilio_media_stream(
    url: str,
    *,
    call_sid: str = "CA0123456789abcdef0123456789abcdef",
    stream_sid: str = "MZ0123456789abcdef0123456789abcdef",
    account_sid: str = "AC0123456789abcdef0123456789abcdef",
    signature: str | None = None,
) -> AsyncIterator[TwilioMediaStream]:
    """Connect to ``url`` as Twilio does (with ``X-Twilio-Signature`` when given) and send ``connected``."""
    headers = {"X-Twilio-Signature": signature} if signature else {}
    async with aiohttp.ClientSession() as session, session.ws_connect(url, headers=headers) as ws:
        stream = TwilioMediaStream(ws, call_sid, stream_sid, account_sid)
        await stream.connected()
        yield stream
