"""Relaying one WebSocket: upstream handshake first, then frames both ways through the adapter.

The upstream is connected before the client's upgrade is accepted, so the client gets the subprotocol the
upstream chose (OpenAI ``realtime``, Deepgram ``token``) and an upstream refusal becomes an HTTP error
instead of a socket that opens and dies. Frames are taken raw (``decode_text=False``) and a frame no guard
changed is sent on as the very bytes that came in, with its opcode; pings, pongs and close codes are relayed
rather than answered locally, so both peers see each other's keep-alive and close reasons.
"""

from __future__ import annotations

import asyncio
import time
from typing import Final, Literal

import aiohttp
from aiohttp import WSMsgType, web
from multidict import MultiMapping

from voiceguard.correlation import WEBSOCKET_DROP, forward_headers
from voiceguard.events import Direction
from voiceguard.guards.base import Blocked
from voiceguard.protocols.base import CallerAudioSource, RequestHead, WireUnit, WsCodec, same_events
from voiceguard.proxy.audio import ClientAudioFilter, client_audio
from voiceguard.proxy.errors import (
    WS_BAD_GATEWAY,
    WS_GOING_AWAY,
    WS_INTERNAL_ERROR,
    WS_POLICY_VIOLATION,
    error_response,
    ws_reason,
)
from voiceguard.proxy.runtime import Route, Runtime, UpstreamRedirected
from voiceguard.session import Exchange

CLOSE_TIMEOUT_S: Final = 5.0

UpstreamSocket = aiohttp.ClientWebSocketResponse[Literal[False]]
ClientSocket = web.WebSocketResponse[Literal[False]]
_Socket = ClientSocket | UpstreamSocket


def offered_protocols(request: web.Request) -> tuple[str, ...]:
    offered: list[str] = []
    for value in request.headers.getall("Sec-WebSocket-Protocol", ()):
        offered.extend(part.strip() for part in value.split(",") if part.strip())
    return tuple(offered)


class WebSocketRelay:
    """Relays one WebSocket connection; created per connection."""

    __slots__ = (
        "_closed_by",
        "_last_message",
        "audio_filter",
        "codec",
        "exchange",
        "request",
        "route",
        "runtime",
        "speaker_feed",
    )

    def __init__(
        self, runtime: Runtime, route: Route, request: web.Request, exchange: Exchange, codec: WsCodec | None
    ) -> None:
        self.runtime = runtime
        self.route = route
        self.request = request
        self.exchange = exchange
        self.codec = codec
        self._closed_by: str | None = None
        self._last_message = 0.0
        biometrics = runtime.settings.biometrics
        self.audio_filter = (
            ClientAudioFilter(biometrics.anonymise_alpha)
            if biometrics.anonymise_stt_audio and codec is not None
            else None
        )
        speakers = runtime.speakers
        self.speaker_feed = (
            speakers.feed(exchange.call)
            if speakers is not None and isinstance(codec, CallerAudioSource)
            else None
        )

    async def run(self, head: RequestHead) -> web.StreamResponse:
        pipeline = self.runtime.pipeline
        exchange = self.exchange
        client_ws: ClientSocket | None = None
        try:
            query = head.query
            if self.codec is not None:
                events = self.codec.handshake_events(head)
                if events:
                    out = pipeline.process(exchange, events, Direction.TO_UPSTREAM)
                    if not same_events(events, out):
                        edit = self.codec.render_handshake(out)
                        if edit.query is not None:
                            query = edit.query
            upstream = await self._connect_upstream(head, query)
            if isinstance(upstream, web.Response):
                return upstream
            async with upstream:
                client_ws = await self._accept_client(upstream)
                await self._pump_both(client_ws, upstream)
            return client_ws
        except Blocked as blocked:
            exchange.outcome = "blocked"
            exchange.status = blocked.status
            if client_ws is None:
                return error_response(blocked.status, "policy_violation", blocked.message, blocked.rule_id)
            await client_ws.close(code=blocked.close_code, message=ws_reason(blocked.message))
            return client_ws
        except asyncio.CancelledError:
            if exchange.outcome == "ok":  # an outcome set before the client left (e.g. idle) stands
                exchange.outcome = "client_disconnected"
            raise
        finally:
            if self.speaker_feed is not None:
                self.speaker_feed.flush()
            if exchange.finished_ns is None:
                pipeline.finish_exchange(exchange, status=exchange.status)
                if exchange.outcome != "client_disconnected":
                    await pipeline.durable(exchange)

    async def _connect_upstream(
        self, head: RequestHead, query: MultiMapping[str]
    ) -> UpstreamSocket | web.Response:
        runtime, exchange = self.runtime, self.exchange
        settings = runtime.settings
        prepare_started = time.perf_counter_ns()
        url = self.route.upstream_url(head.path, websocket=True).with_query(query)
        headers = forward_headers(self.request.headers, WEBSOCKET_DROP)
        headers.update(exchange.upstream_headers)
        runtime.pipeline.add_overhead(exchange, time.perf_counter_ns() - prepare_started)
        runtime.pipeline.request_sent(exchange)
        try:
            async with asyncio.timeout(settings.timeouts.websocket_handshake):
                upstream = await runtime.http.ws_connect(
                    url,
                    headers=headers,
                    protocols=offered_protocols(self.request),
                    max_msg_size=settings.limits.max_ws_message_bytes,
                    autoclose=False,
                    autoping=False,
                    decode_text=False,
                    timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=CLOSE_TIMEOUT_S),
                    compress=0,
                )
        except aiohttp.WSServerHandshakeError as exc:
            exchange.status = exc.status
            exchange.error_type = "handshake_refused"
            exchange.outcome = "upstream_refused"
            return error_response(
                exc.status if exc.status >= 400 else 502,
                "upstream_refused",
                f"the upstream refused the WebSocket upgrade with status {exc.status}",
            )
        except UpstreamRedirected:
            return self._failed(
                502, "upstream_redirected", "the upstream answered with a redirect, not followed"
            )
        except aiohttp.ClientSSLError:
            return self._failed(
                502, "upstream_tls_error", "the upstream's TLS certificate could not be verified"
            )
        except TimeoutError:
            return self._failed(504, "upstream_timeout", "the upstream did not accept the WebSocket in time")
        except (aiohttp.ClientError, OSError):
            return self._failed(502, "upstream_unreachable", "the upstream refused or could not be reached")
        runtime.pipeline.first_byte(exchange)
        return upstream

    def _failed(self, status: int, error_type: str, message: str) -> web.Response:
        self.exchange.status = status
        self.exchange.error_type = self.exchange.outcome = error_type
        return error_response(status, error_type, message)

    async def _accept_client(self, upstream: UpstreamSocket) -> ClientSocket:
        limits = self.runtime.settings.limits
        chosen = upstream.protocol
        notices = self.exchange.notices
        client_ws: ClientSocket = web.WebSocketResponse(
            protocols=(chosen,) if chosen else (),
            max_msg_size=limits.max_ws_message_bytes,
            autoclose=False,
            autoping=False,
            decode_text=False,
        )
        for notice in notices:
            client_ws.headers.add(notice.header, notice.value)
        await client_ws.prepare(self.request)
        self.exchange.status = 101
        return client_ws

    async def _pump_both(self, client_ws: ClientSocket, upstream: UpstreamSocket) -> None:
        to_upstream = asyncio.create_task(self._pump(client_ws, upstream, Direction.TO_UPSTREAM))
        to_client = asyncio.create_task(self._pump(upstream, client_ws, Direction.TO_CLIENT))
        blocked: Blocked | None = None
        try:
            await self._until_one_ends_or_idle({to_upstream, to_client}, client_ws, upstream)
        except Blocked as failure:
            blocked = failure
            raise
        finally:
            for task in (to_upstream, to_client):
                if not task.done():
                    task.cancel()
            await asyncio.gather(to_upstream, to_client, return_exceptions=True)
            if blocked is not None and not client_ws.closed:
                # A guard refused mid-session: the client hears the policy close code, not a relay failure.
                await _close_quietly(client_ws, blocked.close_code, ws_reason(blocked.message))
            for socket in (client_ws, upstream):
                if not socket.closed:
                    await _close_quietly(socket, WS_INTERNAL_ERROR, b"relay ended")

    async def _until_one_ends_or_idle(
        self, pumps: set[asyncio.Task[None]], client_ws: ClientSocket, upstream: UpstreamSocket
    ) -> None:
        """Wait for a pump to end; close both sides when no message went either way for ``websocket_idle``."""
        idle = self.runtime.settings.timeouts.websocket_idle
        loop = asyncio.get_running_loop()
        self._last_message = loop.time()
        while True:
            wait = None if idle is None else max(0.0, self._last_message + idle - loop.time())
            done, _pending = await asyncio.wait(pumps, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                failure = task.exception()
                if failure is not None:
                    raise failure
            if done:
                return
            if idle is not None and loop.time() - self._last_message >= idle:
                self.exchange.outcome = "idle_timeout"
                reason = ws_reason("idle timeout")
                # Upstream first: once the client's side is closed aiohttp cancels this handler.
                await _close_quietly(upstream, WS_GOING_AWAY, reason)
                await _close_quietly(client_ws, WS_GOING_AWAY, reason)
                return

    def _rate_limited(self) -> bool:
        """The client outran its call's message budget (``limits.call_ws_messages_per_second``)."""
        if self.runtime.admission.ws_message_allowed(self.exchange.call):
            return False
        self.exchange.outcome = "rate_limited"
        return True

    async def _pump(self, source: _Socket, sink: _Socket, direction: Direction) -> None:
        """Relay frames from ``source`` to ``sink`` until one side closes."""
        exchange = self.exchange
        codec = self.codec
        pipeline = self.runtime.pipeline
        to_client = direction is Direction.TO_CLIENT
        loop = asyncio.get_running_loop()
        while True:
            message = await source.receive()
            self._last_message = loop.time()
            kind = message.type
            if kind is WSMsgType.TEXT or kind is WSMsgType.BINARY:
                data: bytes = message.data
                binary = kind is WSMsgType.BINARY
                if to_client:
                    exchange.messages_to_client += 1
                    exchange.bytes_to_client += len(data)
                else:
                    if self._rate_limited():
                        await _close_quietly(
                            source, WS_POLICY_VIOLATION, ws_reason("message rate limit exceeded")
                        )
                        await _close_quietly(sink, WS_GOING_AWAY, ws_reason("client closed by voiceguard"))
                        return
                    exchange.messages_from_client += 1
                    exchange.bytes_from_client += len(data)
                if codec is None:
                    await sink.send_frame(data, kind)
                    continue
                started = time.perf_counter_ns()
                unit = codec.upstream_frame(data, binary) if to_client else codec.client_frame(data, binary)
                if self.speaker_feed is not None and not to_client:
                    self._hear(unit)
                if self.audio_filter is not None and not to_client and not binary:
                    held = self.audio_filter.held()  # audio still in the transform goes before the control
                    if held:
                        await sink.send_frame(held, WSMsgType.BINARY)
                if unit.events:
                    out = pipeline.process(exchange, unit.events, direction)
                    if not same_events(unit.events, out):
                        frames = codec.render(unit, out)
                        pipeline.add_overhead(exchange, time.perf_counter_ns() - started)
                        for frame in frames:
                            await sink.send_frame(
                                frame.raw, WSMsgType.BINARY if frame.binary else WSMsgType.TEXT
                            )
                        continue
                if self.audio_filter is not None and binary and not to_client:
                    anonymised = self.audio_filter.audio(unit.events, data)
                    if anonymised is not None:
                        data = anonymised
                pipeline.add_overhead(exchange, time.perf_counter_ns() - started)
                if data:
                    await sink.send_frame(data, kind)
            elif kind is WSMsgType.PING:
                await sink.ping(message.data)
            elif kind is WSMsgType.PONG:
                await sink.pong(message.data)
            elif kind is WSMsgType.CLOSE:
                code = message.data if isinstance(message.data, int) else 1000
                reason = (message.extra or "").encode("utf-8")[:123]
                self._closed_by = "upstream" if to_client else "client"
                if to_client:
                    # Answer the upstream before the client: closing the client's side cancels this handler.
                    await _close_quietly(source, code, b"")
                    await _close_quietly(sink, code, reason)
                else:
                    await _close_quietly(sink, code, reason)
                    await _close_quietly(source, code, b"")
                return
            elif kind is WSMsgType.CLOSING:
                # Our own close of this socket (relaying the other side's close) interrupted the read.
                return
            else:
                # CLOSED or ERROR: the peer vanished without a close frame (1006 on the wire).
                if to_client:
                    self.exchange.error_type = self.exchange.error_type or "upstream_closed_abnormally"
                    await _close_quietly(sink, WS_BAD_GATEWAY, ws_reason("upstream connection lost"))
                else:
                    self.exchange.outcome = "client_disconnected"
                    await _close_quietly(sink, 1001, b"client went away")
                return

    def _hear(self, unit: WireUnit) -> None:
        """Hand the caller's audio in ``unit`` to speaker-change detection (the caller's own voice, before
        any anonymisation)."""
        chunk = client_audio(unit.events)
        if chunk is None or self.speaker_feed is None or not isinstance(self.codec, CallerAudioSource):
            return
        audio = self.codec.caller_audio(unit)
        if audio is not None:
            self.speaker_feed.audio(chunk, audio)


async def _close_quietly(socket: _Socket, code: int, reason: bytes) -> None:
    if socket.closed:
        return
    try:
        async with asyncio.timeout(CLOSE_TIMEOUT_S):
            await socket.close(code=code, message=reason)
    except (TimeoutError, ConnectionError, RuntimeError, aiohttp.ClientError):
        pass
