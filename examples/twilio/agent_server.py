"""A phone agent behind Twilio Media Streams: the WebSocket server Twilio's stream reaches through voiceguard.

Twilio → voiceguard (route ``phone``, protocol ``twilio``) → this server's ``/media``. For each call it
opens a Deepgram live transcription of the caller's µ-law audio, answers every final transcript with an
OpenAI chat reply, speaks it with Deepgram's Aura as µ-law 8 kHz (what a phone line carries) and sends it
back to Twilio as ``media`` frames followed by a ``mark``. Its own backend requests go through voiceguard
too, named with Twilio's ``callSid`` so the phone leg and the backend requests are one call.

    python examples/twilio/agent_server.py [--port 8765]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import copy
import json
import os
from typing import Any

import httpx
import openai
from aiohttp import WSMsgType, web
from deepgram import AsyncDeepgramClient, DeepgramClientEnvironment

VOICEGUARD = os.environ.get("VOICEGUARD_URL", "http://127.0.0.1:8080")
FRAME = 160  # 20 ms of 8 kHz µ-law


def deepgram_client(http: httpx.AsyncClient) -> AsyncDeepgramClient:
    env = copy.copy(DeepgramClientEnvironment.PRODUCTION)
    env.base = f"{VOICEGUARD}/deepgram"
    env.production = VOICEGUARD.replace("http", "ws", 1) + "/deepgram"
    key = os.environ.get("DEEPGRAM_API_KEY", "simulated")
    return AsyncDeepgramClient(api_key=key, environment=env, httpx_client=http)


class PhoneCall:
    """One Twilio media stream: caller audio in, the agent's spoken replies out."""

    def __init__(self, twilio: web.WebSocketResponse, start: dict[str, Any]) -> None:
        self.twilio = twilio
        self.stream_sid = start["streamSid"]
        parameters = start.get("customParameters") or {}
        self.headers = {"X-VoiceGuard-Call-Id": start["callSid"]}
        if caller := parameters.get("from"):
            self.headers["X-VoiceGuard-Subject"] = caller  # the caller's number: jurisdiction, consent
        self.llm = openai.AsyncOpenAI(
            api_key=os.environ.get("OPENAI_API_KEY", "sk-simulated"),
            base_url=f"{VOICEGUARD}/openai/v1",
            default_headers=self.headers,
        )
        self.http = httpx.AsyncClient(timeout=30)
        self.deepgram = deepgram_client(self.http)
        self.history: list[Any] = [{"role": "system", "content": "You answer phone calls. Be brief."}]
        self.replies = 0

    async def close(self) -> None:
        await self.llm.close()
        await self.http.aclose()

    async def answer(self, transcript: str) -> None:
        self.history.append({"role": "user", "content": transcript})
        reply = await self.llm.chat.completions.create(model="gpt-4o-mini", messages=self.history)
        text = reply.choices[0].message.content or ""
        self.history.append({"role": "assistant", "content": text})
        audio = b"".join(
            [
                chunk
                async for chunk in self.deepgram.speak.v1.audio.generate(
                    text=text, model="aura-2-thalia-en", encoding="mulaw", sample_rate=8000, container="none",
                    request_options={"additional_headers": self.headers},
                )
            ]
        )  # fmt: skip
        for offset in range(0, len(audio), FRAME):
            payload = base64.b64encode(audio[offset : offset + FRAME]).decode()
            await self.send("media", {"payload": payload})
        self.replies += 1
        await self.send("mark", {"name": f"reply-{self.replies}"})
        call_id = self.headers["X-VoiceGuard-Call-Id"]
        print(f"[{call_id}] caller: {transcript!r} → agent: {text!r}", flush=True)

    async def send(self, event: str, body: dict[str, Any]) -> None:
        await self.twilio.send_json({"event": event, "streamSid": self.stream_sid, event: body})

    async def transcribe(self, audio: asyncio.Queue[bytes | None]) -> None:
        async with self.deepgram.listen.v1.connect(
            model="nova-3", encoding="mulaw", sample_rate="8000",
            request_options={"additional_headers": self.headers},
        ) as socket:  # fmt: skip

            async def forward() -> None:
                while (chunk := await audio.get()) is not None:
                    await socket.send_media(chunk)
                await socket.send_close_stream()

            sender = asyncio.create_task(forward())
            try:
                async for message in socket:
                    if getattr(message, "type", None) == "Results" and message.is_final:
                        text = message.channel.alternatives[0].transcript
                        if text:
                            await self.answer(text)
            finally:
                sender.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sender


async def media(request: web.Request) -> web.WebSocketResponse:
    twilio = web.WebSocketResponse()
    await twilio.prepare(request)
    audio: asyncio.Queue[bytes | None] = asyncio.Queue()
    listener: asyncio.Task[None] | None = None
    call: PhoneCall | None = None
    try:
        async for message in twilio:
            if message.type is not WSMsgType.TEXT:
                continue
            body = json.loads(message.data)
            event = body.get("event")
            if event == "start":
                call = PhoneCall(twilio, body["start"] | {"streamSid": body.get("streamSid")})
                listener = asyncio.create_task(call.transcribe(audio))
            elif event == "media" and body["media"].get("track", "inbound") == "inbound":
                await audio.put(base64.b64decode(body["media"]["payload"]))
            elif event == "stop":
                break
    finally:
        await audio.put(None)  # the transcription ends with the call
        try:
            if listener is not None:
                await asyncio.wait_for(listener, 10)
        except Exception as exc:
            print(f"transcription ended with {exc!r}", flush=True)
        finally:
            if call is not None:
                await call.close()
            await twilio.close()
    return twilio


def app() -> web.Application:
    application = web.Application()
    application.router.add_get("/media", media)
    return application


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8765)
    web.run_app(app(), host="127.0.0.1", port=parser.parse_args().port)
