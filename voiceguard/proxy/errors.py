"""Responses voiceguard itself produces, in the contract's shape.

HTTP: ``{"error": {"type", "message", "policy"}}`` with a fitting status. WebSocket: a close with a fitting
code and a reason. Messages never echo what the client sent (it may hold personal data or credentials).
"""

from __future__ import annotations

from typing import Final

import orjson
from aiohttp import web

WS_GOING_AWAY: Final = 1001
WS_POLICY_VIOLATION: Final = 1008
WS_MESSAGE_TOO_BIG: Final = 1009
WS_INTERNAL_ERROR: Final = 1011
WS_TRY_AGAIN_LATER: Final = 1013
WS_BAD_GATEWAY: Final = 1014


def error_body(error_type: str, message: str, policy: str | None = None) -> bytes:
    return orjson.dumps({"error": {"type": error_type, "message": message, "policy": policy}})


def error_response(
    status: int,
    error_type: str,
    message: str,
    policy: str | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    return web.Response(
        status=status,
        body=error_body(error_type, message, policy),
        content_type="application/json",
        headers=headers,
    )


def ws_reason(text: str) -> bytes:
    """A close reason fits in 123 bytes (RFC 6455 §5.5: control frames carry at most 125)."""
    return text.encode("utf-8")[:123]
