"""Deepgram: which codec serves which request, by method and path.

One protocol serves both Deepgram routes: ``deepgram`` (api.deepgram.com: listen and speak, REST and
WebSocket) and ``deepgram-agent`` (agent.deepgram.com: the Voice Agent at ``/v1/agent/converse``). Paths
are matched on their end, so a client whose base URL carries a prefix still lands on the right codec.
Anything else (``/v1/projects``, models, usage) is relayed untouched.
"""

from __future__ import annotations

from voiceguard.protocols.base import HttpCodec, RequestHead, WsCodec
from voiceguard.protocols.deepgram_agent import AgentSocketCodec
from voiceguard.protocols.deepgram_listen import PROVIDER, ListenRestCodec, ListenSocketCodec
from voiceguard.protocols.deepgram_speak import SpeakRestCodec, SpeakSocketCodec

AGENT_PATH = "/v1/agent/converse"
LISTEN_PATHS = ("/v1/listen", "/v2/listen")
SPEAK_PATH = "/v1/speak"


class DeepgramAdapter:
    """Routes Deepgram paths to their codecs."""

    name = PROVIDER

    def http(self, head: RequestHead) -> HttpCodec | None:
        if head.method != "POST":
            return None
        path = head.path.rstrip("/")
        if path.endswith(LISTEN_PATHS[0]):
            return ListenRestCodec()
        if path.endswith(SPEAK_PATH):
            return SpeakRestCodec()
        return None

    def websocket(self, head: RequestHead) -> WsCodec | None:
        path = head.path.rstrip("/")
        if path.endswith(AGENT_PATH):
            return AgentSocketCodec()
        if path.endswith(LISTEN_PATHS):
            return ListenSocketCodec()
        if path.endswith(SPEAK_PATH):
            return SpeakSocketCodec()
        return None
