"""The generic adapter: understands nothing, so every exchange is relayed untouched.

Used for routes whose protocol voiceguard does not parse; the proxy still gives them faithful streaming,
correlation, limits, logs and metrics.
"""

from __future__ import annotations

from voiceguard.protocols.base import HttpCodec, RequestHead, WsCodec


class PassthroughAdapter:
    """Hands out no codec, which tells the server to relay bytes and frames as they are."""

    def __init__(self, name: str = "passthrough") -> None:
        self.name = name

    def http(self, head: RequestHead) -> HttpCodec | None:
        return None

    def websocket(self, head: RequestHead) -> WsCodec | None:
        return None
