"""Cost of the policy guards (call policy, AI disclosure, AI marking) per event, next to an empty chain.

Runs the same event sequences through ``GuardChain([])`` and through the default policy guards on the
shipped packs: a call's first streamed reply (checked, held, repaired), a later reply (pass-through), and a
TTS request (checked and marked). Prints microseconds per event; no network, one process.

    .venv/bin/python -m benchmarks.policy_guards [--calls 2000]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from benchmarks.harness import Summary, table
from voiceguard.config import load_settings
from voiceguard.events import (
    AgentText,
    Direction,
    Event,
    LLMRequest,
    PromptText,
    ResponseDone,
    Stage,
    TextDelta,
    TextRole,
    TTSText,
)
from voiceguard.guards import build_guards
from voiceguard.guards.base import GuardChain, GuardContext
from voiceguard.policy.context import PolicyStore
from voiceguard.policy.loader import default_directory, load_policy_set
from voiceguard.protocols.base import ExchangeInfo
from voiceguard.session import Call

SENTENCE = "Sure, I can help you with that booking for tomorrow evening at seven for four people."
REPLY: list[Event] = [TextDelta(word + " ", "choice0") for word in SENTENCE.split(" ")]
REPLY += [AgentText("".join(e.text for e in REPLY if isinstance(e, TextDelta)), "choice0"), ResponseDone()]
REQUEST: list[Event] = [
    LLMRequest("gpt-4o-mini", True, 1),
    PromptText("book a table for four", TextRole.USER),
]
LLM = ExchangeInfo("openai", "chat", Stage.LLM)
TTS = ExchangeInfo("openai", "speech", Stage.TTS)


def timed(chain: GuardChain, ctx: GuardContext, events: list[Event]) -> int:
    """Nanoseconds per event, fed one event per ``process`` as an adapter does with one wire unit each."""
    started = time.perf_counter_ns()
    for event in events:
        chain.process(ctx, [event])
    return (time.perf_counter_ns() - started) // len(events)


def run(chain: GuardChain, calls: int) -> dict[str, list[int]]:
    """Per-event cost for each kind of exchange, over ``calls`` fresh calls."""
    samples: dict[str, list[int]] = {"first reply": [], "later reply": [], "tts request": []}
    tts_text: list[Event] = [TTSText("Your table is booked.", "alloy")]
    for number in range(calls):
        call = Call(id=f"bench-{number}", named_by_client=True, started_ns=0)
        chain.start(call)
        request, reply = (
            GuardContext(call, LLM, Direction.TO_UPSTREAM),
            GuardContext(call, LLM, Direction.TO_CLIENT),
        )
        for kind in ("first reply", "later reply"):
            samples[kind].append(timed(chain, request, REQUEST))
            samples[kind].append(timed(chain, reply, REPLY))
        samples["tts request"].append(timed(chain, GuardContext(call, TTS, Direction.TO_UPSTREAM), tts_text))
        chain.finish(call)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    settings = load_settings(None, env={})
    store = PolicyStore(load_policy_set(default_directory()), default_jurisdiction="EU")
    chains: dict[str, Callable[[], GuardChain]] = {
        "no guards": lambda: GuardChain([]),
        "policy guards": lambda: GuardChain(build_guards(settings, store)),
    }
    results = {name: run(make(), args.calls) for name, make in chains.items()}
    rows = []
    for kind in ("first reply", "later reply", "tts request"):
        for name, samples in results.items():
            summary = Summary.of(samples[kind])
            rows.append([kind, name, round(summary.p50_ms * 1000, 1), round(summary.p99_ms * 1000, 1)])
    print(f"per-event cost over {args.calls} calls (microseconds)")
    print(table(["exchange", "chain", "p50 us", "p99 us"], rows))


if __name__ == "__main__":
    main()
