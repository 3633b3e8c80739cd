"""The shared state of a simulated voice backend: its script, its timings, and what it received.

Tests and the demo construct one ``Backend`` and serve its vendor apps; they read ``received`` afterwards to
check what actually reached the vendor (credentials intact, voiceguard's own headers gone, PII redacted).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from multidict import CIMultiDict


@dataclass(frozen=True, slots=True)
class Timings:
    """Delays the simulator injects, in seconds, so latency measurements have a known truth."""

    first_byte: float = 0.0
    """Before the response head (time to first byte of every REST answer)."""
    first_token: float = 0.0
    """Before the first streamed chunk of a chat reply or of speech audio."""
    chunk_interval: float = 0.0
    """Between streamed chunks."""
    end_of_speech: float = 0.0
    """Streaming STT: from the end of an utterance's audio to its final result."""


@dataclass(frozen=True, slots=True)
class ToolCallSpec:
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class Reply:
    """What the simulated LLM answers."""

    text: str = ""
    tool_calls: tuple[ToolCallSpec, ...] = ()


@dataclass(slots=True)
class Received:
    """One request as the simulated vendor saw it."""

    method: str
    path: str
    query: list[tuple[str, str]]
    headers: CIMultiDict[str]
    body: bytes = b""
    frames: list[bytes | str] = field(default_factory=list)
    sent: list[bytes | str] = field(default_factory=list)
    """What the simulated vendor answered (a body, frames), to check byte for byte what reached the client."""
    form: list[tuple[str, str]] = field(default_factory=list)
    """The text fields of a multipart upload, in order (file parts are in ``body``)."""


def echo_reply(prompt: str) -> Reply:
    return Reply(text=f"You said: {prompt}" if prompt else "Hello, how can I help?")


@dataclass
class Backend:
    """A scripted backend; ``transcripts`` are what its STT "hears", in order."""

    transcripts: deque[str] = field(default_factory=deque)
    responder: Callable[[str], Reply] = echo_reply
    timings: Timings = field(default_factory=Timings)
    api_keys: frozenset[str] = frozenset({"sk-test"})
    received: list[Received] = field(default_factory=list)
    default_transcript: str = "hello there"
    speech_timings: Timings | None = None
    """Delays of text-to-speech answers when they differ from the LLM's (``timings`` otherwise)."""

    def script(self, transcripts: Iterable[str]) -> None:
        self.transcripts.extend(transcripts)

    def next_transcript(self) -> str:
        return self.transcripts.popleft() if self.transcripts else self.default_transcript

    def timings_for_speech(self) -> Timings:
        return self.speech_timings or self.timings

    def authorised(self, credential: str | None) -> bool:
        return credential is not None and credential in self.api_keys


def word_pieces(text: str) -> list[str]:
    """``text`` cut into streamable pieces that join back to it exactly (each word with its leading space)."""
    pieces = text.split(" ")
    return [piece if index == 0 else " " + piece for index, piece in enumerate(pieces)]
