"""The LiveKit plugins of ``agent.py``, driven headless through voiceguard (no LiveKit server needed).

Streams a second of audio to the Deepgram STT plugin, sends its transcript to the OpenAI LLM plugin and
the reply to the OpenAI TTS plugin: the same three objects the worker hands to its ``AgentSession``.

    python examples/livekit/check_plugins.py
"""

from __future__ import annotations

import asyncio
import math
import struct
import uuid

import aiohttp
from agent import plugins
from livekit import rtc
from livekit.agents import llm as lk_llm
from livekit.agents import stt as lk_stt

RATE = 16_000


def frames(seconds: float = 1.0, frame_s: float = 0.02) -> list[rtc.AudioFrame]:
    samples = [int(3000 * math.sin(2 * math.pi * 220 * i / RATE)) for i in range(int(seconds * RATE))]
    per_frame = int(frame_s * RATE)
    return [
        rtc.AudioFrame(struct.pack(f"<{per_frame}h", *samples[i : i + per_frame]), RATE, 1, per_frame)
        for i in range(0, len(samples), per_frame)
    ]


async def main() -> None:
    call_id = f"livekit-{uuid.uuid4().hex[:8]}"
    async with aiohttp.ClientSession() as session:
        stt, llm, tts = plugins(call_id, http_session=session)
        stream = stt.stream()
        for frame in frames():
            stream.push_frame(frame)
            await asyncio.sleep(0.02)
        stream.end_input()
        heard = ""
        async for event in stream:
            if event.type == lk_stt.SpeechEventType.FINAL_TRANSCRIPT and event.alternatives:
                heard = event.alternatives[0].text
        print(f"caller: {heard}")
        context = lk_llm.ChatContext()
        context.add_message(role="system", content="You are a helpful phone agent. Be brief.")
        context.add_message(role="user", content=heard)
        reply = ""
        async with llm.chat(chat_ctx=context) as answer:
            async for chunk in answer:
                if chunk.delta and chunk.delta.content:
                    reply += chunk.delta.content
        print(f"agent:  {reply}")
        audio = 0
        async for synthesized in tts.synthesize(reply):
            audio += len(synthesized.frame.data) * 2
        print(f"speech: {audio} bytes")
        await stream.aclose()
    print(f"call id {call_id}")


if __name__ == "__main__":
    asyncio.run(main())
