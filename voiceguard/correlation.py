"""Reading the call a request belongs to, and what must not be forwarded upstream.

The client names its call with ``X-VoiceGuard-Call-Id`` (or ``vg_call_id`` for WebSocket clients that cannot
set headers), a W3C ``baggage`` entry, or implicitly through ``traceparent``. Subject and jurisdiction come
the same way. voiceguard's own headers and query parameters are removed before forwarding, as are
hop-by-hop headers; the client's credentials are forwarded untouched.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from multidict import CIMultiDict, CIMultiDictProxy, MultiDict, MultiMapping

from voiceguard.session import CallContext

CALL_ID_HEADER: Final = "X-VoiceGuard-Call-Id"
SUBJECT_HEADER: Final = "X-VoiceGuard-Subject"
JURISDICTION_HEADER: Final = "X-VoiceGuard-Jurisdiction"
CALL_ID_PARAM: Final = "vg_call_id"
SUBJECT_PARAM: Final = "vg_subject"
JURISDICTION_PARAM: Final = "vg_jurisdiction"
BAGGAGE_CALL_ID_KEYS: Final = ("voiceguard.call_id", "vg_call_id")
BAGGAGE_JURISDICTION_KEYS: Final = ("voiceguard.jurisdiction", "vg_jurisdiction")

OWN_PARAMS: Final = frozenset({CALL_ID_PARAM, SUBJECT_PARAM, JURISDICTION_PARAM})
OWN_HEADER_PREFIX: Final = "x-voiceguard-"

HOP_BY_HOP: Final = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
"""RFC 9110 §7.6.1 connection-specific headers, never forwarded by a proxy."""

REQUEST_DROP: Final = HOP_BY_HOP | {"host", "content-length"}
WEBSOCKET_DROP: Final = REQUEST_DROP | {
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-extensions",
    "sec-websocket-protocol",
    "sec-websocket-accept",
}
RESPONSE_DROP: Final = HOP_BY_HOP

_CALL_ID = re.compile(r"[A-Za-z0-9._:@-]{1,128}")
_JURISDICTION = re.compile(r"[A-Z]{2}(?:-[A-Z0-9]{1,3})?")
_TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
MAX_SUBJECT_CHARS: Final = 256


def valid_call_id(value: str) -> bool:
    """Whether ``value`` may name a call (what a client may send as ``X-VoiceGuard-Call-Id``)."""
    return _CALL_ID.fullmatch(value) is not None


class BadCorrelation(ValueError):
    """A correlation value the client sent is malformed; the request is refused with 400."""


def _baggage(value: str | None, keys: Iterable[str]) -> str | None:
    if not value:
        return None
    wanted = set(keys)
    for member in value.split(","):
        key, sep, rest = member.partition("=")
        if sep and key.strip() in wanted:
            return rest.split(";", 1)[0].strip() or None
    return None


def read_context(headers: CIMultiDictProxy[str], query: MultiMapping[str]) -> CallContext:
    """The call context a request declares; raises ``BadCorrelation`` for malformed values."""
    baggage = headers.get("baggage")
    traceparent = headers.get("traceparent")
    trace_id = None
    if traceparent:
        match = _TRACEPARENT.fullmatch(traceparent.strip())
        if match and match.group(1) != "0" * 32:
            trace_id = match.group(1)
        else:
            traceparent = None

    call_id = (
        headers.get(CALL_ID_HEADER)
        or query.get(CALL_ID_PARAM)
        or _baggage(baggage, BAGGAGE_CALL_ID_KEYS)
        or trace_id
    )
    if call_id is not None and not _CALL_ID.fullmatch(call_id):
        raise BadCorrelation(f"{CALL_ID_HEADER} must be 1-128 characters of A-Z a-z 0-9 . _ : @ -")

    subject = headers.get(SUBJECT_HEADER) or query.get(SUBJECT_PARAM)
    if subject is not None:
        subject = subject.strip()
        if not subject or len(subject) > MAX_SUBJECT_CHARS:
            raise BadCorrelation(f"{SUBJECT_HEADER} must be 1-{MAX_SUBJECT_CHARS} characters")

    jurisdiction = (
        headers.get(JURISDICTION_HEADER)
        or query.get(JURISDICTION_PARAM)
        or _baggage(baggage, BAGGAGE_JURISDICTION_KEYS)
    )
    if jurisdiction is not None:
        jurisdiction = jurisdiction.strip().upper()
        if not _JURISDICTION.fullmatch(jurisdiction):
            raise BadCorrelation(
                f"{JURISDICTION_HEADER} must be a country code or country-region code such as EU, DE, US-IL"
            )
    return CallContext(
        call_id=call_id,
        subject=subject,
        jurisdiction=jurisdiction,
        traceparent=traceparent,
        tracestate=headers.get("tracestate") if traceparent else None,
    )


def forward_query(query: MultiMapping[str]) -> MultiDict[str]:
    """The query string to send upstream: voiceguard's own parameters removed, order kept."""
    return MultiDict((key, value) for key, value in query.items() if key not in OWN_PARAMS)


def has_own_params(query: MultiMapping[str]) -> bool:
    return any(key in OWN_PARAMS for key in query)


def _connection_tokens(headers: CIMultiDictProxy[str]) -> set[str]:
    tokens: set[str] = set()
    for value in headers.getall("connection", ()):
        tokens.update(token.strip().lower() for token in value.split(","))
    return tokens


def forward_headers(headers: CIMultiDictProxy[str], drop: frozenset[str]) -> CIMultiDict[str]:
    """Headers to send on: hop-by-hop, voiceguard's own and ``drop`` removed, everything else untouched."""
    extra = _connection_tokens(headers)
    return CIMultiDict(
        (key, value)
        for key, value in headers.items()
        if (lowered := key.lower()) not in drop
        and lowered not in extra
        and not lowered.startswith(OWN_HEADER_PREFIX)
    )
