"""``python -m voiceguard.simulator``: the SIMULATED OpenAI and Deepgram on local ports, for the examples.

Scripted, not the real services: every transcript is the same sentence, the LLM echoes what it was told,
speech is a tone. They speak the real wire protocols, so an agent runs against them unchanged, and they
add believable delays. Point voiceguard at them with the ``VOICEGUARD_UPSTREAM_*`` variables it prints.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from typing import Final

from voiceguard.simulator import start_app
from voiceguard.simulator.backend import Backend, Timings
from voiceguard.simulator.deepgram_api import deepgram_app
from voiceguard.simulator.openai_api import openai_app

OPENAI_KEY: Final = "sk-simulated"
DEEPGRAM_KEY: Final = "simulated"
CALLER_SAYS: Final = "Hi, I'd like to pay my bill with my card, it's 4111 1111 1111 1111."
TIMINGS: Final = Timings(first_byte=0.05, first_token=0.2, chunk_interval=0.02, end_of_speech=0.15)


async def serve(host: str, port: int) -> None:
    openai = Backend(timings=TIMINGS, api_keys=frozenset({OPENAI_KEY}), default_transcript=CALLER_SAYS)
    openai.speech_timings = Timings(first_byte=0.12, first_token=0.03, chunk_interval=0.005)
    deepgram = Backend(timings=TIMINGS, api_keys=frozenset({DEEPGRAM_KEY}), default_transcript=CALLER_SAYS)
    apps = [
        await start_app(openai_app(openai), host, port),
        await start_app(deepgram_app(deepgram), host, port + 1 if port else 0),
    ]
    openai_url, deepgram_url = (app.url for app in apps)
    print("SIMULATED vendors (scripted; not the real OpenAI or Deepgram):", flush=True)
    print(f"  OpenAI    {openai_url}   API key {OPENAI_KEY}")
    print(f"  Deepgram  {deepgram_url}   API key {DEEPGRAM_KEY}")
    print("Run voiceguard in front of them:")
    print(f"  VOICEGUARD_UPSTREAM_OPENAI={openai_url} \\")
    print(f"  VOICEGUARD_UPSTREAM_DEEPGRAM={deepgram_url} voiceguard serve")
    print("Stop with Ctrl-C.", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        for app in apps:
            await app.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m voiceguard.simulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100, help="OpenAI here, Deepgram on the next port")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
