"""Small guards for end-to-end adapter tests: they prove the wire follows whatever a guard decides.

They stand in for no real component: the real PII guard is built elsewhere; these exercise the adapters'
rendering of rewritten, held and released events through a live proxy.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from voiceguard.events import TEXT_EVENTS, Event, TextDelta, ToolCall
from voiceguard.guards.base import GuardContext
from voiceguard.session import Call


class Replace:
    """Rewrites one string wherever it appears in a text or in tool-call arguments."""

    name = "test-replace"

    def __init__(self, old: str, new: str) -> None:
        self.old, self.new = old, new

    def start(self, call: Call) -> None:
        pass

    def finish(self, call: Call) -> None:
        pass

    def process(self, ctx: GuardContext, event: Event) -> Iterable[Event]:
        if isinstance(event, TEXT_EVENTS) and self.old in getattr(event, "text", ""):
            yield dataclasses.replace(event, text=event.text.replace(self.old, self.new))  # type: ignore[type-var]
        elif isinstance(event, ToolCall) and self.old in event.arguments:
            yield dataclasses.replace(event, arguments=event.arguments.replace(self.old, self.new))
        else:
            yield event


class HoldDigits:
    """A streaming redactor in miniature: holds deltas while they end in a digit, then releases them joined
    with every digit masked, so a number split across chunks never leaves unmasked."""

    name = "test-hold-digits"

    def __init__(self) -> None:
        self.held: dict[str, str] = {}

    def start(self, call: Call) -> None:
        pass

    def finish(self, call: Call) -> None:
        pass

    def process(self, ctx: GuardContext, event: Event) -> Iterable[Event]:
        if not isinstance(event, TextDelta):
            yield event
            return
        text = self.held.pop(event.stream, "") + event.text
        if text and text[-1].isdigit():
            self.held[event.stream] = text
            return
        masked = "".join("#" if char.isdigit() else char for char in text)
        yield dataclasses.replace(event, text=masked)
