"""Request paths that could leave their route: voiceguard only ever forwards below a route's upstream URL.

The upstream host is fixed by configuration and never taken from the request, so no path reaches another
host. But a dot segment (``..``, also spelled ``%2e%2e`` or hidden behind an encoded slash or a backslash)
could still climb out of a route's base path on that host once the upstream normalises it, so such paths are
refused before anything is forwarded. No vendor API uses dot segments.
"""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import unquote

_SEPARATORS: Final = re.compile(r"[/\\]")
_DOT_SEGMENTS: Final = frozenset({".", ".."})
_DECODE_ROUNDS: Final = 4


def escapes_route(raw_path: str) -> bool:
    """True when the (still percent-encoded) path holds a dot segment in any spelling."""
    if "." not in raw_path and "%" not in raw_path:
        return False
    decoded = raw_path
    for _ in range(_DECODE_ROUNDS):  # double-encoded dots (%252e) are decoded by some upstreams too
        if any(segment in _DOT_SEGMENTS for segment in _SEPARATORS.split(decoded)):
            return True
        again = unquote(decoded)
        if again == decoded:
            return False
        decoded = again
    return True  # still changing after several rounds: nobody legitimate encodes that deep
