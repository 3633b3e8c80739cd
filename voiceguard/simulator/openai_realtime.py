"""A SIMULATED OpenAI Realtime API over WebSocket, speaking the real protocol (REFERENCE-protocols.md §1).

GA event names by default; beta names when the client sends ``OpenAI-Beta: realtime=v1`` or offers the
``openai-beta.realtime-v1`` subprotocol. Authentication by ``Authorization: Bearer`` or, for browsers, the
``openai-insecure-api-key.<key>`` subprotocol (``realtime`` is echoed).

Server VAD is simulated on the incoming audio itself: a frame whose samples rise above a fixed level is
speech, so a test speaks with a tone and pauses with silence. Speech start sends ``speech_started`` (and
interrupts a reply still streaming, when ``interrupt_response``); ``silence_duration_ms`` of silence after
it sends ``speech_stopped``, commits the buffer, transcribes it with the ``Backend`` script (when input
transcription is configured) and starts a reply (when ``create_response``). Without VAD the client commits
and asks for replies itself. Bad events are answered with ``error`` events, as the real API does. It is a
simulator: transcripts and replies are scripted, the audio is a tone.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import itertools
from array import array
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import WSMsgType, web
from multidict import CIMultiDict

from voiceguard.simulator.backend import Backend, Received, Reply
from voiceguard.simulator.openai_realtime_reply import ReplyStreamer, new_id, words_of
from voiceguard.simulator.openai_realtime_session import GA_ONLY, GA_TO_BETA, SessionConfig

SPEECH_LEVEL = 1000
"""A pcm16 frame whose loudest sample reaches this is speech (the simulator's whole VAD)."""
_G711_SILENCE = frozenset({0xFF, 0x7F, 0xD5, 0x55})
KEY_PROTOCOL_PREFIX = "openai-insecure-api-key."


def _is_speech(audio: bytes, encoding: str) -> bool:
    if encoding != "pcm16":
        loud = sum(1 for byte in audio if byte not in _G711_SILENCE)
        return loud > len(audio) // 4
    samples = array("h", audio[: len(audio) - len(audio) % 2])
    return bool(samples) and max(max(samples), -min(samples)) >= SPEECH_LEVEL


class RealtimeConnection:
    """One client connection: the session, the audio buffer, the VAD, and the reply in progress."""

    def __init__(
        self, backend: Backend, ws: web.WebSocketResponse, config: SessionConfig, record: Received
    ) -> None:
        self.backend = backend
        self.record = record
        self.ws = ws
        self.config = config
        self._event_ids = itertools.count(1)
        self.audio_ms = 0.0
        self.buffer_ms = 0.0
        self.speaking = False
        self.silence_ms = 0.0
        self.speech_item: str | None = None
        self.last_item: str | None = None
        self.conversation: list[dict[str, Any]] = []
        self.reply: ReplyStreamer | None = None
        self.reply_task: asyncio.Task[None] | None = None
        self.tasks: set[asyncio.Task[None]] = set()
        self.handlers: dict[str, Callable[[dict[str, Any]], Awaitable[None]]] = {
            "session.update": self._session_update,
            "input_audio_buffer.append": self._append,
            "input_audio_buffer.commit": self._commit_request,
            "input_audio_buffer.clear": self._clear,
            "conversation.item.create": self._item_create,
            "conversation.item.truncate": self._truncate,
            "conversation.item.delete": self._delete,
            "response.create": self._response_create,
            "response.cancel": self._response_cancel,
        }

    async def send(self, event: dict[str, Any]) -> None:
        kind = event["type"]
        if self.config.beta:
            if kind in GA_ONLY:
                return
            kind = GA_TO_BETA.get(kind, kind)
        body = {"type": kind, "event_id": f"event_{next(self._event_ids):x}"}
        body.update((key, value) for key, value in event.items() if key != "type")
        if not self.ws.closed:
            await self.ws.send_str(orjson.dumps(body).decode())

    async def error(self, code: str, message: str, param: str | None = None, event_id: object = None) -> None:
        detail = {"type": "invalid_request_error", "code": code, "message": message, "param": param}
        await self.send({"type": "error", "error": {**detail, "event_id": event_id}})

    async def run(self) -> None:
        await self.send({"type": "session.created", "session": self.config.render()})
        try:
            async for message in self.ws:
                if message.type is WSMsgType.TEXT:
                    self.record.frames.append(message.data)
                    await self.handle(message.data)
                elif message.type is WSMsgType.BINARY:
                    await self.error("invalid_value", "Binary frames are not supported; send JSON text.")
        finally:
            for task in [*self.tasks, *([self.reply_task] if self.reply_task else [])]:
                task.cancel()
            await asyncio.gather(
                *self.tasks, *([self.reply_task] if self.reply_task else []), return_exceptions=True
            )

    async def handle(self, raw: str) -> None:
        try:
            event = orjson.loads(raw)
        except orjson.JSONDecodeError:
            await self.error("invalid_json", "The event could not be parsed as JSON.")
            return
        kind = event.get("type") if isinstance(event, dict) else None
        handler = self.handlers.get(kind) if isinstance(kind, str) else None
        if handler is None:
            await self.error(
                "invalid_value",
                f"Invalid value: {kind!r}. Supported values are: {sorted(self.handlers)}.",
                "type",
            )
            return
        await handler(event)

    def _spawn(self, coroutine: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    # --- session and audio ------------------------------------------------------------------------------

    async def _session_update(self, event: dict[str, Any]) -> None:
        session = event.get("session")
        if not isinstance(session, dict):
            await self.error(
                "missing_required_parameter", "Missing required parameter: 'session'.", "session"
            )
            return
        self.config.update(session)
        await self.send({"type": "session.updated", "session": self.config.render()})

    async def _append(self, event: dict[str, Any]) -> None:
        try:
            audio = base64.b64decode(event.get("audio", ""), validate=True)
        except (binascii.Error, TypeError, ValueError):
            await self.error(
                "invalid_value",
                "Invalid 'audio'. Expected base64-encoded audio.",
                "audio",
                event.get("event_id"),
            )
            return
        encoding, rate = self.config.input_format
        bytes_per_ms = rate * (2 if encoding == "pcm16" else 1) / 1000
        duration_ms = len(audio) / bytes_per_ms
        start_ms = self.audio_ms
        self.audio_ms += duration_ms
        self.buffer_ms += duration_ms
        vad = self.config.turn_detection
        if vad is None:
            return
        if _is_speech(audio, encoding):
            self.silence_ms = 0.0
            if not self.speaking:
                self.speaking = True
                self.speech_item = new_id("item")
                await self.send(
                    {
                        "type": "input_audio_buffer.speech_started",
                        "audio_start_ms": int(start_ms),
                        "item_id": self.speech_item,
                    }
                )
                if (
                    self.reply_task is not None
                    and not self.reply_task.done()
                    and vad.get("interrupt_response")
                ):
                    await self._cancel_reply("turn_detected")
        elif self.speaking:
            self.silence_ms += duration_ms
            if self.silence_ms >= float(vad.get("silence_duration_ms") or 500):
                self.speaking = False
                item_id = self.speech_item or new_id("item")
                await self.send(
                    {
                        "type": "input_audio_buffer.speech_stopped",
                        "audio_end_ms": int(self.audio_ms),
                        "item_id": item_id,
                    }
                )
                await self._commit(item_id, create_response=bool(vad.get("create_response", True)))

    async def _commit_request(self, event: dict[str, Any]) -> None:
        if self.buffer_ms < 100:
            await self.error(
                "input_audio_buffer_commit_empty",
                f"Error committing input audio buffer: buffer too small. Expected at least 100ms of audio, "
                f"but buffer only has {self.buffer_ms:.2f}ms of audio.",
                event_id=event.get("event_id"),
            )
            return
        await self._commit(new_id("item"), create_response=False)

    async def _clear(self, event: dict[str, Any]) -> None:
        self.buffer_ms = 0.0
        await self.send({"type": "input_audio_buffer.cleared"})

    async def _commit(self, item_id: str, *, create_response: bool) -> None:
        previous, self.last_item = self.last_item, item_id
        self.buffer_ms = 0.0
        await self.send(
            {"type": "input_audio_buffer.committed", "previous_item_id": previous, "item_id": item_id}
        )
        item: dict[str, Any] = {
            "id": item_id,
            "type": "message",
            "object": "realtime.item",
            "status": "completed",
            "role": "user",
            "content": [{"type": "input_audio", "transcript": None}],
        }
        await self.send({"type": "conversation.item.added", "previous_item_id": previous, "item": item})
        text = self.backend.next_transcript()
        self.conversation.append({"role": "user", "text": text})
        self._spawn(self._transcribe(item, previous, text))
        if create_response:
            await self._start_reply(self._reply_for_conversation())

    async def _transcribe(self, item: dict[str, Any], previous: str | None, text: str) -> None:
        await asyncio.sleep(self.backend.timings.end_of_speech)
        if self.config.transcription is not None:
            ids = {"item_id": item["id"], "content_index": 0}
            for word in words_of(text):
                await self.send(
                    {"type": "conversation.item.input_audio_transcription.delta", **ids, "delta": word}
                )
            usage = {"type": "duration", "seconds": max(1, round(len(text) * 0.06))}
            await self.send(
                {
                    "type": "conversation.item.input_audio_transcription.completed",
                    **ids,
                    "transcript": text,
                    "usage": usage,
                }
            )
            item["content"][0]["transcript"] = text
        await self.send({"type": "conversation.item.done", "previous_item_id": previous, "item": item})

    # --- conversation and replies ---------------------------------------------------------------------------

    async def _item_create(self, event: dict[str, Any]) -> None:
        item = event.get("item")
        if not isinstance(item, dict):
            await self.error("missing_required_parameter", "Missing required parameter: 'item'.", "item")
            return
        item = {"id": new_id("item"), "object": "realtime.item", "status": "completed", **item}
        if item.get("type") == "function_call_output":
            self.conversation.append({"role": "tool", "text": str(item.get("output", ""))})
        elif item.get("role") == "user":
            content = item.get("content")
            parts: list[Any] = content if isinstance(content, list) else []
            text = " ".join(
                str(p.get("text") or p.get("transcript") or "") for p in parts if isinstance(p, dict)
            )
            self.conversation.append({"role": "user", "text": text})
        previous, self.last_item = self.last_item, item["id"]
        await self.send({"type": "conversation.item.added", "previous_item_id": previous, "item": item})
        await self.send({"type": "conversation.item.done", "previous_item_id": previous, "item": item})

    async def _truncate(self, event: dict[str, Any]) -> None:
        await self.send(
            {
                "type": "conversation.item.truncated",
                "item_id": event.get("item_id"),
                "content_index": event.get("content_index", 0),
                "audio_end_ms": event.get("audio_end_ms", 0),
            }
        )

    async def _delete(self, event: dict[str, Any]) -> None:
        await self.send({"type": "conversation.item.deleted", "item_id": event.get("item_id")})

    def _reply_for_conversation(self) -> Reply:
        last = self.conversation[-1] if self.conversation else {"role": "user", "text": ""}
        if last["role"] == "tool":
            return Reply(text=f"Done: {last['text']}")
        return self.backend.responder(last["text"])

    async def _response_create(self, event: dict[str, Any]) -> None:
        response = event.get("response")
        if not isinstance(response, dict):
            response = {}
        modalities = response.get("output_modalities", response.get("modalities"))
        chosen = [m for m in modalities if m in ("audio", "text")] if isinstance(modalities, list) else None
        await self._start_reply(self._reply_for_conversation(), event.get("event_id"), chosen or None)

    async def _response_cancel(self, event: dict[str, Any]) -> None:
        if self.reply_task is None or self.reply_task.done():
            await self.error(
                "response_cancel_not_active",
                "Cancellation failed: no active response found.",
                event_id=event.get("event_id"),
            )
            return
        await self._cancel_reply("client_cancelled")

    async def _start_reply(
        self, reply: Reply, event_id: object = None, modalities: list[str] | None = None
    ) -> None:
        if self.reply_task is not None and not self.reply_task.done():
            await self.error(
                "conversation_already_has_active_response",
                "Conversation already has an active response in progress.",
                event_id=event_id,
            )
            return
        self.reply = ReplyStreamer(self.config, self.backend.timings, self.send, self.last_item, modalities)
        self.reply_task = asyncio.create_task(self.reply.run(reply))

    async def _cancel_reply(self, reason: str) -> None:
        task, streamer = self.reply_task, self.reply
        if task is None or streamer is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await streamer.cancelled(reason)


def _credential(request: web.Request, offered: list[str]) -> str | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    for protocol in offered:
        if protocol.startswith(KEY_PROTOCOL_PREFIX):
            return protocol[len(KEY_PROTOCOL_PREFIX) :]
    return None


def realtime_handler(backend: Backend) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The ``GET /v1/realtime`` WebSocket endpoint of the simulated API."""

    async def realtime(request: web.Request) -> web.StreamResponse:
        record = Received(
            request.method, request.path, list(request.query.items()), CIMultiDict(request.headers)
        )
        backend.received.append(record)
        offered = [
            p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()
        ]
        if not backend.authorised(_credential(request, offered)):
            body = {
                "error": {
                    "message": "Incorrect API key provided.",
                    "type": "invalid_request_error",
                    "code": "invalid_api_key",
                }
            }
            return web.json_response(body, status=401)
        model = request.query.get("model")
        if not model and request.query.get("intent") != "transcription":
            body = {
                "error": {"message": "Missing required parameter: 'model'.", "type": "invalid_request_error"}
            }
            return web.json_response(body, status=400)
        beta = "realtime=v1" in request.headers.get("OpenAI-Beta", "") or "openai-beta.realtime-v1" in offered
        ws = web.WebSocketResponse(protocols=("realtime",) if "realtime" in offered else (), max_msg_size=0)
        await ws.prepare(request)
        config = SessionConfig(model=model or "gpt-4o-transcribe", beta=beta)
        connection = RealtimeConnection(backend, ws, config, record)
        with contextlib.suppress(ConnectionResetError):
            await connection.run()
        return ws

    return realtime
