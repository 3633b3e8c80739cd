"""A lean fake voice upstream for frame benchmarks: Deepgram live listen and a Twilio agent server.

Both answer every client frame at once with one message carrying the client's timestamp back, so a
benchmark measures per-frame round trips and what the proxy adds to them (parsing audio frames, parsing
transcripts with words, rendering nothing because nothing changed).

- ``/v1/listen``: a binary audio frame whose first 8 bytes are a timestamp → a Deepgram ``Results`` message
  with words whose ``request_id`` is that timestamp.
- any other path: a Twilio ``media`` message whose ``sequenceNumber`` is a timestamp → an outbound ``media``
  message whose ``streamSid`` is that timestamp.
"""

from __future__ import annotations

import argparse
import time

import orjson
from aiohttp import WSMsgType, web

TRANSCRIPT = "I would like to check my account balance please"
WORDS = [
    {"word": w, "start": i * 0.2, "end": i * 0.2 + 0.2, "confidence": 0.98, "punctuated_word": w}
    for i, w in enumerate(TRANSCRIPT.split(" "))
]


def results(request_id: str) -> str:
    return orjson.dumps(
        {
            "type": "Results",
            "channel_index": [0, 1],
            "duration": 1.8,
            "start": 0.0,
            "is_final": True,
            "speech_final": False,
            "channel": {
                "alternatives": [
                    {
                        "transcript": TRANSCRIPT,
                        "confidence": 0.98,
                        "words": WORDS,
                    }
                ]
            },
            "metadata": {"request_id": request_id, "model_info": {"name": "nova-3"}, "model_uuid": "bench"},
        }
    ).decode()


async def listen(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(max_msg_size=0)
    await ws.prepare(request)
    async for message in ws:
        if message.type is WSMsgType.BINARY:
            await ws.send_str(results(str(int.from_bytes(message.data[:8], "little"))))
    return ws


async def agent(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(max_msg_size=0)
    await ws.prepare(request)
    async for message in ws:
        if message.type is WSMsgType.TEXT:
            body = orjson.loads(message.data)
            if body.get("event") == "media":
                reply = {"event": "media", "streamSid": body["sequenceNumber"], "media": body["media"]}
                await ws.send_str(orjson.dumps(reply).decode())
    return ws


async def health(request: web.Request) -> web.Response:
    return web.Response(text=str(time.time()))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    app = web.Application()
    app.router.add_get("/health", health)
    app.router.add_get("/v1/listen", listen)
    app.router.add_get("/{tail:.*}", agent)
    web.run_app(app, host="127.0.0.1", port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
