"""voiceguard is never an open proxy, verifies upstream TLS, and says so loudly when it is exposed.

Open proxy: a second local server plays "another host"; every trick that could make voiceguard reach it
(absolute request URLs, ``//host`` paths, encoded slashes, dot segments, userinfo, Host and forwarding
headers, ``CONNECT``, upstream redirects for HTTP and WebSocket) is tried, and that server must see nothing.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from tests.conftest import ProxyFactory
from tests.processes import running
from tests.scripted import Observations, scripted_app
from tests.tls import self_signed
from voiceguard.records import ExchangeFinished
from voiceguard.server import RunningServer
from voiceguard.simulator import RunningApp, start_app
from voiceguard.testing import RecordingSink


class OtherHost:
    """A server voiceguard has no route to; anything reaching it is an open-proxy hole."""

    def __init__(self) -> None:
        self.hits: list[str] = []

    def app(self) -> web.Application:
        async def record(request: web.Request) -> web.Response:
            self.hits.append(f"{request.method} {request.path_qs}")
            return web.Response(text="other host")

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", record)
        return app


@pytest.fixture
async def other_host() -> AsyncIterator[tuple[OtherHost, RunningApp]]:
    host = OtherHost()
    running_app = await start_app(host.app())
    yield host, running_app
    await running_app.close()


@pytest.fixture
async def upstream() -> AsyncIterator[RunningApp]:
    running_app = await start_app(scripted_app(Observations()))
    yield running_app
    await running_app.close()


async def _raw(proxy: RunningServer, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    try:
        writer.write(request)
        await writer.drain()
        return await asyncio.wait_for(reader.read(65536), 10)
    finally:
        writer.close()


async def test_no_request_line_path_or_header_trick_reaches_another_host(
    make_proxy: ProxyFactory, upstream: RunningApp, other_host: tuple[OtherHost, RunningApp]
) -> None:
    host, other = other_host
    target = f"127.0.0.1:{other.port}"
    proxy = await make_proxy({"up": upstream.url})
    tricks = [
        f"GET http://{target}/x HTTP/1.1\r\nHost: {target}\r\n\r\n",
        f"GET http://{target}/up/ok HTTP/1.1\r\nHost: {target}\r\n\r\n",
        f"GET //{target}/x HTTP/1.1\r\nHost: x\r\n\r\n",
        f"GET /up//{target}/x HTTP/1.1\r\nHost: x\r\n\r\n",
        f"GET /up/%2F%2F{target}/x HTTP/1.1\r\nHost: x\r\n\r\n",
        f"GET /up/@{target}/x HTTP/1.1\r\nHost: x\r\n\r\n",
        f"GET /up/..%2F..%2F{target}/x HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /up/%2e%2e/%2e%2e/x HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /up/..\\..\\x HTTP/1.1\r\nHost: x\r\n\r\n",
        f"GET /{target}/x HTTP/1.1\r\nHost: x\r\n\r\n",
        f"GET /up/ok HTTP/1.1\r\nHost: {target}\r\nX-Forwarded-Host: {target}\r\n"
        f"X-Original-URL: http://{target}/x\r\nX-Rewrite-URL: http://{target}/x\r\n"
        f"Forwarded: host={target}\r\n\r\n",
        f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n",
        f"OPTIONS * HTTP/1.1\r\nHost: {target}\r\n\r\n",
    ]
    answers = [await _raw(proxy, trick.encode()) for trick in tricks]
    assert host.hits == []
    assert all(answer.startswith(b"HTTP/1.1 ") for answer in answers)
    # dot segments, however spelled, are refused before anything is forwarded
    for trick, answer in zip(tricks, answers, strict=True):
        if ".." in trick or "%2e%2e" in trick:
            assert answer.startswith(b"HTTP/1.1 400"), trick


async def test_an_upstream_redirect_to_another_host_is_never_followed(
    make_proxy: ProxyFactory, upstream: RunningApp, other_host: tuple[OtherHost, RunningApp]
) -> None:
    host, other = other_host
    proxy = await make_proxy({"up": upstream.url})
    elsewhere = f"{other.url}/stolen"
    async with (
        aiohttp.ClientSession() as client,
        client.get(f"{proxy.url}/up/redirect", params={"to": elsewhere}, allow_redirects=False) as response,
    ):
        assert response.status == 307
        assert response.headers["Location"] == elsewhere
    assert host.hits == []


async def test_a_websocket_upgrade_redirected_to_another_host_is_refused(
    make_proxy: ProxyFactory, upstream: RunningApp, other_host: tuple[OtherHost, RunningApp]
) -> None:
    host, other = other_host
    proxy = await make_proxy({"up": upstream.url})
    async with aiohttp.ClientSession() as client:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await client.ws_connect(f"{proxy.url}/up/redirect", params={"to": f"{other.url}/ws"})
    assert refused.value.status == 502
    assert host.hits == []


@pytest.fixture
async def https_upstream(tmp_path: Path) -> AsyncIterator[tuple[RunningApp, Path]]:
    cert, key = self_signed(tmp_path / "upstream-tls")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    runner = web.AppRunner(scripted_app(Observations()), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield RunningApp(runner, port), cert
    await runner.cleanup()


async def test_an_upstream_certificate_nobody_trusts_is_refused_with_502(
    make_proxy: ProxyFactory, https_upstream: tuple[RunningApp, Path], recording: RecordingSink
) -> None:
    app, _cert = https_upstream
    proxy = await make_proxy({"up": f"https://127.0.0.1:{app.port}"})
    async with aiohttp.ClientSession() as client:
        async with client.get(f"{proxy.url}/up/ok") as response:
            assert response.status == 502
            assert (await response.json())["error"]["type"] == "upstream_tls_error"
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await client.ws_connect(f"{proxy.url}/up/ws/echo")
        assert refused.value.status == 502
    errors = [r.exchange.error_type for r in recording.of(ExchangeFinished)]
    assert errors == ["upstream_tls_error", "upstream_tls_error"]


async def test_an_upstream_ca_named_in_config_is_trusted(
    make_proxy: ProxyFactory, https_upstream: tuple[RunningApp, Path]
) -> None:
    app, cert = https_upstream
    proxy = await make_proxy({"up": f"https://127.0.0.1:{app.port}"}, upstream_tls={"ca_file": str(cert)})
    async with aiohttp.ClientSession() as client:
        async with client.get(f"{proxy.url}/up/ok") as response:
            assert response.status == 200
        async with client.ws_connect(f"{proxy.url}/up/ws/echo") as ws:
            await ws.send_str("over tls")
            assert (await ws.receive()).data == "over tls"


async def test_ssl_cert_file_extends_the_trusted_store(
    make_proxy: ProxyFactory, https_upstream: tuple[RunningApp, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    app, cert = https_upstream
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    proxy = await make_proxy({"up": f"https://127.0.0.1:{app.port}"})
    async with aiohttp.ClientSession() as client, client.get(f"{proxy.url}/up/ok") as response:
        assert response.status == 200


@pytest.mark.slow
def test_an_exposed_listener_without_tls_is_announced_loudly(tmp_path: Path, log_dir: Path) -> None:
    config = {
        "data_dir": str(tmp_path / "data"),
        "listen": {"host": "0.0.0.0"},
        "admin": {"allow_remote": True},
    }
    with running(
        config, workdir=tmp_path, log_dir=log_dir, name="exposed", env={"VOICEGUARD_ADMIN_TOKEN": "short"}
    ) as served:
        findings = {
            line["event"]: line for line in served.log_lines() if line.get("level") in ("warning", "error")
        }
    assert findings["listening_without_tls"]["level"] == "warning"
    assert findings["admin_exposed_without_tls"]["level"] == "error"
    assert findings["admin_token_short"]["level"] == "warning"
    assert "short" not in served.log_path.read_text().replace("admin_token_short", "").replace("shorter", "")


@pytest.mark.slow
def test_a_loopback_listener_starts_without_exposure_warnings(tmp_path: Path, log_dir: Path) -> None:
    with running(
        {"data_dir": str(tmp_path / "data")}, workdir=tmp_path, log_dir=log_dir, name="loopback"
    ) as served:
        levels = [line.get("level") for line in served.log_lines()]
    assert "warning" not in levels and "error" not in levels
