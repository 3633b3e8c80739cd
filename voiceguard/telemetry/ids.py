"""Trace and span ids derived from what every replica knows about a call, so no one has to coordinate.

The trace id comes from the call: the client's own trace when it sent a ``traceparent`` (its trace id, or the
call id when that is a 32-hex trace id), otherwise a hash of the call id, so replicas that each see part of
one call put their spans into one trace. Span ids of calls, turns and exchanges are hashes of names unique to
this process (the call's start time on this replica, the exchange id), so the tracing sink can parent a stage
span to a turn span it has not written yet, the metrics sink can attach exemplars to the same turn span, and
the upstream request can carry the ``traceparent`` of the span that will describe it.
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass
from typing import Final

from voiceguard.session import Call, Exchange

_HEX32: Final = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True, slots=True)
class RemoteParent:
    """The client's span a call's trace hangs under (from its ``traceparent``)."""

    trace_id: int
    span_id: int
    sampled: bool


def _hash_int(text: str, size: int) -> int:
    value = int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=size).digest(), "big")
    return value or 1  # zero is the invalid id


def remote_parent(call: Call) -> RemoteParent | None:
    """The client's span from the call's ``traceparent`` (validated when the request was read)."""
    if not call.traceparent:
        return None
    parts = call.traceparent.strip().split("-")
    if len(parts) != 4:
        return None
    try:
        trace_id, span_id, flags = int(parts[1], 16), int(parts[2], 16), int(parts[3], 16)
    except ValueError:
        return None
    if not trace_id or not span_id:
        return None
    return RemoteParent(trace_id, span_id, bool(flags & 1))


def trace_id_for(call: Call) -> int:
    """The trace id of a call; the same on every replica that sees the call."""
    parent = remote_parent(call)
    if parent is not None:
        return parent.trace_id
    if _HEX32.fullmatch(call.id) and int(call.id, 16):
        return int(call.id, 16)
    return _hash_int("voiceguard.call:" + call.id, 16)


def trace_id_hex(call: Call) -> str:
    return f"{trace_id_for(call):032x}"


def call_span_id(call: Call) -> int:
    return _hash_int(f"call:{call.id}:{call.started_ns}", 8)


def turn_span_id(call: Call, turn_number: int) -> int:
    return _hash_int(f"turn:{call.id}:{call.started_ns}:{turn_number}", 8)


def exchange_span_id(exchange: Exchange) -> int:
    return _hash_int(f"exchange:{exchange.id}:{exchange.started_ns}", 8)


def random_trace_id() -> int:
    """For a root span nothing named (never the case for voiceguard's own spans; a safety net)."""
    return random.getrandbits(128) or 1


def random_span_id() -> int:
    return random.getrandbits(64) or 1


def traceparent(trace_id: int, span_id: int, sampled: bool = True) -> str:
    return f"00-{trace_id:032x}-{span_id:016x}-{'01' if sampled else '00'}"
