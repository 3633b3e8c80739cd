"""Every input is bounded: header size and count, calls per client, WebSockets, request and message rates.

Each limit answers with the contract's error (JSON with a fitting status, or a WebSocket close code), is
recorded as the exchange's outcome, and leaves other clients and calls unaffected.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.conftest import ProxyFactory
from tests.scripted import Observations, scripted_app
from voiceguard.records import ExchangeFinished
from voiceguard.server import RunningServer
from voiceguard.simulator import RunningApp, start_app
from voiceguard.testing import RecordingSink


@pytest.fixture
def seen() -> Observations:
    return Observations()


@pytest.fixture
async def upstream(seen: Observations) -> AsyncIterator[RunningApp]:
    running = await start_app(scripted_app(seen))
    yield running
    await running.close()


async def _raw(proxy: RunningServer, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    writer.write(request)
    await writer.drain()
    try:
        return await asyncio.wait_for(reader.read(65536), 10)
    finally:
        writer.close()


def _outcomes(recording: RecordingSink) -> list[tuple[int | None, str]]:
    return [(r.exchange.status, r.exchange.outcome) for r in recording.of(ExchangeFinished)]


async def test_an_oversized_header_is_431_json_and_never_quoted(
    make_proxy: ProxyFactory, upstream: RunningApp
) -> None:
    proxy = await make_proxy({"up": upstream.url}, limits={"max_header_bytes": 2048})
    answer = await _raw(
        proxy,
        b"GET /up/ok HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk-test" + b"0" * 4096 + b"\r\n\r\n",
    )
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 431") or head.startswith(b"HTTP/1.1 431")
    assert b"application/json" in head
    assert b'"type":"request_header_too_large"' in body
    assert b"sk-test" not in answer and b"0000" not in body


async def test_an_oversized_request_line_is_431_and_never_quoted(
    make_proxy: ProxyFactory, upstream: RunningApp
) -> None:
    proxy = await make_proxy({"up": upstream.url}, limits={"max_header_bytes": 2048})
    answer = await _raw(proxy, b"GET /up/ok?key=sk-test" + b"A" * 4096 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert b" 431 " in answer.split(b"\r\n", 1)[0]
    assert b"sk-test" not in answer


async def test_too_many_headers_are_refused_without_quoting_them(
    make_proxy: ProxyFactory, upstream: RunningApp
) -> None:
    proxy = await make_proxy({"up": upstream.url}, limits={"max_headers": 16})
    headers = b"".join(b"X-Pad-%d: sk-test\r\n" % index for index in range(40))
    answer = await _raw(proxy, b"GET /up/ok HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n")
    status_line, _, rest = answer.partition(b"\r\n")
    assert int(status_line.split()[1]) in (400, 431)
    assert b'"error"' in rest and b"sk-test" not in answer


async def test_a_call_sending_requests_too_fast_gets_429_while_other_calls_pass(
    make_proxy: ProxyFactory, upstream: RunningApp, recording: RecordingSink
) -> None:
    proxy = await make_proxy(
        {"up": upstream.url}, limits={"call_requests_per_second": 1, "call_request_burst": 3}
    )
    async with aiohttp.ClientSession() as client:
        statuses = []
        for _ in range(5):
            async with client.get(f"{proxy.url}/up/ok", headers={"X-VoiceGuard-Call-Id": "fast"}) as r:
                statuses.append(r.status)
                if r.status == 429:
                    assert int(r.headers["Retry-After"]) >= 1
                    assert (await r.json())["error"]["type"] == "call_rate_limited"
        async with client.get(f"{proxy.url}/up/ok", headers={"X-VoiceGuard-Call-Id": "calm"}) as r:
            assert r.status == 200
    assert statuses[:3] == [200, 200, 200]
    assert 429 in statuses[3:]
    assert (429, "call_rate_limited") in _outcomes(recording)


async def test_a_client_holding_too_many_calls_gets_429_until_one_ends(
    make_proxy: ProxyFactory, upstream: RunningApp, recording: RecordingSink
) -> None:
    proxy = await make_proxy({"up": upstream.url}, limits={"max_calls_per_client": 2})
    async with aiohttp.ClientSession() as client:
        streams = [
            await client.get(f"{proxy.url}/up/stream", headers={"X-VoiceGuard-Call-Id": f"open-{n}"})
            for n in range(2)
        ]
        async with client.get(f"{proxy.url}/up/ok", headers={"X-VoiceGuard-Call-Id": "third"}) as refused:
            assert refused.status == 429
            assert (await refused.json())["error"]["type"] == "too_many_calls_from_client"
        # another exchange of a call the client already holds is not a new call
        async with client.get(f"{proxy.url}/up/ok", headers={"X-VoiceGuard-Call-Id": "open-0"}) as joined:
            assert joined.status == 200
        streams[0].close()
        await asyncio.sleep(0.1)
        async with client.get(f"{proxy.url}/up/ok", headers={"X-VoiceGuard-Call-Id": "third"}) as admitted:
            assert admitted.status == 200
        for stream in streams[1:]:
            stream.close()
    assert (429, "too_many_calls_from_client") in _outcomes(recording)
    await asyncio.sleep(0.1)
    assert proxy.runtime.admission.clients() == 0


async def test_behind_a_trusted_proxy_clients_are_told_apart_by_the_forwarding_header(
    make_proxy: ProxyFactory, upstream: RunningApp
) -> None:
    proxy = await make_proxy(
        {"up": upstream.url},
        limits={"max_calls_per_client": 1, "client_address_header": "X-Forwarded-For"},
    )
    async with aiohttp.ClientSession() as client:
        held = await client.get(
            f"{proxy.url}/up/stream", headers={"X-Forwarded-For": "198.51.100.7, 10.0.0.1"}
        )
        async with client.get(f"{proxy.url}/up/ok", headers={"X-Forwarded-For": "10.0.0.2"}) as other:
            assert other.status == 200
        async with client.get(f"{proxy.url}/up/ok", headers={"X-Forwarded-For": "10.0.0.1"}) as same:
            assert same.status == 429
        held.close()


async def test_websockets_past_the_process_limit_are_refused_with_503(
    make_proxy: ProxyFactory, upstream: RunningApp, recording: RecordingSink
) -> None:
    proxy = await make_proxy({"up": upstream.url}, limits={"max_websockets": 1})
    async with aiohttp.ClientSession() as client, client.ws_connect(f"{proxy.url}/up/ws/echo") as first:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await client.ws_connect(f"{proxy.url}/up/ws/echo")
        assert refused.value.status == 503
        await first.send_str("still served")
        assert (await first.receive()).data == "still served"
    assert (503, "too_many_websockets") in _outcomes(recording)


async def test_a_websocket_client_sending_too_fast_is_closed_with_1008(
    make_proxy: ProxyFactory, upstream: RunningApp, seen: Observations, recording: RecordingSink
) -> None:
    proxy = await make_proxy(
        {"up": upstream.url}, limits={"call_ws_messages_per_second": 1, "call_ws_message_burst": 5}
    )
    async with aiohttp.ClientSession() as client:
        ws = await client.ws_connect(f"{proxy.url}/up/ws/echo?tag=flood")
        for index in range(20):
            if ws.closed:
                break
            await ws.send_str(f"frame {index}")
        while (await ws.receive()).type is aiohttp.WSMsgType.TEXT:
            pass
        assert ws.close_code == 1008
    assert await asyncio.to_thread(seen.wait, "ws_closed", "flood") == 1001
    await asyncio.sleep(0.05)
    [finished] = recording.of(ExchangeFinished)
    assert finished.exchange.outcome == "rate_limited"
    assert finished.exchange.messages_from_client == 5
