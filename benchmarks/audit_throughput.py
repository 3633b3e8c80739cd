"""Audit log: records per second each store sustains, and the latency the audit sink adds to requests.

Part 1 feeds ``ExchangeFinished`` records into a real ``AuditSink`` (canonical encoding, group commit, hash
chain, checkpoints) as fast as the store takes them, with a bounded backlog, and reports records/s and the
average group-commit size, for SQLite (WAL, synchronous NORMAL and FULL) and PostgreSQL.

Part 2 runs voiceguard processes side by side in front of the same fake upstream, with the audit log off,
on SQLite and on PostgreSQL, and reports the chat round trip at 1 and 50 concurrent clients, alternating
rounds between targets; "added" is audit on minus audit off.

    .venv/bin/python -m benchmarks.audit_throughput [--records 30000] [--requests 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
from opentelemetry.sdk.resources import Resource

from benchmarks.harness import Summary, table, upstream, voiceguard
from benchmarks.proxy_overhead import json_request, run_round
from voiceguard.audit.postgres import PostgresStore
from voiceguard.audit.sink import AuditSink
from voiceguard.audit.sqlite import SqliteStore
from voiceguard.audit.store import AuditStore
from voiceguard.config import AuditConfig
from voiceguard.events import Stage
from voiceguard.keys import KeyStore
from voiceguard.protocols.base import ExchangeInfo
from voiceguard.proxy.runtime import Readiness
from voiceguard.records import ExchangeFinished
from voiceguard.session import Exchange
from voiceguard.telemetry.metrics import Metrics
from voiceguard.testing import make_call

PG_DSN = os.environ.get("VOICEGUARD_BENCH_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")
BACKLOG = 5000


def _exchange(n: int) -> Exchange:
    now = time.time_ns()
    exchange = Exchange(
        id=f"bench-{n}",
        call=make_call(f"call-{n % 97}", jurisdiction="US-IL", subject="+15550000000"),
        route="openai",
        info=ExchangeInfo("openai", "chat", Stage.LLM),
        transport="http",
        method="POST",
        path="/v1/chat/completions",
        started_ns=now - 2_000_000,
        request_sent_ns=now - 1_900_000,
        first_byte_ns=now - 400_000,
        finished_ns=now,
        status=200,
        bytes_from_client=420,
        bytes_to_client=980,
        proxy_ns=120_000,
    )
    return exchange


async def sustained(store: AuditStore, data_dir: Path, records: int) -> tuple[float, float]:
    """Records/s from the first record handed over to the last one durable, and records per commit."""
    metrics = Metrics(Resource.create({}))
    sink = AuditSink(store, KeyStore(data_dir), AuditConfig(), metrics=metrics, readiness=Readiness())
    await sink.start()
    await sink.writer.wait_durable(sink.writer.last_ticket, 30)
    exchanges = [_exchange(n) for n in range(records)]
    commits_before = _commits(metrics)
    started = time.perf_counter()
    for n, exchange in enumerate(exchanges):
        sink.handle(ExchangeFinished(exchange))
        if sink.writer.queued >= BACKLOG:
            await sink.writer.wait_durable(sink.writer.last_ticket - BACKLOG // 2, 60)
        elif n % 200 == 0:
            await asyncio.sleep(0)
    await sink.writer.wait_durable(sink.writer.last_ticket, 60)
    elapsed = time.perf_counter() - started
    commits = _commits(metrics) - commits_before
    await sink.close()
    metrics.shutdown()
    return records / elapsed, records / max(commits, 1)


def _commits(metrics: Metrics) -> float:
    for line in metrics.prometheus_text().decode().splitlines():
        if line.startswith("voiceguard_audit_commit_duration_seconds_count"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def _drop_schema(schema: str) -> None:
    connection = await asyncpg.connect(PG_DSN)
    try:
        await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await connection.close()


async def part_one(records: int) -> list[list[object]]:
    rows: list[list[object]] = []
    with tempfile.TemporaryDirectory(prefix="vg-bench-audit-") as tmp:
        directory = Path(tmp)
        for synchronous in ("normal", "full"):
            store = SqliteStore(directory / f"audit-{synchronous}.sqlite3", synchronous=synchronous)
            rate, batch = await sustained(store, directory / "data", records)
            rows.append([f"SQLite WAL synchronous={synchronous.upper()}", records, rate, batch])
        schema = f"vg_bench_{uuid.uuid4().hex[:10]}"
        try:
            rate, batch = await sustained(PostgresStore(PG_DSN, schema), directory / "data", records)
            rows.append(["PostgreSQL (local, synchronous_commit on)", records, rate, batch])
        finally:
            await _drop_schema(schema)
    return rows


async def part_two(targets: dict[str, str], total: int, rounds: int = 6) -> list[list[object]]:
    rows: list[list[object]] = []
    for concurrency in (1, 50):
        samples: dict[str, list[int]] = {name: [] for name in targets}
        per_round = max(concurrency, total // rounds)
        for _ in range(rounds):
            for name, base in targets.items():
                samples[name] += await run_round(base, json_request, per_round, concurrency)
        baseline = Summary.of(samples["audit off"])
        for name in targets:
            summary = Summary.of(samples[name])
            rows.append(
                [
                    name,
                    concurrency,
                    summary.p50_ms,
                    summary.p99_ms,
                    summary.p50_ms - baseline.p50_ms,
                    summary.p99_ms - baseline.p99_ms,
                ]
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=30_000, help="records per store in part 1")
    parser.add_argument("--requests", type=int, default=2000, help="requests per target and concurrency")
    args = parser.parse_args()

    print("Sustained audit records per second (one process, group commit, checkpoint every 1000 records)")
    rows = asyncio.run(part_one(args.records))
    print(table(["store", "records", "records/s", "records per commit"], rows))
    print()

    schema = f"vg_bench_{uuid.uuid4().hex[:10]}"
    postgres = {"store": "postgres", "postgres_dsn": PG_DSN, "postgres_schema": schema}
    try:
        with (
            upstream() as upstream_url,
            voiceguard(upstream_url, {"audit": {"store": "off"}}) as off,
            voiceguard(upstream_url, {"audit": {"store": "sqlite"}}) as on_sqlite,
            voiceguard(upstream_url, {"audit": postgres}) as on_postgres,
        ):
            targets = {"audit off": off, "audit SQLite": on_sqlite, "audit PostgreSQL": on_postgres}
            rows = asyncio.run(part_two(targets, args.requests))
    finally:
        asyncio.run(_drop_schema(schema))
    print("Chat round trip through voiceguard, audit off vs on (added = on - off)")
    print(table(["target", "clients", "p50 ms", "p99 ms", "added p50 ms", "added p99 ms"], rows))


if __name__ == "__main__":
    main()
