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

AUDIT_RECORDS: Final = "voiceguard.audit.records"
"""Counter: audit records committed to the store."""
AUDIT_DROPPED: Final = "voiceguard.audit.records.dropped"
"""Counter: audit records dropped because the store was down and the queue was full."""
AUDIT_STORE_ERRORS: Final = "voiceguard.audit.store.errors"
"""Counter: failed audit store operations (each retry counts)."""
AUDIT_STORE_UP: Final = "voiceguard.audit.store.up"
"""Gauge: 1 while the audit store takes records, 0 during an outage."""
AUDIT_QUEUE_DEPTH: Final = "voiceguard.audit.queue.depth"
"""Gauge: audit records waiting to be committed."""
AUDIT_COMMIT_DURATION: Final = "voiceguard.audit.commit.duration"
"""Histogram (s): one group commit (every record queued at the time, in one transaction)."""
AUDIT_CHECKPOINTS: Final = "voiceguard.audit.checkpoints"
"""Counter: signed checkpoints written by this process."""
AUDIT_DURABLE_TIMEOUTS: Final = "voiceguard.audit.durable.timeouts"
"""Counter: responses that completed before their audit records were durable (store slow or down)."""
SPEAKER_CHANGES: Final = "voiceguard.speaker.changes"
"""Counter: voices that joined a call after its first one (speaker-change detection)."""
SPEAKER_UNCHECKED: Final = "voiceguard.speaker.unchecked"
"""Counter (s): caller audio the speaker-change detector could not analyse, by reason."""
SPEAKER_WINDOW_DURATION: Final = "voiceguard.speaker.window.duration"
"""Histogram (s): compute for one block of caller audio (decode, VAD, embeddings)."""

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
ATTR_AUDIT_STORE: Final = "voiceguard.audit.store"
ATTR_UNCHECKED_REASON: Final = "voiceguard.speaker.unchecked.reason"

# --- log fields ---------------------------------------------------------------------------------------------

LOG_REQUEST: Final = "request"
LOG_CALL_ENDED: Final = "call_ended"
