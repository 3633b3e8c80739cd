"""What tracing and metrics export cost: voiceguard with telemetry off vs on, side by side with a direct call.

Three targets in one run, alternating in short rounds: the fake upstream directly, voiceguard with tracing off
(no exporter: no spans are built), and voiceguard exporting traces and metrics over OTLP/HTTP to a real
collector (rotel, from the dev dependencies). Every request is a call of its own, so each one produces a call,
a turn and a stage span (the worst case per request). The voice metrics and the Prometheus endpoint are on in
both voiceguard processes (they are part of the contract).

    .venv/bin/python -m benchmarks.telemetry_overhead [--requests 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

from benchmarks.harness import Summary, added, table, upstream, voiceguard
from benchmarks.proxy_overhead import Probe, json_request, run_round, sse_first_chunk
from tests.otlp_receiver import otlp_receiver

OFF = {"OTEL_SDK_DISABLED": "true"}


def on(endpoint: str) -> dict[str, str]:
    return {
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_METRIC_EXPORT_INTERVAL": "5000",
    }


async def measure(targets: dict[str, str], total: int, rounds: int = 6) -> list[list[object]]:
    rows: list[list[object]] = []
    probes: tuple[tuple[str, Probe], ...] = (
        ("chat JSON round trip", json_request),
        ("SSE time to first chunk", sse_first_chunk),
    )
    for name, probe in probes:
        for concurrency in (1, 50):
            samples: dict[str, list[int]] = {target: [] for target in targets}
            per_round = max(concurrency, total // rounds)
            for _ in range(rounds):
                for target, base in targets.items():
                    samples[target] += await run_round(base, probe, per_round, concurrency)
            direct = Summary.of(samples["direct"])
            off = added(Summary.of(samples["telemetry off"]), direct)
            full = added(Summary.of(samples["tracing + metrics on"]), direct)
            rows.append([name, concurrency, direct.p50_ms, off.p50_ms, full.p50_ms, off.p99_ms, full.p99_ms])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=3000, help="requests per target and scenario")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vg-bench-otlp-") as tmp, otlp_receiver(Path(tmp)) as receiver:
        with (
            upstream() as upstream_url,
            voiceguard(upstream_url, env=OFF) as without,
            voiceguard(upstream_url, env=on(receiver.endpoint("http/protobuf"))) as traced,
        ):
            targets = {"direct": upstream_url, "telemetry off": without, "tracing + metrics on": traced}
            rows = asyncio.run(measure(targets, args.requests))
        received = len(receiver.spans())
    print(
        table(
            [
                "scenario",
                "clients",
                "direct p50 ms",
                "added p50 off",
                "added p50 on",
                "added p99 off",
                "added p99 on",
            ],
            rows,
        )
    )
    print(f"\nspans received by the collector: {received}")


if __name__ == "__main__":
    main()
