"""A simulated Gemini Live API: the ``BidiGenerateContent`` WebSocket (REFERENCE-protocols.md §5).

Answers ``setup`` with ``setupComplete``; a user turn ends with ``audioStreamEnd``, ``activityEnd``,
realtime text or a complete client turn, and is answered with input transcription (the ``Backend``'s next
transcript), model audio (24 kHz PCM tone) with its output transcription, or text parts for a TEXT session,
then ``generationComplete`` and ``turnComplete`` with ``usageMetadata``. A scripted tool call is sent as
``toolCall`` and the reply follows the client's ``toolResponse``. Frames go out binary, as Google's do.
"""

from __future__ import annotations

import base64
import uuid
from typing import Any

import orjson
from aiohttp import WSMsgType, web
from multidict import CIMultiDict

from voiceguard.simulator.audio import speech_for
from voiceguard.simulator.backend import Backend, Received, Reply, word_pieces

BACKEND = web.AppKey("gemini_backend", Backend)
PROMPT_TOKENS = 40
_STANDARD = str.maketrans("+/", "-_")


class _Session:
    def __init__(self, ws: web.WebSocketResponse, backend: Backend) -> None:
        self.ws = ws
        self.backend = backend
        self.audio_bytes = 0
        self.text_only = False

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send_bytes(orjson.dumps(message))

    async def user_turn(self, heard: str | None) -> None:
        if heard is None:
            heard = self.backend.next_transcript()
            pieces = word_pieces(heard)
            for index, piece in enumerate(pieces):
                transcription: dict[str, Any] = {"text": piece}
                if index == len(pieces) - 1:
                    transcription["finished"] = True
                await self.send({"serverContent": {"inputTranscription": transcription}})
        reply = self.backend.responder(heard)
        if reply.tool_calls:
            calls = [
                {
                    "id": f"function-call-{uuid.uuid4().hex[:8]}",
                    "name": call.name,
                    "args": orjson.loads(call.arguments),
                }
                for call in reply.tool_calls
            ]
            await self.send({"toolCall": {"functionCalls": calls}})
            return
        await self.model_turn(reply)

    async def model_turn(self, reply: Reply) -> None:
        for piece in word_pieces(reply.text):
            if self.text_only:
                await self.send({"serverContent": {"modelTurn": {"parts": [{"text": piece}]}}})
                continue
            audio = base64.b64encode(speech_for(piece, 24_000)).decode()
            part = {"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": audio}}
            await self.send({"serverContent": {"modelTurn": {"parts": [part]}}})
            await self.send({"serverContent": {"outputTranscription": {"text": piece}}})
        await self.send({"serverContent": {"generationComplete": True}})
        output = max(1, len(reply.text.split()))
        usage = {
            "promptTokenCount": PROMPT_TOKENS,
            "responseTokenCount": output,
            "totalTokenCount": PROMPT_TOKENS + output,
            "promptTokensDetails": [{"modality": "AUDIO", "tokenCount": PROMPT_TOKENS}],
            "responseTokensDetails": [
                {"modality": "TEXT" if self.text_only else "AUDIO", "tokenCount": output}
            ],
        }
        await self.send({"serverContent": {"turnComplete": True}, "usageMetadata": usage})


def _pick(mapping: dict[str, Any], camel: str, snake: str) -> Any:
    return mapping.get(camel, mapping.get(snake))


async def bidi_generate_content(request: web.Request) -> web.StreamResponse:
    backend = request.app[BACKEND]
    received = Received(
        request.method, request.path, list(request.query.items()), CIMultiDict(request.headers)
    )
    backend.received.append(received)
    if not request.path.endswith(("BidiGenerateContent", "BidiGenerateContentConstrained")):
        return web.json_response({"error": {"code": 404, "status": "NOT_FOUND"}}, status=404)
    ws = web.WebSocketResponse(max_msg_size=0)
    await ws.prepare(request)
    credential = request.query.get("key") or request.headers.get("x-goog-api-key")
    if not backend.authorised(credential):
        await ws.close(code=1008, message=b"API key not valid. Please pass a valid API key.")
        return ws
    session = _Session(ws, backend)
    setup_done = False
    async for message in ws:
        if message.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
            continue
        received.frames.append(message.data)
        try:
            body = orjson.loads(message.data)
        except orjson.JSONDecodeError:
            await ws.close(code=1007, message=b"Invalid JSON payload received.")
            break
        if not setup_done:
            setup = body.get("setup") if isinstance(body, dict) else None
            if not isinstance(setup, dict):
                await ws.close(code=1007, message=b"The first message must be setup.")
                break
            modalities = _pick(
                _pick(setup, "generationConfig", "generation_config") or {},
                "responseModalities",
                "response_modalities",
            )
            session.text_only = modalities == ["TEXT"]
            setup_done = True
            await session.send({"setupComplete": {}})
            continue
        await _client_message(session, body)
    return ws


async def _client_message(session: _Session, body: dict[str, Any]) -> None:
    realtime = _pick(body, "realtimeInput", "realtime_input")
    content = _pick(body, "clientContent", "client_content")
    tool_response = _pick(body, "toolResponse", "tool_response")
    if isinstance(realtime, dict):
        audio = realtime.get("audio")
        if isinstance(audio, dict):
            session.audio_bytes += len(base64.urlsafe_b64decode(audio.get("data", "").translate(_STANDARD)))
        if isinstance(realtime.get("text"), str):
            await session.user_turn(realtime["text"])
        elif (
            _pick(realtime, "audioStreamEnd", "audio_stream_end")
            or _pick(realtime, "activityEnd", "activity_end") is not None
        ):
            await session.user_turn(None)
    elif isinstance(content, dict) and _pick(content, "turnComplete", "turn_complete"):
        texts = [
            part.get("text", "")
            for turn in content.get("turns") or []
            for part in turn.get("parts") or []
            if isinstance(part, dict)
        ]
        await session.user_turn(" ".join(texts))
    elif isinstance(tool_response, dict):
        await session.model_turn(Reply(text="Done, the tool answered."))


def gemini_app(backend: Backend) -> web.Application:
    """The simulated Live endpoint under any base path (the SDK may add ``//ws/...``)."""
    app = web.Application()
    app[BACKEND] = backend
    app.router.add_get("/{tail:.*}", bidi_generate_content)
    return app
