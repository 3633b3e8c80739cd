"""No audit record is lost for a request whose response completed, even when voiceguard is killed (-9).

A real ``voiceguard serve`` process runs in front of the simulated OpenAI API; the test drives concurrent
traffic (JSON and SSE responses), notes every response that arrived complete, kills the process with
SIGKILL mid-traffic, then runs ``voiceguard audit verify`` and looks up each completed request's record.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import sys
from pathlib import Path

import aiohttp
import asyncpg
import pytest
import yaml

from tests.audit.conftest import PG_DSN
from tests.audit.helpers import AUTH, CHAT, free_port, run, start_serving, wait_ready
from voiceguard.simulator import RunningApp

pytestmark = pytest.mark.slow

WORKERS = 8
KILL_AFTER_COMPLETED = 150


async def _drive(base: str, completed: list[str], enough: asyncio.Event, worker: int) -> None:
    """Send requests until the connection dies; note each response that arrived complete."""
    async with aiohttp.ClientSession() as client:
        n = 0
        while True:
            call_id = f"w{worker}-{n}"
            n += 1
            body = {**CHAT, "stream": n % 2 == 0}
            headers = {**AUTH, "X-VoiceGuard-Call-Id": call_id}
            url = f"{base}/openai/v1/chat/completions"
            try:
                async with client.post(url, json=body, headers=headers) as response:
                    await response.read()  # raises if the body ends before it is complete
                    if response.status == 200:
                        completed.append(call_id)
            except (aiohttp.ClientError, ConnectionError):
                return
            if len(completed) >= KILL_AFTER_COMPLETED:
                enough.set()


def _recorded_calls(store: str, tmp_path: Path, schema: str) -> set[str]:
    if store == "sqlite":
        connection = sqlite3.connect(tmp_path / "data" / "audit.sqlite3")
        rows = connection.execute("SELECT call_id FROM audit_records WHERE kind = 'request'").fetchall()
        connection.close()
        return {row[0] for row in rows}

    async def read() -> set[str]:
        connection = await asyncpg.connect(PG_DSN)
        try:
            rows = await connection.fetch(
                f"SELECT call_id FROM \"{schema}\".audit_records WHERE kind = 'request'"
            )
        finally:
            await connection.close()
        return {row["call_id"] for row in rows}

    return asyncio.run(read())


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
async def test_kill_9_mid_traffic_loses_no_record_of_a_completed_response(
    store: str, tmp_path: Path, openai_upstream: RunningApp, pg_schema: str
) -> None:
    port = free_port()
    audit: dict[str, object] = {"store": store, "checkpoint_interval_seconds": 0.3}
    if store == "postgres":
        audit.update(postgres_dsn=PG_DSN, postgres_schema=pg_schema)
    config = tmp_path / "voiceguard.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "listen": {"port": port},
                "data_dir": str(tmp_path / "data"),
                "routes": {"openai": {"upstream": openai_upstream.url}},
                "audit": audit,
                "logging": {"level": "warning"},
            }
        )
    )
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "VOICEGUARD_MASTER_KEY": ""}
    process = await start_serving(config, env)
    completed: list[str] = []
    try:
        await wait_ready(base, process)
        enough = asyncio.Event()
        workers = [asyncio.create_task(_drive(base, completed, enough, n)) for n in range(WORKERS)]
        await asyncio.wait_for(enough.wait(), 60)
        process.kill()  # SIGKILL: no shutdown hook runs, nothing is flushed by voiceguard
        await asyncio.gather(*workers)
        assert await process.wait() == -9
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert len(completed) >= KILL_AFTER_COMPLETED

    code, output = await run(
        sys.executable, "-m", "voiceguard", "audit", "verify", "--config", str(config), env=env
    )
    assert code == 0, output
    assert "voiceguard audit verify: OK" in output
    recorded = await asyncio.to_thread(_recorded_calls, store, tmp_path, pg_schema)
    missing = sorted(set(completed) - recorded)
    assert not missing, f"{len(missing)} completed responses have no audit record: {json.dumps(missing[:10])}"
