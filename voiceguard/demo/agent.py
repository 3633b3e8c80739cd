"""The demo's voice agent: plain SDK code, pointed at voiceguard and otherwise unchanged.

A cascade agent as many are written: one Deepgram live-listen socket for the caller's audio, the OpenAI
chat completions API (streamed, with a tool) for the reply, OpenAI speech for the voice. The only lines
that know about voiceguard are the base URLs and the call's headers. It waits for the whole reply before
asking for speech, which the waterfall then shows as the agent's own delay.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any, Final, cast

import httpx
import openai
from deepgram import AsyncDeepgramClient, DeepgramClientEnvironment
from openai.types.chat import ChatCompletionFunctionToolParam

from voiceguard.demo import script
from voiceguard.simulator.audio import tone_pcm16

SAMPLE_RATE: Final = 16_000
FRAME_S: Final = 0.02
TRANSCRIPT_TIMEOUT_S: Final = 10.0
MARKING_HEADERS: Final = ("x-voiceguard-ai-generated", "x-voiceguard-digital-source-type")


class AgentError(Exception):
    """The call could not go on (a vendor or voiceguard answered unexpectedly)."""


@dataclass
class AgentTurn:
    """What the agent's code got back in one turn (the client's side of the story)."""

    heard: str
    speakers: tuple[str | None, ...]
    """The speaker label of every word of the transcript (``None``: no label)."""
    reply: str = ""
    tool_calls: list[tuple[str, str]] = field(default_factory=list)
    """(name, arguments) of the tool calls the reply carried."""
    speech_bytes: int = 0
    speech_headers: dict[str, str] = field(default_factory=dict)


@dataclass
class AgentLog:
    listen_headers: dict[str, str] = field(default_factory=dict)
    """The response headers of the live-listen WebSocket upgrade."""
    turns: list[AgentTurn] = field(default_factory=list)


def _upgrade_headers(socket: Any) -> dict[str, str]:
    """The upgrade response's headers; the SDK keeps the websockets connection as ``_websocket``."""
    connection = getattr(socket, "_websocket", None)
    headers = getattr(connection, "response_headers", None)
    if headers is None:
        headers = getattr(getattr(connection, "response", None), "headers", None)
    return {str(k).lower(): str(v) for k, v in headers.items()} if headers is not None else {}


class DemoAgent:
    """One call: ``async with DemoAgent(...) as agent: await agent.take_turn(...)``."""

    def __init__(self, voiceguard_url: str, call_id: str) -> None:
        self.url = voiceguard_url.rstrip("/")
        self.call_headers = {
            "X-VoiceGuard-Call-Id": call_id,
            "X-VoiceGuard-Subject": script.CALLER,
            "X-VoiceGuard-Jurisdiction": script.JURISDICTION,
        }
        self.log = AgentLog()
        self._stack = AsyncExitStack()
        self._messages: list[Any] = [{"role": "system", "content": script.SYSTEM_PROMPT}]
        self._finals: asyncio.Queue[Any] = asyncio.Queue()
        self._reader: asyncio.Task[None] | None = None
        self._socket: Any = None
        self._openai: openai.AsyncOpenAI | None = None

    async def __aenter__(self) -> DemoAgent:
        try:
            await self._open()
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        try:
            if self._socket is not None and exc_info[0] is None:
                await self._socket.send_close_stream()
                if self._reader is not None:
                    await asyncio.wait_for(asyncio.shield(self._reader), TRANSCRIPT_TIMEOUT_S)
        finally:
            if self._reader is not None:
                self._reader.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await self._reader
            await self._stack.aclose()

    async def _open(self) -> None:
        from voiceguard.demo.vendors import DEEPGRAM_KEY, OPENAI_KEY

        # --- the lines that point the SDKs at voiceguard -----------------------------------------------
        self._openai = await self._stack.enter_async_context(
            openai.AsyncOpenAI(
                api_key=OPENAI_KEY,
                base_url=f"{self.url}/openai/v1",
                default_headers=self.call_headers,
                max_retries=0,
            )
        )
        environment = copy.copy(DeepgramClientEnvironment.PRODUCTION)
        environment.base = f"{self.url}/deepgram"
        environment.production = self.url.replace("http", "ws", 1) + "/deepgram"
        # -----------------------------------------------------------------------------------------------
        http = await self._stack.enter_async_context(httpx.AsyncClient(timeout=30))
        deepgram = AsyncDeepgramClient(api_key=DEEPGRAM_KEY, environment=environment, httpx_client=http)
        self._socket = await self._stack.enter_async_context(
            deepgram.listen.v1.connect(
                model=script.STT_MODEL,
                encoding="linear16",
                sample_rate=str(SAMPLE_RATE),
                diarize="true",  # the agent asks for speaker labels: a voiceprint feature under BIPA
                request_options={"additional_headers": self.call_headers},
            )
        )
        self.log.listen_headers = _upgrade_headers(self._socket)
        self._reader = asyncio.create_task(self._read_results(), name="demo-agent-listen")

    async def _read_results(self) -> None:
        async for message in self._socket:
            if getattr(message, "type", None) == "Results" and getattr(message, "is_final", False):
                await self._finals.put(message)

    async def take_turn(self, turn: script.ScriptedTurn, step: Callable[[str], None]) -> AgentTurn:
        """The caller speaks; the agent transcribes, thinks (LLM) and answers (TTS)."""
        step("caller speaking")
        frame = tone_pcm16(FRAME_S, SAMPLE_RATE)
        for _ in range(round(script.CALLER_AUDIO_S / FRAME_S)):
            await self._socket.send_media(frame)
            await asyncio.sleep(FRAME_S)  # real time, as a phone line delivers it
        step("Deepgram transcribing")
        try:
            result = await asyncio.wait_for(self._finals.get(), TRANSCRIPT_TIMEOUT_S)
        except TimeoutError:
            raise AgentError("no final transcript from Deepgram (through voiceguard) in time") from None
        alternative = result.channel.alternatives[0]
        heard = AgentTurn(alternative.transcript, tuple(w.speaker for w in alternative.words or ()))
        step("LLM replying")
        await self._think(heard)
        step("TTS speaking")
        await self._speak(heard)
        self.log.turns.append(heard)
        return heard

    async def _think(self, turn: AgentTurn) -> None:
        assert self._openai is not None
        self._messages.append({"role": "user", "content": turn.heard})
        stream = await self._openai.chat.completions.create(
            model=script.AGENT_MODEL,
            messages=self._messages,
            tools=[cast(ChatCompletionFunctionToolParam, script.CHARGE_TOOL)],
            stream=True,
            stream_options={"include_usage": True},
        )
        text: list[str] = []
        calls: dict[int, list[str]] = {}
        async for chunk in stream:
            if not chunk.choices:
                continue
            delta = chunk.choices[0].delta
            text.append(delta.content or "")
            for call in delta.tool_calls or ():
                parts = calls.setdefault(call.index, ["", ""])
                if call.function is not None:
                    parts[0] += call.function.name or ""
                    parts[1] += call.function.arguments or ""
        turn.reply = "".join(text)
        turn.tool_calls = [(name, arguments) for name, arguments in calls.values()]
        self._messages.append({"role": "assistant", "content": turn.reply})

    async def _speak(self, turn: AgentTurn) -> None:
        assert self._openai is not None
        async with self._openai.audio.speech.with_streaming_response.create(
            model=script.TTS_MODEL, voice="alloy", input=turn.reply, response_format="pcm"
        ) as speech:
            audio = await speech.read()
        turn.speech_bytes = len(audio)
        turn.speech_headers = {k: speech.headers[k] for k in MARKING_HEADERS if k in speech.headers}
