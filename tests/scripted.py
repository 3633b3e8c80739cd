"""A local upstream that misbehaves on request, served from its own thread so it outlives each test's loop.

Every way an upstream fails voiceguard is a path here (refusing is a closed port and stalling a connect is a
full listen backlog, both below). What the upstream saw (an upload cut short, a stream cancelled, a socket's
close code) is written to ``Observations``, which tests wait on from any thread.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from aiohttp import WSMsgType, web

from voiceguard.simulator import RunningApp, start_app

LONG_S = 30.0


class Observations:
    """(kind, tag) pairs the upstream saw, in order; ``tag`` is the test's call id."""

    def __init__(self) -> None:
        self._seen: list[tuple[str, str, object]] = []
        self._changed = threading.Condition()

    def add(self, kind: str, tag: str, detail: object = None) -> None:
        with self._changed:
            self._seen.append((kind, tag, detail))
            self._changed.notify_all()

    def wait(self, kind: str, tag: str, timeout: float = 10.0) -> object:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for seen_kind, seen_tag, detail in self._seen:
                    if (seen_kind, seen_tag) == (kind, tag):
                        return detail
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"upstream never saw {kind} for {tag}; saw {self._seen}")
                self._changed.wait(remaining)

    def kinds(self, tag: str) -> list[str]:
        with self._changed:
            return [kind for kind, seen_tag, _ in self._seen if seen_tag == tag]


def _tag(request: web.Request) -> str:
    return request.headers.get("X-Test-Tag") or request.query.get("tag", "")


def scripted_app(seen: Observations) -> web.Application:
    """Paths: ok, status/{code}, stall, reset, stall-midstream, stream, upload, redirect, ws/* ."""

    async def ok(request: web.Request) -> web.Response:
        seen.add("request", _tag(request), request.path_qs)
        return web.json_response({"ok": True})

    async def status(request: web.Request) -> web.Response:
        code = int(request.match_info["code"])
        return web.json_response({"error": {"message": "vendor failure", "code": code}}, status=code)

    async def stall(request: web.Request) -> web.Response:
        try:
            await asyncio.sleep(LONG_S)
        except asyncio.CancelledError:
            seen.add("cancelled", _tag(request))
            raise
        return web.json_response({"late": True})

    async def reset(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(b"data: first\n\n")
        await asyncio.sleep(0.05)
        if request.transport is not None:
            request.transport.abort()
        return response

    async def stall_midstream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(b"data: first\n\n")
        try:
            await asyncio.sleep(LONG_S)
        except asyncio.CancelledError:
            seen.add("cancelled", _tag(request))
            raise
        return response

    async def stream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        try:
            for index in range(int(LONG_S / 0.05)):
                await response.write(b"data: tick %d\n\n" % index)
                await asyncio.sleep(0.05)
        except (asyncio.CancelledError, ConnectionResetError):
            seen.add("cancelled", _tag(request))
            raise
        await response.write_eof()
        return response

    async def upload(request: web.Request) -> web.Response:
        total = 0
        try:
            while chunk := await request.content.readany():
                total += len(chunk)
                if total and "receiving" not in seen.kinds(_tag(request)):
                    seen.add("receiving", _tag(request))
        except (asyncio.CancelledError, ConnectionResetError, OSError) as exc:
            seen.add("upload_aborted", _tag(request), type(exc).__name__)
            raise
        except Exception as exc:  # aiohttp reports a cut chunked body as a payload error
            seen.add("upload_aborted", _tag(request), type(exc).__name__)
            raise
        seen.add("upload_complete", _tag(request), total)
        return web.json_response({"received": total})

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPTemporaryRedirect(request.query["to"])

    async def ws_echo(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for message in ws:
            if message.type is WSMsgType.TEXT:
                await ws.send_str(message.data)
            elif message.type is WSMsgType.BINARY:
                await ws.send_bytes(message.data)
        seen.add("ws_closed", _tag(request), ws.close_code)
        return ws

    async def ws_abnormal(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.receive()
        if request.transport is not None:
            request.transport.abort()
        return ws

    async def ws_silent(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoclose=True)
        await ws.prepare(request)
        message = await ws.receive()
        seen.add("ws_closed", _tag(request), (message.type.name, message.data))
        return ws

    async def ws_hang(request: web.Request) -> web.Response:
        try:
            await asyncio.sleep(LONG_S)
        except asyncio.CancelledError:
            seen.add("cancelled", _tag(request))
            raise
        return web.Response(status=500)

    app = web.Application(client_max_size=256 * 1024 * 1024)
    app.router.add_route("*", "/ok", ok)
    app.router.add_route("*", "/status/{code}", status)
    app.router.add_get("/stall", stall)
    app.router.add_get("/reset", reset)
    app.router.add_get("/stall-midstream", stall_midstream)
    app.router.add_get("/stream", stream)
    app.router.add_post("/upload", upload)
    app.router.add_get("/redirect", redirect)
    app.router.add_get("/ws/echo", ws_echo)
    app.router.add_get("/ws/abnormal", ws_abnormal)
    app.router.add_get("/ws/silent", ws_silent)
    app.router.add_get("/ws/hang", ws_hang)
    return app


class ThreadedApp:
    """An aiohttp application on its own event loop in a daemon thread."""

    def __init__(self, app: web.Application) -> None:
        self._app = app
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True, name="scripted-upstream")
        self._running: RunningApp | None = None

    def start(self) -> str:
        self._thread.start()
        self._running = asyncio.run_coroutine_threadsafe(start_app(self._app), self._loop).result(10)
        return self._running.url

    def stop(self) -> None:
        if self._running is not None:
            asyncio.run_coroutine_threadsafe(self._running.close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


@contextmanager
def closed_port() -> Iterator[int]:
    """A port nothing listens on: connecting is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    yield port


@contextmanager
def blackhole() -> Iterator[int]:
    """A listener that never accepts, its backlog already full: new connections hang in SYN-SENT."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = int(listener.getsockname()[1])
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        with suppress(BlockingIOError):
            filler.connect(("127.0.0.1", port))
        fillers.append(filler)
    time.sleep(0.1)
    try:
        yield port
    finally:
        for filler in fillers:
            filler.close()
        listener.close()
