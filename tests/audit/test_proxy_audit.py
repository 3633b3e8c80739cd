"""The audit sink in a live voiceguard: what is recorded, when it is durable, and what an outage does."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from pathlib import Path

import aiohttp
import pytest

from tests.audit.helpers import (
    CARD,
    CardRedactor,
    SqliteLock,
    chat,
    eventually,
    metric,
    of_kind,
    sqlite_records,
)
from tests.conftest import ProxyFactory
from tests.engines import shared_engine
from voiceguard.audit.chain import CheckpointSigner
from voiceguard.audit.record import BadRecord
from voiceguard.audit.sink import AuditSink
from voiceguard.audit.sqlite import SqliteStore
from voiceguard.audit.verify import verify_store
from voiceguard.keys import KeyStore
from voiceguard.server import RunningServer
from voiceguard.simulator import RunningApp

SUBJECT = "+15551234567"


def audit_file(tmp_path: Path) -> Path:
    return tmp_path / "data" / "audit.sqlite3"


async def verify_file(tmp_path: Path) -> None:
    store = SqliteStore(audit_file(tmp_path))
    signer = CheckpointSigner(KeyStore(tmp_path / "data", env={}).signing_key("audit"))
    try:
        report = await verify_store(store, [signer.public])
    finally:
        await store.close()
    assert report.ok, report.failure
    assert report.unsigned == 0, "shutdown signs a final checkpoint"


async def test_requests_and_decisions_are_recorded_with_no_raw_personal_data(
    tmp_path: Path, openai_upstream: RunningApp
) -> None:
    from voiceguard import server
    from voiceguard.testing import settings_for

    settings = settings_for({"openai": openai_upstream.url}, tmp_path / "data")
    running = await server.start(settings, guards=[CardRedactor()], pii_engine=shared_engine(settings))
    audit = running.runtime.audit
    assert isinstance(audit, AuditSink)
    audit.policy_source = lambda call: {"pack": "sha256:abc123"}
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"my card is {CARD}"}]}
    headers = {
        "Authorization": "Bearer sk-test",
        "X-VoiceGuard-Call-Id": "call-a",
        "X-VoiceGuard-Subject": SUBJECT,
    }
    url = f"{running.url}/openai/v1/chat/completions"
    async with aiohttp.ClientSession() as client, client.post(url, json=body, headers=headers) as response:
        assert response.status == 200
        await response.read()
    await running.close()

    records = sqlite_records(audit_file(tmp_path))
    kinds = [record["kind"] for record in records]
    assert kinds[0] == "audit.logging_started" and kinds[-1] == "audit.logging_stopped"
    assert {"call.started", "decision", "request", "call.ended"} <= set(kinds)
    subject_hash = KeyStore(tmp_path / "data", env={}).subject_hash(SUBJECT)
    (decision,) = of_kind(records, "decision")
    assert decision["call"] == "call-a"
    assert decision["data"]["rule"] == "PII-CARD" and decision["data"]["counts"] == {"CREDIT_CARD": 1}
    assert decision["data"]["subject"] == subject_hash and decision["data"]["policy"] == {
        "pack": "sha256:abc123"
    }
    (request,) = of_kind(records, "request")
    assert request["data"]["status"] == 200 and request["data"]["route"] == "openai"
    assert request["data"]["subject"] == subject_hash
    raw = b"".join(path.read_bytes() for path in audit_file(tmp_path).parent.glob("audit.sqlite3*"))
    assert SUBJECT.encode() not in raw and b"4111" not in raw and b"my card" not in raw
    await verify_file(tmp_path)


async def test_a_response_completes_only_once_its_record_is_committed(
    tmp_path: Path, make_proxy: ProxyFactory, openai_upstream: RunningApp
) -> None:
    proxy = await make_proxy(
        {"openai": openai_upstream.url}, audit={"store_timeout_seconds": 30, "durable_timeout_seconds": 60}
    )
    async with aiohttp.ClientSession() as client:
        with SqliteLock(audit_file(tmp_path)):
            pending = asyncio.create_task(chat(client, proxy.url, "held-call"))
            await asyncio.sleep(0.5)
            assert not pending.done(), "the response finished while its audit record could not be written"
        assert await pending == 200
        requests = of_kind(sqlite_records(audit_file(tmp_path)), "request")
        assert [record["call"] for record in requests] == ["held-call"]


async def test_a_store_outage_shows_in_readyz_and_metrics_while_traffic_continues(
    tmp_path: Path, make_proxy: ProxyFactory, openai_upstream: RunningApp
) -> None:
    proxy = await make_proxy({"openai": openai_upstream.url}, audit={"store_timeout_seconds": 0.2})
    async with aiohttp.ClientSession() as client:

        async def ready_status() -> int:
            async with client.get(f"{proxy.url}/_voiceguard/readyz") as response:
                return response.status

        with SqliteLock(audit_file(tmp_path)):
            assert await chat(client, proxy.url, "during-outage-1") == 200
            await eventually(lambda: _is(ready_status(), 503))
            async with client.get(f"{proxy.url}/_voiceguard/readyz") as response:
                problems = (await response.json())["problems"]
            assert "audit store unavailable" in problems["audit"]
            assert await chat(client, proxy.url, "during-outage-2") == 200
            async with client.get(f"{proxy.url}/_voiceguard/metrics") as response:
                text = await response.text()
            assert metric(text, "voiceguard_audit_store_up") == 0
            assert metric(text, "voiceguard_audit_store_errors_total") >= 1
        await eventually(lambda: _is(ready_status(), 200))
        assert await chat(client, proxy.url, "after-outage") == 200
    await proxy.close()
    calls = [record["call"] for record in of_kind(sqlite_records(audit_file(tmp_path)), "request")]
    assert calls == ["during-outage-1", "during-outage-2", "after-outage"]
    await verify_file(tmp_path)


async def test_fail_closed_refuses_traffic_with_503_while_the_store_is_down(
    tmp_path: Path, make_proxy: ProxyFactory, openai_upstream: RunningApp
) -> None:
    proxy = await make_proxy(
        {"openai": openai_upstream.url},
        audit={"fail_closed": True, "store_timeout_seconds": 0.2, "durable_timeout_seconds": 0.5},
    )
    async with aiohttp.ClientSession() as client:
        with SqliteLock(audit_file(tmp_path)):
            await chat(client, proxy.url, "first")
            await eventually(lambda: _is(chat(client, proxy.url, "probe"), 503))
            async with client.post(
                f"{proxy.url}/openai/v1/chat/completions", json={}, headers={}
            ) as response:
                assert response.status == 503
                assert (await response.json())["error"]["type"] == "audit_unavailable"
        await eventually(lambda: _is(chat(client, proxy.url, "after"), 200))


async def test_records_beyond_the_queue_bound_are_dropped_counted_and_the_gap_is_recorded(
    tmp_path: Path, make_proxy: ProxyFactory, openai_upstream: RunningApp
) -> None:
    proxy = await make_proxy(
        {"openai": openai_upstream.url}, audit={"queue_max_records": 3, "store_timeout_seconds": 0.2}
    )
    async with aiohttp.ClientSession() as client:
        with SqliteLock(audit_file(tmp_path)):
            for n in range(5):
                assert await chat(client, proxy.url, f"call-{n}") == 200

        async def metrics() -> str:
            async with client.get(f"{proxy.url}/_voiceguard/metrics") as response:
                return await response.text()

        await eventually(lambda: _is(_queue_depth(metrics()), 0))
        dropped = metric(await metrics(), "voiceguard_audit_records_dropped_total")
        assert dropped > 0
    await proxy.close()
    gaps = of_kind(sqlite_records(audit_file(tmp_path)), "audit.records_dropped")
    assert gaps[0]["data"]["count"] == dropped, (
        "the first gap record accounts for every record dropped so far"
    )
    await verify_file(tmp_path)


async def test_runtime_audit_append_is_durable_and_stores_only_the_subject_hash(
    tmp_path: Path, proxy: RunningServer
) -> None:
    audit = proxy.runtime.audit
    await audit.append(
        "consent.granted", {"purpose": "voiceprint", "notice": "v3"}, subject=SUBJECT, call_id="c-1"
    )
    (consent,) = of_kind(sqlite_records(audit_file(tmp_path)), "consent.granted")
    assert consent["call"] == "c-1" and consent["data"]["purpose"] == "voiceprint"
    assert consent["data"]["subject"] == KeyStore(tmp_path / "data", env={}).subject_hash(SUBJECT)
    with pytest.raises(BadRecord):
        await audit.append("consent.granted", {"score": 0.5})
    with pytest.raises(BadRecord):
        await audit.append("consent.granted", {"subject": SUBJECT})
    with pytest.raises(BadRecord):
        await audit.append("Consent Granted", {})


async def test_a_websocket_session_is_one_request_record_with_its_message_counts(
    tmp_path: Path, proxy: RunningServer
) -> None:
    headers = {"Authorization": "Token sk-test", "X-VoiceGuard-Call-Id": "ws-1"}
    url = f"{proxy.url}/deepgram/v1/listen"
    async with aiohttp.ClientSession() as client, client.ws_connect(url, headers=headers) as ws:
        await ws.send_bytes(b"\x00\x01" * 800)
        await ws.send_str('{"type": "CloseStream"}')
        async for _ in ws:
            pass
    await proxy.close()
    (request,) = of_kind(sqlite_records(audit_file(tmp_path)), "request")
    assert request["call"] == "ws-1" and request["data"]["transport"] == "websocket"
    assert request["data"]["messages_in"] == 2


async def test_audit_off_records_nothing_and_append_is_a_no_op(
    tmp_path: Path, make_proxy: ProxyFactory, openai_upstream: RunningApp
) -> None:
    proxy = await make_proxy({"openai": openai_upstream.url}, audit={"store": "off"})
    async with aiohttp.ClientSession() as client:
        assert await chat(client, proxy.url) == 200
    await proxy.runtime.audit.append("consent.granted", {})
    assert not audit_file(tmp_path).exists()


async def _queue_depth(text: Awaitable[str]) -> float:
    return metric(await text, "voiceguard_audit_queue_depth")


async def _is(value: object, expected: object) -> bool:
    return await value == expected  # type: ignore[misc]
