"""EU AI Act Art. 50(2): synthetic speech leaves voiceguard marked as AI-generated, machine-readably.

Every TTS request gets response headers that say so (every format carries headers), and an
``AudioMarking`` event that asks the adapter to write the same into the audio container where the format
has a place for metadata. Formats without one (raw PCM, Opus/AAC streams, realtime audio deltas) are
marked by the headers alone: in-band marking there would need an audio watermark (see the README).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from voiceguard.events import AudioMarking, ClientNotice, Direction, Event, PolicyDecision, Stage, TTSText
from voiceguard.guards.base import GuardContext
from voiceguard.guards.policy_context import PolicyBoundGuard
from voiceguard.policy.context import bind
from voiceguard.policy.model import Action

AI_GENERATED_HEADER: Final = "X-VoiceGuard-AI-Generated"
SOURCE_TYPE_HEADER: Final = "X-VoiceGuard-Digital-Source-Type"
"""The IPTC digital source type, the vocabulary C2PA manifests use for AI-generated media."""
POLICY_HEADER: Final = "X-VoiceGuard-Policy"
DEFAULT_SOURCE_TYPE: Final = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
DEFAULT_COMMENT: Final = "AI-generated speech"
GENERATOR: Final = "voiceguard"


class AiMarkingGuard(PolicyBoundGuard):
    """Marks TTS output as AI-generated (headers plus in-band metadata where the container allows)."""

    name = "ai-marking"

    def passes(self, kind: type[Event], direction: Direction, stage: Stage) -> bool:
        """Only text going to a TTS upstream is marked (``Selective``): everything else skips this guard."""
        return not (issubclass(kind, TTSText) and stage is Stage.TTS and direction is Direction.TO_UPSTREAM)

    def process(self, ctx: GuardContext, event: Event) -> Iterable[Event]:
        if not (
            isinstance(event, TTSText)
            and ctx.exchange.stage is Stage.TTS
            and ctx.direction is Direction.TO_UPSTREAM
        ):
            return (event,)
        policy = bind(ctx.call, self.store)
        control = policy.applied.control("ai-marking")
        if control is None:
            return (event,)
        rule_id = control.rules[0]
        source_type = str(control.parameters.get("digital_source_type") or DEFAULT_SOURCE_TYPE)
        listed = control.parameters.get("containers", ("wav", "mp3", "flac"))
        containers = tuple(str(item) for item in listed) if isinstance(listed, tuple) else ()
        in_band = ",".join(containers)
        evidence = [
            ("format", "any"),
            ("digital_source_type", source_type),
            ("policy_digest", policy.applied.digest),
        ]
        if control.action is Action.OBSERVE:
            evidence.insert(0, ("method", "none"))
            return (
                PolicyDecision(rule_id, control.action.value, "unmarked", evidence=tuple(evidence)),
                event,
            )
        evidence.insert(0, ("method", f"headers;metadata:{in_band}" if in_band else "headers"))
        comment = str(control.parameters.get("comment") or DEFAULT_COMMENT)
        marking = AudioMarking(
            (
                ("ai_generated", "true"),
                ("digital_source_type", source_type),
                ("comment", comment),
                ("generator", GENERATOR),
                ("policy", rule_id),
            ),
            containers,
        )
        return (
            ClientNotice(AI_GENERATED_HEADER, "true"),
            ClientNotice(SOURCE_TYPE_HEADER, source_type),
            ClientNotice(POLICY_HEADER, rule_id),
            PolicyDecision(rule_id, control.action.value, "marked", evidence=tuple(evidence)),
            marking,
            event,
        )
