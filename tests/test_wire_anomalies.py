"""A vendor message that breaks its own protocol is forwarded untouched and counted on /metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from tests.conftest import ProxyFactory
from voiceguard.simulator import RunningApp, start_app

BROKEN_STREAM = (
    b'event: message_start\ndata: {"type":"message_start","message":{"id":"m","model":"x"}}\n\n'
    b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"te\n\n'
    b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
)


@pytest.fixture
async def broken_upstream() -> AsyncIterator[RunningApp]:
    async def messages(request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(BROKEN_STREAM)
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_post("/v1/messages", messages)
    running = await start_app(app)
    yield running
    await running.close()


async def test_a_broken_stream_reaches_the_client_byte_for_byte_and_is_counted(
    make_proxy: ProxyFactory, broken_upstream: RunningApp
) -> None:
    proxy = await make_proxy({"anthropic": broken_upstream.url})
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{proxy.url}/anthropic/v1/messages", json={"stream": True, "max_tokens": 5, "messages": []}
        ) as response:
            body = await response.read()
        async with session.get(f"{proxy.url}/_voiceguard/metrics") as metrics:
            text = await metrics.text()
    assert body == BROKEN_STREAM
    [line] = [line for line in text.splitlines() if line.startswith("voiceguard_wire_anomalies")]
    assert 'voiceguard_anomaly_kind="bad_json"' in line and 'voiceguard_route="anthropic"' in line
    assert line.endswith(" 1.0")
