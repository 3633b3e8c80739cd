"""Latency of the PII guard: per final transcript (10-30 words), and added time-to-first-token on a stream.

1. The guard on a final transcript, in process: p50/p99 with the spaCy NER engine (names acted upon, so the
   model runs), with the same engine on the default policy (names only counted: no model in flight), and
   pattern-only. Transcripts are generated unique (the engine caches repeated texts), half of them with
   PII (spoken or written numbers, e-mails, names), half without, 10 to 30 words each.
2. Time to first token of a streamed chat completion through voiceguard vs direct to the benchmark
   upstream (each in its own process, alternating rounds), with the PII guard off, on its defaults
   (the prompt carries a card number, pseudonymised; the reply is restored), and redacting replies.

    .venv/bin/python -m benchmarks.pii_latency [--transcripts 2000] [--requests 600]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from collections.abc import Sequence
from typing import Any

import aiohttp
import orjson

from benchmarks.harness import Summary, added, table, upstream, voiceguard
from voiceguard.config import PiiConfig
from voiceguard.events import Direction, Stage, Transcript
from voiceguard.guards.pii import PiiGuard, PiiGuardSettings
from voiceguard.pii.engine import PATTERN_ONLY, EngineSettings, PiiEngine, build_engine
from voiceguard.testing import guard_context, make_call

FILLER = (  # noqa: SIM905
    "um so I was wondering if you could help me with the bill I got last week because it looks a bit "
    "higher than usual and I think there might be a mistake on it somewhere okay thanks a lot really"
).split()
NAMES = ["John Smith", "Maria Garcia", "David Lee", "Sarah Connor", "Ahmed Khan", "Emily Clark"]
DIGIT_WORDS = "zero one two three four five six seven eight nine".split()  # noqa: SIM905


def _digits(count: int, rng: random.Random) -> str:
    return "".join(rng.choice("0123456789") for _ in range(count))


def _pii(rng: random.Random) -> str:
    kind = rng.randrange(5)
    if kind == 0:
        card = "4" + _digits(15, rng)
        return "my card is " + " ".join(card[i : i + 4] for i in range(0, 16, 4))
    if kind == 1:
        return "my card is " + " ".join(DIGIT_WORDS[int(d)] for d in "4" + _digits(15, rng))
    if kind == 2:
        return f"you can call me on 415 555 {_digits(4, rng)}"
    if kind == 3:
        return f"my email is {rng.choice(NAMES).split()[0].lower()}{_digits(3, rng)} at gmail dot com"
    return f"my name is {rng.choice(NAMES)}"


def transcripts(count: int, seed: int = 7) -> list[tuple[str, bool]]:
    """Unique 10-30 word transcripts; every other one carries PII."""
    rng = random.Random(seed)
    out = []
    for index in range(count):
        with_pii = index % 2 == 0
        head = _pii(rng).split() if with_pii else []
        length = rng.randint(max(10, len(head) + 2), 30)
        start = rng.randrange(len(FILLER))
        filler = [FILLER[(start + i) % len(FILLER)] for i in range(length - len(head))]
        cut = rng.randrange(len(filler))
        words = filler[:cut] + head + filler[cut:] + [_digits(2, rng) if not with_pii else "ok"]
        out.append((" ".join(words[:30]), with_pii))
    return out


def guard_latency(engine: PiiEngine, pii: dict[str, Any], texts: Sequence[tuple[str, bool]]) -> list[Any]:
    guard = PiiGuard(engine, PiiGuardSettings.from_config(PiiConfig.model_validate(pii)))
    rows = []
    for label, wanted in (("with PII", True), ("without PII", False)):
        samples = []
        for index, (text, with_pii) in enumerate(texts):
            if with_pii != wanted:
                continue
            ctx = guard_context(make_call(f"call-{index}"), Stage.STT, Direction.TO_CLIENT)
            event = Transcript(text)
            started = time.perf_counter_ns()
            list(guard.process(ctx, event))
            samples.append(time.perf_counter_ns() - started)
        summary = Summary.of(samples[20:])  # the first ones warm the caches of spaCy and Python
        rows.append([label, summary.count, summary.p50_ms, summary.p99_ms])
    return rows


STREAM_BODY = orjson.dumps(
    {
        "model": "gpt-4o-mini",
        "stream": True,
        "messages": [
            {"role": "system", "content": "You are a helpful phone agent."},
            {"role": "user", "content": "Please charge my card 4111 1111 1111 1111 for this month's bill."},
        ],
    }
)
HEADERS = {"Authorization": "Bearer sk-bench", "Content-Type": "application/json"}


async def first_token(session: aiohttp.ClientSession, base: str) -> int:
    """Time until the first SSE chunk carrying reply text."""
    started = time.perf_counter_ns()
    async with session.post(f"{base}/v1/chat/completions", data=STREAM_BODY, headers=HEADERS) as response:
        first = None
        while first is None:
            line = await response.content.readline()
            if not line:
                break
            if line.startswith(b"data: {") and b'"content":"' in line and b'"content":""' not in line:
                first = time.perf_counter_ns() - started
        await response.read()
    return first if first is not None else time.perf_counter_ns() - started


async def ttft(direct: str, proxied: str, requests: int, rounds: int = 6) -> tuple[Summary, Summary]:
    direct_samples: list[int] = []
    proxied_samples: list[int] = []
    async with aiohttp.ClientSession() as session:
        for _ in range(3):
            await first_token(session, direct)
            await first_token(session, proxied)
        for _ in range(rounds):
            for _ in range(requests // rounds):
                direct_samples.append(await first_token(session, direct))
            for _ in range(requests // rounds):
                proxied_samples.append(await first_token(session, proxied))
    return Summary.of(direct_samples), Summary.of(proxied_samples)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--transcripts", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--sse-interval", type=float, default=0.005, help="seconds between upstream tokens")
    args = parser.parse_args()

    texts = transcripts(args.transcripts)
    words = sorted(len(text.split()) for text, _ in texts)
    print(f"{len(texts)} transcripts, {words[0]}-{words[-1]} words", flush=True)
    ner = build_engine(EngineSettings())
    pattern = build_engine(EngineSettings(model=PATTERN_ONLY))
    names_redacted = {"modes": {"speech": {"PERSON": "redact", "CREDIT_CARD": "redact"}}}
    rows = []
    for name, engine, pii in (
        ("NER (en_core_web_sm), names redacted", ner, names_redacted),
        ("NER engine, default policy", ner, {}),
        ("pattern-only, cards redacted", pattern, {"modes": {"speech": {"CREDIT_CARD": "redact"}}}),
    ):
        rows += [[name, *row] for row in guard_latency(engine, pii, texts)]
    print(table(["guard on a final transcript", "transcripts", "n", "p50 ms", "p99 ms"], rows), flush=True)

    ttft_rows = []
    ttft_cases: tuple[tuple[str, dict[str, Any]], ...] = (
        ("PII guard off", {"enabled": False}),
        ("PII defaults (prompt pseudonymised)", {}),
        ("PII redacting replies (pattern entities)", {"modes": {"speech": {"PHONE_NUMBER": "redact"}}}),
    )
    with upstream(sse_interval=args.sse_interval) as upstream_url:
        for name, pii in ttft_cases:
            with voiceguard(upstream_url, {"pii": pii}) as proxied:
                direct, through = asyncio.run(
                    ttft(upstream_url, proxied.removesuffix("/openai") + "/openai", args.requests)
                )
            extra = added(through, direct)
            ttft_rows.append([name, direct.p50_ms, through.p50_ms, extra.p50_ms, extra.p99_ms])
    print()
    print(
        table(
            ["time to first token", "direct p50 ms", "voiceguard p50 ms", "added p50 ms", "added p99 ms"],
            ttft_rows,
        )
    )


if __name__ == "__main__":
    main()
