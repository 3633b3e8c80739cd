"""Drives voice-agent calls through voiceguard for the observability example, with the official openai SDK.

Each call is a few turns of a cascade agent: transcribe the caller's audio, ask the LLM (streamed), speak
the reply. The agent pauses a little between stages, as real agents do, so the dashboards show the
orchestration gaps too. Each call id is printed: paste it into the "Call drill-down" dashboard.

    python traffic.py --base-url http://localhost:8080 [--calls N]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import time
from pathlib import Path

import openai

from voiceguard.simulator.audio import tone_pcm16, wav

HEALTH_FILE = Path("/tmp/traffic-ok")
QUESTIONS = ("what is my balance", "what are your opening hours", "am I talking to an agent")


async def one_turn(client: openai.AsyncOpenAI, rng: random.Random, pace: float = 1.0) -> None:
    heard = await client.audio.transcriptions.create(
        model="gpt-4o-mini-transcribe",
        file=("caller.wav", wav(tone_pcm16(rng.uniform(0.8, 2.5))), "audio/wav"),
    )
    await asyncio.sleep(pace * rng.uniform(0.02, 0.12))  # the agent decides what to do with the transcript
    stream = await client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[
            {"role": "system", "content": "You are a helpful phone agent."},
            {"role": "user", "content": heard.text},
        ],
        stream=True,
        stream_options={"include_usage": True},
    )
    reply = "".join([chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices])
    async with client.audio.speech.with_streaming_response.create(
        model="gpt-4o-mini-tts", voice="alloy", input=reply, response_format="pcm"
    ) as speech:
        await speech.read()


async def run(
    base_url: str,
    calls: int | None,
    pause_s: float = 2.0,
    seed: int = 7,
    health_file: Path | None = HEALTH_FILE,
    pace: float = 1.0,
) -> list[str]:
    """Make ``calls`` calls (forever when ``None``); returns the call ids. ``pace`` scales every pause."""
    rng = random.Random(seed)
    made: list[str] = []
    for number in itertools.count(1):
        if calls is not None and number > calls:
            break
        call_id = f"demo-call-{int(time.time())}-{number}"
        async with openai.AsyncOpenAI(
            api_key="sk-example",
            base_url=f"{base_url}/openai/v1",
            max_retries=0,
            default_headers={"X-VoiceGuard-Call-Id": call_id, "X-VoiceGuard-Jurisdiction": "EU"},
        ) as client:
            try:
                for _ in range(rng.randint(2, 4)):
                    await one_turn(client, rng, pace)
                    await asyncio.sleep(pace * rng.uniform(0.5, 1.5))  # the caller listens, then speaks again
            except openai.OpenAIError as exc:
                print(f"call {call_id} failed: {exc}", flush=True)
                await asyncio.sleep(pause_s)
                continue
        made.append(call_id)
        if health_file is not None:
            await asyncio.to_thread(health_file.touch)
        print(f"call {call_id} done", flush=True)
        if calls is None or number < calls:
            await asyncio.sleep(pause_s)
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base-url", default="http://localhost:8080")
    parser.add_argument("--calls", type=int, default=None, help="stop after N calls (default: run forever)")
    args = parser.parse_args()
    asyncio.run(run(args.base_url, args.calls))


if __name__ == "__main__":
    main()
