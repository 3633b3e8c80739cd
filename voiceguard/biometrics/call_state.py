"""What the proxy knows about the voices on a call, kept on the ``Call`` for the guards to read.

The speaker-change detector (the ``speaker`` extra) counts the distinct voices it hears on the caller's
side. Consent on record is the subject's, so a second voice is a person who has not consented: the
biometrics guard then treats voiceprint features as unconsented for the rest of the call. The same holds when
the detector could not check some of the call's audio (it was overloaded, the audio was compressed, the
model failed): a voice may have joined unseen, so the check fails closed. Only counts are kept here;
embeddings stay inside the detector and die with the call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

CALL_SPEAKERS: Final = "voiceguard.speakers"
"""The ``Call.scratch`` key of the call's ``CallSpeakers``."""


@dataclass(slots=True)
class CallSpeakers:
    """Distinct voices heard on the caller's side of one call."""

    voices: int = 0
    changes: int = 0
    """How many times a voice not heard before joined after the first one."""
    unchecked_seconds: float = 0.0
    """Caller audio the detector could not analyse; any of it means a voice may have joined unseen."""
    unchecked_reason: str | None = None
    """Why the first unchecked audio was not analysed (``overloaded``, ``undecodable``, ``model_error``)."""

    @property
    def others_joined(self) -> bool:
        """A voice other than the first (the subject's) was heard."""
        return self.voices > 1

    @property
    def unverified(self) -> bool:
        """Some of the caller's audio went unchecked, so a second voice cannot be ruled out."""
        return self.unchecked_reason is not None

    def unchecked(self, seconds: float, reason: str) -> None:
        self.unchecked_seconds += seconds
        if self.unchecked_reason is None:
            self.unchecked_reason = reason
