"""Three voiceguard replicas behind nginx, one PostgreSQL audit log and consent registry, one replica killed.

nginx hashes on the call id; a separate process drives a bounded load of multi-turn calls through it; one
replica is killed with SIGKILL mid-run and started again. Afterwards the shared audit chain verifies, every
request the load generator saw complete has its audit record, and consent granted or withdrawn through one
replica's admin API decides, on the other replicas, whether a Deepgram diarization request is stripped.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from tests.nginx import nginx_binary, running_nginx
from tests.otlp_receiver import free_port
from tests.postgres import PG_DSN, admin
from tests.processes import ServeProcess, audit_verify, launch, write_config
from tests.scripted import ThreadedApp
from voiceguard.keys import KeyStore
from voiceguard.simulator.backend import Backend
from voiceguard.simulator.deepgram_api import deepgram_app
from voiceguard.simulator.openai_api import openai_app

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        nginx_binary() is None, reason="nginx is not installed and `make test` could not install it"
    ),
]

TOKEN = "replica-admin-" + uuid.uuid4().hex
CALLER = "+13125550100"
RELEASE = {
    "subject": CALLER,
    "purpose": "voiceprint",
    "jurisdiction": "US-IL",
    "notice_version": "bipa-notice-2026-01",
    "signature": "written",
}
LOAD_CALLS, LOAD_TURNS = 120, 2
KILL_AFTER_LINES = 40


@pytest.fixture
async def schemas() -> AsyncIterator[tuple[str, str]]:
    """Fresh schemas for this run's audit log and consent registry; dropped afterwards."""
    suffix = uuid.uuid4().hex[:10]
    audit, consent = f"vg_rep_audit_{suffix}", f"vg_rep_consent_{suffix}"
    yield audit, consent
    for schema in (audit, consent):
        await admin(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(scope="module")
def vendors() -> Iterator[tuple[str, str]]:
    backend = Backend()
    openai, deepgram = ThreadedApp(openai_app(backend)), ThreadedApp(deepgram_app(backend))
    yield openai.start(), deepgram.start()
    openai.stop()
    deepgram.stop()


class Replicas:
    """Three ``voiceguard serve`` processes on fixed ports sharing a data directory and the database."""

    def __init__(self, workdir: Path, log_dir: Path, config: dict[str, Any], env: dict[str, str]) -> None:
        self.workdir, self.log_dir, self.config, self.env = workdir, log_dir, config, env
        self.ports = [free_port() for _ in range(3)]
        self.processes: list[ServeProcess] = []

    def config_for(self, index: int) -> dict[str, Any]:
        audit = {**self.config["audit"], "source": f"replica-{index}"}
        return {**self.config, "listen": {"host": "127.0.0.1", "port": self.ports[index]}, "audit": audit}

    def start(self, index: int) -> ServeProcess:
        served = launch(
            self.config_for(index),
            workdir=self.workdir,
            log_dir=self.log_dir,
            name=f"replica-{index}",
            env=self.env,
        )
        if index < len(self.processes):
            self.processes[index] = served
        else:
            self.processes.append(served)
        return served

    def stop_all(self) -> None:
        for served in self.processes:
            served.stop()


async def _listen(replica: ServeProcess) -> bool:
    """A diarized transcription for an Illinois caller via ``replica``; True when diarization was stripped."""
    async with (
        aiohttp.ClientSession() as client,
        client.post(
            f"{replica.url}/deepgram/v1/listen",
            params={"model": "nova-3", "diarize": "true"},
            data=os.urandom(3200),
            headers={
                "Content-Type": "audio/wav",
                "Authorization": "Token sk-test",
                "X-VoiceGuard-Subject": CALLER,
                "X-VoiceGuard-Jurisdiction": "US-IL",
            },
        ) as response,
    ):
        assert response.status == 200, await response.text()
        return "x-voiceguard-stripped" in response.headers


async def _consent(replica: ServeProcess, path: str, body: dict[str, Any]) -> None:
    async with (
        aiohttp.ClientSession() as client,
        client.post(
            f"{replica.url}/_voiceguard/consent{path}",
            json=body,
            headers={"Authorization": f"Bearer {TOKEN}"},
        ) as response,
    ):
        assert response.status < 300, await response.text()


async def _until_stripped(replica: ServeProcess, stripped: bool, within_s: float = 15.0) -> None:
    deadline = time.monotonic() + within_s
    while await _listen(replica) != stripped:
        assert time.monotonic() < deadline, f"{replica.url} never {'stripped' if stripped else 'allowed'} it"
        await asyncio.sleep(0.2)


async def _request_records(schema: str) -> Counter[str]:
    connection = await asyncpg.connect(PG_DSN)
    try:
        rows = await connection.fetch(
            f'SELECT call_id, count(*) AS n FROM "{schema}".audit_records '
            "WHERE kind = 'request' GROUP BY call_id"
        )
    finally:
        await connection.close()
    return Counter({row["call_id"]: row["n"] for row in rows})


def _start_load(nginx_port: int, results: Path) -> subprocess.Popen[bytes]:
    """The load generator as a process of its own, through nginx."""
    command = [sys.executable, "-m", "tests.load_generator", f"http://127.0.0.1:{nginx_port}", str(results)]
    options = ["--calls", str(LOAD_CALLS), "--turns", str(LOAD_TURNS), "--concurrency", "6"]
    return subprocess.Popen(
        [*command, *options, "--tag", "replica-load"],
        cwd=Path(__file__).resolve().parents[1],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def _wait_lines(path: Path, count: int, load: subprocess.Popen[bytes], within_s: float = 120.0) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if path.exists() and len(path.read_text().splitlines()) >= count:
            return
        assert load.poll() is None, "the load generator ended before the kill"
        time.sleep(0.1)
    raise AssertionError("the load never got going")


async def test_three_replicas_behind_nginx_survive_a_kill_and_share_one_audit_log_and_consent(
    tmp_path: Path, log_dir: Path, vendors: tuple[str, str], schemas: tuple[str, str]
) -> None:
    openai_url, deepgram_url = vendors
    audit_schema, consent_schema = schemas
    data_dir = tmp_path / "data"
    keys = KeyStore(data_dir, env={})  # one key set for all replicas: subject hashes and signatures agree
    keys.signing_key("audit")
    keys.subject_hash(CALLER)
    config: dict[str, Any] = {
        "data_dir": str(data_dir),
        "routes": {"openai": {"upstream": openai_url}, "deepgram": {"upstream": deepgram_url}},
        "limits": {"call_idle_seconds": 1.0, "client_address_header": "X-Forwarded-For"},
        "pii": {"engine": "pattern"},
        "audit": {
            "store": "postgres",
            "postgres_dsn": PG_DSN,
            "postgres_schema": audit_schema,
            "checkpoint_interval_seconds": 1.0,
        },
        "consent": {"store": "postgres", "postgres_schema": consent_schema, "refresh_seconds": 1.0},
        "logging": {"level": "info"},
    }
    env = {"VOICEGUARD_MASTER_KEY": "", "VOICEGUARD_POSTGRES_DSN": PG_DSN, "VOICEGUARD_ADMIN_TOKEN": TOKEN}
    replicas = Replicas(tmp_path, log_dir, config, env)
    results = tmp_path / "load.jsonl"
    nginx_port = free_port()
    try:
        first, second, third = [await asyncio.to_thread(replicas.start, index) for index in range(3)]
        with running_nginx(tmp_path / "nginx", nginx_port, replicas.ports):
            # consent starts absent: another replica strips the voiceprint feature
            assert await _listen(second)

            load = await asyncio.to_thread(_start_load, nginx_port, results)
            try:
                await asyncio.to_thread(_wait_lines, results, KILL_AFTER_LINES, load)
                killed = third
                killed.process.kill()  # SIGKILL mid-run: nothing flushed, in-flight requests cut
                killed.process.wait(timeout=10)
                await asyncio.sleep(1.0)
                third = await asyncio.to_thread(replicas.start, 2)
                output, _ = await asyncio.to_thread(load.communicate, None, 300)
            finally:
                if load.poll() is None:
                    load.kill()
            assert load.returncode == 0, output.decode()

            # a release recorded through one replica lets the feature through on the others ...
            await _consent(first, "", RELEASE)
            await _until_stripped(second, stripped=False)
            await _until_stripped(third, stripped=False)
            # ... and a withdrawal through the restarted one stops it everywhere
            await _consent(third, "/withdraw", {"subject": CALLER, "purpose": "voiceprint"})
            await _until_stripped(second, stripped=True)
            await _until_stripped(first, stripped=True)
    finally:
        replicas.stop_all()

    lines = [json.loads(line) for line in results.read_text().splitlines()]
    assert len(lines) == LOAD_CALLS * LOAD_TURNS
    completed = Counter(line["call_id"] for line in lines if line["complete"])
    assert sum(completed.values()) >= len(lines) * 0.8, Counter(line["status"] for line in lines)
    served_by = [
        len([line for line in replica.log_lines() if line.get("call_id", "").startswith("replica-load")])
        for replica in (first, second, killed)
    ]
    assert all(served_by), served_by  # the hash spread the calls over every replica

    recorded = await _request_records(audit_schema)
    missing = {call: n for call, n in completed.items() if recorded[call] < n}
    assert not missing, f"completed requests without an audit record: {dict(list(missing.items())[:10])}"

    verify_config = write_config(tmp_path / "verify.yaml", replicas.config_for(0))
    verified = await asyncio.to_thread(audit_verify, verify_config, tmp_path, env)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "OK" in verified.stdout
