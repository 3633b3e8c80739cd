"""Small guards for end-to-end adapter tests: they prove the wire follows whatever a guard decides.

They stand in for no real component: the real PII guard is built elsewhere; these exercise the adapters'
rendering of rewritten, held and released events through a live proxy.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tests.engines import shared_engine
from voiceguard import server
from voiceguard.events import TEXT_EVENTS, BiometricRequest, Direction, Event, TextDelta, ToolCall
from voiceguard.guards.base import Guard, GuardContext
from voiceguard.session import Call
from voiceguard.testing import RecordingSink, settings_for


class Replace:
    """Rewrites one string wherever it appears in a text or in tool-call arguments."""

    name = "test-replace"

    def __init__(self, old: str, new: str, direction: Direction | None = None) -> None:
        self.old, self.new, self.direction = old, new, direction

    def start(self, call: Call) -> None:
        pass

    def finish(self, call: Call) -> None:
        pass

    def process(self, ctx: GuardContext, event: Event) -> Iterable[Event]:
        if self.direction is not None and ctx.direction is not self.direction:
            yield event
        elif isinstance(event, TEXT_EVENTS) and self.old in getattr(event, "text", ""):
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


class RefuseBiometrics:
    """Turns every biometric feature off, as a consent guard does for a caller without consent."""

    name = "test-refuse-biometrics"

    def start(self, call: Call) -> None:
        pass

    def finish(self, call: Call) -> None:
        pass

    def process(self, ctx: GuardContext, event: Event) -> Iterable[Event]:
        yield dataclasses.replace(event, enabled=False) if isinstance(event, BiometricRequest) else event


async def guarded_proxy(
    data_dir: Path, upstreams: dict[str, str], recording: RecordingSink, *guards: Guard, **overrides: Any
) -> server.RunningServer:
    """voiceguard with exactly ``guards`` in its chain (the caller closes it)."""
    settings = settings_for(upstreams, data_dir, **overrides)
    return await server.start(
        settings, extra_sinks=[recording], guards=list(guards), pii_engine=shared_engine(settings)
    )
