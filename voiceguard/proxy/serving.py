"""The server side before a handler runs: malformed requests, unknown paths, and crashed handlers.

aiohttp answers a request it cannot parse (a header past ``max_header_bytes``, a bad request line) with a
plain-text body that quotes up to 100 bytes of the offending line, and logs the same text with a traceback.
That line may be an ``Authorization`` header or a URL with a key in it, so voiceguard replaces both: the
client gets the contract's JSON error naming the limit, the log gets the error's class, never its text.
Router misses (unknown path, ``CONNECT``) get the contract's JSON shape too.
"""

from __future__ import annotations

import logging
import traceback
from typing import Final

from aiohttp import web
from aiohttp.http_exceptions import BadHttpMethod, HttpProcessingError, LineTooLong
from aiohttp.typedefs import Handler

from voiceguard.proxy.errors import error_response

log = logging.getLogger("voiceguard.http")

_REASONS: Final = {
    404: ("not_found", "no such endpoint; requests go to /<route>/<path> of a configured route"),
    405: ("method_not_allowed", "method not allowed here"),
    408: ("request_timeout", "the request did not arrive in time"),
    413: ("request_too_large", "request body exceeds the configured limit"),
    504: ("timeout", "the request took too long"),
}


def _refusal(status: int, exc: BaseException | None, max_header_bytes: int) -> web.Response:
    if isinstance(exc, LineTooLong):
        return error_response(
            431,
            "request_header_too_large",
            f"the request line or a header exceeds the limit of {max_header_bytes} bytes",
        )
    if isinstance(exc, HttpProcessingError) or status == 400:
        return error_response(400, "bad_request", "the request is not valid HTTP/1.1")
    if status in _REASONS:
        error_type, message = _REASONS[status]
        return error_response(status, error_type, message)
    return error_response(500, "internal_error", "voiceguard failed to handle the request")


class SafeRequestHandler(web.RequestHandler):
    """aiohttp's connection handler, with error answers and logs that never quote the request."""

    max_header_bytes = 8190

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if status >= 500 and exc is not None:
            # Stack frames say where it broke; the exception's text may quote request data, so it is left out.
            frames = "".join(traceback.format_tb(exc.__traceback__))
            log.error("handler_crashed error_type=%s\n%s", type(exc).__name__, frames)
        elif not isinstance(exc, BadHttpMethod):
            log.info("bad_request_refused status=%s error_type=%s", status, type(exc).__name__)
        if request.writer.output_size > 0:
            raise ConnectionError("the response had started; the connection is closed instead")
        response = _refusal(status, exc, self.max_header_bytes)
        response.force_close()
        return response


class _SafeServer(web.Server):
    max_header_bytes = 8190

    def __call__(self) -> web.RequestHandler:
        handler = SafeRequestHandler(self, loop=self._loop, **self._kwargs)
        handler.max_header_bytes = self.max_header_bytes
        return handler


class SafeAppRunner(web.AppRunner):
    """An ``AppRunner`` whose connections use ``SafeRequestHandler``."""

    def __init__(
        self, app: web.Application, *, max_header_bytes: int, max_headers: int, shutdown_timeout: float
    ) -> None:
        super().__init__(
            app,
            handler_cancellation=True,
            access_log=None,
            max_line_size=max_header_bytes,
            max_field_size=max_header_bytes,
            max_headers=max_headers,
            shutdown_timeout=shutdown_timeout,
        )
        self._max_header_bytes = max_header_bytes

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        # aiohttp builds the Server inside the application; only its handler factory changes here.
        server.__class__ = _SafeServer
        server.max_header_bytes = self._max_header_bytes  # type: ignore[attr-defined]
        return server


@web.middleware
async def contract_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Router and framework HTTP errors (404, 405, 413) in the contract's JSON shape."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        error_type, message = _REASONS.get(exc.status, ("bad_request", "the request cannot be served"))
        return error_response(exc.status, error_type, message)
