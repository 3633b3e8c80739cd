"""A lean fake OpenAI upstream for benchmarks: fixed chat-completion JSON and an SSE stream.

Run as its own process so that neither the proxy nor the load generator shares its CPU time slice.
It answers instantly (or after ``--sse-interval`` between stream chunks), so what a benchmark measures on
top of a direct call is the proxy's own cost.
"""

from __future__ import annotations

import argparse
import asyncio
import time

import orjson
from aiohttp import WSMsgType, web

COMPLETION = orjson.dumps(
    {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1764000000,
        "model": "gpt-4o-mini",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Sure, I can help with that.", "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 20, "completion_tokens": 7, "total_tokens": 27},
    }
)


def chunk(content: str | None, finish: str | None = None) -> bytes:
    delta = {} if content is None else {"content": content}
    body = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": 1764000000,
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        "usage": None,
    }
    return b"data: " + orjson.dumps(body) + b"\n\n"


async def chat(request: web.Request) -> web.StreamResponse:
    body = orjson.loads(await request.read())
    if not body.get("stream"):
        return web.Response(body=COMPLETION, content_type="application/json")
    interval: float = request.app["sse_interval"]
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    for word in ["Sure", ",", " I", " can", " help", " with", " that", "."]:
        await response.write(chunk(word))
        if interval:
            await asyncio.sleep(interval)
    await response.write(chunk(None, "stop"))
    await response.write(b"data: [DONE]\n\n")
    await response.write_eof()
    return response


async def transcriptions(request: web.Request) -> web.Response:
    await request.read()
    return web.json_response({"text": "hello there", "usage": {"type": "duration", "seconds": 1}})


async def realtime(request: web.Request) -> web.WebSocketResponse:
    """Echoes a small server event for every client frame, carrying the client's send timestamp back."""
    ws = web.WebSocketResponse(protocols=("realtime",), max_msg_size=0)
    await ws.prepare(request)
    await ws.send_str('{"type": "session.created", "event_id": "evt_0", "session": {"id": "sess_bench"}}')
    async for message in ws:
        if message.type is WSMsgType.TEXT:
            # the client puts its perf_counter_ns in "event_id"; echo it back in a tiny server event
            data = message.data
            start = data.find('"event_id": "') + 13
            event_id = data[start : data.find('"', start)]
            await ws.send_str('{"type": "input_audio_buffer.ack", "event_id": "' + event_id + '"}')
    return ws


async def health(request: web.Request) -> web.Response:
    return web.Response(text=str(time.time()))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--sse-interval", type=float, default=0.0)
    args = parser.parse_args()
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app["sse_interval"] = args.sse_interval
    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_post("/v1/audio/transcriptions", transcriptions)
    app.router.add_get("/v1/realtime", realtime)
    app.router.add_get("/health", health)
    web.run_app(app, host="127.0.0.1", port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
