"""A simulated Deepgram API speaking the real wire protocol (REFERENCE-protocols.md §3).

Pre-recorded ``POST /v1/listen`` (raw audio or a JSON url body; words, times, speakers when ``diarize``,
utterances when asked) and live ``/v1/listen`` over WebSocket (binary audio in; SpeechStarted, interim and
final Results with ``speech_final``, UtteranceEnd, and Metadata at CloseStream). The transcript of each
utterance comes from the ``Backend`` script: it is a simulator, not a recogniser. An utterance ends after
``UTTERANCE_AUDIO_S`` seconds of audio, or when the client sends ``Finalize``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
import uuid
from typing import Any, Final

import orjson
from aiohttp import WSMsgType, web
from multidict import CIMultiDict

from voiceguard.simulator.backend import Backend, Received

BACKEND = web.AppKey("deepgram_backend", Backend)
UTTERANCE_AUDIO_S: Final = 1.0
MODEL_INFO: Final = {"name": "2-general-nova", "version": "2024-01-09.29447", "arch": "nova-3"}
MODEL_UUID: Final = "1dbdfb4d-85b2-4659-9a3e-1cd3d7ef9a4d"


def credential(request: web.Request) -> str | None:
    """Deepgram takes ``Authorization: Token KEY`` (or Bearer), or from browsers the ``token`` subprotocol."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() in ("token", "bearer") and value:
        return value.strip()
    protocols = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()]
    if len(protocols) >= 2 and protocols[0] in ("token", "bearer"):
        return protocols[1]
    return None


def _truthy(value: str | None) -> bool:
    return value is not None and value.lower() in ("true", "1", "yes")


def _words(text: str, start: float, duration: float, diarize: bool) -> list[dict[str, Any]]:
    words = text.split()
    step = duration / max(1, len(words))
    out = []
    for index, word in enumerate(words):
        entry: dict[str, Any] = {
            "word": word.strip(".,?!").lower(),
            "start": round(start + index * step, 3),
            "end": round(start + (index + 1) * step, 3),
            "confidence": 0.98,
            "punctuated_word": word,
        }
        if diarize:
            entry["speaker"] = 0
            entry["speaker_confidence"] = 0.9
        out.append(entry)
    return out


REDACTION_PLACEHOLDER: Final = "[REDACTED]"
"""The simulator's stand-in for Deepgram's redaction marker (whose exact form is not verified)."""
_NUMERIC_REDACTION: Final = frozenset({"true", "numbers", "pci", "ssn", "aggressive_numbers"})


def _diarize(query: Any) -> bool:
    return _truthy(query.get("diarize")) or bool(query.get("diarize_model"))


def _redacted(text: str, redact: list[str]) -> str:
    """Number-like words become a placeholder when the client asked for numeric redaction."""
    if not _NUMERIC_REDACTION.intersection(value.lower() for value in redact):
        return text
    return " ".join(REDACTION_PLACEHOLDER if any(c.isdigit() for c in w) else w for w in text.split())


def _paragraphs(text: str, duration: float, diarize: bool) -> dict[str, Any]:
    """One paragraph of one sentence, labelled by speaker the way Deepgram labels diarized paragraphs."""
    paragraph: dict[str, Any] = {
        "sentences": [{"text": text, "start": 0.0, "end": duration}],
        "num_words": len(text.split()),
        "start": 0.0,
        "end": duration,
    }
    if diarize:
        paragraph["speaker"] = 0
    label = "Speaker 0: " if diarize else ""
    return {"transcript": f"\n{label}{text}", "paragraphs": [paragraph]}


async def listen_prerecorded(request: web.Request) -> web.Response:
    backend = request.app[BACKEND]
    body = await request.read()
    backend.received.append(
        Received(
            request.method, request.path, list(request.query.items()), CIMultiDict(request.headers), body
        )
    )
    if not backend.authorised(credential(request)):
        return web.json_response(
            {"err_code": "INVALID_AUTH", "err_msg": "Invalid credentials.", "request_id": str(uuid.uuid4())},
            status=401,
        )
    if not body:
        return web.json_response({"err_code": "Bad Request", "err_msg": "No audio provided"}, status=400)
    if request.content_type == "application/json":
        try:
            url = orjson.loads(body).get("url")
        except (orjson.JSONDecodeError, AttributeError):
            url = None
        if not url:
            return web.json_response({"err_code": "Bad Request", "err_msg": "Invalid JSON body"}, status=400)
    await asyncio.sleep(backend.timings.first_byte)
    text = _redacted(backend.next_transcript(), request.query.getall("redact", []))
    duration = max(0.5, len(text) * 0.06)
    diarize = _diarize(request.query)
    words = _words(text, 0.0, duration, diarize)
    alternative: dict[str, Any] = {"transcript": text, "confidence": 0.98, "words": words}
    if _truthy(request.query.get("paragraphs")):
        alternative["paragraphs"] = _paragraphs(text, duration, diarize)
    request_id = str(uuid.uuid4())
    result: dict[str, Any] = {
        "metadata": {
            "transaction_key": "deprecated",
            "request_id": request_id,
            "sha256": hashlib.sha256(body).hexdigest(),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
            "duration": duration,
            "channels": 1,
            "models": [MODEL_UUID],
            "model_info": {MODEL_UUID: MODEL_INFO},
        },
        "results": {"channels": [{"alternatives": [alternative]}]},
    }
    if _truthy(request.query.get("utterances")):
        utterance: dict[str, Any] = {
            "start": 0.0,
            "end": duration,
            "confidence": 0.98,
            "channel": 0,
            "transcript": text,
            "words": words,
            "id": str(uuid.uuid4()),
        }
        if diarize:
            utterance["speaker"] = 0
        result["results"]["utterances"] = [utterance]
    answer = json.dumps(result).encode()
    backend.received[-1].sent.append(answer)
    return web.Response(body=answer, content_type="application/json", headers={"dg-request-id": request_id})


class _LiveSession:
    """One live transcription socket: cuts incoming audio into scripted utterances."""

    def __init__(self, request: web.Request, ws: web.WebSocketResponse, record: Received) -> None:
        self.backend = request.app[BACKEND]
        self.ws = ws
        self.record = record
        query = request.query
        self.encoding = query.get("encoding", "linear16")
        self.sample_rate = int(query.get("sample_rate", "16000"))
        self.channels = int(query.get("channels", "1"))
        self.interim = _truthy(query.get("interim_results"))
        self.vad_events = _truthy(query.get("vad_events"))
        self.utterance_end = query.get("utterance_end_ms") is not None
        self.diarize = _diarize(query)
        self.request_id = str(uuid.uuid4())
        self.position = 0.0
        self.utterance_start = 0.0
        self.in_speech = False
        self.audio_bytes = 0
        self.sha = hashlib.sha256()

    def seconds(self, n_bytes: int) -> float:
        bytes_per_sample = 1 if self.encoding in ("mulaw", "alaw") else 2
        return n_bytes / (bytes_per_sample * self.sample_rate * self.channels)

    async def send(self, message: dict[str, Any]) -> None:
        text = orjson.dumps(message).decode()
        self.record.sent.append(text)
        await self.ws.send_str(text)

    def results(
        self, text: str, is_final: bool, speech_final: bool, from_finalize: bool = False
    ) -> dict[str, Any]:
        duration = self.position - self.utterance_start
        return {
            "type": "Results",
            "channel_index": [0, 1],
            "duration": round(duration, 3),
            "start": round(self.utterance_start, 3),
            "is_final": is_final,
            "speech_final": speech_final,
            "from_finalize": from_finalize,
            "channel": {
                "alternatives": [
                    {
                        "transcript": text,
                        "confidence": 0.97,
                        "words": _words(text, self.utterance_start, duration, self.diarize),
                    }
                ]
            },
            "metadata": {"request_id": self.request_id, "model_info": MODEL_INFO, "model_uuid": MODEL_UUID},
        }

    async def audio(self, data: bytes) -> None:
        self.audio_bytes += len(data)
        self.sha.update(data)
        self.position += self.seconds(len(data))
        if not self.in_speech:
            self.in_speech = True
            self.utterance_start = self.position - self.seconds(len(data))
            if self.vad_events:
                await self.send(
                    {"type": "SpeechStarted", "channel": [0], "timestamp": round(self.utterance_start, 3)}
                )
        if self.position - self.utterance_start >= UTTERANCE_AUDIO_S:
            await self.finish_utterance(from_finalize=False)

    async def finish_utterance(self, from_finalize: bool) -> None:
        if not self.in_speech:
            return
        text = self.backend.next_transcript()
        if self.interim:
            words = text.split()
            await self.send(self.results(" ".join(words[: max(1, len(words) // 2)]), False, False))
        await asyncio.sleep(self.backend.timings.end_of_speech)
        await self.send(self.results(text, True, not from_finalize, from_finalize))
        if self.utterance_end:
            await self.send(
                {"type": "UtteranceEnd", "channel": [0, 1], "last_word_end": round(self.position, 3)}
            )
        self.in_speech = False

    async def control(self, raw: str) -> bool:
        """Handle a JSON control message; returns False when the stream should close."""
        try:
            message = orjson.loads(raw)
        except orjson.JSONDecodeError:
            await self.send(
                {
                    "type": "Error",
                    "description": "Invalid JSON",
                    "message": "",
                    "variant": "",
                    "code": "INVALID_JSON",
                }
            )
            return True
        kind = message.get("type") if isinstance(message, dict) else None
        if kind == "Finalize":
            await self.finish_utterance(from_finalize=True)
        elif kind == "CloseStream":
            await self.finish_utterance(from_finalize=True)
            await self.send(
                {
                    "type": "Metadata",
                    "transaction_key": "deprecated",
                    "request_id": self.request_id,
                    "sha256": self.sha.hexdigest(),
                    "created": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                    "duration": round(self.position, 3),
                    "channels": self.channels,
                }
            )
            return False
        return True


async def open_socket(request: web.Request) -> tuple[web.WebSocketResponse, Received] | web.Response:
    """Record the upgrade, check the credential (header or ``token`` subprotocol, which is echoed), accept."""
    backend = request.app[BACKEND]
    record = Received(request.method, request.path, list(request.query.items()), CIMultiDict(request.headers))
    backend.received.append(record)
    if not backend.authorised(credential(request)):
        return web.json_response({"err_code": "INVALID_AUTH", "err_msg": "Invalid credentials."}, status=401)
    offered = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()]
    ws = web.WebSocketResponse(protocols=("token",) if "token" in offered else ())
    await ws.prepare(request)
    return ws, record


async def listen_live(request: web.Request) -> web.StreamResponse:
    opened = await open_socket(request)
    if isinstance(opened, web.Response):
        return opened
    ws, record = opened
    session = _LiveSession(request, ws, record)
    with contextlib.suppress(ConnectionResetError):
        async for message in ws:
            if message.type is WSMsgType.BINARY:
                record.frames.append(message.data)
                await session.audio(message.data)
            elif message.type is WSMsgType.TEXT:
                record.frames.append(message.data)
                if not await session.control(message.data):
                    await ws.close(code=1000, message=b"")
                    break
    return ws


def deepgram_app(backend: Backend) -> web.Application:
    """The simulated Deepgram API at ``/v1/...``: listen, speak, and the Voice Agent (both hosts in one)."""
    # Imported here: those modules build on this one's helpers.
    from voiceguard.simulator.deepgram_agent_api import agent_converse
    from voiceguard.simulator.deepgram_speak_api import speak_live, speak_rest

    app = web.Application(client_max_size=256 * 1024 * 1024)
    app[BACKEND] = backend
    app.router.add_post("/v1/listen", listen_prerecorded)
    app.router.add_get("/v1/listen", listen_live)
    app.router.add_post("/v1/speak", speak_rest)
    app.router.add_get("/v1/speak", speak_live)
    app.router.add_get("/v1/agent/converse", agent_converse)
    return app
