"""Replies of the SIMULATED OpenAI Realtime API: one response, streamed as the real API streams it.

``response.created``, then per output item ``output_item.added`` / ``conversation.item.added``, content
part, audio and transcript deltas (or text deltas, or function-call argument deltas) paced by the
backend's ``Timings``, the ``.done`` events, and ``response.done`` with usage. A cancelled reply (client
``response.cancel``, or the user barging in with ``interrupt_response``) ends with ``response.done``
whose status is ``cancelled`` and whose output holds what was said so far.
"""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from voiceguard.simulator.audio import SECONDS_PER_CHARACTER, tone_pcm16
from voiceguard.simulator.backend import Reply, Timings
from voiceguard.simulator.openai_realtime_session import SessionConfig

Send = Callable[[dict[str, Any]], Awaitable[None]]


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:20]}"


def words_of(text: str) -> list[str]:
    pieces = text.split(" ")
    return [piece if index == 0 else " " + piece for index, piece in enumerate(pieces) if piece or index == 0]


def audio_for(text: str, output_format: tuple[str, int]) -> bytes:
    """A tone as long as ``text`` takes to say, in the session's output format."""
    encoding, rate = output_format
    seconds = max(0.1, len(text) * SECONDS_PER_CHARACTER)
    if encoding == "pcm16":
        return tone_pcm16(seconds, rate)
    return bytes([0x2A, 0xAA]) * int(seconds * rate / 2)


@dataclass
class ReplyState:
    """What a response produced so far (kept for its ``response.done``, also when cancelled)."""

    id: str = field(default_factory=lambda: new_id("resp"))
    output: list[dict[str, Any]] = field(default_factory=list)
    spoken: str = ""
    audio_seconds: float = 0.0


def response_object(
    config: SessionConfig,
    state: ReplyState,
    modalities: list[str],
    status: str,
    details: dict[str, Any] | None,
) -> dict[str, Any]:
    words = len(state.spoken.split())
    audio_tokens = int(state.audio_seconds * 10)
    usage = {
        "total_tokens": 120 + words + audio_tokens,
        "input_tokens": 120,
        "output_tokens": words + audio_tokens,
        "input_token_details": {
            "text_tokens": 100,
            "audio_tokens": 20,
            "image_tokens": 0,
            "cached_tokens": 0,
            "cached_tokens_details": {"text_tokens": 0, "audio_tokens": 0, "image_tokens": 0},
        },
        "output_token_details": {"text_tokens": words, "audio_tokens": audio_tokens},
    }
    return {
        "id": state.id,
        "object": "realtime.response",
        "status": status,
        "status_details": details,
        "output": state.output,
        "conversation_id": "conv_sim",
        "output_modalities": modalities,
        "max_output_tokens": "inf",
        "audio": {"output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": config.voice}},
        "usage": usage if status != "in_progress" else None,
        "metadata": None,
    }


class ReplyStreamer:
    """Streams one reply; ``run`` is the response task, ``state`` survives its cancellation."""

    def __init__(
        self,
        config: SessionConfig,
        timings: Timings,
        send: Send,
        previous_item: str | None,
        modalities: list[str] | None = None,
    ) -> None:
        self.config = config
        self.modalities = modalities or config.modalities
        self.timings = timings
        self.send = send
        self.previous_item = previous_item
        self.state = ReplyState()

    async def run(self, reply: Reply) -> None:
        await self.send({"type": "response.created", "response": self._object("in_progress", None)})
        await asyncio.sleep(self.timings.first_token)
        if reply.tool_calls:
            for index, call in enumerate(reply.tool_calls):
                await self._tool_call(index, call.name, call.arguments)
        else:
            await self._message(reply.text or "Okay.")
        await self.send({"type": "response.done", "response": self._object("completed", None)})

    async def cancelled(self, reason: str) -> None:
        details = {"type": "cancelled", "reason": reason}
        await self.send({"type": "response.done", "response": self._object("cancelled", details)})

    def _object(self, status: str, details: dict[str, Any] | None) -> dict[str, Any]:
        return response_object(self.config, self.state, self.modalities, status, details)

    async def _added(self, index: int, item: dict[str, Any]) -> None:
        self.state.output.append(item)
        await self.send(
            {
                "type": "response.output_item.added",
                "response_id": self.state.id,
                "output_index": index,
                "item": item,
            }
        )
        await self.send(
            {"type": "conversation.item.added", "previous_item_id": self.previous_item, "item": item}
        )
        self.previous_item = item["id"]

    async def _done(self, index: int, item: dict[str, Any]) -> None:
        item["status"] = "completed"
        await self.send(
            {
                "type": "response.output_item.done",
                "response_id": self.state.id,
                "output_index": index,
                "item": item,
            }
        )
        await self.send({"type": "conversation.item.done", "previous_item_id": None, "item": item})

    async def _tool_call(self, index: int, name: str, arguments: str) -> None:
        item = {
            "id": new_id("item"),
            "type": "function_call",
            "object": "realtime.item",
            "status": "in_progress",
            "name": name,
            "call_id": new_id("call"),
            "arguments": "",
        }
        await self._added(index, item)
        ids = {
            "response_id": self.state.id,
            "item_id": item["id"],
            "output_index": index,
            "call_id": item["call_id"],
        }
        half = len(arguments) // 2
        for fragment in (arguments[:half], arguments[half:]):
            await asyncio.sleep(self.timings.chunk_interval)
            item["arguments"] += fragment
            await self.send({"type": "response.function_call_arguments.delta", **ids, "delta": fragment})
        await self.send(
            {"type": "response.function_call_arguments.done", **ids, "name": name, "arguments": arguments}
        )
        await self._done(index, item)

    async def _message(self, text: str) -> None:
        config, state = self.config, self.state
        audio = "audio" in self.modalities
        item: dict[str, Any] = {
            "id": new_id("item"),
            "type": "message",
            "object": "realtime.item",
            "status": "in_progress",
            "role": "assistant",
            "content": [],
        }
        await self._added(0, item)
        ids = {"response_id": state.id, "item_id": item["id"], "output_index": 0, "content_index": 0}
        key = "transcript" if audio else "text"
        part: dict[str, Any] = {"type": "output_audio" if audio else "output_text", key: ""}
        item["content"].append(part)
        await self.send({"type": "response.content_part.added", **ids, "part": dict(part)})
        for position, word in enumerate(words_of(text)):
            if position:
                await asyncio.sleep(self.timings.chunk_interval)
            if audio:
                pcm = audio_for(word, config.output_format)
                state.audio_seconds += len(word) * SECONDS_PER_CHARACTER
                delta = base64.b64encode(pcm).decode()
                await self.send({"type": "response.output_audio.delta", **ids, "delta": delta})
                await self.send({"type": "response.output_audio_transcript.delta", **ids, "delta": word})
            else:
                await self.send({"type": "response.output_text.delta", **ids, "delta": word})
            part[key] += word
            state.spoken += word
        if audio:
            await self.send({"type": "response.output_audio.done", **ids})
            await self.send({"type": "response.output_audio_transcript.done", **ids, "transcript": text})
        else:
            await self.send({"type": "response.output_text.done", **ids, "text": text})
        await self.send({"type": "response.content_part.done", **ids, "part": dict(part)})
        await self._done(0, item)
