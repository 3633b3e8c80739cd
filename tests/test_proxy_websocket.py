"""WebSocket relay: frames byte for byte both ways, pings, close codes, subprotocols and refusals."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import websockets
from aiohttp import WSMsgType, web
from websockets.exceptions import ConnectionClosed

from tests.conftest import ProxyFactory
from voiceguard.records import ExchangeFinished
from voiceguard.server import RunningServer
from voiceguard.simulator import RunningApp, start_app
from voiceguard.testing import RecordingSink


class WsUpstream:
    def __init__(self) -> None:
        self.received: list[tuple[WSMsgType, bytes | str]] = []
        self.close_code: int | None = None
        self.headers: dict[str, str] = {}
        self.query: dict[str, str] = {}
        self.closed = asyncio.Event()


@pytest.fixture
async def ws_upstream() -> AsyncIterator[tuple[WsUpstream, RunningApp]]:
    state = WsUpstream()

    async def handler(request: web.Request) -> web.StreamResponse:
        state.headers = dict(request.headers)
        state.query = dict(request.query)
        ws = web.WebSocketResponse(protocols=("realtime",), autoping=False)
        await ws.prepare(request)
        async for message in ws:
            if message.type is WSMsgType.PING:
                await ws.pong(message.data)
                continue
            state.received.append((message.type, message.data))
            if message.type is WSMsgType.TEXT:
                if message.data == "close-please":
                    await ws.close(code=4001, message=b"upstream says bye")
                    break
                await ws.send_str(message.data)
            elif message.type is WSMsgType.BINARY:
                await ws.send_bytes(message.data[::-1])
        state.close_code = ws.close_code
        state.closed.set()
        return ws

    async def refuse(request: web.Request) -> web.Response:
        return web.Response(status=403, text="forbidden")

    app = web.Application()
    app.router.add_get("/v1/socket", handler)
    app.router.add_get("/v1/refuse", refuse)
    running = await start_app(app)
    yield state, running
    await running.close()


async def _proxy(make_proxy: ProxyFactory, running: RunningApp) -> RunningServer:
    return await make_proxy({"sock": running.url})


async def test_text_and_binary_frames_pass_both_ways_unchanged(
    make_proxy: ProxyFactory, ws_upstream: tuple[WsUpstream, RunningApp]
) -> None:
    state, running = ws_upstream
    proxy = await _proxy(make_proxy, running)
    url = f"ws://{proxy.host}:{proxy.port}/sock/v1/socket?model=x&vg_call_id=c1"
    text = '{"type": "session.update", "session": {"instructions": "Be brief. \\u00e9"}}'
    async with websockets.connect(
        url, subprotocols=["realtime"], additional_headers={"Authorization": "Bearer k"}
    ) as ws:  # type: ignore[list-item]
        assert ws.subprotocol == "realtime"
        await ws.send(text)
        assert await ws.recv() == text
        await ws.send(b"\x00\x01\x02audio")
        assert await ws.recv() == b"oidua\x02\x01\x00"
    await asyncio.wait_for(state.closed.wait(), 5)
    assert state.received == [(WSMsgType.TEXT, text), (WSMsgType.BINARY, b"\x00\x01\x02audio")]
    assert state.query == {"model": "x"}
    assert state.headers["Authorization"] == "Bearer k"
    assert state.close_code == 1000


async def test_pings_are_relayed_to_the_upstream(
    make_proxy: ProxyFactory, ws_upstream: tuple[WsUpstream, RunningApp]
) -> None:
    _state, running = ws_upstream
    proxy = await _proxy(make_proxy, running)
    async with websockets.connect(f"ws://{proxy.host}:{proxy.port}/sock/v1/socket") as ws:
        pong = await ws.ping(b"are-you-there")
        latency = await asyncio.wait_for(pong, 5)
    assert latency >= 0


async def test_upstream_close_code_and_reason_reach_the_client(
    make_proxy: ProxyFactory, ws_upstream: tuple[WsUpstream, RunningApp]
) -> None:
    _state, running = ws_upstream
    proxy = await _proxy(make_proxy, running)
    async with websockets.connect(f"ws://{proxy.host}:{proxy.port}/sock/v1/socket") as ws:
        await ws.send("close-please")
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4001, "upstream says bye")


async def test_client_close_code_reaches_the_upstream(
    make_proxy: ProxyFactory, ws_upstream: tuple[WsUpstream, RunningApp], recording: RecordingSink
) -> None:
    state, running = ws_upstream
    proxy = await _proxy(make_proxy, running)
    async with websockets.connect(f"ws://{proxy.host}:{proxy.port}/sock/v1/socket") as ws:
        await ws.send("hello")
        await ws.recv()
        await ws.close(code=4002, reason="caller hung up")
    await asyncio.wait_for(state.closed.wait(), 5)
    assert state.close_code == 4002
    await asyncio.sleep(0.05)
    finished = recording.of(ExchangeFinished)[0].exchange
    assert (finished.transport, finished.messages_from_client, finished.messages_to_client) == (
        "websocket",
        1,
        1,
    )


async def test_upstream_refusal_is_an_http_error_not_an_open_socket(
    make_proxy: ProxyFactory, ws_upstream: tuple[WsUpstream, RunningApp]
) -> None:
    _state, running = ws_upstream
    proxy = await _proxy(make_proxy, running)
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with websockets.connect(f"ws://{proxy.host}:{proxy.port}/sock/v1/refuse"):
            pass
    assert refused.value.response.status_code == 403


async def test_oversized_frame_closes_with_1009(
    make_proxy: ProxyFactory, ws_upstream: tuple[WsUpstream, RunningApp]
) -> None:
    state, running = ws_upstream
    proxy = await make_proxy({"sock": running.url}, limits={"max_ws_message_bytes": 1024})
    async with websockets.connect(f"ws://{proxy.host}:{proxy.port}/sock/v1/socket") as ws:
        await ws.send("x" * 4096)
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    assert not state.received


async def test_abnormal_upstream_loss_closes_the_client_with_1014(make_proxy: ProxyFactory) -> None:
    async def vanish(request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.receive()
        assert request.transport is not None
        request.transport.abort()
        return ws

    app = web.Application()
    app.router.add_get("/v1/vanish", vanish)
    running = await start_app(app)
    try:
        proxy = await make_proxy({"sock": running.url})
        async with websockets.connect(f"ws://{proxy.host}:{proxy.port}/sock/v1/vanish") as ws:
            await ws.send("hi")
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1014
    finally:
        await running.close()
