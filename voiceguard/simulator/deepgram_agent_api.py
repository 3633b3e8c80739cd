"""A simulated Deepgram Voice Agent: ``/v1/agent/converse`` with a scripted conversation.

Speaks the real wire protocol (REFERENCE-protocols.md §3): ``Welcome``; ``SettingsApplied`` after
``Settings`` (and the greeting, spoken); for each second of the caller's audio, ``UserStartedSpeaking``,
the caller's words (from the ``Backend`` script) as ``ConversationText``, then the reply of
``Backend.responder`` as ``ConversationText``, ``AgentStartedSpeaking`` with latencies, audio frames and
``AgentAudioDone``. A reply with a tool call first asks the client with ``FunctionCallRequest`` and speaks
once the ``FunctionCallResponse`` arrives. ``InjectUserMessage``, ``InjectAgentMessage``, ``UpdatePrompt``
and ``KeepAlive`` are honoured.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any, Final

import orjson
from aiohttp import WSMsgType, web

from voiceguard.simulator.audio import mulaw, speech_for
from voiceguard.simulator.backend import Backend
from voiceguard.simulator.deepgram_api import BACKEND, UTTERANCE_AUDIO_S, open_socket

DEFAULT_RATE: Final = 24_000
CHUNK_S: Final = 0.1
LATENCIES: Final = {"total_latency": 0.82, "tts_latency": 0.21, "ttt_latency": 0.47}


def _object(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _audio_format(settings: dict[str, Any], direction: str) -> tuple[str, int]:
    declared = _object(_object(settings.get("audio")).get(direction))
    encoding = declared.get("encoding", "linear16")
    rate = declared.get("sample_rate", DEFAULT_RATE)
    return str(encoding), int(rate) if isinstance(rate, int) else DEFAULT_RATE


class _AgentSession:
    """One conversation."""

    def __init__(self, backend: Backend, ws: web.WebSocketResponse) -> None:
        self.backend = backend
        self.ws = ws
        self.settings: dict[str, Any] | None = None
        self.input: tuple[str, int] = ("linear16", DEFAULT_RATE)
        self.output: tuple[str, int] = ("linear16", DEFAULT_RATE)
        self.heard_s = 0.0
        self.in_speech = False
        self.pending_call: tuple[str, str] | None = None

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send_str(orjson.dumps(message).decode())

    async def error(self, description: str, code: str) -> None:
        await self.send({"type": "Error", "description": description, "code": code})

    async def on_settings(self, settings: dict[str, Any]) -> None:
        self.settings = settings
        self.input = _audio_format(settings, "input")
        self.output = _audio_format(settings, "output")
        await self.send({"type": "SettingsApplied"})
        greeting = _object(settings.get("agent")).get("greeting")
        if isinstance(greeting, str) and greeting:
            await self.speak(greeting)

    async def on_audio(self, data: bytes) -> None:
        if self.settings is None:
            await self.error("Settings must be sent before audio.", "SETTINGS_REQUIRED")
            return
        encoding, rate = self.input
        self.heard_s += len(data) / ((1 if encoding == "mulaw" else 2) * rate)
        if not self.in_speech:
            self.in_speech = True
            await self.send({"type": "UserStartedSpeaking"})
        if self.heard_s >= UTTERANCE_AUDIO_S:
            self.heard_s = 0.0
            self.in_speech = False
            await self.user_turn(self.backend.next_transcript())

    async def user_turn(self, text: str) -> None:
        await self.send({"type": "ConversationText", "role": "user", "content": text})
        reply = self.backend.responder(text)
        await self.send({"type": "AgentThinking", "content": f"The caller said: {text}"})
        if reply.tool_calls:
            call = reply.tool_calls[0]
            call_id = f"call_{uuid.uuid4().hex[:12]}"
            self.pending_call = (call_id, reply.text)
            function = {"id": call_id, "name": call.name, "arguments": call.arguments, "client_side": True}
            await self.send({"type": "FunctionCallRequest", "functions": [function]})
            return
        await self.speak(reply.text)

    async def on_function_response(self, message: dict[str, Any]) -> None:
        if self.pending_call is None or message.get("id") != self.pending_call[0]:
            await self.error("No function call is waiting for that id.", "UNEXPECTED_FUNCTION_RESPONSE")
            return
        _call_id, text = self.pending_call
        self.pending_call = None
        await self.speak(text or f"Done: {message.get('content', '')}")

    async def speak(self, text: str) -> None:
        await self.send({"type": "ConversationText", "role": "assistant", "content": text})
        await asyncio.sleep(self.backend.timings.first_token)
        await self.send({"type": "AgentStartedSpeaking", **LATENCIES})
        encoding, rate = self.output
        pcm = speech_for(text, rate)
        audio = mulaw(pcm) if encoding == "mulaw" else pcm
        step = int(rate * CHUNK_S) * (1 if encoding == "mulaw" else 2)
        for offset in range(0, len(audio), step):
            if offset:
                await asyncio.sleep(self.backend.timings.chunk_interval)
            await self.ws.send_bytes(audio[offset : offset + step])
        await self.send({"type": "AgentAudioDone"})

    async def control(self, raw: str) -> None:
        try:
            message = orjson.loads(raw)
        except orjson.JSONDecodeError:
            await self.error("Invalid JSON.", "INVALID_JSON")
            return
        kind = message.get("type") if isinstance(message, dict) else None
        if not isinstance(message, dict) or kind is None:
            await self.error("Messages must be JSON objects with a type.", "INVALID_MESSAGE")
        elif kind == "Settings":
            await self.on_settings(message)
        elif self.settings is None:
            await self.error("Settings must be the first message.", "SETTINGS_REQUIRED")
        elif kind == "InjectUserMessage" and isinstance(message.get("content"), str):
            await self.user_turn(message["content"])
        elif kind == "InjectAgentMessage" and isinstance(message.get("message"), str):
            await self.speak(message["message"])
        elif kind == "FunctionCallResponse":
            await self.on_function_response(message)
        elif kind == "UpdatePrompt":
            await self.send({"type": "PromptUpdated"})
        elif kind == "UpdateSpeak":
            await self.send({"type": "SpeakUpdated"})
        elif kind != "KeepAlive":
            await self.send(
                {"type": "Warning", "description": f"Unknown message type {kind}", "code": "UNKNOWN"}
            )


async def agent_converse(request: web.Request) -> web.StreamResponse:
    opened = await open_socket(request)
    if isinstance(opened, web.Response):
        return opened
    ws, record = opened
    session = _AgentSession(request.app[BACKEND], ws)
    await session.send({"type": "Welcome", "request_id": str(uuid.uuid4())})
    with contextlib.suppress(ConnectionResetError):
        async for message in ws:
            if message.type is WSMsgType.TEXT:
                record.frames.append(message.data)
                await session.control(message.data)
            elif message.type is WSMsgType.BINARY:
                record.frames.append(message.data)
                await session.on_audio(message.data)
    return ws
