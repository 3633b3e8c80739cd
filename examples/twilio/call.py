"""Plays Twilio's side of a phone call into voiceguard, for a local run without a Twilio account.

It sends exactly what Twilio sends (``connected``, ``start`` with the caller's number as a custom
parameter, 20 ms µ-law ``media`` frames, ``mark`` echoes, ``stop``), using voiceguard's Twilio simulator,
and prints what the agent answered.

    python examples/twilio/call.py [--caller +13125550142]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import uuid

from voiceguard.simulator.twilio_media import twilio_media_stream

VOICEGUARD = os.environ.get("VOICEGUARD_URL", "http://127.0.0.1:8080")


async def main(caller: str) -> None:
    url = VOICEGUARD.replace("http", "ws", 1) + "/phone/media"
    call_sid = "CA" + uuid.uuid4().hex
    async with twilio_media_stream(url, call_sid=call_sid) as twilio:
        await twilio.start({"from": caller})
        await twilio.speak(1.0)  # one second of the caller talking
        reply = await twilio.play_reply()
        await twilio.stop()
    frames = sum(1 for message in reply if message.get("event") == "media")
    seconds = frames * 0.02
    print(f"call {call_sid}: the agent answered with {frames} media frames ({seconds:.1f} s of µ-law audio)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--caller", default="+13125550142")
    asyncio.run(main(parser.parse_args().caller))
