"""Every metric, span and attribute name voiceguard emits, in one place.

OpenTelemetry's GenAI conventions are used where they exist; voice-specific names live under the
documented ``voiceguard.*`` prefix. Nothing else in the code spells a telemetry name as a string literal.
"""

from __future__ import annotations

from typing import Final

# --- metrics ---------------------------------------------------------------------------------------------

REQUESTS: Final = "voiceguard.requests"
"""Counter: proxied exchanges (HTTP requests, WebSocket connections) by route, transport, status, outcome."""
REQUEST_DURATION: Final = "voiceguard.request.duration"
"""Histogram (s): from the client's request to the end of the response or socket."""
UPSTREAM_TTFB: Final = "voiceguard.upstream.time_to_first_byte"
"""Histogram (s): request sent upstream to the first response byte (or the WebSocket upgrade)."""
PROXY_OVERHEAD: Final = "voiceguard.proxy.overhead"
"""Histogram (s): time spent inside voiceguard per exchange, excluding waiting on either peer."""
ACTIVE_CALLS: Final = "voiceguard.calls.active"
"""Up-down counter: calls currently open."""
UPSTREAM_ERRORS: Final = "voiceguard.upstream.errors"
"""Counter: upstream failures by route and error type (refused, timeout, reset, 5xx)."""
WS_MESSAGES: Final = "voiceguard.websocket.messages"
"""Counter: WebSocket messages relayed, by route and direction."""
WIRE_ANOMALIES: Final = "voiceguard.wire.anomalies"
"""Counter: wire messages an adapter could not parse (forwarded untouched), by route and kind."""

# --- metric attribute keys (low cardinality only: never a call id) ------------------------------------------

ATTR_ROUTE: Final = "voiceguard.route"
ATTR_TRANSPORT: Final = "voiceguard.transport"
ATTR_STATUS_CLASS: Final = "http.response.status_class"
ATTR_OUTCOME: Final = "voiceguard.outcome"
ATTR_ERROR_TYPE: Final = "error.type"
ATTR_DIRECTION: Final = "voiceguard.direction"
ATTR_PROVIDER: Final = "gen_ai.provider.name"
ATTR_OPERATION: Final = "voiceguard.operation"
ATTR_ANOMALY_KIND: Final = "voiceguard.anomaly.kind"

# --- log fields ---------------------------------------------------------------------------------------------

LOG_REQUEST: Final = "request"
LOG_CALL_ENDED: Final = "call_ended"
