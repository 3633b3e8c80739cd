"""Per-frame latency voiceguard adds to OpenAI Realtime audio frames, vs a direct connection.

Method. The fake upstream (``benchmarks/upstream.py``) and voiceguard (embedded defaults, the ``openai`` route
pointed at that upstream, the Realtime adapter parsing every frame) each run in their own process; this
process is the load. It opens N concurrent Realtime WebSockets and on each sends an
``input_audio_buffer.append`` frame every 20 ms: 20 ms of 24 kHz pcm16 (960 bytes, 1280 base64 characters,
a ~1.35 KB frame shaped exactly like the openai SDK's). Each frame's ``event_id`` carries the monotonic
clock (CLOCK_MONOTONIC, shared by all processes on the host) read just before the send; the upstream reads
the same clock when the frame arrives, so every frame yields its one-way delay. In the other direction the
upstream streams ``response.output_audio.delta`` frames (100 ms of audio, every 100 ms by default) stamped
the same way, and this process measures their one-way delay on arrival.

Direct and voiceguard runs alternate in rounds, because the machine is shared; the first 0.5 s of each
round (connection set-up) is discarded. "added" is the voiceguard percentile minus the direct one, so it
includes everything a second hop costs: a socket read and write, the frame parse and the event pipeline.

    .venv/bin/python -m benchmarks.realtime_frames [--calls 1 50 200] [--seconds 4] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import random
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp
import orjson

from benchmarks.harness import Summary, added, cpu_seconds, table, upstream, voiceguard_process

FRAME_INTERVAL_S = 0.02
WARMUP_NS = 500_000_000
AUDIO_B64 = base64.b64encode(bytes(960)).decode()
FRAME_PREFIX = '{"type": "input_audio_buffer.append", "audio": "' + AUDIO_B64 + '", "event_id": "t'
HEADERS = {"Authorization": "Bearer sk-bench"}


@dataclass
class RoundResult:
    append_ns: list[int] = field(default_factory=list)
    output: list[tuple[int, int]] = field(default_factory=list)
    """(send time, one-way delay) of each output audio frame, in monotonic ns."""
    failures: list[BaseException] = field(default_factory=list)
    cpu_s: float = 0.0
    """CPU time voiceguard used during the measured window (proxied rounds only)."""


async def _read_outputs(ws: aiohttp.ClientWebSocketResponse, out: list[tuple[int, int]]) -> None:
    async for message in ws:
        if message.type is not aiohttp.WSMsgType.TEXT:
            continue
        arrived = time.monotonic_ns()
        data: str = message.data
        mark = data.find('"event_id":"t')
        if mark >= 0:
            start = mark + 13
            sent = int(data[start : data.index('"', start)])
            out.append((sent, arrived - sent))


async def _call(
    session: aiohttp.ClientSession, url: str, ready: asyncio.Barrier, result: RoundResult
) -> None:
    """One realtime call: after every call is connected, an append frame every 20 ms until cancelled."""
    loop = asyncio.get_running_loop()
    async with session.ws_connect(url, headers=HEADERS, max_msg_size=0) as ws:
        await ws.receive()  # session.created
        await ready.wait()
        reader = asyncio.create_task(_read_outputs(ws, result.output))
        try:
            next_at = loop.time() + random.uniform(0, FRAME_INTERVAL_S)
            while True:
                await asyncio.sleep(max(0.0, next_at - loop.time()))
                await ws.send_str(FRAME_PREFIX + str(time.monotonic_ns()) + '"}')
                next_at += FRAME_INTERVAL_S
        finally:
            reader.cancel()


def _fetch_append_delays(upstream_url: str, round_id: str, start: int, end: int) -> list[int]:
    with urllib.request.urlopen(f"{upstream_url}/bench/realtime-delays?bench_round={round_id}") as response:
        pairs = orjson.loads(response.read())
    return [delay for sent, delay in pairs if start <= sent < end]


async def run_round(
    base_ws: str,
    upstream_url: str,
    calls: int,
    seconds: float,
    output_ms: int,
    round_id: str,
    cpu: Callable[[], float] | None = None,
) -> RoundResult:
    result = RoundResult()
    url = f"{base_ws}/v1/realtime?model=bench&bench_round={round_id}&bench_out_ms={output_ms}"
    ready = asyncio.Barrier(calls + 1)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        tasks = [asyncio.create_task(_call(session, url, ready, result)) for _ in range(calls)]
        async with asyncio.timeout(60):
            await ready.wait()
        await asyncio.sleep(WARMUP_NS / 1e9)
        measured_from = time.monotonic_ns()
        cpu_before = cpu() if cpu is not None else 0.0
        await asyncio.sleep(seconds)
        measured_until = time.monotonic_ns()
        result.cpu_s = cpu() - cpu_before if cpu is not None else 0.0
        for task in tasks:
            task.cancel()
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    result.failures = [
        o for o in outcomes if isinstance(o, BaseException) and not isinstance(o, asyncio.CancelledError)
    ]
    await asyncio.sleep(0.2)  # let the upstream take the last frames in
    result.append_ns = _fetch_append_delays(upstream_url, round_id, measured_from, measured_until)
    result.output = [(sent, delay) for sent, delay in result.output if measured_from <= sent < measured_until]
    return result


async def measure(
    upstream_url: str,
    proxied_url: str,
    proxy_cpu: Callable[[], float],
    concurrency: list[int],
    seconds: float,
    rounds: int,
    output_ms: int,
) -> list[list[object]]:
    direct_ws = upstream_url.replace("http://", "ws://")
    proxied_ws = proxied_url.replace("http://", "ws://")
    rows: list[list[object]] = []
    for calls in concurrency:
        direct, proxied = RoundResult(), RoundResult()
        for index in range(rounds):
            for target, base, into in (("d", direct_ws, direct), ("p", proxied_ws, proxied)):
                round_id = f"{calls}-{index}-{target}"
                cpu = proxy_cpu if target == "p" else None
                got = await run_round(base, upstream_url, calls, seconds, output_ms, round_id, cpu)
                if got.failures:
                    print(f"warning: {len(got.failures)} of {calls} calls failed: {got.failures[0]!r}")
                into.append_ns += got.append_ns
                into.output += got.output
                into.cpu_s += got.cpu_s
        frames = len(proxied.append_ns) + len(proxied.output)
        cpu_us = proxied.cpu_s / frames * 1e6 if frames else float("nan")
        for name, direct_ns, proxied_ns in (
            ("append (client→upstream)", direct.append_ns, proxied.append_ns),
            (
                "output audio (upstream→client)",
                [d for _s, d in direct.output],
                [d for _s, d in proxied.output],
            ),
        ):
            d, p = Summary.of(direct_ns), Summary.of(proxied_ns)
            extra = added(p, d)
            rows.append(
                [
                    name,
                    calls,
                    p.count,
                    d.p50_ms,
                    p.p50_ms,
                    extra.p50_ms,
                    d.p99_ms,
                    p.p99_ms,
                    extra.p99_ms,
                    cpu_us,
                ]
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--calls", type=int, nargs="+", default=[1, 50, 200], help="concurrent realtime calls"
    )
    parser.add_argument("--seconds", type=float, default=4.0, help="length of each round")
    parser.add_argument("--rounds", type=int, default=2, help="rounds per target and concurrency")
    parser.add_argument("--output-ms", type=int, default=100, help="output audio frame interval (0: none)")
    parser.add_argument(
        "--protocol",
        default="openai",
        help="the route's protocol: openai parses frames, passthrough relays them",
    )
    args = parser.parse_args()
    with upstream() as upstream_url:
        config: dict[str, object] = {
            "routes": {"openai": {"upstream": upstream_url, "protocol": args.protocol}}
        }
        with voiceguard_process(upstream_url, config) as (proxied, proc):
            rows = asyncio.run(
                measure(
                    upstream_url,
                    proxied,
                    lambda: cpu_seconds(proc.pid),
                    args.calls,
                    args.seconds,
                    args.rounds,
                    args.output_ms,
                )
            )
    print(f"route protocol: {args.protocol}; {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f}")
    print(
        table(
            [
                "frames",
                "calls",
                "samples",
                "direct p50 ms",
                "voiceguard p50 ms",
                "added p50 ms",
                "direct p99 ms",
                "voiceguard p99 ms",
                "added p99 ms",
                "voiceguard CPU µs/frame",
            ],
            rows,
        )
    )


if __name__ == "__main__":
    main()
