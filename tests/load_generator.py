"""A bounded load of chat calls, run as its own process: ``python -m tests.load_generator URL OUT``.

Each call has its own ``X-VoiceGuard-Call-Id`` and makes ``--turns`` chat completions in a row; at most
``--concurrency`` calls run at once, ``--calls`` in all, optionally paced to ``--rate`` call starts a
second. One JSON line per request goes to OUT as it finishes: the call id, the status, and whether the
response arrived complete (a full, parseable body), so the test can tell completed requests from ones a
dying replica cut off. Failures are data here, never exceptions.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from typing import Any

import aiohttp


async def _request(session: aiohttp.ClientSession, url: str, call_id: str, turn: int) -> dict[str, Any]:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"turn {turn} of {call_id}"}]}
    headers = {"X-VoiceGuard-Call-Id": call_id, "Authorization": "Bearer sk-test"}
    started = time.monotonic()
    result: dict[str, Any] = {"call_id": call_id, "turn": turn, "status": None, "complete": False}
    try:
        async with session.post(f"{url}/openai/v1/chat/completions", json=body, headers=headers) as response:
            result["status"] = response.status
            payload = await response.read()
            if response.status == 200:
                result["complete"] = bool(json.loads(payload).get("choices"))
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        result["error"] = type(exc).__name__
    result["seconds"] = round(time.monotonic() - started, 4)
    return result


async def run(
    url: str, out: Path, calls: int, turns: int, concurrency: int, rate: float | None, tag: str
) -> int:
    gate = asyncio.Semaphore(concurrency)
    timeout = aiohttp.ClientTimeout(total=30)
    completed = 0
    with out.open("a", encoding="utf-8") as sink:
        async with aiohttp.ClientSession(timeout=timeout) as session:

            async def one_call(index: int) -> None:
                nonlocal completed
                async with gate:
                    call_id = f"{tag}-{index:05d}"
                    for turn in range(turns):
                        result = await _request(session, url, call_id, turn)
                        completed += result["complete"]
                        sink.write(json.dumps(result) + "\n")
                        sink.flush()

            tasks = []
            for index in range(calls):
                tasks.append(asyncio.create_task(one_call(index)))
                if rate:
                    await asyncio.sleep(1 / rate)
            await asyncio.gather(*tasks)
    return completed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("out", type=Path)
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--turns", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rate", type=float, default=None, help="call starts per second")
    parser.add_argument("--tag", default="load")
    args = parser.parse_args()
    completed = asyncio.run(
        run(args.url, args.out, args.calls, args.turns, args.concurrency, args.rate, args.tag)
    )
    print(f"{completed} requests completed")


if __name__ == "__main__":
    main()
