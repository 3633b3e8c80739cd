"""What the PII guard does with each entity type, depending on where the text goes.

``PiiPolicy`` is a plain typed object so that both ``config.py`` (the ``pii:`` section) and the policy packs
(``policies/pii-defaults.yaml``) can produce it. Two flows, because the risk differs:

- ``llm``: text on its way to an LLM upstream (prompts, tool results, realtime input text). The vendor must
  not see card numbers; pseudonyms keep the agent working.
- ``speech``: everything else in flight — STT and realtime transcripts, TTS input text, and LLM replies on
  their way back to the client.

Modes: ``off`` (not looked for), ``observe`` (counted only), ``redact`` (replaced by ``<TYPE>``),
``pseudonymize`` (replaced by ``<TYPE_n>``, restored in the reply; on text coming back from an LLM it acts as
``redact``, since a pseudonym there would be restored at once), ``block`` (the exchange is refused).
Whatever voiceguard records is redacted regardless of these modes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from voiceguard.pii.entities import (
    CREDIT_CARD,
    CVV,
    EMAIL_ADDRESS,
    IBAN_CODE,
    LOCATION,
    PERSON,
    PHONE_NUMBER,
    US_BANK_NUMBER,
    US_SSN,
)


class PiiMode(StrEnum):
    OFF = "off"
    OBSERVE = "observe"
    REDACT = "redact"
    PSEUDONYMIZE = "pseudonymize"
    BLOCK = "block"


class Flow(StrEnum):
    """Where a text goes (see the module docstring)."""

    LLM = "llm"
    SPEECH = "speech"


ACTING_MODES: Final = frozenset({PiiMode.REDACT, PiiMode.PSEUDONYMIZE, PiiMode.BLOCK})
"""Modes that change or stop the text (and so need a stream's tail held back until it is decided)."""

DEFAULT_LLM_MODES: Final[Mapping[str, PiiMode]] = MappingProxyType(
    {
        CREDIT_CARD: PiiMode.PSEUDONYMIZE,
        CVV: PiiMode.PSEUDONYMIZE,
        US_SSN: PiiMode.PSEUDONYMIZE,
        US_BANK_NUMBER: PiiMode.PSEUDONYMIZE,
        IBAN_CODE: PiiMode.PSEUDONYMIZE,
        PERSON: PiiMode.OBSERVE,
        PHONE_NUMBER: PiiMode.OBSERVE,
        EMAIL_ADDRESS: PiiMode.OBSERVE,
        LOCATION: PiiMode.OBSERVE,
    }
)
DEFAULT_SPEECH_MODES: Final[Mapping[str, PiiMode]] = MappingProxyType(
    {entity: PiiMode.OBSERVE for entity in DEFAULT_LLM_MODES}
)


@dataclass(frozen=True, slots=True)
class PiiPolicy:
    """Per-entity modes for each flow; an entity missing from a flow's map is ``off`` there.

    ``rule_id`` is what decisions are reported under unless ``origins`` names the rule that set an
    entity's mode in a flow (a policy pack's rule id); ``version`` names the source (the packs' versions and
    hashes, ``config``, or ``embedded-defaults``) and goes into each decision's evidence with ``evidence``.
    ``score_threshold``, when set, is the detection threshold for calls under this policy.
    """

    llm: Mapping[str, PiiMode] = field(default_factory=lambda: DEFAULT_LLM_MODES)
    speech: Mapping[str, PiiMode] = field(default_factory=lambda: DEFAULT_SPEECH_MODES)
    rule_id: str = "PII"
    version: str = "embedded-defaults"
    origins: Mapping[tuple[Flow, str], str] = field(default_factory=lambda: MappingProxyType({}))
    evidence: tuple[tuple[str, str], ...] = ()
    score_threshold: float | None = None

    def modes(self, flow: Flow) -> Mapping[str, PiiMode]:
        return self.llm if flow is Flow.LLM else self.speech

    def mode(self, flow: Flow, entity: str) -> PiiMode:
        return self.modes(flow).get(entity, PiiMode.OFF)

    def rule_for(self, flow: Flow, entity: str) -> str:
        """The rule an entity's mode in ``flow`` comes from (what its decisions are reported under)."""
        return self.origins.get((flow, entity), self.rule_id)

    def entities(self, flow: Flow) -> frozenset[str]:
        """Entity types looked for in this flow (every mode but ``off``)."""
        return frozenset(e for e, m in self.modes(flow).items() if m is not PiiMode.OFF)

    def acting(self, flow: Flow) -> frozenset[str]:
        """Entity types whose mode changes or stops the text in this flow."""
        return frozenset(e for e, m in self.modes(flow).items() if m in ACTING_MODES)


DEFAULT_POLICY: Final = PiiPolicy()
