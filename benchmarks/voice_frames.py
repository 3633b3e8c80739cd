"""Per-frame latency voiceguard adds to Deepgram live listen and to Twilio media streams, vs direct.

Each socket sends frames at the pace of real audio (100 ms of 16 kHz PCM to Deepgram every 100 ms, a 20 ms
Twilio ``media`` message every 20 ms) and gets one parsed reply per frame (a ``Results`` with words, or the
agent's ``media``); each round trip is timed. Direct and proxied sockets alternate in rounds within one run,
at 1, 50 and 200 concurrent calls. Also printed: the adapter's own CPU time per frame, in process.

    .venv/bin/python -m benchmarks.voice_frames [--frames 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import sys
import time
from collections.abc import Awaitable, Callable, Iterator

import aiohttp
import orjson

from benchmarks.harness import ROOT, Summary, added, free_port, process, table, voiceguard

AUDIO = bytes(3200)
TWILIO_PAYLOAD = base64.b64encode(bytes([0xFF] * 160)).decode()

Probe = Callable[[aiohttp.ClientWebSocketResponse], Awaitable[int]]


@contextlib.contextmanager
def voice_upstream() -> Iterator[str]:
    port = free_port()
    args = [sys.executable, str(ROOT / "benchmarks" / "voice_upstream.py"), "--port", str(port)]
    with process(args, f"http://127.0.0.1:{port}/health"):
        yield f"http://127.0.0.1:{port}"


async def listen_frame(ws: aiohttp.ClientWebSocketResponse) -> int:
    started = time.perf_counter_ns()
    await ws.send_bytes(started.to_bytes(8, "little") + AUDIO[8:])
    reply = await ws.receive()
    assert str(started) in reply.data
    return time.perf_counter_ns() - started


async def twilio_frame(ws: aiohttp.ClientWebSocketResponse) -> int:
    started = time.perf_counter_ns()
    message = {
        "event": "media",
        "sequenceNumber": str(started),
        "media": {"track": "inbound", "chunk": "1", "timestamp": "20", "payload": TWILIO_PAYLOAD},
        "streamSid": "MZbench",
    }
    await ws.send_str(orjson.dumps(message).decode())
    reply = await ws.receive()
    assert str(started) in reply.data
    return time.perf_counter_ns() - started


async def run_round(url: str, probe: Probe, frames: int, sockets: int, interval: float) -> list[int]:
    samples: list[int] = []
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession() as session:

        async def call(offset: float) -> None:
            async with session.ws_connect(url, headers={"Authorization": "Token bench"}) as ws:
                for _ in range(3):
                    await probe(ws)  # warm up
                await asyncio.sleep(offset)
                tick = loop.time()
                for _ in range(max(1, frames // sockets)):
                    samples.append(await probe(ws))
                    tick += interval
                    await asyncio.sleep(max(0.0, tick - loop.time()))

        await asyncio.gather(*(call(interval * i / sockets) for i in range(sockets)))
    return samples


def adapter_cpu_us(repeat: int = 20_000) -> list[list[object]]:
    """CPU time of parsing one frame and deciding to forward it as is, without any I/O."""
    from multidict import CIMultiDict, CIMultiDictProxy, MultiDict, MultiDictProxy

    from benchmarks.voice_upstream import results
    from voiceguard.protocols.base import RequestHead
    from voiceguard.protocols.deepgram_listen import ListenSocketCodec
    from voiceguard.protocols.twilio import MediaStreamCodec

    listen = ListenSocketCodec()
    query = MultiDictProxy(MultiDict(encoding="linear16", sample_rate="16000"))
    listen.handshake_events(RequestHead("GET", "/v1/listen", query, CIMultiDictProxy(CIMultiDict())))
    twilio = MediaStreamCodec()
    media = orjson.dumps({"event": "media", "media": {"track": "inbound", "payload": TWILIO_PAYLOAD}})
    transcript = results("bench").encode()
    cases: list[tuple[str, Callable[[], object]]] = [
        ("Deepgram audio frame (client)", lambda: listen.client_frame(AUDIO, True)),
        ("Deepgram Results with 9 words (upstream)", lambda: listen.upstream_frame(transcript, False)),
        ("Twilio media message (client)", lambda: twilio.client_frame(media, False)),
    ]
    rows: list[list[object]] = []
    for name, case in cases:
        started = time.perf_counter_ns()
        for _ in range(repeat):
            case()
        rows.append([name, (time.perf_counter_ns() - started) / repeat / 1000])
    return rows


async def measure(direct: str, proxied: str, frames: int, rounds: int = 4) -> list[list[object]]:
    rows: list[list[object]] = []
    scenarios = (
        ("Deepgram listen frame", "/v1/listen?encoding=linear16&sample_rate=16000", listen_frame, "", 0.1),
        ("Twilio media frame", "/media", twilio_frame, "/phone", 0.02),
    )
    for name, path, probe, prefix, interval in scenarios:
        for sockets in (1, 50, 200):
            direct_samples: list[int] = []
            proxied_samples: list[int] = []
            for _ in range(rounds):
                # one call alone plays ping-pong flat out; many calls send at the pace of audio for ~2 s
                count = frames // rounds if sockets == 1 else sockets * int(2.0 / interval)
                pace = 0.0 if sockets == 1 else interval
                direct_samples += await run_round(f"{direct}{path}", probe, count, sockets, pace)
                route = prefix or "/deepgram"
                proxied_samples += await run_round(f"{proxied}{route}{path}", probe, count, sockets, pace)
            d, p = Summary.of(direct_samples), Summary.of(proxied_samples)
            extra = added(p, d)
            rows.append([name, sockets, d.p50_ms, p.p50_ms, extra.p50_ms, d.p99_ms, p.p99_ms, extra.p99_ms])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=2000, help="frames per target and scenario")
    args = parser.parse_args()
    with voice_upstream() as upstream_url:
        routes = {
            "deepgram": {"upstream": upstream_url, "protocol": "deepgram"},
            "phone": {"upstream": upstream_url, "protocol": "twilio"},
        }
        with voiceguard(upstream_url, {"routes": routes}) as proxied_openai:
            proxied = proxied_openai.removesuffix("/openai")
            direct = upstream_url
            rows = asyncio.run(
                measure(direct.replace("http", "ws"), proxied.replace("http", "ws"), args.frames)
            )
    print(
        table(
            [
                "scenario",
                "calls",
                "direct p50 ms",
                "voiceguard p50 ms",
                "added p50 ms",
                "direct p99 ms",
                "voiceguard p99 ms",
                "added p99 ms",
            ],
            rows,
        )
    )
    print()
    print(table(["adapter work per frame", "CPU µs"], adapter_cpu_us()))


if __name__ == "__main__":
    main()
