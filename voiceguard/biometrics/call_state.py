"""What the proxy knows about the voices on a call, kept on the ``Call`` for the guards to read.

The speaker-change detector (the ``speaker`` extra) counts the distinct voices it hears on the caller's
side. Consent on record is the subject's, so a second voice is a person who has not consented: the
biometrics guard then treats voiceprint features as unconsented for the rest of the call. Only counts are
kept here; embeddings stay inside the detector and die with the call.
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

    @property
    def others_joined(self) -> bool:
        """A voice other than the first (the subject's) was heard."""
        return self.voices > 1
