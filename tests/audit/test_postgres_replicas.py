"""PostgreSQL as the shared log: an outage of the database, and two voiceguard replicas writing one chain."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import yaml

from tests.audit.conftest import PG_DSN
from tests.audit.helpers import chat, eventually, free_port, metric, run, start_serving, wait_ready
from tests.conftest import ProxyFactory
from tests.postgres import cut_off, own_database, reconnect
from voiceguard.audit.chain import CheckpointSigner
from voiceguard.audit.postgres import PostgresStore
from voiceguard.audit.record import RecordFilter
from voiceguard.audit.verify import verify_store
from voiceguard.keys import KeyStore
from voiceguard.simulator import RunningApp


@pytest.fixture
async def database() -> AsyncIterator[str]:
    """A database of its own, so the test can cut every connection to it without touching anyone else."""
    async with own_database() as name:
        yield name


async def test_a_database_outage_shows_in_readyz_and_metrics_and_the_log_recovers(
    tmp_path: Path, make_proxy: ProxyFactory, openai_upstream: RunningApp, database: str
) -> None:
    dsn = PG_DSN.rsplit("/", 1)[0] + f"/{database}"
    proxy = await make_proxy(
        {"openai": openai_upstream.url},
        audit={"store": "postgres", "postgres_dsn": dsn, "store_timeout_seconds": 1.0},
    )
    async with aiohttp.ClientSession() as client:

        async def ready() -> int:
            async with client.get(f"{proxy.url}/_voiceguard/readyz") as response:
                return response.status

        async def is_ready(expected: int) -> bool:
            return await ready() == expected

        assert await chat(client, proxy.url, "before") == 200
        await cut_off(database)
        assert await chat(client, proxy.url, "during") == 200
        await eventually(lambda: is_ready(503))
        async with client.get(f"{proxy.url}/_voiceguard/metrics") as response:
            assert metric(await response.text(), "voiceguard_audit_store_up") == 0
        await reconnect(database)
        await eventually(lambda: is_ready(200))
        assert await chat(client, proxy.url, "after") == 200
    await proxy.close()

    store = PostgresStore(dsn, "voiceguard")
    signer = CheckpointSigner(KeyStore(tmp_path / "data", env={}).signing_key("audit"))
    try:
        report = await verify_store(store, [signer.public])
        for call in ("before", "during", "after"):
            assert await store.count(RecordFilter(call_id=call)) >= 2, call
    finally:
        await store.close()
    assert report.ok and report.unsigned == 0, report.failure


@pytest.mark.slow
async def test_two_replicas_sharing_one_postgres_log_write_one_verifiable_chain(
    tmp_path: Path, openai_upstream: RunningApp, pg_schema: str
) -> None:
    data_dir = tmp_path / "shared-data"
    env = {**os.environ, "VOICEGUARD_AUDIT_POSTGRES_DSN": PG_DSN}
    processes: list[asyncio.subprocess.Process] = []
    bases: list[str] = []
    config_path = tmp_path / "replica-0.yaml"
    for index in range(2):
        port = free_port()
        config = {
            "listen": {"port": port},
            "data_dir": str(data_dir),
            "routes": {"openai": {"upstream": openai_upstream.url}},
            "audit": {"store": "postgres", "postgres_schema": pg_schema, "source": f"replica-{index}"},
            "logging": {"level": "warning"},
        }
        config_path = tmp_path / f"replica-{index}.yaml"
        config_path.write_text(yaml.safe_dump(config))
        processes.append(await start_serving(config_path, env))
        bases.append(f"http://127.0.0.1:{port}")
    try:
        for base, process in zip(bases, processes, strict=True):
            await wait_ready(base, process)

        async def traffic(base: str, replica: int) -> None:
            async with aiohttp.ClientSession() as client:
                for n in range(30):
                    assert await chat(client, base, f"r{replica}-{n}") == 200

        await asyncio.gather(*(traffic(base, index) for index, base in enumerate(bases) for _ in range(3)))
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        assert [await process.wait() for process in processes] == [0, 0]

    code, output = await run(
        sys.executable, "-m", "voiceguard", "audit", "verify", "--config", str(config_path), env=env
    )
    assert code == 0, output
    store = PostgresStore(PG_DSN, pg_schema)
    try:
        for replica in range(2):
            assert await store.count(RecordFilter(call_id=f"r{replica}-0")) >= 3  # 3 workers reuse each id
        records = await store.records(0, 10_000)
    finally:
        await store.close()
    sources = {row.content()["source"] for row in records}
    kinds = [row.kind for row in records]
    assert sources == {"replica-0", "replica-1"}
    assert kinds.count("audit.logging_started") == 2 and kinds.count("audit.logging_stopped") == 2
