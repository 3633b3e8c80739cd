"""Forwarding one HTTP exchange: request up, response down, streamed, with the adapter in between.

Bodies nobody inspects stream through chunk by chunk. A response the adapter parses is cut into wire units
(SSE events, JSON documents) and each unit is written as soon as the guards let it go, so a stream's first
token reaches the client before the upstream sends its last. The response head is sent lazily, with the
first bytes, so a guard can still refuse a buffered JSON reply with a proper error status.

Completion and durability: the last bytes of a response (the final chunk of a sized body, or the chunked
terminator) are written only after the durable sinks (the audit log) hold the exchange's records, so no
record is lost for a response the client saw complete.
"""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator
from typing import Final

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

from voiceguard.correlation import REQUEST_DROP, RESPONSE_DROP, forward_headers
from voiceguard.events import Direction
from voiceguard.guards.base import Blocked
from voiceguard.protocols.base import HttpCodec, RequestHead, StreamCodec, WireUnit, same_events
from voiceguard.protocols.sse import WireLimitExceeded
from voiceguard.proxy.body import BodyFailed, BodyFailure, StreamedBody, read_body
from voiceguard.proxy.errors import error_response, unsendable_message
from voiceguard.proxy.runtime import Route, Runtime
from voiceguard.session import Exchange

READ_WHOLE_BODY_BYTES: Final = 1024 * 1024
"""Request bodies up to this size are read in one go (one upstream write); larger ones stream."""


class _LazyHeadResponse(web.StreamResponse):
    """Keeps the response head until the first body bytes, so head and body leave in one socket write (as
    aiohttp's ``web.Response`` does); a write is a system call, the dearest thing a relay does per request."""

    _send_headers_immediately = False


class _ClientGone(Exception):
    """The client closed its connection; there is nobody left to answer."""


class HttpForwarder:
    """Forwards one request; created per request, discarded after."""

    __slots__ = ("_response", "codec", "exchange", "request", "route", "runtime")

    def __init__(
        self,
        runtime: Runtime,
        route: Route,
        request: web.Request,
        exchange: Exchange,
        codec: HttpCodec | None,
    ) -> None:
        self.runtime = runtime
        self.route = route
        self.request = request
        self.exchange = exchange
        self.codec = codec
        self._response: web.StreamResponse | None = None

    async def run(self, head: RequestHead) -> web.StreamResponse:
        pipeline = self.runtime.pipeline
        exchange = self.exchange
        try:
            return await self._forward(head)
        except Blocked as blocked:
            exchange.outcome = "blocked"
            return self._refuse(blocked)
        except asyncio.CancelledError:
            if exchange.outcome == "ok":  # an outcome set before the client left (e.g. idle) stands
                exchange.outcome = "client_disconnected"
            raise
        finally:
            if exchange.finished_ns is None:
                status = self._response.status if self._response is not None else exchange.status
                pipeline.finish_exchange(exchange, status=status)

    # --- request -------------------------------------------------------------------------------------------

    async def _forward(self, head: RequestHead) -> web.StreamResponse:
        runtime, request, exchange, codec = self.runtime, self.request, self.exchange, self.codec
        limits = runtime.settings.limits
        length = request.content_length
        if length is not None and length > limits.max_request_body_bytes:
            return self._error(
                413, "request_too_large", f"request body exceeds {limits.max_request_body_bytes} bytes"
            )

        prepare_started = time.perf_counter_ns()
        headers = forward_headers(request.headers, REQUEST_DROP)
        headers.update(exchange.upstream_headers)
        query = head.query
        body: bytes | io.BytesIO | AsyncIterator[bytes] | None = None
        streamed: StreamedBody | None = None
        timeouts = runtime.settings.timeouts
        inspect_body = codec is not None and codec.needs_request_body
        runtime.pipeline.add_overhead(exchange, time.perf_counter_ns() - prepare_started)
        if inspect_body and length is not None and length > limits.max_inspected_body_bytes:
            return self._error(
                413, "request_too_large", f"request body exceeds {limits.max_inspected_body_bytes} bytes"
            )
        if request.body_exists and (inspect_body or (length is not None and length <= READ_WHOLE_BODY_BYTES)):
            limit = limits.max_inspected_body_bytes if inspect_body else READ_WHOLE_BODY_BYTES
            try:
                body = await read_body(request, limit, timeouts.client_idle, exchange)
            except BodyFailed as failed:
                return self._body_failed(failed.reason)
        elif request.body_exists:
            streamed = StreamedBody(
                request,
                exchange,
                limit=limits.max_request_body_bytes,
                idle=timeouts.client_idle,
                upstream_idle=timeouts.idle,
                first_byte=timeouts.first_byte,
            )
            body = streamed.__aiter__()
            if length is not None:
                headers["Content-Length"] = str(length)

        if codec is not None:
            started = time.perf_counter_ns()
            events = codec.request_events(head, body if inspect_body and isinstance(body, bytes) else None)
            if events:
                out = runtime.pipeline.process(exchange, events, Direction.TO_UPSTREAM)
                if not same_events(events, out):
                    edit = codec.render_request(out)
                    if edit.unsendable is not None:
                        exchange.status, exchange.outcome = 403, "blocked"
                        return error_response(403, "policy_violation", unsendable_message(edit.unsendable))
                    if edit.body is not None:
                        body = edit.body
                    if edit.query is not None:
                        query = edit.query
            # A response the adapter parses must arrive uncompressed.
            headers["Accept-Encoding"] = "identity"
            runtime.pipeline.add_overhead(exchange, time.perf_counter_ns() - started)

        if isinstance(body, bytes) and len(body) > READ_WHOLE_BODY_BYTES:
            body = io.BytesIO(
                body
            )  # aiohttp writes large in-memory bodies in slices, not in one blocking call
        prepare_started = time.perf_counter_ns()
        url = self.route.upstream_url(head.path).with_query(query)
        runtime.pipeline.add_overhead(exchange, time.perf_counter_ns() - prepare_started)
        runtime.pipeline.request_sent(exchange)
        try:
            async with asyncio.timeout(timeouts.first_byte) as first_byte_timer:
                if streamed is not None:
                    streamed.timer = first_byte_timer
                try:
                    upstream = await runtime.http.request(
                        request.method,
                        url,
                        headers=headers,
                        data=body,
                        allow_redirects=False,
                        compress=None,
                    )
                finally:
                    if streamed is not None:
                        streamed.timer = None
        except BodyFailed as failed:
            return self._body_failed(failed.reason)
        except aiohttp.ConnectionTimeoutError:
            return self._upstream_failed(
                504, "upstream_connect_timeout", "the upstream did not accept a connection in time"
            )
        except TimeoutError:
            if streamed is not None and streamed.failure is not None:
                return self._body_failed(streamed.failure)
            return self._upstream_failed(504, "upstream_timeout", "the upstream did not answer in time")
        except aiohttp.ClientSSLError:
            return self._upstream_failed(
                502, "upstream_tls_error", "the upstream's TLS certificate could not be verified"
            )
        except aiohttp.ClientConnectorError:
            return self._upstream_failed(
                502, "upstream_unreachable", "the upstream refused or could not be reached"
            )
        except (aiohttp.ClientError, OSError):
            if streamed is not None and streamed.failure is not None:
                return self._body_failed(streamed.failure)
            if request.transport is None or request.transport.is_closing():
                exchange.outcome = "client_disconnected"
                raise asyncio.CancelledError from None
            return self._upstream_failed(502, "upstream_error", "the upstream connection failed")
        try:
            return await self._relay_response(upstream)
        finally:
            upstream.release()

    # --- response ------------------------------------------------------------------------------------------

    async def _relay_response(self, upstream: aiohttp.ClientResponse) -> web.StreamResponse:
        runtime, exchange = self.runtime, self.exchange
        pipeline = runtime.pipeline
        pipeline.first_byte(exchange)
        exchange.status = upstream.status
        if upstream.status >= 500:
            exchange.error_type = str(upstream.status)
        stream_codec: StreamCodec | None = None
        if self.codec is not None:
            stream_codec = self.codec.response_codec(upstream.status, upstream.headers)
        headers = forward_headers(upstream.headers, RESPONSE_DROP)
        remaining = upstream.content_length if stream_codec is None else None
        if stream_codec is not None:
            headers.popall("Content-Length", None)
        for notice in exchange.notices:
            headers.add(notice.header, notice.value)

        idle = runtime.settings.timeouts.idle
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(idle) as idle_timer:
                while True:
                    chunk = await upstream.content.readany()
                    if idle is not None:
                        idle_timer.reschedule(loop.time() + idle)
                    if not chunk:
                        break
                    if stream_codec is None:
                        if remaining is not None:
                            remaining -= len(chunk)
                            if remaining <= 0:
                                await self._complete(upstream.status)
                        await self._write(upstream.status, headers, chunk)
                    else:
                        await self._write_units(upstream.status, headers, stream_codec, chunk)
                tail = b""
                if stream_codec is not None:
                    tail = self._final_units(stream_codec)
        except TimeoutError:
            return self._fail_midstream(504, "upstream_timeout", "the upstream stream went idle")
        except WireLimitExceeded as exc:
            return self._fail_midstream(502, "upstream_message_too_large", str(exc))
        except _ClientGone:
            exchange.outcome = "client_disconnected"
            return self._response or web.Response(status=499)
        except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError, OSError):
            return self._fail_midstream(502, "upstream_reset", "the upstream connection broke mid-response")

        try:
            response = await self._ensure_prepared(upstream.status, headers)
        except _ClientGone:
            exchange.outcome = "client_disconnected"
            return self._response or web.Response(status=499)
        if exchange.finished_ns is None:
            await self._complete(upstream.status)
        try:
            # The adapter's last units (a buffered JSON reply: all of it), the head if still held, and the
            # chunked terminator go out in one write, once the records are durable.
            await response.write_eof(tail)
        except (ConnectionResetError, RuntimeError):
            exchange.outcome = "client_disconnected"
        else:
            exchange.bytes_to_client += len(tail)
        return response

    def _guarded(self, codec: StreamCodec, unit: WireUnit) -> bytes:
        """A response unit after the guards: its own bytes when they changed nothing, else re-rendered."""
        if not unit.events:
            return unit.raw
        out = self.runtime.pipeline.process(self.exchange, unit.events, Direction.TO_CLIENT)
        return unit.raw if same_events(unit.events, out) else codec.render(unit, out)

    def _final_units(self, codec: StreamCodec) -> bytes:
        """What the adapter still holds at the end of the stream, through the guards, as one piece."""
        started = time.perf_counter_ns()
        pipeline = self.runtime.pipeline
        pieces: list[bytes] = []
        for unit in codec.end():
            data = self._guarded(codec, unit)
            if data:
                pieces.append(data)
        pipeline.add_overhead(self.exchange, time.perf_counter_ns() - started)
        return b"".join(pieces)

    async def _write_units(
        self, status: int, headers: CIMultiDict[str], codec: StreamCodec, chunk: bytes
    ) -> None:
        started = time.perf_counter_ns()
        units = codec.feed(chunk)
        pipeline = self.runtime.pipeline
        for unit in units:
            data = self._guarded(codec, unit)
            if data:
                pipeline.add_overhead(self.exchange, time.perf_counter_ns() - started)
                await self._write(status, headers, data)
                started = time.perf_counter_ns()
        pipeline.add_overhead(self.exchange, time.perf_counter_ns() - started)

    async def _ensure_prepared(self, status: int, headers: CIMultiDict[str]) -> web.StreamResponse:
        if self._response is None:
            response = _LazyHeadResponse(status=status, headers=headers)
            try:
                await response.prepare(self.request)
            except (ConnectionResetError, RuntimeError) as exc:
                raise _ClientGone from exc
            self._response = response
        return self._response

    async def _write(self, status: int, headers: CIMultiDict[str], data: bytes) -> None:
        response = await self._ensure_prepared(status, headers)
        try:
            await response.write(data)
        except (ConnectionResetError, RuntimeError) as exc:
            raise _ClientGone from exc
        self.exchange.bytes_to_client += len(data)

    async def _complete(self, status: int) -> None:
        """Record the exchange and wait until it is durable, before the client sees the last byte."""
        pipeline = self.runtime.pipeline
        pipeline.finish_exchange(self.exchange, status=status)
        await pipeline.durable(self.exchange)

    # --- failures ------------------------------------------------------------------------------------------

    def _error(self, status: int, error_type: str, message: str) -> web.Response:
        self.exchange.status = status
        self.exchange.outcome = error_type
        return error_response(status, error_type, message)

    def _body_failed(self, reason: BodyFailure) -> web.Response:
        if reason == "client_stalled":
            return self._error(408, "client_timeout", "the request body stopped arriving")
        return self._error(413, "request_too_large", "request body exceeds the configured limit")

    def _upstream_failed(self, status: int, error_type: str, message: str) -> web.Response:
        self.exchange.error_type = error_type
        return self._error(status, error_type, message)

    def _refuse(self, blocked: Blocked) -> web.StreamResponse:
        if self._response is not None:
            # Headers already went out: the only honest signal left is an incomplete response.
            self._abort_client()
            return self._response
        self.exchange.status = blocked.status
        return error_response(blocked.status, "policy_violation", blocked.message, blocked.rule_id)

    def _fail_midstream(self, status: int, error_type: str, message: str) -> web.StreamResponse:
        self.exchange.error_type = error_type
        if self._response is None:
            return self._error(status, error_type, message)
        self.exchange.outcome = error_type
        self._abort_client()
        return self._response

    def _abort_client(self) -> None:
        """Cut the client connection so a truncated stream is never mistaken for a complete one."""
        transport = self.request.transport
        if transport is not None:
            transport.abort()
