"""Voiceprint features only with consent: strip or refuse them, and strip speaker labels from replies.

Adapters report every request for a feature that creates or uses a voiceprint as a ``BiometricRequest``
(Deepgram ``diarize``, an OpenAI diarization model or known-speaker references, an enrolment endpoint, a
voice-cloning upload) and every transcript with its words' speaker labels. Where the call's policy packs
gate the feature (``guards/consent.py``) and no consent that counts is on record for the caller, this guard:

- strips an option (the adapter removes it from the request) and tells the client in an
  ``X-VoiceGuard-Stripped: <feature>; policy=<rule>`` response header, or refuses the request with the
  contract's 451 error, as the rule says (``block``) or the configuration asks (``enforcement: refuse``).
  A feature the request cannot go without (enrolment, verification and voice cloning, which are whole
  requests, or one the adapter marks ``strippable=False``) is always refused, here, by the guard;
- removes speaker labels from transcripts going to the client where diarization is gated. This also covers
  a live stream opened while consent was on record and withdrawn since: labels go from the next result on.

Decisions are reported as ``PolicyDecision`` events with the consent record's id and digest as evidence.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Final

from voiceguard.consent.model import CALL_CONSENT, ConsentSlot, now_utc
from voiceguard.events import (
    BiometricFeature,
    BiometricRequest,
    ClientNotice,
    Direction,
    Event,
    PolicyDecision,
    Stage,
    Transcript,
)
from voiceguard.guards.base import Blocked, GuardContext
from voiceguard.guards.consent import FEATURE_PURPOSE, ConsentRules, Enforcement
from voiceguard.session import Call

STRIPPED_HEADER: Final = "X-VoiceGuard-Stripped"
SPEAKER_LABELS: Final = "speaker_labels"

WHOLE_REQUEST_FEATURES: Final = frozenset(
    {
        BiometricFeature.SPEAKER_ENROLMENT,
        BiometricFeature.SPEAKER_VERIFICATION,
        BiometricFeature.VOICE_CLONING,
    }
)
"""Features that are the request itself: nothing is left to forward once they are taken out."""

_REPORTED: Final = "voiceguard.biometrics.reported"


@dataclasses.dataclass(slots=True)
class _Reported:
    """Which consent state the last speaker-label decision of a call was reported under."""

    version: int = -1


class BiometricsGuard:
    """Gates voiceprint features on consent; see the module docstring."""

    name = "biometrics"

    def __init__(self, rules: ConsentRules, clock: Callable[[], datetime] = now_utc) -> None:
        self.rules = rules
        self.clock = clock

    def start(self, call: Call) -> None:
        pass

    def finish(self, call: Call) -> None:
        pass

    def passes(self, kind: type[Event], direction: Direction, stage: Stage) -> bool:
        """Only feature requests and transcripts are read (``Selective``): audio frames skip this guard."""
        return not issubclass(kind, BiometricRequest | Transcript)

    def process(self, ctx: GuardContext, event: Event) -> Iterable[Event]:
        if isinstance(event, BiometricRequest) and event.enabled:
            return self._feature(ctx, event)
        if isinstance(event, Transcript) and ctx.direction is Direction.TO_CLIENT and _labelled(event):
            return self._labels(ctx, event)
        return (event,)

    def _feature(self, ctx: GuardContext, event: BiometricRequest) -> list[Event]:
        purpose = FEATURE_PURPOSE[event.feature]
        check = self.rules.check(ctx.call, event.feature, self.clock())
        feature = event.feature.value
        evidence = (("feature", feature), ("purpose", purpose.value), *check.evidence())
        if check.allowed:
            if check.rule is None:
                return [event]
            return [event, PolicyDecision(check.rule.rule_id, "allow", check.reason, evidence=evidence)]
        rule = check.rule
        assert rule is not None
        if (
            rule.enforcement is Enforcement.REFUSE
            or not event.strippable
            or event.feature in WHOLE_REQUEST_FEATURES
        ):
            raise Blocked(
                rule.rule_id,
                f"{feature} needs {purpose.value} consent on record for this caller ({check.reason})",
                status=451,
                evidence=evidence,
            )
        return [
            dataclasses.replace(event, enabled=False),
            PolicyDecision(rule.rule_id, "strip", check.reason, evidence=evidence),
            ClientNotice(STRIPPED_HEADER, f"{feature}; policy={rule.rule_id}"),
        ]

    def _labels(self, ctx: GuardContext, event: Transcript) -> list[Event]:
        check = self.rules.check(ctx.call, BiometricFeature.DIARIZATION, self.clock())
        if check.allowed:
            return [event]
        stripped = dataclasses.replace(
            event,
            speaker=None,
            words=tuple(dataclasses.replace(word, speaker=None) for word in event.words),
        )
        out: list[Event] = [stripped]
        rule = check.rule
        assert rule is not None
        if self._first_report(ctx.call):
            purpose = FEATURE_PURPOSE[BiometricFeature.DIARIZATION].value
            evidence = (("feature", SPEAKER_LABELS), ("purpose", purpose))
            out.append(PolicyDecision(rule.rule_id, "strip", check.reason, evidence=evidence))
        return out

    @staticmethod
    def _first_report(call: Call) -> bool:
        """Report stripped labels once per consent state of a call, not once per transcript."""
        view = call.scratch(CALL_CONSENT, ConsentSlot).view
        version = view.version if view is not None else 0
        reported = call.scratch(_REPORTED, _Reported)
        if reported.version == version:
            return False
        reported.version = version
        return True


def _labelled(event: Transcript) -> bool:
    return event.speaker is not None or any(word.speaker is not None for word in event.words)
