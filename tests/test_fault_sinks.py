"""The audit store and the trace collector go down and come back, under a real ``voiceguard serve``.

Telemetry fails open: a dead collector never delays or fails a request, and spans flow again once it is back.
The audit log fails as configured: open (traffic goes on, records wait in a bounded queue and reach the
store once it returns, so the chain verifies and no completed request lacks its record) or closed (503 in
the contract's shape while the store is down, and the refusals themselves are recorded).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.otlp_receiver import free_port, otlp_receiver
from tests.postgres import cut_off, dsn_of, own_database, reconnect
from tests.processes import ServeProcess, audit_verify, running, write_config
from tests.scripted import Observations, ThreadedApp, scripted_app
from voiceguard.audit.postgres import PostgresStore
from voiceguard.audit.record import RecordFilter

pytestmark = pytest.mark.slow


@pytest.fixture
async def database() -> AsyncIterator[str]:
    """The DSN of a database of this test's own, so cutting it off touches nobody else."""
    async with own_database("vg_fault") as name:
        yield dsn_of(name)


async def _cut(dsn: str) -> None:
    await cut_off(dsn.rsplit("/", 1)[1])


async def _restore(dsn: str) -> None:
    await reconnect(dsn.rsplit("/", 1)[1])


@pytest.fixture(scope="module")
def upstream_url() -> Iterator[str]:
    app = ThreadedApp(scripted_app(Observations()))
    yield app.start()
    app.stop()


async def _call(client: aiohttp.ClientSession, vg: ServeProcess, call_id: str) -> tuple[int, Any]:
    async with client.post(
        f"{vg.url}/up/ok", headers={"X-VoiceGuard-Call-Id": call_id, "Authorization": "Bearer sk-test"}
    ) as response:
        return response.status, await response.json()


async def _ready(vg: ServeProcess, expected: int, within_s: float = 20.0) -> dict[str, Any]:
    async with aiohttp.ClientSession() as client:
        for _ in range(int(within_s / 0.1)):
            async with client.get(f"{vg.url}/_voiceguard/readyz") as response:
                body: dict[str, Any] = await response.json()
                if response.status == expected:
                    return body
            await asyncio.sleep(0.1)
    raise AssertionError(f"readyz never answered {expected}")


def _audit_config(tmp_path: Path, upstream_url: str, dsn: str, *, fail_closed: bool) -> dict[str, Any]:
    return {
        "data_dir": str(tmp_path / "data"),
        "routes": {"up": {"upstream": upstream_url}},
        "limits": {"call_idle_seconds": 0.2},
        "audit": {
            "store": "postgres",
            "postgres_dsn": dsn,
            "store_timeout_seconds": 1.0,
            "durable_timeout_seconds": 1.0,
            "fail_closed": fail_closed,
        },
    }


async def _records_of(dsn: str, call_ids: list[str]) -> dict[str, int]:
    store = PostgresStore(dsn, "voiceguard")
    try:
        return {call: await store.count(RecordFilter(call_id=call)) for call in call_ids}
    finally:
        await store.close()


async def test_an_audit_store_outage_keeps_traffic_flowing_and_every_record_arrives_after(
    tmp_path: Path, log_dir: Path, upstream_url: str, database: str
) -> None:
    config = _audit_config(tmp_path, upstream_url, database, fail_closed=False)
    calls = ["before", "during-1", "during-2", "during-3", "after"]
    with running(config, workdir=tmp_path, log_dir=log_dir, name="audit-outage") as vg:
        async with aiohttp.ClientSession() as client:
            assert await _call(client, vg, "before") == (200, {"ok": True})
            await _cut(database)
            for call in calls[1:4]:
                assert await _call(client, vg, call) == (200, {"ok": True})
            problems = await _ready(vg, 503)
            assert "audit" in str(problems)
            assert await asyncio.to_thread(vg.metric, "voiceguard_audit_store_up") == 0
            await _restore(database)
            await _ready(vg, 200)
            assert await _call(client, vg, "after") == (200, {"ok": True})
        await asyncio.to_thread(vg.wait_metric, "voiceguard_calls_active", 0.0)
        outcomes = {call: vg.wait_request_logged(call)["outcome"] for call in calls}
        assert set(outcomes.values()) == {"ok"}
    counts = await _records_of(database, calls)
    assert all(count >= 1 for count in counts.values()), counts
    verified = audit_verify(write_config(tmp_path / "verify.yaml", config), tmp_path)
    assert verified.returncode == 0, verified.stdout + verified.stderr


async def test_a_fail_closed_audit_log_refuses_traffic_while_down_and_records_the_refusals(
    tmp_path: Path, log_dir: Path, upstream_url: str, database: str
) -> None:
    config = _audit_config(tmp_path, upstream_url, database, fail_closed=True)
    with running(config, workdir=tmp_path, log_dir=log_dir, name="audit-fail-closed") as vg:
        async with aiohttp.ClientSession() as client:
            assert (await _call(client, vg, "open"))[0] == 200
            await _cut(database)
            await _ready(vg, 503)
            status, body = await _call(client, vg, "refused")
            assert status == 503 and body["error"]["type"] == "audit_unavailable"
            await _restore(database)
            await _ready(vg, 200)
            assert (await _call(client, vg, "served-again"))[0] == 200
        refused = vg.wait_request_logged("refused")
        assert (refused["status"], refused["outcome"]) == (503, "audit_unavailable")
    counts = await _records_of(database, ["open", "refused", "served-again"])
    assert all(count >= 1 for count in counts.values()), counts


async def test_a_dead_trace_collector_never_touches_traffic_and_spans_flow_once_it_is_back(
    tmp_path: Path, log_dir: Path, upstream_url: str
) -> None:
    port = free_port()
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_EXPORTER_OTLP_TIMEOUT": "500",
        "OTEL_METRICS_EXPORTER": "none",
    }
    config = {
        "data_dir": str(tmp_path / "data"),
        "routes": {"up": {"upstream": upstream_url}},
        "limits": {"call_idle_seconds": 0.2},
        "telemetry": {"span_export_delay_s": 0.05, "shutdown_timeout_s": 1},
        "audit": {"store": "off"},
    }
    with running(config, workdir=tmp_path, log_dir=log_dir, name="collector-outage", env=env) as vg:
        async with aiohttp.ClientSession() as client:
            for index in range(5):
                assert await _call(client, vg, f"collector-down-{index}") == (200, {"ok": True})
            with otlp_receiver(tmp_path, http_port=port) as receiver:
                assert await _call(client, vg, "collector-up") == (200, {"ok": True})
                assert await asyncio.to_thread(receiver.wait_for_text, "collector-up", 30)
            for index in range(3):
                assert await _call(client, vg, f"collector-gone-{index}") == (200, {"ok": True})
        await asyncio.to_thread(vg.wait_metric, "voiceguard_calls_active", 0.0)
        assert vg.wait_request_logged("collector-gone-2")["outcome"] == "ok"
