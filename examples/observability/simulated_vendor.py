"""A SIMULATED OpenAI-compatible vendor for the observability example: scripted, with realistic delays.

Speaks the real wire protocol (voiceguard's simulator), so voiceguard and the official SDK treat it as the
real thing; the delays make the latency dashboards show a believable breakdown.

    python simulated_vendor.py --port 9000
"""

from __future__ import annotations

import argparse
import asyncio

from voiceguard.simulator import start_app
from voiceguard.simulator.backend import Backend, Reply, Timings
from voiceguard.simulator.openai_api import openai_app

REPLIES = {
    "balance": "Your balance is forty two dollars. Anything else?",
    "hours": "We are open from nine to five, Monday to Friday.",
    "agent": "I am an AI assistant. I can connect you to a person if you like.",
}


def reply(prompt: str) -> Reply:
    for keyword, text in REPLIES.items():
        if keyword in prompt.lower():
            return Reply(text=text)
    return Reply(text=f"You said: {prompt}. How can I help?")


async def serve(port: int) -> None:
    backend = Backend(
        responder=reply,
        timings=Timings(first_byte=0.08, first_token=0.22, chunk_interval=0.02),
        api_keys=frozenset({"sk-example"}),
    )
    backend.default_transcript = "what is my balance"
    app = await start_app(openai_app(backend), host="0.0.0.0", port=port)
    print(f"simulated vendor listening on {app.url}", flush=True)
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=9000)
    asyncio.run(serve(parser.parse_args().port))


if __name__ == "__main__":
    main()
