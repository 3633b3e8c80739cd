"""A simulated Deepgram text-to-speech API: ``POST /v1/speak`` and ``/v1/speak`` over WebSocket.

Speaks the real wire protocol (REFERENCE-protocols.md §3): the REST answer is audio with ``dg-*`` headers;
the socket answers ``Metadata`` on connect, audio frames and ``Flushed`` on ``Flush``, ``Cleared`` on
``Clear``, and closes on ``Close``. The audio is a tone whose length follows the text (see ``audio``).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any, Final

import orjson
from aiohttp import WSMsgType, web
from multidict import CIMultiDict

from voiceguard.simulator.audio import mulaw, speech_for, wav
from voiceguard.simulator.backend import Backend, Received
from voiceguard.simulator.deepgram_api import BACKEND, credential, open_socket

DEFAULT_MODEL: Final = "aura-asteria-en"
MODEL_UUID: Final = "ecb76e9d-f2db-4127-8060-79b05590d22f"
DEFAULT_RATES: Final = {"linear16": 24_000, "mulaw": 8_000, "alaw": 8_000}
CONTENT_TYPES: Final = {"wav": "audio/wav", "mp3": "audio/mpeg", "opus": "audio/ogg", "flac": "audio/flac"}
CHUNK_S: Final = 0.1


def _audio(text: str, encoding: str, sample_rate: int) -> bytes:
    pcm = speech_for(text, sample_rate)
    return mulaw(pcm) if encoding == "mulaw" else pcm


def _format(query: Any) -> tuple[str, int]:
    encoding = query.get("encoding", "linear16")
    rate = query.get("sample_rate", "")
    return encoding, int(rate) if rate.isdigit() else DEFAULT_RATES.get(encoding, 24_000)


def _refusal(status: int, code: str, message: str) -> web.Response:
    return web.json_response(
        {"err_code": code, "err_msg": message, "request_id": str(uuid.uuid4())}, status=status
    )


async def speak_rest(request: web.Request) -> web.StreamResponse:
    backend = request.app[BACKEND]
    raw = await request.read()
    headers = CIMultiDict(request.headers)
    backend.received.append(Received(request.method, request.path, list(request.query.items()), headers, raw))
    if not backend.authorised(credential(request)):
        return _refusal(401, "INVALID_AUTH", "Invalid credentials.")
    try:
        text = orjson.loads(raw).get("text")
    except (orjson.JSONDecodeError, AttributeError):
        text = None
    if not isinstance(text, str) or not text.strip():
        return _refusal(400, "Bad Request", "Text is required.")
    encoding, sample_rate = _format(request.query)
    audio = _audio(text, encoding, sample_rate)
    container = request.query.get("container", "wav" if encoding == "linear16" else "none")
    if container == "wav" and encoding == "linear16":
        audio = wav(audio, sample_rate)
    model = request.query.get("model", DEFAULT_MODEL)
    await asyncio.sleep(backend.timings.first_byte)
    response = web.StreamResponse(
        headers={
            "Content-Type": CONTENT_TYPES.get(container, "application/octet-stream"),
            "dg-request-id": str(uuid.uuid4()),
            "dg-model-name": model,
            "dg-model-uuid": MODEL_UUID,
            "dg-char-count": str(len(text)),
        }
    )
    response.enable_chunked_encoding()
    await response.prepare(request)
    await asyncio.sleep(backend.timings.first_token)
    step = max(1, int(len(audio) * CHUNK_S / max(0.2, len(text) * 0.06)))
    for offset in range(0, len(audio), step):
        if offset:
            await asyncio.sleep(backend.timings.chunk_interval)
        await response.write(audio[offset : offset + step])
    await response.write_eof()
    return response


class _SpeakSession:
    """One streaming TTS socket: text accumulates until ``Flush``, then is spoken."""

    def __init__(self, request: web.Request, ws: web.WebSocketResponse) -> None:
        self.backend: Backend = request.app[BACKEND]
        self.ws = ws
        self.encoding, self.sample_rate = _format(request.query)
        self.model = request.query.get("model", DEFAULT_MODEL)
        self.pending: list[str] = []
        self.sequence = 0

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send_str(orjson.dumps(message).decode())

    async def metadata(self) -> None:
        await self.send(
            {
                "type": "Metadata",
                "request_id": str(uuid.uuid4()),
                "model_name": self.model,
                "model_version": "2025-04-07.0",
                "model_uuid": MODEL_UUID,
            }
        )

    async def flush(self) -> None:
        text = " ".join(self.pending)
        self.pending.clear()
        if text:
            audio = _audio(text, self.encoding, self.sample_rate)
            step = int(self.sample_rate * CHUNK_S) * (1 if self.encoding == "mulaw" else 2)
            await asyncio.sleep(self.backend.timings.first_token)
            for offset in range(0, len(audio), step):
                if offset:
                    await asyncio.sleep(self.backend.timings.chunk_interval)
                await self.ws.send_bytes(audio[offset : offset + step])
        await self.send({"type": "Flushed", "sequence_id": self.sequence})
        self.sequence += 1

    async def control(self, raw: str) -> bool:
        """Handle one client message; returns False when the client asked to close."""
        try:
            message = orjson.loads(raw)
        except orjson.JSONDecodeError:
            message = None
        kind = message.get("type") if isinstance(message, dict) else None
        if kind == "Speak" and isinstance(message, dict) and isinstance(message.get("text"), str):
            self.pending.append(message["text"])
        elif kind == "Flush":
            await self.flush()
        elif kind == "Clear":
            self.pending.clear()
            await self.send({"type": "Cleared", "sequence_id": self.sequence})
        elif kind == "Close":
            return False
        else:
            await self.send(
                {"type": "Warning", "description": "Unknown or malformed message.", "code": "UNKNOWN_MESSAGE"}
            )
        return True


async def speak_live(request: web.Request) -> web.StreamResponse:
    opened = await open_socket(request)
    if isinstance(opened, web.Response):
        return opened
    ws, record = opened
    session = _SpeakSession(request, ws)
    await session.metadata()
    with contextlib.suppress(ConnectionResetError):
        async for message in ws:
            if message.type is WSMsgType.TEXT:
                record.frames.append(message.data)
                if not await session.control(message.data):
                    await ws.close(code=1000, message=b"")
                    break
            elif message.type is WSMsgType.BINARY:
                record.frames.append(message.data)
    return ws
