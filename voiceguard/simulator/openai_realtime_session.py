"""The session configuration of the SIMULATED OpenAI Realtime API, in its GA and its beta shape.

Kept in one normalised form and rendered in the shape the client speaks: GA nests audio settings under
``session.audio.input``/``output`` with formats like ``{"type": "audio/pcm", "rate": 24000}``; beta keeps
them flat (``input_audio_format: "pcm16"``, ``input_audio_transcription``, ``turn_detection``).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

GA_TO_BETA = {
    "response.output_audio.delta": "response.audio.delta",
    "response.output_audio.done": "response.audio.done",
    "response.output_audio_transcript.delta": "response.audio_transcript.delta",
    "response.output_audio_transcript.done": "response.audio_transcript.done",
    "response.output_text.delta": "response.text.delta",
    "response.output_text.done": "response.text.done",
    "conversation.item.added": "conversation.item.created",
}
"""Server event names that differ between GA and beta; GA-only events are not sent to beta clients."""
GA_ONLY = frozenset({"conversation.item.done"})

_BETA_FORMATS = {
    "pcm16": ("pcm16", 24_000),
    "g711_ulaw": ("g711_ulaw", 8_000),
    "g711_alaw": ("g711_alaw", 8_000),
}
_GA_FORMATS = {"audio/pcmu": ("g711_ulaw", 8_000), "audio/pcma": ("g711_alaw", 8_000)}
_DEFAULT_VAD: dict[str, Any] = {
    "type": "server_vad",
    "threshold": 0.5,
    "prefix_padding_ms": 300,
    "silence_duration_ms": 500,
    "create_response": True,
    "interrupt_response": True,
}


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _format_from(value: object) -> tuple[str, int] | None:
    if isinstance(value, str):
        return _BETA_FORMATS.get(value)
    if isinstance(value, dict):
        if value.get("type") == "audio/pcm":
            rate = value.get("rate")
            return ("pcm16", rate if isinstance(rate, int) else 24_000)
        kind = value.get("type")
        return _GA_FORMATS.get(kind) if isinstance(kind, str) else None
    return None


def _ga_format(audio: tuple[str, int]) -> dict[str, Any]:
    encoding, rate = audio
    if encoding == "pcm16":
        return {"type": "audio/pcm", "rate": rate}
    return {"type": "audio/pcmu" if encoding == "g711_ulaw" else "audio/pcma"}


@dataclass
class SessionConfig:
    """What the client configured, normalised."""

    model: str
    beta: bool
    id: str = field(default_factory=lambda: f"sess_{uuid.uuid4().hex[:20]}")
    instructions: str = "You are a helpful assistant."
    modalities: list[str] = field(default_factory=lambda: ["audio"])
    voice: str = "alloy"
    input_format: tuple[str, int] = ("pcm16", 24_000)
    output_format: tuple[str, int] = ("pcm16", 24_000)
    transcription: dict[str, Any] | None = None
    turn_detection: dict[str, Any] | None = field(default_factory=lambda: dict(_DEFAULT_VAD))
    tools: list[Any] = field(default_factory=list)
    created_at: int = field(default_factory=lambda: int(time.time()))

    @property
    def audio_out(self) -> bool:
        return "audio" in self.modalities

    def update(self, session: dict[str, Any]) -> None:
        """Apply a ``session.update`` in either shape."""
        if isinstance(session.get("instructions"), str):
            self.instructions = session["instructions"]
        if isinstance(session.get("tools"), list):
            self.tools = session["tools"]
        modalities = session.get("output_modalities", session.get("modalities"))
        if isinstance(modalities, list):
            self.modalities = [m for m in modalities if m in ("audio", "text")] or ["text"]
        audio = _dict(session.get("audio"))
        audio_in = _dict(audio.get("input"))
        audio_out = _dict(audio.get("output"))
        self.input_format = (
            _format_from(audio_in.get("format"))
            or _format_from(session.get("input_audio_format"))
            or self.input_format
        )
        self.output_format = (
            _format_from(audio_out.get("format"))
            or _format_from(session.get("output_audio_format"))
            or self.output_format
        )
        voice = audio_out.get("voice", session.get("voice"))
        if isinstance(voice, str):
            self.voice = voice
        for source, key in ((audio_in, "transcription"), (session, "input_audio_transcription")):
            if key in source:
                self.transcription = source[key] if isinstance(source[key], dict) else None
        for source in (audio_in, session):
            if "turn_detection" in source:
                value = source["turn_detection"]
                self.turn_detection = {**_DEFAULT_VAD, **value} if isinstance(value, dict) else None

    def render(self) -> dict[str, Any]:
        """The session object as the client's API version shows it."""
        if self.beta:
            return {
                "id": self.id,
                "object": "realtime.session",
                "model": self.model,
                "expires_at": self.created_at + 1800,
                "modalities": ["text", "audio"] if self.audio_out else ["text"],
                "instructions": self.instructions,
                "voice": self.voice,
                "input_audio_format": self.input_format[0],
                "output_audio_format": self.output_format[0],
                "input_audio_transcription": self.transcription,
                "turn_detection": self.turn_detection,
                "tools": self.tools,
                "tool_choice": "auto",
                "temperature": 0.8,
                "max_response_output_tokens": "inf",
            }
        return {
            "type": "realtime",
            "object": "realtime.session",
            "id": self.id,
            "model": self.model,
            "output_modalities": self.modalities,
            "instructions": self.instructions,
            "tools": self.tools,
            "tool_choice": "auto",
            "max_output_tokens": "inf",
            "tracing": None,
            "prompt": None,
            "expires_at": self.created_at + 1800,
            "audio": {
                "input": {
                    "format": _ga_format(self.input_format),
                    "transcription": self.transcription,
                    "noise_reduction": None,
                    "turn_detection": self.turn_detection,
                },
                "output": {"format": _ga_format(self.output_format), "voice": self.voice, "speed": 1.0},
            },
            "include": None,
        }
