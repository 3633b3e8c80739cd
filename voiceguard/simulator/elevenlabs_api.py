"""A simulated ElevenLabs API speaking the real wire protocol (REFERENCE-protocols.md §4).

Text-to-speech as binary audio (whole or streamed), as JSON with character alignments, as newline-delimited
JSON chunks, and over the ``stream-input`` WebSocket; plus the instant voice cloning endpoint. Audio is the
simulator's tone, sized for the requested ``output_format``; replies come from no model.
"""

from __future__ import annotations

import asyncio
import base64
import uuid
from typing import Any

import orjson
from aiohttp import WSMsgType, web
from multidict import CIMultiDict

from voiceguard.simulator.audio import SECONDS_PER_CHARACTER, tone_pcm16
from voiceguard.simulator.backend import Backend, Received, word_pieces

BACKEND = web.AppKey("elevenlabs_backend", Backend)
DEFAULT_FORMAT = "mp3_44100_128"


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"detail": {"status": code, "message": message}}, status=status)


def _record(request: web.Request, body: bytes) -> Received:
    received = Received(
        request.method, request.path, list(request.query.items()), CIMultiDict(request.headers), body
    )
    request.app[BACKEND].received.append(received)
    return received


def audio_for(text: str, output_format: str) -> bytes:
    """Tone audio as long as ``text`` takes to say, in the byte size of ``output_format``."""
    codec, _, rest = output_format.partition("_")
    rate = int(rest.split("_")[0]) if rest.split("_")[0].isdigit() else 44_100
    seconds = max(0.05, len(text) * SECONDS_PER_CHARACTER)
    if codec in ("ulaw", "alaw"):
        return b"\xff" * int(seconds * rate)
    if codec == "pcm":
        return tone_pcm16(seconds, rate)
    kbps = int(rest.split("_")[1]) if len(rest.split("_")) > 1 else 128
    return b"\x00" * int(seconds * kbps * 125)


def alignment_for(text: str, offset_s: float, milliseconds: bool) -> dict[str, list[Any]]:
    """Per-character timings, evenly spread (REST: seconds start/end; WebSocket: ms start/duration)."""
    step = SECONDS_PER_CHARACTER
    starts = [offset_s + index * step for index in range(len(text))]
    if milliseconds:
        return {
            "chars": list(text),
            "charStartTimesMs": [round(s * 1000) for s in starts],
            "charDurationsMs": [round(step * 1000)] * len(text),
        }
    return {
        "characters": list(text),
        "character_start_times_seconds": [round(s, 3) for s in starts],
        "character_end_times_seconds": [round(s + step, 3) for s in starts],
    }


async def text_to_speech(request: web.Request) -> web.StreamResponse:
    backend = request.app[BACKEND]
    raw = await request.read()
    _record(request, raw)
    if not backend.authorised(request.headers.get("xi-api-key")):
        return _error(401, "invalid_api_key", "Invalid API key")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return _error(400, "invalid_json", "Request body is not valid JSON")
    text = body.get("text") if isinstance(body, dict) else None
    if not isinstance(text, str) or not text:
        return _error(422, "invalid_text", "text: Field required")
    output_format = request.query.get("output_format", DEFAULT_FORMAT)
    headers = {"x-character-count": str(len(text)), "request-id": uuid.uuid4().hex}
    await asyncio.sleep(backend.timings.first_byte)
    tail = request.match_info.get("tail", "")
    if tail.endswith("with-timestamps"):
        if tail.startswith("stream"):
            return await _stream_with_timestamps(request, text, output_format, headers)
        return web.json_response(
            {
                "audio_base64": base64.b64encode(audio_for(text, output_format)).decode(),
                "alignment": alignment_for(text, 0.0, False),
                "normalized_alignment": alignment_for(text, 0.0, False),
            },
            headers=headers,
        )
    content_type = "audio/mpeg" if output_format.startswith("mp3") else "audio/basic"
    response = web.StreamResponse(headers={**headers, "Content-Type": content_type})
    response.enable_chunked_encoding()
    await response.prepare(request)
    audio = audio_for(text, output_format)
    chunk = 4096 if tail == "stream" else len(audio)
    for offset in range(0, len(audio), chunk):
        await asyncio.sleep(backend.timings.chunk_interval if offset else backend.timings.first_token)
        await response.write(audio[offset : offset + chunk])
    await response.write_eof()
    return response


async def _stream_with_timestamps(
    request: web.Request, text: str, output_format: str, headers: dict[str, str]
) -> web.StreamResponse:
    backend = request.app[BACKEND]
    response = web.StreamResponse(headers={**headers, "Content-Type": "application/json"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    offset = 0.0
    for piece in word_pieces(text):
        await asyncio.sleep(backend.timings.chunk_interval)
        line = {
            "audio_base64": base64.b64encode(audio_for(piece, output_format)).decode(),
            "alignment": alignment_for(piece, offset, False),
            "normalized_alignment": alignment_for(piece, offset, False),
        }
        await response.write(orjson.dumps(line) + b"\n")
        offset += len(piece) * SECONDS_PER_CHARACTER
    await response.write_eof()
    return response


async def stream_input(request: web.Request) -> web.StreamResponse:
    """The ``stream-input`` socket: text pieces in; audio with alignments out; ``isFinal`` then close."""
    backend = request.app[BACKEND]
    received = _record(request, b"")
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    output_format = request.query.get("output_format", DEFAULT_FORMAT)
    credential = request.headers.get("xi-api-key")
    offset = 0.0
    first = True
    async for message in ws:
        if message.type is not WSMsgType.TEXT:
            continue
        received.frames.append(message.data)
        try:
            body = orjson.loads(message.data)
        except orjson.JSONDecodeError:
            await ws.send_str(orjson.dumps({"message": "invalid JSON", "error": "invalid_message"}).decode())
            continue
        if first:
            first = False
            bearer = str(body.get("authorization", "")).removeprefix("Bearer ")
            credential = credential or body.get("xi-api-key") or bearer or None
            if not backend.authorised(credential):
                await ws.send_str(
                    orjson.dumps({"message": "Invalid API key", "error": "invalid_api_key"}).decode()
                )
                await ws.close(code=1008, message=b"invalid api key")
                break
        text = body.get("text")
        if text == "":
            await ws.send_str(orjson.dumps({"isFinal": True}).decode())
            await ws.close()
            break
        if not isinstance(text, str) or not text.strip():
            continue
        await asyncio.sleep(backend.timings.chunk_interval)
        frame = {
            "audio": base64.b64encode(audio_for(text, output_format)).decode(),
            "isFinal": None,
            "normalizedAlignment": alignment_for(text, offset, True),
            "alignment": alignment_for(text, offset, True),
        }
        await ws.send_str(orjson.dumps(frame).decode())
        offset += len(text) * SECONDS_PER_CHARACTER
    return ws


async def add_voice(request: web.Request) -> web.Response:
    """Instant voice cloning: ``multipart/form-data`` with ``name`` and sample ``files``."""
    backend = request.app[BACKEND]
    body = await request.read()
    _record(request, body)
    if not backend.authorised(request.headers.get("xi-api-key")):
        return _error(401, "invalid_api_key", "Invalid API key")
    return web.json_response({"voice_id": f"cloned{uuid.uuid4().hex[:12]}", "requires_verification": False})


def elevenlabs_app(backend: Backend) -> web.Application:
    """The simulated API at ``/v1/...``, as an aiohttp application."""
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app[BACKEND] = backend
    app.router.add_get("/v1/text-to-speech/{voice}/stream-input", stream_input)
    app.router.add_post("/v1/text-to-speech/{voice}", text_to_speech)
    app.router.add_post("/v1/text-to-speech/{voice}/{tail:.*}", text_to_speech)
    app.router.add_post("/v1/voices/add", add_voice)
    return app
