"""Wire protocols, one module each, sans-IO; ``build_adapter`` is the one place that maps names to them.

Nothing registers itself by import: adding a backend means adding its module and one line below.
"""

from __future__ import annotations

from collections.abc import Callable

from voiceguard.protocols.base import ProtocolAdapter
from voiceguard.protocols.passthrough import PassthroughAdapter


def _openai() -> ProtocolAdapter:
    from voiceguard.protocols.openai_rest import OpenAIAdapter

    return OpenAIAdapter()


def _deepgram() -> ProtocolAdapter:
    from voiceguard.protocols.deepgram import DeepgramAdapter

    return DeepgramAdapter()


def _twilio() -> ProtocolAdapter:
    from voiceguard.protocols.twilio import TwilioAdapter

    return TwilioAdapter()


_FACTORIES: dict[str, Callable[[], ProtocolAdapter]] = {
    "passthrough": PassthroughAdapter,
    "openai": _openai,
    # Parsed by their own adapters once those land; until then relayed faithfully, untouched.
    "deepgram": _deepgram,
    "elevenlabs": lambda: PassthroughAdapter("elevenlabs"),
    "anthropic": lambda: PassthroughAdapter("anthropic"),
    "gemini": lambda: PassthroughAdapter("gemini"),
    "twilio": _twilio,
}

PROTOCOL_NAMES: frozenset[str] = frozenset(_FACTORIES)


def build_adapter(name: str) -> ProtocolAdapter:
    """The adapter for a protocol name (validated against ``PROTOCOL_NAMES`` when config loads)."""
    return _FACTORIES[name]()
