"""Transforms on the audio a client streams to a speech service, applied in the WebSocket relay.

The adapter reports each binary audio frame as ``AudioChunk`` metadata (encoding, sample rate); when voice
anonymisation is on and the frame is 16-bit PCM, the relay sends the anonymised samples instead of the
caller's own voice (``voiceguard.biometrics.anonymise``). The transform holds back half a frame (10 ms at
the default 20 ms), which it releases before any control message the client sends, so a ``Finalize`` or
``CloseStream`` never overtakes audio. Compressed audio (opus, mp3, mulaw) is forwarded unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, Protocol

from voiceguard.events import AudioChunk, Direction, Event

PCM16: Final = frozenset({"linear16", "pcm16"})


class _Anonymiser(Protocol):
    def process(self, pcm: bytes) -> bytes: ...

    def flush(self) -> bytes: ...


def client_audio(events: Sequence[Event]) -> AudioChunk | None:
    """The ``AudioChunk`` of a frame of audio the client sends upstream, if the frame is one."""
    chunk = next((e for e in events if isinstance(e, AudioChunk)), None)
    return chunk if chunk is not None and chunk.direction is Direction.TO_UPSTREAM else None


class ClientAudioFilter:
    """Anonymises one WebSocket's outgoing PCM; created per connection, only when anonymisation is on."""

    __slots__ = ("_anonymiser", "alpha", "frames")

    def __init__(self, alpha: float) -> None:
        self.alpha = alpha
        self._anonymiser: _Anonymiser | None = None
        self.frames = 0

    def audio(self, events: Sequence[Event], data: bytes) -> bytes | None:
        """The bytes to send instead of ``data``; ``None`` when the frame is not PCM audio we transform."""
        chunk = client_audio(events)
        if chunk is None or chunk.encoding not in PCM16:
            return None
        if self._anonymiser is None:
            if not chunk.sample_rate:
                return None
            from voiceguard.biometrics.anonymise import McAdamsAnonymiser

            self._anonymiser = McAdamsAnonymiser(chunk.sample_rate, alpha=self.alpha)
        self.frames += 1
        return self._anonymiser.process(data)

    def held(self) -> bytes:
        """What the transform still holds, to send before a control message or at the end."""
        return self._anonymiser.flush() if self._anonymiser is not None else b""
