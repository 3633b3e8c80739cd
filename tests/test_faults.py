"""Upstream and client faults against a real ``voiceguard serve`` process.

Each test breaks one thing — the upstream refuses, stalls at connect, first byte or mid-stream, resets, fails
with 5xx, drops a WebSocket; the client vanishes mid-upload or mid-stream — and checks the three promises:
the client gets the contract's answer, the outcome is recorded (the access log line names it), and the call's
state is freed (``voiceguard_calls_active`` back to 0) while the next client is served normally.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.processes import ServeProcess, running
from tests.scripted import Observations, ThreadedApp, blackhole, closed_port, scripted_app

pytestmark = pytest.mark.slow

TIMEOUTS = {
    "connect": 0.5,
    "first_byte": 1.5,
    "idle": 1.0,
    "websocket_handshake": 1.0,
    "websocket_idle": 1.5,
    "client_idle": 1.0,
}


@pytest.fixture(scope="module")
def seen() -> Observations:
    return Observations()


@pytest.fixture(scope="module")
def vg(seen: Observations, tmp_path_factory: pytest.TempPathFactory, log_dir: Path) -> Iterator[ServeProcess]:
    upstream = ThreadedApp(scripted_app(seen))
    url = upstream.start()
    workdir = tmp_path_factory.mktemp("faults")
    try:
        with closed_port() as refused, blackhole() as stalled:
            config: dict[str, Any] = {
                "data_dir": str(workdir / "data"),
                "routes": {
                    "up": {"upstream": url},
                    "closed": {"upstream": f"http://127.0.0.1:{refused}"},
                    "blackhole": {"upstream": f"http://127.0.0.1:{stalled}"},
                },
                "timeouts": TIMEOUTS,
                "limits": {"call_idle_seconds": 0.2},
            }
            with running(config, workdir=workdir, log_dir=log_dir, name="faults") as served:
                yield served
    finally:
        upstream.stop()


@pytest.fixture
def call_id() -> str:
    return f"fault-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as session:
        yield session


def _headers(call_id: str) -> dict[str, str]:
    return {"X-VoiceGuard-Call-Id": call_id, "X-Test-Tag": call_id, "Authorization": "Bearer sk-test"}


async def _settled(vg: ServeProcess, client: aiohttp.ClientSession) -> None:
    """No call left open, and a fresh client is served normally."""
    await asyncio.to_thread(vg.wait_metric, "voiceguard_calls_active", 0.0)
    async with client.get(f"{vg.url}/up/ok") as response:
        assert response.status == 200
        assert await response.json() == {"ok": True}


async def _recorded(vg: ServeProcess, call_id: str) -> dict[str, Any]:
    return await asyncio.to_thread(vg.wait_request_logged, call_id)


async def _error_of(response: aiohttp.ClientResponse) -> str:
    body = await response.json()
    assert set(body["error"]) == {"type", "message", "policy"}
    return str(body["error"]["type"])


async def _refused(
    vg: ServeProcess, client: aiohttp.ClientSession, path: str, call_id: str, status: int, error_type: str
) -> None:
    """The contract's error answers the request, and the access log records the same outcome."""
    async with client.get(f"{vg.url}{path}", headers=_headers(call_id)) as response:
        assert response.status == status
        assert await _error_of(response) == error_type
    line = await _recorded(vg, call_id)
    assert (line["status"], line["outcome"], line["error_type"]) == (status, error_type, error_type)


async def _truncated(vg: ServeProcess, client: aiohttp.ClientSession, path: str, call_id: str) -> None:
    """The first event arrives, then the body breaks off: never mistaken for a complete response."""
    async with client.get(f"{vg.url}{path}", headers=_headers(call_id)) as response:
        assert response.status == 200
        assert await response.content.readuntil(b"\n\n") == b"data: first\n\n"
        with pytest.raises(aiohttp.ClientPayloadError):
            await response.read()


async def test_refused_upstream_is_502_recorded_and_freed(
    vg: ServeProcess, client: aiohttp.ClientSession, call_id: str
) -> None:
    await _refused(vg, client, "/closed/v1/x", call_id, 502, "upstream_unreachable")
    await _settled(vg, client)


async def test_a_connect_that_hangs_is_504_after_the_connect_timeout(
    vg: ServeProcess, client: aiohttp.ClientSession, call_id: str
) -> None:
    await _refused(vg, client, "/blackhole/v1/x", call_id, 504, "upstream_connect_timeout")
    await _settled(vg, client)


async def test_no_first_byte_is_504_and_the_upstream_request_is_cancelled(
    vg: ServeProcess, seen: Observations, client: aiohttp.ClientSession, call_id: str
) -> None:
    await _refused(vg, client, "/up/stall", call_id, 504, "upstream_timeout")
    await asyncio.to_thread(seen.wait, "cancelled", call_id)
    await _settled(vg, client)


async def test_a_reset_mid_stream_truncates_the_client_response(
    vg: ServeProcess, client: aiohttp.ClientSession, call_id: str
) -> None:
    await _truncated(vg, client, "/up/reset", call_id)
    assert (await _recorded(vg, call_id))["outcome"] == "upstream_reset"
    await _settled(vg, client)


async def test_an_idle_stream_is_cut_after_the_idle_timeout_and_the_upstream_cancelled(
    vg: ServeProcess, seen: Observations, client: aiohttp.ClientSession, call_id: str
) -> None:
    await _truncated(vg, client, "/up/stall-midstream", call_id)
    await asyncio.to_thread(seen.wait, "cancelled", call_id)
    assert (await _recorded(vg, call_id))["outcome"] == "upstream_timeout"
    await _settled(vg, client)


async def test_an_upstream_5xx_reaches_the_client_as_the_vendor_sent_it(
    vg: ServeProcess, client: aiohttp.ClientSession, call_id: str
) -> None:
    async with client.get(f"{vg.url}/up/status/503", headers=_headers(call_id)) as response:
        assert response.status == 503
        assert await response.json() == {"error": {"message": "vendor failure", "code": 503}}
    line = await _recorded(vg, call_id)
    assert (line["status"], line["error_type"]) == (503, "503")
    await _settled(vg, client)


async def test_an_upstream_websocket_lost_without_a_close_frame_closes_the_client_with_1014(
    vg: ServeProcess, client: aiohttp.ClientSession, call_id: str
) -> None:
    async with client.ws_connect(f"{vg.url}/up/ws/abnormal", headers=_headers(call_id)) as ws:
        await ws.send_str("hello")
        message = await ws.receive()
        assert message.type is aiohttp.WSMsgType.CLOSE
        assert ws.close_code == 1014
    line = await _recorded(vg, call_id)
    assert line["error_type"] == "upstream_closed_abnormally"
    await _settled(vg, client)


async def test_an_upstream_that_never_accepts_the_upgrade_is_504(
    vg: ServeProcess, seen: Observations, client: aiohttp.ClientSession, call_id: str
) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await client.ws_connect(f"{vg.url}/up/ws/hang", headers=_headers(call_id))
    assert refused.value.status == 504
    await asyncio.to_thread(seen.wait, "cancelled", call_id)
    line = await _recorded(vg, call_id)
    assert (line["status"], line["outcome"]) == (504, "upstream_timeout")
    await _settled(vg, client)


async def test_an_idle_websocket_is_closed_on_both_sides(
    vg: ServeProcess, seen: Observations, client: aiohttp.ClientSession, call_id: str
) -> None:
    async with client.ws_connect(f"{vg.url}/up/ws/silent", headers=_headers(call_id)) as ws:
        message = await ws.receive()
        assert message.type is aiohttp.WSMsgType.CLOSE
        assert ws.close_code == 1001
    upstream_saw = await asyncio.to_thread(seen.wait, "ws_closed", call_id)
    assert upstream_saw == ("CLOSE", 1001)
    line = await _recorded(vg, call_id)
    assert line["outcome"] == "idle_timeout"
    await _settled(vg, client)


async def _chunked_upload_head(
    vg: ServeProcess, call_id: str
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", vg.port)
    head = (
        "POST /up/upload HTTP/1.1\r\nHost: voiceguard\r\nTransfer-Encoding: chunked\r\n"
        f"Content-Type: audio/wav\r\nX-VoiceGuard-Call-Id: {call_id}\r\nX-Test-Tag: {call_id}\r\n\r\n"
    )
    writer.write(head.encode() + b"10000\r\n" + b"\0" * 0x10000 + b"\r\n")
    await writer.drain()
    return reader, writer


async def test_a_client_gone_mid_upload_aborts_the_upstream_request(
    vg: ServeProcess, seen: Observations, client: aiohttp.ClientSession, call_id: str
) -> None:
    _reader, writer = await _chunked_upload_head(vg, call_id)
    await asyncio.to_thread(seen.wait, "receiving", call_id)
    writer.transport.abort()
    await asyncio.to_thread(seen.wait, "upload_aborted", call_id)
    assert "upload_complete" not in seen.kinds(call_id)
    line = await _recorded(vg, call_id)
    assert line["outcome"] == "client_disconnected"
    await _settled(vg, client)


async def test_a_client_that_stalls_mid_upload_gets_408_and_the_upstream_request_is_aborted(
    vg: ServeProcess, seen: Observations, client: aiohttp.ClientSession, call_id: str
) -> None:
    reader, writer = await _chunked_upload_head(vg, call_id)
    try:
        status_line = await asyncio.wait_for(reader.readline(), 10)
        assert status_line.startswith(b"HTTP/1.1 408")
    finally:
        writer.close()
    await asyncio.to_thread(seen.wait, "upload_aborted", call_id)
    line = await _recorded(vg, call_id)
    assert (line["status"], line["outcome"]) == (408, "client_timeout")
    await _settled(vg, client)


async def test_a_client_gone_mid_stream_cancels_the_upstream_request(
    vg: ServeProcess, seen: Observations, client: aiohttp.ClientSession, call_id: str
) -> None:
    response = await client.get(f"{vg.url}/up/stream", headers=_headers(call_id))
    assert response.status == 200
    assert (await response.content.readuntil(b"\n\n")).startswith(b"data: tick")
    response.close()  # drops the connection, as a caller hanging up does
    await asyncio.to_thread(seen.wait, "cancelled", call_id)
    line = await _recorded(vg, call_id)
    assert line["outcome"] == "client_disconnected"
    await _settled(vg, client)
