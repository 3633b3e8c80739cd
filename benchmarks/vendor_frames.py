"""Per-frame cost of the Gemini Live and ElevenLabs stream-input adapters: direct vs through voiceguard.

A client sends a vendor-shaped frame (Gemini: 100 ms of 16 kHz audio as ``realtimeInput``; ElevenLabs: a
``{"text": ...}`` piece) and waits for the reply frame the fake upstream sends back (Gemini: 100 ms of model
audio as ``serverContent``; ElevenLabs: audio with a character alignment), so both directions are parsed.
Prints round-trip p50/p95/p99 direct and proxied, and what voiceguard adds, at 1 and 20 concurrent sockets;
a route without an adapter shows how much of that is the relay itself.

    .venv/bin/python -m benchmarks.vendor_frames [--frames 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import sys
import time

import aiohttp
import orjson
from aiohttp import WSMsgType, web

from benchmarks.harness import Summary, added, free_port, process, table, voiceguard

GEMINI_PATH = "/ws/google.ai.generativelanguage.v1.GenerativeService.BidiGenerateContent"
ELEVENLABS_PATH = "/v1/text-to-speech/voice1/stream-input"
GEMINI_IN = orjson.dumps(
    {
        "realtimeInput": {
            "audio": {"data": base64.b64encode(bytes(3200)).decode(), "mimeType": "audio/pcm;rate=16000"}
        }
    }
)
GEMINI_OUT = orjson.dumps(
    {
        "serverContent": {
            "modelTurn": {
                "parts": [
                    {
                        "inlineData": {
                            "mimeType": "audio/pcm;rate=24000",
                            "data": base64.b64encode(bytes(4800)).decode(),
                        }
                    }
                ]
            }
        }
    }
)
TEXT = "Your order ships tomorrow. "
ELEVENLABS_IN = orjson.dumps({"text": TEXT, "try_trigger_generation": True})
ELEVENLABS_OUT = orjson.dumps(
    {
        "audio": base64.b64encode(bytes(6400)).decode(),
        "isFinal": None,
        "alignment": {
            "chars": list(TEXT),
            "charStartTimesMs": [i * 60 for i in range(len(TEXT))],
            "charDurationsMs": [60] * len(TEXT),
        },
    }
)


async def _reply_socket(request: web.Request) -> web.WebSocketResponse:
    reply = GEMINI_OUT if "BidiGenerateContent" in request.path else ELEVENLABS_OUT
    ws = web.WebSocketResponse(max_msg_size=0)
    await ws.prepare(request)
    async for message in ws:
        if message.type in (WSMsgType.TEXT, WSMsgType.BINARY):
            await ws.send_bytes(reply)
    return ws


def serve_upstream(port: int) -> None:
    app = web.Application()
    app.router.add_get("/health", lambda _r: web.Response(text="ok"))  # type: ignore[arg-type,return-value]
    app.router.add_get("/{tail:.*}", _reply_socket)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


async def _socket_rtts(url: str, frame: bytes, count: int) -> list[int]:
    samples: list[int] = []
    async with aiohttp.ClientSession() as session, session.ws_connect(url, max_msg_size=0) as ws:
        for _ in range(count):
            started = time.perf_counter_ns()
            await ws.send_str(frame.decode())
            await ws.receive()
            samples.append(time.perf_counter_ns() - started)
    return samples[min(20, len(samples) // 10) :]


async def _measure(url: str, frame: bytes, frames: int, sockets: int) -> Summary:
    per_socket = max(1, frames // sockets)
    results = await asyncio.gather(*(_socket_rtts(url, frame, per_socket) for _ in range(sockets)))
    return Summary.of([sample for result in results for sample in result])


async def run(direct: str, proxied: str, frames: int) -> None:
    rows = []
    cases = (
        ("relay only (no adapter)", "raw", GEMINI_PATH, GEMINI_IN),
        ("gemini", "gemini", GEMINI_PATH, GEMINI_IN),
        ("elevenlabs", "elevenlabs", ELEVENLABS_PATH, ELEVENLABS_IN),
    )
    for vendor, route, path, frame in cases:
        for sockets in (1, 20):
            plain = await _measure(f"{direct}{path}", frame, frames, sockets)
            through = await _measure(f"{proxied}/{route}{path}", frame, frames, sockets)
            extra = added(through, plain)
            rows.append(
                [vendor, sockets, plain.p50_ms, through.p50_ms, extra.p50_ms, extra.p95_ms, extra.p99_ms]
            )
    print(
        table(
            ["adapter", "sockets", "direct p50 ms", "proxied p50 ms", "added p50", "added p95", "added p99"],
            rows,
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frames", type=int, default=2000)
    parser.add_argument("--serve-upstream", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_upstream:
        serve_upstream(args.serve_upstream)
        return
    port = free_port()
    upstream_args = [sys.executable, "-m", "benchmarks.vendor_frames", "--serve-upstream", str(port)]
    direct = f"http://127.0.0.1:{port}"
    with process(upstream_args, f"{direct}/health"):
        routes = {name: {"upstream": direct, "protocol": name} for name in ("gemini", "elevenlabs")}
        routes["raw"] = {"upstream": direct, "protocol": "passthrough"}
        with voiceguard(direct, {"routes": routes}) as openai_base:
            proxied = openai_base.removesuffix("/openai").replace("http://", "ws://")
            asyncio.run(run(direct.replace("http://", "ws://"), proxied, args.frames))


if __name__ == "__main__":
    main()
