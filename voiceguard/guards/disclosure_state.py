"""Per-call state of the disclosure guard, kept on the call (``Call.scratch``) and gone with it."""

from __future__ import annotations

from dataclasses import dataclass

from voiceguard.events import Event
from voiceguard.guards.reply_check import Requirement, satisfied


class Held:
    """A streamed reply being checked: what arrived so far, and (when holding) the deltas not yet sent."""

    __slots__ = ("events", "hold", "requirements", "text", "window")

    def __init__(self, requirements: tuple[Requirement, ...], hold: bool) -> None:
        self.requirements = requirements
        self.hold = hold
        self.text = ""
        self.events: list[Event] = []
        self.window = max(requirement.window for requirement in requirements)

    def ready(self) -> bool:
        """Enough has arrived to judge: the window is full, or every requirement is already met."""
        if len(self.text) >= self.window:
            return True
        return all(satisfied(requirement, self.text) for requirement in self.requirements)


@dataclass(frozen=True, slots=True)
class Timing:
    """A delivered disclosure waiting for the first agent audio, to report the offset between them."""

    requirement: Requirement
    stage: str
    at_ns: int


class CallState:
    __slots__ = (
        "asked",
        "disclosed",
        "disclosed_ns",
        "first_audio_ns",
        "last_prompt",
        "locale",
        "prefixes",
        "prompt_pending",
        "redisclosing",
        "streams",
        "timing",
        "voices_told",
    )

    def __init__(self) -> None:
        self.disclosed: set[str] = set()
        """Stages whose first reply was (or is being) checked for the disclosure."""
        self.asked: set[str] = set()
        """Stages whose next reply must admit being an AI."""
        self.locale: str | None = None
        self.last_prompt: str | None = None
        self.prompt_pending = False
        self.streams: dict[tuple[str, str], Held] = {}
        self.prefixes: dict[tuple[str, str], str] = {}
        """Text injected into a stream, to prepend to the stream's closing summary as well."""
        self.disclosed_ns: int | None = None
        self.first_audio_ns: int | None = None
        self.timing: Timing | None = None
        self.voices_told = 1
        """Voices the disclosure has reached: the first voice heard is the caller the call began with."""
        self.redisclosing: set[str] = set()
        """Stages whose next disclosure is owed to a voice that joined the call."""
