"""Pass-through HTTP is faithful, streams, cancels, pools, correlates and fails with the contract's errors."""

from __future__ import annotations

import asyncio
import io
import socket
from collections.abc import AsyncIterator

import aiohttp
import orjson
import pytest
from aiohttp import web

from tests.conftest import ProxyFactory
from voiceguard.records import CallStarted, ExchangeFinished
from voiceguard.simulator import RunningApp, start_app
from voiceguard.testing import RecordingSink


class Upstream:
    """A plain upstream whose handlers the tests script, recording what arrived."""

    def __init__(self) -> None:
        self.app = web.Application(client_max_size=64 * 1024 * 1024)
        self.requests: list[web.Request] = []
        self.bodies: list[bytes] = []
        self.peers: list[object] = []
        self.cancelled = asyncio.Event()
        self.release = asyncio.Event()


@pytest.fixture
async def upstream() -> AsyncIterator[tuple[Upstream, RunningApp]]:
    state = Upstream()

    async def echo(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        state.requests.append(request)
        state.bodies.append(body)
        state.peers.append(request.transport.get_extra_info("peername") if request.transport else None)
        return web.Response(
            status=int(request.query.get("status", "200")),
            body=body or b"no body",
            headers={"X-Custom": "kept", "Content-Type": "application/x-test", "Connection": "keep-alive"},
        )

    async def held_stream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(b"data: first\n\n")
        try:
            await asyncio.wait_for(state.release.wait(), 10)
        except asyncio.CancelledError:
            state.cancelled.set()
            raise
        await response.write(b"data: last\n\n")
        await response.write_eof()
        return response

    async def slow(request: web.Request) -> web.Response:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            state.cancelled.set()
            raise
        return web.Response(text="too late")

    async def reset_midstream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(b"data: partial\n\n")
        assert request.transport is not None
        request.transport.abort()
        return response

    state.app.router.add_route("*", "/echo/{tail:.*}", echo)
    state.app.router.add_get("/held", held_stream)
    state.app.router.add_get("/slow", slow)
    state.app.router.add_get("/reset", reset_midstream)
    running = await start_app(state.app)
    yield state, running
    await running.close()


async def test_status_headers_and_body_arrive_unchanged(
    make_proxy: ProxyFactory, upstream: tuple[Upstream, RunningApp]
) -> None:
    state, running = upstream
    proxy = await make_proxy({"plain": running.url})
    body = bytes(range(256)) * 64
    async with (
        aiohttp.ClientSession() as client,
        client.post(
            f"{proxy.url}/plain/echo/a%2Fb?status=418&x=1&x=2",
            data=body,
            headers={"Authorization": "Bearer secret-key"},
        ) as response,
    ):
        received = await response.read()
        assert response.status == 418
        assert response.headers["X-Custom"] == "kept"
        assert response.headers["Content-Type"] == "application/x-test"
    assert received == body
    forwarded = state.requests[-1]
    assert forwarded.rel_url.raw_path == "/echo/a%2Fb"
    assert forwarded.query.getall("x") == ["1", "2"]
    assert forwarded.headers["Authorization"] == "Bearer secret-key"
    assert state.bodies[-1] == body


async def test_correlation_is_read_and_removed_before_forwarding(
    make_proxy: ProxyFactory, upstream: tuple[Upstream, RunningApp], recording: RecordingSink
) -> None:
    state, running = upstream
    proxy = await make_proxy({"plain": running.url})
    async with aiohttp.ClientSession() as client:
        for _ in range(2):
            async with client.get(
                f"{proxy.url}/plain/echo/x?vg_subject=%2B13125550100&keep=1",
                headers={"X-VoiceGuard-Call-Id": "call-42", "X-VoiceGuard-Jurisdiction": "us-il"},
            ) as response:
                assert response.status == 200
    forwarded = state.requests[-1]
    assert dict(forwarded.query) == {"keep": "1"}
    assert not [key for key in forwarded.headers if key.lower().startswith("x-voiceguard")]
    started = recording.of(CallStarted)
    assert len(started) == 1
    call = started[0].call
    assert (call.id, call.jurisdiction, call.subject) == ("call-42", "US-IL", "+13125550100")
    assert {f.exchange.call.id for f in recording.of(ExchangeFinished)} == {"call-42"}


async def test_traceparent_names_the_call_when_no_call_id_is_given(
    make_proxy: ProxyFactory, upstream: tuple[Upstream, RunningApp], recording: RecordingSink
) -> None:
    _state, running = upstream
    proxy = await make_proxy({"plain": running.url})
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    async with (
        aiohttp.ClientSession() as client,
        client.get(
            f"{proxy.url}/plain/echo/x", headers={"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"}
        ) as response,
    ):
        assert response.status == 200
    assert recording.of(CallStarted)[0].call.id == trace_id


async def test_malformed_correlation_is_refused_with_400(
    make_proxy: ProxyFactory, upstream: tuple[Upstream, RunningApp]
) -> None:
    _state, running = upstream
    proxy = await make_proxy({"plain": running.url})
    async with (
        aiohttp.ClientSession() as client,
        client.get(
            f"{proxy.url}/plain/echo/x", headers={"X-VoiceGuard-Jurisdiction": "Illinois please"}
        ) as response,
    ):
        assert response.status == 400
        error = (await response.json())["error"]
    assert error["type"] == "bad_request" and "Illinois" not in error["message"]


async def test_stream_reaches_client_before_upstream_sends_the_last_chunk(
    make_proxy: ProxyFactory, upstream: tuple[Upstream, RunningApp]
) -> None:
    state, running = upstream
    proxy = await make_proxy({"plain": running.url})
    async with aiohttp.ClientSession() as client, client.get(f"{proxy.url}/plain/held") as response:
        first = await asyncio.wait_for(response.content.readuntil(b"\n\n"), 5)
        assert first == b"data: first\n\n"
        assert not state.release.is_set()
        state.release.set()
        rest = await response.read()
    assert rest == b"data: last\n\n"


async def test_client_disconnect_cancels_the_upstream_request(
    make_proxy: ProxyFactory, upstream: tuple[Upstream, RunningApp], recording: RecordingSink
) -> None:
    state, running = upstream
    proxy = await make_proxy({"plain": running.url})
    async with aiohttp.ClientSession() as client:
        response = await client.get(f"{proxy.url}/plain/held")
        await response.content.readuntil(b"\n\n")
        response.close()
    await asyncio.wait_for(state.cancelled.wait(), 5)
    for _ in range(50):
        if recording.of(ExchangeFinished):
            break
        await asyncio.sleep(0.02)
    assert recording.of(ExchangeFinished)[0].exchange.outcome == "client_disconnected"


async def test_upstream_connections_are_pooled(
    make_proxy: ProxyFactory, upstream: tuple[Upstream, RunningApp]
) -> None:
    state, running = upstream
    proxy = await make_proxy({"plain": running.url})
    async with aiohttp.ClientSession() as client:
        for _ in range(5):
            async with client.get(f"{proxy.url}/plain/echo/x") as response:
                await response.read()
    assert len(set(state.peers)) == 1


async def test_unknown_route_is_404(make_proxy: ProxyFactory, upstream: tuple[Upstream, RunningApp]) -> None:
    _state, running = upstream
    proxy = await make_proxy({"plain": running.url})
    async with aiohttp.ClientSession() as client, client.get(f"{proxy.url}/nope/v1/models") as response:
        assert response.status == 404
        assert (await response.json())["error"]["type"] == "unknown_route"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_unreachable_upstream_is_502(make_proxy: ProxyFactory) -> None:
    proxy = await make_proxy({"plain": f"http://127.0.0.1:{_free_port()}"})
    async with aiohttp.ClientSession() as client, client.get(f"{proxy.url}/plain/anything") as response:
        assert response.status == 502
        assert (await response.json())["error"]["type"] == "upstream_unreachable"


async def test_upstream_timeout_is_504_and_cancels_upstream(
    make_proxy: ProxyFactory, upstream: tuple[Upstream, RunningApp]
) -> None:
    state, running = upstream
    proxy = await make_proxy({"plain": running.url}, timeouts={"first_byte": 0.2})
    async with aiohttp.ClientSession() as client, client.get(f"{proxy.url}/plain/slow") as response:
        assert response.status == 504
        assert (await response.json())["error"] == {
            "type": "upstream_timeout",
            "message": "the upstream did not answer in time",
            "policy": None,
        }
    await asyncio.wait_for(state.cancelled.wait(), 5)


async def test_upstream_reset_midstream_truncates_the_client_response(
    make_proxy: ProxyFactory, upstream: tuple[Upstream, RunningApp], recording: RecordingSink
) -> None:
    _state, running = upstream
    proxy = await make_proxy({"plain": running.url})
    async with aiohttp.ClientSession() as client, client.get(f"{proxy.url}/plain/reset") as response:
        with pytest.raises(aiohttp.ClientPayloadError):
            await response.read()
    await asyncio.sleep(0.05)
    assert recording.of(ExchangeFinished)[0].exchange.outcome == "upstream_reset"


@pytest.mark.parametrize("chunked", [False, True])
async def test_oversized_body_is_413(
    make_proxy: ProxyFactory, upstream: tuple[Upstream, RunningApp], chunked: bool
) -> None:
    state, running = upstream
    proxy = await make_proxy({"plain": running.url}, limits={"max_request_body_bytes": 2_000_000})
    payload = b"x" * 3_000_000

    async def body() -> AsyncIterator[bytes]:
        for offset in range(0, len(payload), 65536):
            yield payload[offset : offset + 65536]

    async with aiohttp.ClientSession() as client:
        try:
            async with client.post(
                f"{proxy.url}/plain/echo/x", data=body() if chunked else io.BytesIO(payload)
            ) as response:
                assert response.status == 413
                assert (await response.json())["error"]["type"] == "request_too_large"
        except aiohttp.ClientOSError:
            assert chunked  # the proxy may cut a chunked upload off before the client finished sending
    assert all(len(b) < len(payload) for b in state.bodies)


async def test_admin_health_readiness_and_metrics(
    make_proxy: ProxyFactory, upstream: tuple[Upstream, RunningApp]
) -> None:
    _state, running = upstream
    proxy = await make_proxy({"plain": running.url})
    async with aiohttp.ClientSession() as client:
        async with client.get(f"{proxy.url}/plain/echo/x") as response:
            await response.read()
        async with client.get(f"{proxy.url}/_voiceguard/healthz") as response:
            assert orjson.loads(await response.read()) == {"status": "ok"}
        async with client.get(f"{proxy.url}/_voiceguard/readyz") as response:
            assert response.status == 200
        proxy.runtime.readiness.set_problem("audit", "store unreachable")
        async with client.get(f"{proxy.url}/_voiceguard/readyz") as response:
            assert response.status == 503
            assert (await response.json())["problems"] == {"audit": "store unreachable"}
        async with client.get(f"{proxy.url}/_voiceguard/metrics") as response:
            text = await response.text()
    assert "voiceguard_requests_total{" in text and 'voiceguard_route="plain"' in text
    assert "voiceguard_request_duration_seconds_bucket" in text
