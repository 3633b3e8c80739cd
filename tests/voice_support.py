"""Helpers for the Deepgram and Twilio end-to-end tests: a proxy with guards, and small guards to drive.

The guards here are test doubles for the policy guards of other modules (PII, biometrics): each does one
visible thing to the events it is given, so a test proves what the adapter writes back on the wire.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from tests.engines import shared_engine
from voiceguard import server
from voiceguard.events import AgentText, BiometricRequest, ClientNotice, Event, Transcript, TTSText
from voiceguard.guards.base import Guard, GuardContext
from voiceguard.session import Call
from voiceguard.testing import RecordingSink, settings_for

DIGITS = re.compile(r"\d+")


@asynccontextmanager
async def running_proxy(
    data_dir: Path,
    upstreams: dict[str, str],
    recording: RecordingSink,
    guards: Sequence[Guard] = (),
    **overrides: Any,
) -> AsyncIterator[server.RunningServer]:
    settings = settings_for(upstreams, data_dir, **overrides)
    running = await server.start(
        settings, extra_sinks=[recording], guards=list(guards), pii_engine=shared_engine(settings)
    )
    try:
        yield running
    finally:
        await running.close()


class _Guard:
    name = "test"

    def start(self, call: Call) -> None:
        pass

    def finish(self, call: Call) -> None:
        pass

    def process(self, ctx: GuardContext, event: Event) -> Iterable[Event]:
        yield event


class RefuseVoiceprints(_Guard):
    """Disables every voiceprint feature, as the biometrics guard does without consent on record."""

    def process(self, ctx: GuardContext, event: Event) -> Iterable[Event]:
        if isinstance(event, BiometricRequest):
            yield dataclasses.replace(event, enabled=False)
            yield ClientNotice("X-VoiceGuard-Stripped", event.feature.value)
        else:
            yield event


class RedactDigits(_Guard):
    """Replaces every run of digits in what is said or heard, leaving transcript words to the adapter."""

    def process(self, ctx: GuardContext, event: Event) -> Iterable[Event]:
        if isinstance(event, Transcript | TTSText | AgentText) and DIGITS.search(event.text):
            yield dataclasses.replace(event, text=DIGITS.sub("[NUMBER]", event.text))
        else:
            yield event


class StripSpeakers(_Guard):
    """Removes speaker labels from transcripts."""

    def process(self, ctx: GuardContext, event: Event) -> Iterable[Event]:
        if isinstance(event, Transcript) and (event.speaker or any(w.speaker for w in event.words)):
            words = tuple(dataclasses.replace(w, speaker=None) for w in event.words)
            yield dataclasses.replace(event, speaker=None, words=words)
        else:
            yield event


class MaskDtmf(_Guard):
    """Masks keypad digits, as a PCI guard does for card numbers typed on the keypad."""

    def process(self, ctx: GuardContext, event: Event) -> Iterable[Event]:
        if isinstance(event, Transcript) and event.stream == "dtmf":
            yield dataclasses.replace(event, text="*")
        else:
            yield event
