"""The benchmark load generator, run as its own process: ``python -m benchmarks.loadgen``.

Why a separate process: a proxy measured by code in its own interpreter shares its event loop and GIL with
the measurement, and a target measured by a generator in the orchestrator's interpreter would share it with
the bookkeeping. So ``benchmarks.run`` starts this process once, keeps it warm, and sends it one job at a time
as a JSON line on stdin; each reply is one JSON line on stdout. Every job is bounded in count and in time, and
talks to 127.0.0.1 only (a job naming another host is refused).

Jobs (``op``):

- ``closed``: ``count`` requests of one ``probe`` (``json``, ``sse``, ``audio``) from ``concurrency`` clients,
  each sending its next request when the last one finished. Reply: latencies in ns.
- ``open``: requests started at a fixed ``rate`` per second for ``seconds``, whether or not earlier ones have
  finished (open loop: a slow target cannot slow the load down). Latency counts from the scheduled start, so a
  queue in the generator or the target shows (no coordinated omission). Reply: latencies, errors, dropped.
- ``realtime``: ``calls`` concurrent Realtime WebSockets sending audio frames every 20 ms for ``seconds``
  (``benchmarks.realtime_frames.run_round``). Reply: one-way delays in ns per direction.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson

from benchmarks import realtime_frames
from benchmarks.proxy_overhead import HEADERS, json_request, sse_first_chunk

BOUNDARY = "vgbench0boundary"
AUDIO_SECONDS = 3
"""Three seconds of 16 kHz mono PCM16 in a WAV container (~96 KB): a typical short utterance."""
REQUEST_TIMEOUT_S = 10.0
MAX_JOB_SECONDS = 120.0
MAX_IN_FLIGHT = 1000
"""An open-loop job counts a request as dropped instead of starting it when this many are still open."""


def wav(seconds: int, rate: int = 16_000) -> bytes:
    data = bytes(seconds * rate * 2)
    header = b"RIFF" + (36 + len(data)).to_bytes(4, "little") + b"WAVEfmt "
    header += (16).to_bytes(4, "little") + (1).to_bytes(2, "little") + (1).to_bytes(2, "little")
    header += rate.to_bytes(4, "little") + (rate * 2).to_bytes(4, "little")
    header += (2).to_bytes(2, "little") + (16).to_bytes(2, "little")
    return header + b"data" + len(data).to_bytes(4, "little") + data


def multipart_body(audio: bytes) -> bytes:
    """A transcription upload built once, so the generator's cost per request stays the same for all."""
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="model"\r\n\r\nwhisper-1\r\n'.encode(),
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="turn.wav"\r\n'
        "Content-Type: audio/wav\r\n\r\n".encode()
        + audio
        + b"\r\n",
        f"--{BOUNDARY}--\r\n".encode(),
    ]
    return b"".join(parts)


AUDIO_BODY = multipart_body(wav(AUDIO_SECONDS))
AUDIO_HEADERS = {
    "Authorization": HEADERS["Authorization"],
    "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
}


async def audio_upload(session: aiohttp.ClientSession, base: str) -> int:
    started = time.perf_counter_ns()
    async with session.post(
        f"{base}/v1/audio/transcriptions", data=AUDIO_BODY, headers=AUDIO_HEADERS
    ) as response:
        body = await response.read()
        if response.status != 200:
            raise RuntimeError(f"transcription answered {response.status}: {body[:200]!r}")
    return time.perf_counter_ns() - started


async def _json_checked(session: aiohttp.ClientSession, base: str) -> int:
    return await json_request(session, base)


PROBES: dict[str, Callable[[aiohttp.ClientSession, str], Awaitable[int]]] = {
    "json": _json_checked,
    "sse": sse_first_chunk,
    "audio": audio_upload,
}


def _check_loopback(url: str) -> None:
    host = urlsplit(url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError(f"the load generator only talks to loopback, not {host!r}")


async def closed(base: str, probe: str, count: int, concurrency: int) -> dict[str, Any]:
    send = PROBES[probe]
    samples: list[int] = []
    errors: list[str] = []
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=concurrency), timeout=timeout
    ) as session:
        for _ in range(min(3, count)):
            await send(session, base)  # warm the connection pool

        async def client(n: int) -> None:
            for _ in range(n):
                try:
                    samples.append(await send(session, base))
                except (aiohttp.ClientError, TimeoutError, AssertionError, RuntimeError) as exc:
                    errors.append(repr(exc))

        share, extra = divmod(count, concurrency)
        async with asyncio.timeout(MAX_JOB_SECONDS):
            await asyncio.gather(*(client(share + (1 if i < extra else 0)) for i in range(concurrency)))
    return {"samples_ns": samples, "errors": len(errors), "first_error": errors[0] if errors else None}


async def open_loop(base: str, probe: str, rate: float, seconds: float) -> dict[str, Any]:
    send = PROBES[probe]
    samples: list[int] = []
    errors: list[str] = []
    dropped = 0
    in_flight = 0
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), timeout=timeout) as session:
        for _ in range(3):
            await send(session, base)

        async def one(scheduled_ns: int) -> None:
            nonlocal in_flight
            in_flight += 1
            try:
                await send(session, base)
                samples.append(time.perf_counter_ns() - scheduled_ns)
            except (aiohttp.ClientError, TimeoutError, AssertionError, RuntimeError) as exc:
                errors.append(repr(exc))
            finally:
                in_flight -= 1

        total = max(1, int(rate * seconds))
        tasks: list[asyncio.Task[None]] = []
        start_loop, start_ns = loop.time(), time.perf_counter_ns()
        for index in range(total):
            delay = start_loop + index / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if in_flight >= MAX_IN_FLIGHT:
                dropped += 1
                continue
            tasks.append(asyncio.create_task(one(start_ns + int(index * 1e9 / rate))))
        await asyncio.wait(tasks, timeout=REQUEST_TIMEOUT_S + 1)
        elapsed = loop.time() - start_loop
    return {
        "samples_ns": samples,
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
        "dropped": dropped,
        "scheduled": total,
        "achieved_rps": len(samples) / elapsed if elapsed > 0 else 0.0,
    }


async def realtime(
    base: str, upstream: str, calls: int, seconds: float, output_ms: int, round_id: str
) -> dict[str, Any]:
    ws_base = base.replace("http://", "ws://", 1)
    async with asyncio.timeout(MAX_JOB_SECONDS):
        result = await realtime_frames.run_round(ws_base, upstream, calls, seconds, output_ms, round_id)
    return {
        "append_ns": result.append_ns,
        "output_ns": [delay for _sent, delay in result.output],
        "failures": len(result.failures),
        "first_error": repr(result.failures[0]) if result.failures else None,
    }


async def handle(job: dict[str, Any]) -> dict[str, Any]:
    _check_loopback(job["base"])
    op = job["op"]
    if op == "closed":
        return await closed(job["base"], job["probe"], int(job["count"]), int(job["concurrency"]))
    if op == "open":
        return await open_loop(job["base"], job["probe"], float(job["rate"]), float(job["seconds"]))
    if op == "realtime":
        _check_loopback(job["upstream"])
        return await realtime(
            job["base"],
            job["upstream"],
            int(job["calls"]),
            float(job["seconds"]),
            int(job.get("output_ms", 100)),
            str(job["round_id"]),
        )
    raise ValueError(f"unknown job {op!r}")


async def serve() -> None:
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            return
        try:
            reply = await handle(orjson.loads(line))
        except Exception as exc:
            reply = {"fatal": f"{type(exc).__name__}: {exc}"}
        sys.stdout.write(orjson.dumps(reply).decode() + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    asyncio.run(serve())
