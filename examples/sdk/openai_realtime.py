"""An OpenAI Realtime (speech-to-speech) agent through voiceguard, on the openai SDK's GA realtime client.

A realtime WebSocket is one call by itself; ``vg_call_id`` (a query parameter, since browsers cannot set
headers on a WebSocket) names it, and voiceguard removes it before forwarding. Runs against the local
simulator by default (see README.md).

    python examples/sdk/openai_realtime.py
"""

from __future__ import annotations

import asyncio
import base64
import math
import os
import struct
import uuid

import openai

VOICEGUARD = os.environ.get("VOICEGUARD_URL", "http://127.0.0.1:8080")
FRAME = 480  # 20 ms of 24 kHz 16-bit mono


def caller_audio(speech_s: float = 0.4, silence_s: float = 0.3, rate: int = 24_000) -> list[str]:
    """20 ms base64 frames: a tone (the caller talking), then silence (server VAD ends the turn)."""
    tone = [int(3000 * math.sin(2 * math.pi * 220 * i / rate)) for i in range(int(speech_s * rate))]
    pcm = struct.pack(f"<{len(tone)}h", *tone) + bytes(2 * int(silence_s * rate))
    return [base64.b64encode(pcm[i : i + 2 * FRAME]).decode() for i in range(0, len(pcm), 2 * FRAME)]


async def main() -> None:
    call_id = f"example-rt-{uuid.uuid4().hex[:8]}"
    client = openai.AsyncOpenAI(
        api_key=os.environ.get("OPENAI_API_KEY", "sk-simulated"),
        base_url=f"{VOICEGUARD}/openai/v1",  # ← the realtime socket goes to ws://…/openai/v1/realtime
    )
    async with (
        client,
        client.realtime.connect(
            model="gpt-realtime", extra_query={"vg_call_id": call_id, "vg_jurisdiction": "EU"}
        ) as connection,
    ):
        await connection.session.update(
            session={
                "type": "realtime",
                "audio": {
                    "input": {
                        "transcription": {"model": "gpt-4o-transcribe"},
                        "turn_detection": {"type": "server_vad", "silence_duration_ms": 200},
                    }
                },
            }
        )
        for frame in caller_audio():
            await connection.input_audio_buffer.append(audio=frame)
        spoken: list[str] = []
        audio_bytes = 0
        async with asyncio.timeout(30):
            async for event in connection:
                if event.type == "conversation.item.input_audio_transcription.completed":
                    print(f"caller: {event.transcript}")
                elif event.type == "response.output_audio_transcript.delta":
                    spoken.append(event.delta)
                elif event.type == "response.output_audio.delta":
                    audio_bytes += len(base64.b64decode(event.delta))
                elif event.type == "response.done":
                    break
    print(f"agent:  {''.join(spoken)}")
    print(f"speech: {audio_bytes} bytes of 24 kHz PCM")
    print(f"call id {call_id}: one realtime socket, one call in the trace and the audit log")


if __name__ == "__main__":
    asyncio.run(main())
