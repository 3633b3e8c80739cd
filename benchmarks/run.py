"""The whole benchmark suite in one command printing one table: ``python -m benchmarks.run`` (``make bench``).

What runs, each in its own process on 127.0.0.1: the fake OpenAI upstream (``benchmarks/upstream.py``);
voiceguard on its embedded defaults (PII, disclosure, biometrics, SQLite audit) with its ``openai`` route
pointed at that upstream, exporting traces and metrics over OTLP/HTTP to a real collector (rotel); the same
voiceguard with telemetry off; nginx as a plain reverse proxy; LiteLLM's proxy; and the load generator
(``benchmarks/loadgen.py``), which sends every request and frame. ``direct`` is the load generator talking to
the upstream with nothing in between: the floor.

Why it is built this way: the machine is shared and noisy, so every comparison is side by side in one run, in
short rounds that rotate through the targets (a slow second hits all of them alike), and every figure a peer
cannot produce is written n/a with the reason, never estimated.

    python -m benchmarks.run                  # the whole suite, 7-10 minutes
    python -m benchmarks.run --quick          # fewer samples, 2-3 minutes
    python -m benchmarks.run --only json,realtime --json out.json
    python -m benchmarks.run --load out.json --markdown   # re-print a saved run's table
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from benchmarks import peers
from benchmarks.harness import ROOT, Summary, upstream, voiceguard_process
from benchmarks.report import (
    DIRECT,
    LITELLM,
    NGINX,
    TARGETS,
    VOICEGUARD,
    VOICEGUARD_OFF,
    Budget,
    Cell,
    Row,
    from_json,
    markdown,
    to_json,
)

GROUPS = ("json", "json-n", "sse", "audio", "realtime", "rps", "pii")
HTTP_BUDGETS = {
    "p50": Budget("added_max", 1.0, "added p50 ≤ 1 ms"),
    "p99": Budget("added_max", 3.0, "added p99 ≤ 3 ms"),
}
FRAME_BUDGETS = {
    "p50": Budget("added_max", 0.3, "added p50 ≤ 0.3 ms at 200 calls"),
    "p99": Budget("added_max", 2.0, "added p99 ≤ 2 ms at 200 calls"),
}
DESIGN_CALLS = 200
"""DESIGN.md states the realtime frame budget at 200 concurrent calls on 2 cores."""
RPS_ADDED_P99_MS = 3.0
FRAME_ADDED_P99_MS = 2.0
MIN_CAPACITY_CALLS = 10
"""The 1-call step gives the unloaded frame latency rows; its few hundred frames make too noisy a p99 to
judge capacity on, so the capacity ladder starts at 10 calls."""
GENERATOR_FRAME_CEILING_MS = 20.0
"""Direct frames slower than one 20 ms frame interval at p99 mean the generator itself cannot keep up."""


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Sizes:
    """How much each benchmark does; ``--quick`` shrinks all of it."""

    requests: int
    rounds: int
    clients: int
    rps_seconds: float
    rates: tuple[int, ...]
    frame_seconds: float
    call_steps: tuple[int, ...]
    transcripts: int
    frame_rounds: int = 2
    """Rounds per target at the 1- and 200-call steps (the rows of the table); other steps run one."""

    @classmethod
    def pick(cls, quick: bool, requests: int | None, seconds: float | None, clients: int) -> Sizes:
        if quick:
            sizes = cls(150, 2, clients, 1.0, (100, 400, 1600), 1.5, (1, 50, 200), 300, frame_rounds=1)
        else:
            sizes = cls(
                800, 4, clients, 2.0, (50, 100, 200, 300, 500, 700, 1000, 1500, 2000), 3.0,
                (1, 10, 50, 100, 200, 300, 400), 1500,
            )  # fmt: skip
        if requests is not None:
            sizes = dataclasses.replace(sizes, requests=requests)
        if seconds is not None:
            sizes = dataclasses.replace(sizes, rps_seconds=seconds, frame_seconds=seconds)
        return sizes


@dataclass
class Target:
    name: str
    base: str
    """HTTP base URL under which ``/v1/chat/completions`` etc. are served."""
    pid: int | None = None
    keeps_query: bool = True
    """Whether the target forwards a WebSocket URL's query (LiteLLM rebuilds it with ``model`` only)."""


@dataclass
class Targets:
    upstream: str
    live: dict[str, Target] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)
    """Targets that could not start here, with the reason (their cells say n/a)."""

    def http(self) -> list[Target]:
        return [self.live[name] for name in TARGETS if name in self.live]

    def na(self, name: str) -> Cell:
        return Cell(None, self.missing.get(name, "not run"))


class LoadGen:
    """The load generator process; one job at a time, with a callback while it runs (to sample memory)."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.loadgen"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=ROOT,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put("")

    def job(
        self, timeout: float = 180.0, watch: Callable[[], None] | None = None, **job: Any
    ) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(orjson.dumps(job).decode() + "\n")
        self.proc.stdin.flush()
        deadline = time.monotonic() + timeout
        while True:
            if watch is not None:
                watch()
            try:
                line = self.lines.get(timeout=0.2)
                break
            except queue.Empty:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"load generator job {job['op']} took over {timeout}s") from None
        if not line:
            raise RuntimeError("the load generator exited")
        reply: dict[str, Any] = orjson.loads(line)
        if "fatal" in reply:
            raise RuntimeError(f"load generator: {reply['fatal']}")
        return reply

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def rss_kb(pid: int) -> int:
    """Resident memory of a process and all its descendants (nginx's worker, any helper processes)."""
    total = 0
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
        for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
            total += rss_kb(int(child))
    return total


def rotated(items: Sequence[Target], index: int) -> list[Target]:
    """Round ``index`` starts at a different target, so none of them always runs right after another."""
    shift = index % len(items) if items else 0
    return [*items[shift:], *items[:shift]]


# ---------------------------------------------------------------- closed-loop latency (JSON, SSE, audio)


def latency_rows(
    gen: LoadGen, targets: Targets, key: str, label: str, probe: str, clients: int, sizes: Sizes
) -> list[Row]:
    samples: dict[str, list[int]] = {target.name: [] for target in targets.http()}
    errors: dict[str, str] = {}
    per_round = max(clients, sizes.requests // sizes.rounds)
    for index in range(sizes.rounds):
        for target in rotated(targets.http(), index):
            if target.name in errors:
                continue
            reply = gen.job(op="closed", base=target.base, probe=probe, count=per_round, concurrency=clients)
            samples[target.name] += reply["samples_ns"]
            if reply["errors"]:
                errors[target.name] = f"{reply['errors']} errors: {reply['first_error']}"[:160]
                log(f"  {target.name}: {errors[target.name]}")
        log(f"  {label}: round {index + 1}/{sizes.rounds} done")
    summaries = {name: Summary.of(values) for name, values in samples.items()}
    rows = []
    for pct in ("p50", "p95", "p99"):
        row = Row(f"{key}-{pct}", f"{label}, {pct}", "ms", budget=HTTP_BUDGETS.get(pct))
        for name in TARGETS:
            if name in errors:
                row.cells[name] = Cell(None, errors[name])
            elif name in summaries:
                row.cells[name] = Cell(getattr(summaries[name], f"{pct}_ms"))
            else:
                row.cells[name] = targets.na(name)
        rows.append(row)
    return rows


# ---------------------------------------------------------------- open-loop capacity (requests per second)

DIRECT_CEILING_P99_MS = 20.0
"""Direct is at its ceiling (generator and upstream saturated) when a request fails or its p99 passes both its
unloaded p99 + 3 ms and 20 ms: on a shared machine direct's own p99 wanders by several ms, and that must not
end the ladder at 50 req/s."""
MIN_STEP_REQUESTS = 200
"""A low-rate step runs long enough for 200 requests, so that its p99 is not simply its slowest request."""
SATURATION_P99_MS = 100.0
"""The looser capacity bar: every request completed and p99 under 100 ms (a proxy that is slow, not down)."""


def rps_rows(gen: LoadGen, targets: Targets, sizes: Sizes) -> list[Row]:
    """The highest request rate each target carries: within 3 ms of direct's p99, and merely completing.

    Open loop: requests start on schedule whatever the target does, and latency counts from the schedule.
    At each rate, direct runs first and then every target still in the ladder; a target leaves the ladder
    when it fails the looser bar (a request not completed, or p99 over 100 ms). The ladder stops for all when
    direct itself misses (``DIRECT_CEILING_P99_MS``): that is the ceiling of the generator and the upstream,
    and a target still passing there is reported as "≥".
    """
    alive = [target for target in targets.http() if target.name != DIRECT]
    tight: dict[str, float] = {}
    loose: dict[str, float] = {}
    tight_miss: dict[str, str] = {}
    loose_miss: dict[str, str] = {}
    direct = targets.live[DIRECT]
    idle_p99: float | None = None
    ceiling = False
    for step, rate in enumerate(sizes.rates):
        p99: dict[str, float] = {}
        complete: dict[str, bool] = {}
        for target in [direct, *rotated(alive, step)]:
            seconds = max(sizes.rps_seconds, MIN_STEP_REQUESTS / rate)
            reply = gen.job(op="open", base=target.base, probe="json", rate=rate, seconds=seconds)
            p99[target.name] = Summary.of(reply["samples_ns"]).p99_ms
            lost = reply["scheduled"] - len(reply["samples_ns"])
            complete[target.name] = lost == 0
            if lost:
                reason = f"{lost} of {reply['scheduled']} not completed at {rate}/s"
                loose_miss.setdefault(target.name, reason)
                tight_miss.setdefault(target.name, reason)
        # Direct's best p99 so far is its unloaded one (one slow second in the first step must not set it).
        idle_p99 = p99[DIRECT] if idle_p99 is None else min(idle_p99, p99[DIRECT])
        log(
            f"  {rate} req/s: "
            + ", ".join(f"{n} p99 {v:.1f} ms{'' if complete[n] else ' (incomplete)'}" for n, v in p99.items())
        )
        if not complete[DIRECT] or p99[DIRECT] > max(idle_p99 + RPS_ADDED_P99_MS, DIRECT_CEILING_P99_MS):
            ceiling = True
            break
        tight[DIRECT] = loose[DIRECT] = rate
        for target in list(alive):
            name = target.name
            if complete[name] and p99[name] - p99[DIRECT] <= RPS_ADDED_P99_MS and name not in tight_miss:
                tight[name] = rate
            else:
                tight_miss.setdefault(name, f"p99 +{p99[name] - p99[DIRECT]:.1f} ms at {rate}/s")
            if complete[name] and p99[name] <= SATURATION_P99_MS:
                loose[name] = rate
            else:
                loose_miss.setdefault(name, f"p99 {p99[name]:.0f} ms at {rate}/s")
                alive.remove(target)
        if not alive:
            break
    rows = []
    tight_label = f"max JSON requests/s with p99 ≤ direct's + {RPS_ADDED_P99_MS:g} ms (open loop)"
    loose_label = f"max JSON requests/s, all completed, p99 ≤ {SATURATION_P99_MS:g} ms (open loop)"
    for key, label, best, miss in (
        ("rps", tight_label, tight, tight_miss),
        ("rps-sat", loose_label, loose, loose_miss),
    ):
        row = Row(key, label, "req/s", compare=False)
        for name in TARGETS:
            if name not in targets.live:
                row.cells[name] = targets.na(name)
            elif name in best:
                # Still passing when the ladder ended (at direct's ceiling or its last rate): a lower bound.
                bound = name not in miss
                note = "ladder's top" if bound and not ceiling else ("direct's ceiling" if bound else "")
                if name == DIRECT and ceiling:
                    bound, note = False, "generator + upstream ceiling"
                row.cells[name] = Cell(float(best[name]), note, at_least=bound)
            else:
                row.cells[name] = Cell(None, f"below {sizes.rates[0]}/s: {miss.get(name, '?')}")
        rows.append(row)
    return rows


# ---------------------------------------------------------------- realtime frames, call capacity, memory


@dataclass
class FrameSamples:
    append: list[int] = field(default_factory=list)
    output: list[int] = field(default_factory=list)
    failures: str = ""
    peak_rss_kb: int = 0


def frame_round(
    gen: LoadGen, targets: Targets, target: Target, calls: int, seconds: float, into: FrameSamples
) -> None:
    """One round of ``calls`` realtime sockets through ``target``, sampling its RSS while it runs."""

    def watch() -> None:
        if target.pid is not None:
            into.peak_rss_kb = max(into.peak_rss_kb, rss_kb(target.pid))

    # A proxy that drops the query string sends every frame under the round id "": one round runs at a
    # time, and the upstream forgets a round's frames when the generator fetches them.
    round_id = f"r{time.monotonic_ns()}" if target.keeps_query else ""
    reply = gen.job(
        op="realtime", base=target.base, upstream=targets.upstream, calls=calls, seconds=seconds,
        output_ms=100, round_id=round_id, watch=watch,
    )  # fmt: skip
    into.append += reply["append_ns"]
    into.output += reply["output_ns"]
    if reply["failures"]:
        into.failures = f"{reply['failures']} of {calls} calls failed: {reply['first_error']}"[:160]
        log(f"  {target.name}: {into.failures}")


def realtime_rows(gen: LoadGen, targets: Targets, sizes: Sizes) -> list[Row]:
    """Frame latency at 1 and 200 calls, the most calls each target carries within budget, memory per call.

    The ladder of concurrent calls runs every target up to 200 calls (the DESIGN.md scale) whatever happens,
    and beyond that only the targets still within budget (added p99 ≤ 2 ms both ways, no failed call). When
    direct itself falls behind the 20 ms frame pace the generator (and the upstream) are at their ceiling:
    what passes there is reported as "≥". The 1- and 200-call steps run two rounds, the others one. Memory
    per call: the process's peak RSS during the 200-call rounds minus its RSS just before its first
    realtime round, divided by 200.
    """
    live = targets.http()
    if DIRECT not in targets.live:
        return []
    base_rss = {t.name: rss_kb(t.pid) for t in live if t.pid is not None}
    kept: dict[int, dict[str, FrameSamples]] = {}
    alive = [target for target in live if target.name != DIRECT]
    best: dict[str, int] = {}
    miss: dict[str, str] = {}
    ceiling = False
    for step, calls in enumerate(sizes.call_steps):
        rounds = sizes.frame_rounds if calls in (1, DESIGN_CALLS) else 1
        others = alive if calls > DESIGN_CALLS else [t for t in live if t.name != DIRECT]
        plan = [targets.live[DIRECT], *others]
        got = {target.name: FrameSamples() for target in plan}
        for index in range(rounds):
            for target in rotated(plan, step + index):
                frame_round(gen, targets, target, calls, sizes.frame_seconds, got[target.name])
        kept[calls] = got
        if calls < MIN_CAPACITY_CALLS:
            continue
        d_up, d_down = Summary.of(got[DIRECT].append), Summary.of(got[DIRECT].output)
        summary = [f"direct p99 ↑{d_up.p99_ms:.2f} ↓{d_down.p99_ms:.2f} ms"]
        if got[DIRECT].failures or max(d_up.p99_ms, d_down.p99_ms) > GENERATOR_FRAME_CEILING_MS:
            ceiling = True
            log(f"  {calls} calls: {summary[0]}: the generator's ceiling")
            if calls >= DESIGN_CALLS:
                break
            continue
        if not ceiling:
            best[DIRECT] = calls
        for target in others:
            mine = got[target.name]
            up = Summary.of(mine.append).p99_ms - d_up.p99_ms
            down = Summary.of(mine.output).p99_ms - d_down.p99_ms
            summary.append(f"{target.name} +{up:.2f}/+{down:.2f}")
            if not mine.failures and max(up, down) <= FRAME_ADDED_P99_MS:
                if target.name not in miss:
                    best[target.name] = calls
            else:
                miss.setdefault(target.name, mine.failures or f"p99 +{max(up, down):.1f} ms at {calls} calls")
                if target in alive:
                    alive.remove(target)
        log(f"  {calls} calls: added p99 ↑/↓ ms: " + ", ".join(summary))
        if calls >= DESIGN_CALLS and not alive:
            break
    rows: list[Row] = []
    for calls, percentiles in ((1, ("p50", "p99")), (DESIGN_CALLS, ("p50", "p95", "p99"))):
        got = kept.get(calls, {})
        for direction, label in (("append", "client → upstream"), ("output", "upstream → client")):
            for pct in percentiles:
                budget = FRAME_BUDGETS.get(pct) if calls == DESIGN_CALLS else None
                row = Row(
                    f"realtime-{calls}-{direction}-{pct}",
                    f"realtime frame {label}, {calls} call{'s' if calls > 1 else ''}, {pct}",
                    "ms",
                    budget=budget,
                )
                for name in TARGETS:
                    if name in got and got[name].failures:
                        row.cells[name] = Cell(None, got[name].failures)
                    elif name in got:
                        row.cells[name] = Cell(
                            getattr(Summary.of(getattr(got[name], direction)), f"{pct}_ms")
                        )
                    elif name in targets.live:
                        row.cells[name] = Cell(None, f"{calls} calls not in this run's ladder")
                    else:
                        row.cells[name] = targets.na(name)
                rows.append(row)
    capacity = Row(
        "calls",
        f"max concurrent realtime calls with frame p99 ≤ direct's + {FRAME_ADDED_P99_MS:g} ms",
        "calls",
        budget=Budget("min", DESIGN_CALLS, f"≥ {DESIGN_CALLS} calls"),
        compare=False,
    )
    memory = Row(
        "memory", f"RSS per concurrent realtime call (at {DESIGN_CALLS} calls)", "KiB", compare=False
    )
    at_design = kept.get(DESIGN_CALLS, {})
    for name in TARGETS:
        if name not in targets.live:
            capacity.cells[name] = memory.cells[name] = targets.na(name)
            continue
        if name in best:
            # Still within budget when the ladder ended: a lower bound (direct at its ceiling is exact).
            still = any(t.name == name for t in alive) or name == DIRECT
            bound = still and not (name == DIRECT and ceiling)
            note = ("generator's ceiling" if ceiling else "ladder's top") if still else ""
            capacity.cells[name] = Cell(float(best[name]), note, at_least=bound)
        else:
            lowest = min((c for c in sizes.call_steps if c >= MIN_CAPACITY_CALLS), default=0)
            capacity.cells[name] = Cell(None, f"below {lowest}: {miss.get(name, 'generator ceiling')}")
        if name == DIRECT:
            memory.cells[name] = Cell(None, "no proxy")
        elif name in at_design and name in base_rss:
            grown = at_design[name].peak_rss_kb - base_rss[name]
            memory.cells[name] = Cell(grown / DESIGN_CALLS, f"{at_design[name].peak_rss_kb // 1024} MiB peak")
        else:
            memory.cells[name] = Cell(None, "not measured")
    return [*rows, capacity, memory]


# ---------------------------------------------------------------- PII guard (in process)


def pii_rows(sizes: Sizes) -> list[Row]:
    """The guard itself on unique 10-30 word final transcripts (half with PII), in this process.

    In process on purpose: the budget is the guard's own time, and a proxy round trip would bury it. NER is
    measured with names acted upon (so spaCy runs on every transcript); pattern-only with cards redacted.
    """
    from benchmarks.pii_latency import transcripts
    from voiceguard.config import PiiConfig
    from voiceguard.events import Direction, Stage, Transcript
    from voiceguard.guards.pii import PiiGuard, PiiGuardSettings
    from voiceguard.pii.engine import PATTERN_ONLY, EngineSettings, build_engine
    from voiceguard.testing import guard_context, make_call

    texts = transcripts(sizes.transcripts)
    rows = []
    cases = (
        ("pii-ner", "PII guard, final transcript 10-30 words, NER (en_core_web_sm)", EngineSettings(),
         {"modes": {"speech": {"PERSON": "redact", "CREDIT_CARD": "redact"}}}, 2.0),
        ("pii-pattern", "PII guard, final transcript 10-30 words, pattern-only",
         EngineSettings(model=PATTERN_ONLY),
         {"modes": {"speech": {"CREDIT_CARD": "redact"}}}, 0.5),
    )  # fmt: skip
    for key, label, settings, pii, limit in cases:
        log(f"  {label}")
        guard = PiiGuard(build_engine(settings), PiiGuardSettings.from_config(PiiConfig.model_validate(pii)))
        samples = []
        for index, (text, _with_pii) in enumerate(texts):
            ctx = guard_context(make_call(f"call-{index}"), Stage.STT, Direction.TO_CLIENT)
            started = time.perf_counter_ns()
            list(guard.process(ctx, Transcript(text)))
            samples.append(time.perf_counter_ns() - started)
        summary = Summary.of(samples[20:])  # the first ones warm spaCy's and Python's caches
        for pct in ("p50", "p99"):
            budget = Budget("max", limit, f"p50 ≤ {limit:g} ms") if pct == "p50" else None
            row = Row(f"{key}-{pct}", f"{label}, {pct}", "ms", budget=budget, compare=False)
            for name in TARGETS:
                row.cells[name] = Cell(None, "no PII guard")
            row.cells[VOICEGUARD] = Cell(getattr(summary, f"{pct}_ms"), "in process")
            row.cells[VOICEGUARD_OFF] = Cell(None, "same guard")
            row.cells[LITELLM] = Cell(None, "Presidio guardrail needs its own services; not set up")
            rows.append(row)
    return rows


# ---------------------------------------------------------------- orchestration


@contextlib.contextmanager
def started_targets(
    groups: set[str], with_nginx: bool, with_litellm: bool, install: bool
) -> Iterator[Targets]:
    with contextlib.ExitStack() as stack:
        log("starting the fake upstream, the collector and voiceguard (telemetry on and off)")
        upstream_url = stack.enter_context(upstream(realtime_out_ms=100))
        targets = Targets(upstream_url)
        targets.live[DIRECT] = Target(DIRECT, upstream_url)
        endpoint = stack.enter_context(peers.collector())
        on = {
            "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_METRIC_EXPORT_INTERVAL": "5000",
        }
        for name, env in ((VOICEGUARD, on), (VOICEGUARD_OFF, {"OTEL_SDK_DISABLED": "true"})):
            url, proc = stack.enter_context(voiceguard_process(upstream_url, env=env))
            targets.live[name] = Target(name, url, proc.pid)
        if with_nginx:
            try:
                running = stack.enter_context(peers.nginx(upstream_url))
                targets.live[NGINX] = Target(NGINX, running.url, running.pid)
            except (peers.PeerUnavailable, RuntimeError) as exc:
                targets.missing[NGINX] = str(exc)
        else:
            targets.missing[NGINX] = "skipped (--no-nginx)"
        if with_litellm and groups & {"json", "json-n", "sse", "audio", "realtime", "rps"}:
            log(f"starting LiteLLM {peers.LITELLM_VERSION} (its own venv)")
            try:
                running = stack.enter_context(peers.litellm(upstream_url, install))
                targets.live[LITELLM] = Target(LITELLM, running.url, running.pid, keeps_query=False)
            except (peers.PeerUnavailable, RuntimeError, subprocess.CalledProcessError) as exc:
                targets.missing[LITELLM] = str(exc)
        elif not with_litellm:
            targets.missing[LITELLM] = "skipped (--no-litellm)"
        for name, reason in targets.missing.items():
            log(f"  {name}: n/a: {reason}")
        yield targets


def run(groups: set[str], sizes: Sizes, with_nginx: bool, with_litellm: bool, install: bool) -> list[Row]:
    rows: list[Row] = []
    if groups - {"pii"}:
        with started_targets(groups, with_nginx, with_litellm, install) as targets:
            gen = LoadGen()
            try:
                http = (
                    ("json", "JSON chat completion, 1 client", "json", 1),
                    ("json-n", f"JSON chat completion, {sizes.clients} clients", "json", sizes.clients),
                    ("sse", "SSE time to first token, 1 client", "sse", 1),
                    ("audio", "audio upload (3 s WAV, multipart transcription), 1 client", "audio", 1),
                )
                for key, label, probe, clients in http:
                    if key in groups:
                        log(label)
                        rows += latency_rows(gen, targets, key, label, probe, clients, sizes)
                if "realtime" in groups:
                    log("realtime frames: concurrent calls ladder " + ", ".join(map(str, sizes.call_steps)))
                    rows += realtime_rows(gen, targets, sizes)
                if "rps" in groups:
                    log("requests/s ladder (open loop): " + ", ".join(map(str, sizes.rates)))
                    rows += rps_rows(gen, targets, sizes)
            finally:
                gen.close()
    if "pii" in groups:
        log("PII guard latency (in process)")
        rows += pii_rows(sizes)
    return rows


def machine() -> dict[str, Any]:
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT)
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": os.cpu_count(),
        "uptime": uptime,
        "commit": commit.stdout.strip(),
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer samples and shorter steps (2-3 minutes)")
    parser.add_argument(
        "--only", action="append", default=[], help=f"run only these groups: {', '.join(GROUPS)}"
    )
    parser.add_argument("--requests", type=int, help="requests per target for each latency group")
    parser.add_argument("--seconds", type=float, help="length of each load step (requests/s and realtime)")
    parser.add_argument("--clients", type=int, default=10, help="clients for the N-clients JSON row")
    parser.add_argument("--no-nginx", action="store_true")
    parser.add_argument("--no-litellm", action="store_true")
    parser.add_argument("--no-install", action="store_true", help="do not create LiteLLM's venv when missing")
    parser.add_argument("--json", type=Path, help="save the results (and the machine's load) to this file")
    parser.add_argument("--load", type=Path, help="print a saved run's table instead of measuring")
    parser.add_argument("--markdown", action="store_true", help="print only the table's Markdown")
    args = parser.parse_args(argv)

    if args.load:
        rows, meta = from_json(orjson.loads(args.load.read_bytes()))
    else:
        groups = {group for item in args.only for group in item.split(",") if group} or set(GROUPS)
        unknown = groups - set(GROUPS)
        if unknown:
            parser.error(f"unknown group(s) {', '.join(sorted(unknown))}; known: {', '.join(GROUPS)}")
        sizes = Sizes.pick(args.quick, args.requests, args.seconds, args.clients)
        before = machine()
        log(f"{before['cpus']} CPUs; {before['uptime']}")
        started = time.monotonic()
        rows = run(groups, sizes, not args.no_nginx, not args.no_litellm, not args.no_install)
        meta = {
            **before,
            "uptime_after": machine()["uptime"],
            "seconds": round(time.monotonic() - started),
            "quick": args.quick,
            "sizes": sizes.__dict__,
            "litellm": peers.LITELLM_VERSION,
        }
        if args.json:
            args.json.write_bytes(orjson.dumps(to_json(rows, meta), option=orjson.OPT_INDENT_2))
    order = {group: index for index, group in enumerate(GROUPS)}
    rows.sort(key=lambda row: order.get(_group(row.key), len(order)))
    if not args.markdown:
        print(f"\n{meta.get('cpus')} CPUs, {meta.get('date')}, commit {meta.get('commit')}")
        print(f"load before: {meta.get('uptime')}\nload after:  {meta.get('uptime_after')}\n")
    print(markdown(rows))


def _group(key: str) -> str:
    for group in ("json-n", "json", "sse", "audio", "realtime", "calls", "memory", "rps", "pii"):
        if key.startswith(group):
            return {"calls": "realtime", "memory": "realtime"}.get(group, group)
    return key


if __name__ == "__main__":
    main()
