"""Added latency of voiceguard pass-through vs calling the fake upstream directly.

Prints p50/p95/p99 for a small chat-completion JSON request and for an SSE stream's time to first chunk,
at 1 and 50 concurrent clients. Direct and proxied runs alternate in rounds within one run.

    .venv/bin/python benchmarks/proxy_overhead.py [--requests 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable

import aiohttp
import orjson

from benchmarks.harness import Summary, added, table, upstream, voiceguard

CHAT_BODY = orjson.dumps(
    {
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "You are a helpful phone agent."},
            {"role": "user", "content": "I would like to check the balance on my account please."},
        ],
    }
)
STREAM_BODY = orjson.dumps({**orjson.loads(CHAT_BODY), "stream": True})
HEADERS = {"Authorization": "Bearer sk-bench", "Content-Type": "application/json"}

Probe = Callable[[aiohttp.ClientSession, str], Awaitable[int]]


async def json_request(session: aiohttp.ClientSession, base: str) -> int:
    started = time.perf_counter_ns()
    async with session.post(f"{base}/v1/chat/completions", data=CHAT_BODY, headers=HEADERS) as response:
        await response.read()
        assert response.status == 200
    return time.perf_counter_ns() - started


async def sse_first_chunk(session: aiohttp.ClientSession, base: str) -> int:
    started = time.perf_counter_ns()
    async with session.post(f"{base}/v1/chat/completions", data=STREAM_BODY, headers=HEADERS) as response:
        await response.content.readuntil(b"\n\n")
        first = time.perf_counter_ns() - started
        await response.read()
    return first


async def run_round(base: str, probe: Probe, count: int, concurrency: int) -> list[int]:
    samples: list[int] = []
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        for _ in range(3):
            await probe(session, base)  # warm the pools

        async def worker(n: int) -> None:
            for _ in range(n):
                samples.append(await probe(session, base))

        share, extra = divmod(count, concurrency)
        await asyncio.gather(*(worker(share + (1 if i < extra else 0)) for i in range(concurrency)))
    return samples


async def compare(
    direct: str, proxied: str, probe: Probe, total: int, concurrency: int, rounds: int = 6
) -> tuple[Summary, Summary]:
    direct_samples: list[int] = []
    proxied_samples: list[int] = []
    per_round = max(concurrency, total // rounds)
    for _ in range(rounds):
        direct_samples += await run_round(direct, probe, per_round, concurrency)
        proxied_samples += await run_round(proxied, probe, per_round, concurrency)
    return Summary.of(direct_samples), Summary.of(proxied_samples)


async def measure(direct: str, proxied: str, total: int) -> list[list[object]]:
    rows: list[list[object]] = []
    for name, probe in (("chat JSON round trip", json_request), ("SSE time to first chunk", sse_first_chunk)):
        for concurrency in (1, 50):
            direct_summary, proxied_summary = await compare(direct, proxied, probe, total, concurrency)
            extra = added(proxied_summary, direct_summary)
            rows.append(
                [
                    name,
                    concurrency,
                    direct_summary.p50_ms,
                    proxied_summary.p50_ms,
                    extra.p50_ms,
                    direct_summary.p99_ms,
                    proxied_summary.p99_ms,
                    extra.p99_ms,
                ]
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=3000, help="requests per target and scenario")
    args = parser.parse_args()
    with upstream() as upstream_url, voiceguard(upstream_url) as proxied:
        rows = asyncio.run(measure(upstream_url, proxied, args.requests))
    print(
        table(
            [
                "scenario",
                "clients",
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


if __name__ == "__main__":
    main()
