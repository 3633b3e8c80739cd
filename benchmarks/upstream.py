"""A lean fake OpenAI upstream for benchmarks: fixed chat-completion JSON, an SSE stream, a Realtime socket.

Run as its own process so that neither the proxy nor the load generator shares its CPU time slice.
It answers instantly (or after ``--sse-interval`` between stream chunks), so what a benchmark measures on
top of a direct call is the proxy's own cost.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import time

import orjson
from aiohttp import WSMsgType, web

# The reply carries the AI disclosure, as a compliant agent's first utterance does: voiceguard on its
# embedded defaults then verifies it and forwards the bytes unchanged, which is the pass-through case
# DESIGN.md's latency budget is about. A reply that lacks it is rewritten (disclosure injected).
DISCLOSURE_WORDS = ["I'm", " an", " AI", " assistant", "."]
REPLY_WORDS = [*DISCLOSURE_WORDS, " Sure", ",", " I", " can", " help", " with", " that", "."]
REPLY = "".join(REPLY_WORDS)

COMPLETION = orjson.dumps(
    {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1764000000,
        "model": "gpt-4o-mini",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": REPLY, "refusal": None},
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
    for word in REPLY_WORDS:
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


REALTIME_OUT_MS = web.AppKey("realtime_out_ms", float)
"""Output audio interval for sockets whose URL lost the ``bench_out_ms`` query (a proxy that rebuilds it)."""
REALTIME_DELAYS = web.AppKey("realtime_delays", dict)
"""Per benchmark round: (client send time, one-way delay) of every append frame, in monotonic ns."""


def output_delta(audio_b64: str, sent_ns: int) -> str:
    return (
        '{"type":"response.output_audio.delta","event_id":"t' + str(sent_ns) + '","response_id":"resp_bench",'
        '"item_id":"item_bench","output_index":0,"content_index":0,"delta":"' + audio_b64 + '"}'
    )


async def _send_output_audio(ws: web.WebSocketResponse, interval: float) -> None:
    """Agent audio at a steady pace, each frame stamped with its send time for the client to measure."""
    audio = base64.b64encode(bytes(int(48_000 * interval))).decode()
    loop = asyncio.get_running_loop()
    next_at = loop.time() + interval
    while not ws.closed:
        await asyncio.sleep(max(0.0, next_at - loop.time()))
        next_at += interval
        await ws.send_str(output_delta(audio, time.monotonic_ns()))


async def realtime(request: web.Request) -> web.WebSocketResponse:
    """A Realtime-shaped endpoint for benchmarks: records each append frame's one-way delay.

    The client stamps ``event_id`` with ``t<monotonic ns>`` when it sends; this process reads the clock
    when the frame arrives (both use CLOCK_MONOTONIC, shared by processes on one host). With
    ``bench_out_ms`` it also streams output audio deltas stamped the same way.
    """
    ws = web.WebSocketResponse(protocols=("realtime",), max_msg_size=0)
    await ws.prepare(request)
    delays = request.app[REALTIME_DELAYS].setdefault(request.query.get("bench_round", ""), [])
    await ws.send_str('{"type":"session.created","event_id":"evt_0","session":{"id":"sess_bench"}}')
    out_ms = float(request.query.get("bench_out_ms", request.app[REALTIME_OUT_MS]))
    sender = asyncio.create_task(_send_output_audio(ws, out_ms / 1000)) if out_ms > 0 else None
    try:
        async for message in ws:
            if message.type is WSMsgType.TEXT:
                arrived = time.monotonic_ns()
                data: str = message.data
                mark = data.rfind('"event_id": "t')
                if mark >= 0:
                    start = mark + 14
                    sent = int(data[start : data.index('"', start)])
                    delays.append((sent, arrived - sent))
    finally:
        if sender is not None:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionResetError):
                await sender
    return ws


async def realtime_delays(request: web.Request) -> web.Response:
    """Hand over (and forget) the delays recorded for one round."""
    delays = request.app[REALTIME_DELAYS].pop(request.query.get("bench_round", ""), [])
    return web.Response(body=orjson.dumps(delays), content_type="application/json")


async def health(request: web.Request) -> web.Response:
    return web.Response(text=str(time.time()))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--sse-interval", type=float, default=0.0)
    parser.add_argument(
        "--realtime-out-ms", type=float, default=0.0, help="output audio when the URL says none"
    )
    args = parser.parse_args()
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app["sse_interval"] = args.sse_interval
    app[REALTIME_DELAYS] = {}
    app[REALTIME_OUT_MS] = args.realtime_out_ms
    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_post("/v1/audio/transcriptions", transcriptions)
    app.router.add_get("/v1/realtime", realtime)
    app.router.add_get("/bench/realtime-delays", realtime_delays)
    app.router.add_get("/health", health)
    web.run_app(app, host="127.0.0.1", port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
