"""A cascaded voice agent on the plain openai SDK: speech-to-text → LLM → text-to-speech, through voiceguard.

The only voiceguard-specific lines are the base URL and the call headers. By default it runs against the
local simulator (``python -m voiceguard.simulator`` and a voiceguard in front of it, see README.md); with
a real key and voiceguard's default routes it runs against OpenAI unchanged.

    python examples/sdk/openai_pipeline.py [--audio caller.wav]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import struct
import uuid
from pathlib import Path

import openai

VOICEGUARD = os.environ.get("VOICEGUARD_URL", "http://127.0.0.1:8080")


def tone_wav(seconds: float = 1.5, rate: int = 24_000) -> bytes:
    """A stand-in for the caller's audio (the simulator transcribes anything as its scripted sentence)."""
    samples = [int(3000 * math.sin(2 * math.pi * 220 * i / rate)) for i in range(int(seconds * rate))]
    pcm = struct.pack(f"<{len(samples)}h", *samples)
    header = struct.pack("<4sI4s4sIHHIIHH4sI", b"RIFF", 36 + len(pcm), b"WAVE", b"fmt ", 16, 1, 1, rate,
                         rate * 2, 2, 16, b"data", len(pcm))  # fmt: skip
    return header + pcm


async def main(audio: bytes) -> None:
    call_id = f"example-{uuid.uuid4().hex[:8]}"
    client = openai.AsyncOpenAI(
        api_key=os.environ.get("OPENAI_API_KEY", "sk-simulated"),
        base_url=f"{VOICEGUARD}/openai/v1",  # ← voiceguard's openai route instead of api.openai.com
        default_headers={  # ← one call: these requests share a trace and an audit trail
            "X-VoiceGuard-Call-Id": call_id,
            "X-VoiceGuard-Subject": "+13125550142",  # the caller; voiceguard records only a keyed hash
            "X-VoiceGuard-Jurisdiction": "US-IL",
        },
    )
    async with client:
        heard = await client.audio.transcriptions.create(
            model="gpt-4o-mini-transcribe", file=("caller.wav", audio, "audio/wav")
        )
        print(f"caller: {heard.text}")
        stream = await client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[
                {"role": "system", "content": "You are a helpful phone agent. Be brief."},
                {"role": "user", "content": heard.text},
            ],
            stream=True,
        )
        reply = "".join([chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices])
        print(f"agent:  {reply}")
        async with client.audio.speech.with_streaming_response.create(
            model="gpt-4o-mini-tts", voice="alloy", input=reply, response_format="pcm"
        ) as speech:
            audio_out = await speech.read()
            marked = speech.headers.get("X-VoiceGuard-AI-Generated")
        print(f"speech: {len(audio_out)} bytes of 24 kHz PCM, X-VoiceGuard-AI-Generated: {marked}")
    print(f"call id {call_id}: its trace and audit records carry this id")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--audio", help="a WAV file with the caller's speech (default: a tone)")
    args = parser.parse_args()
    asyncio.run(main(Path(args.audio).read_bytes() if args.audio else tone_wav()))
