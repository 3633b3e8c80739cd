"""Deepgram live transcription through voiceguard, on the official deepgram-sdk.

The SDK has no base-URL argument; its documented environment override points it at voiceguard. The
caller here is in Illinois and the agent asks for diarization (speaker labels, a voiceprint feature under
BIPA): with no consent on record, voiceguard strips ``diarize`` before it reaches Deepgram and tells the
client in the ``X-VoiceGuard-Stripped`` response header. Runs against the local simulator by default.

    python examples/sdk/deepgram_live.py
"""

from __future__ import annotations

import asyncio
import copy
import math
import os
import struct
import uuid
from typing import Any

from deepgram import AsyncDeepgramClient, DeepgramClientEnvironment

VOICEGUARD = os.environ.get("VOICEGUARD_URL", "http://127.0.0.1:8080")
RATE = 16_000


def frames(seconds: float = 1.0, frame_s: float = 0.02) -> list[bytes]:
    """The caller's audio as 20 ms frames of 16 kHz linear16 (a tone; the simulator hears its script)."""
    samples = [int(3000 * math.sin(2 * math.pi * 220 * i / RATE)) for i in range(int(seconds * RATE))]
    pcm = struct.pack(f"<{len(samples)}h", *samples)
    size = int(frame_s * RATE) * 2
    return [pcm[i : i + size] for i in range(0, len(pcm), size)]


def environment() -> Any:
    env = copy.copy(DeepgramClientEnvironment.PRODUCTION)
    env.base = f"{VOICEGUARD}/deepgram"  # ← REST: listen, speak
    env.production = VOICEGUARD.replace("http", "ws", 1) + "/deepgram"  # ← live listen and speak
    env.agent = VOICEGUARD.replace("http", "ws", 1) + "/deepgram-agent"  # ← Voice Agent
    return env


async def main() -> None:
    call = {
        "X-VoiceGuard-Call-Id": f"example-dg-{uuid.uuid4().hex[:8]}",
        "X-VoiceGuard-Subject": "+13125550142",
        "X-VoiceGuard-Jurisdiction": "US-IL",
    }
    key = os.environ.get("DEEPGRAM_API_KEY", "simulated")
    client = AsyncDeepgramClient(api_key=key, environment=environment())
    async with client.listen.v1.connect(
        model="nova-3", encoding="linear16", sample_rate=str(RATE), diarize="true",
        request_options={"additional_headers": call},
    ) as socket:  # fmt: skip
        upgrade = getattr(getattr(socket, "_websocket", None), "response_headers", {})
        print(f"X-VoiceGuard-Stripped: {upgrade.get('X-VoiceGuard-Stripped', '(none)')}")
        for frame in frames():
            await socket.send_media(frame)
            await asyncio.sleep(0.02)  # real time, as a phone line delivers it
        await socket.send_close_stream()
        async with asyncio.timeout(30):
            async for message in socket:
                if getattr(message, "type", None) == "Results" and message.is_final:
                    alternative = message.channel.alternatives[0]
                    speakers = {word.speaker for word in alternative.words or ()}
                    print(f"caller: {alternative.transcript}   (speaker labels: {speakers})")
    print(f"call id {call['X-VoiceGuard-Call-Id']}")


if __name__ == "__main__":
    asyncio.run(main())
