"""The PII guard: finds PII in every text that flows, and observes, redacts, pseudonymises or blocks it.

Where text flows (events.py): ``PromptText`` and ``ToolCall``/``TextDelta`` toward an LLM (flow ``llm``),
``Transcript`` (final and interim), ``TTSText``, and replies on their way back (flow ``speech``; see
``voiceguard.pii.policy``). Complete texts are analysed with the rolling window in front (``pii/window.py``);
streamed replies go through a ``ReplyStream`` that holds back only an open tail and restores pseudonyms.

Which mode applies to which entity is decided per call: the ``pii`` rules of the policy packs in force for
the call (``voiceguard.policy.pii``; a reload reaches new calls, a running call keeps its set), with the
operator's ``pii.modes`` on top. Without a policy store the guard uses ``settings.policy`` alone.

Reports: one ``PolicyDecision`` per text, mode and rule, ``counts`` by entity type only — never the text, a
value or a placeholder (telemetry and the audit log rely on this). ``action`` is the mode (``observe``,
``redact``, ``pseudonymize``), or ``restore`` for pseudonyms put back, or ``fail_closed`` when analysis
failed and the text was masked; evidence names the flow, the policy version and the packs' hashes.
``block`` raises ``Blocked`` with the contract's error.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Final

import orjson

from voiceguard.config import PiiConfig
from voiceguard.events import (
    DECISION_CONTROL,
    AgentText,
    AudioChunk,
    Direction,
    Event,
    LLMRequest,
    PolicyDecision,
    PromptText,
    ResponseDone,
    Stage,
    TextDelta,
    TextRole,
    ToolCall,
    Transcript,
    TTSText,
    WireAnomaly,
)
from voiceguard.guards.base import Blocked, GuardContext
from voiceguard.guards.pii_modes import CallModes, ModesByCall, count_by_rule
from voiceguard.guards.pii_replies import ReplyOutput, ReplyStream
from voiceguard.pii.anonymize import MASK, Replacer, label
from voiceguard.pii.engine import AnalysisFailed, PiiEngine
from voiceguard.pii.entities import NER_ENTITIES, Finding
from voiceguard.pii.policy import DEFAULT_POLICY, Flow, PiiMode, PiiPolicy
from voiceguard.pii.streaming import PlaceholderRestorer, Released, StreamScanner
from voiceguard.pii.vault import EphemeralSealer, PseudonymVault, Sealer
from voiceguard.pii.window import ConversationWindow
from voiceguard.pii.words import redact_words
from voiceguard.policy.context import PolicyStore
from voiceguard.policy.pii import CONTROL as PII_CONTROL
from voiceguard.policy.pii import PiiOverrides
from voiceguard.session import Call

OUTCOMES: Final = {
    PiiMode.OBSERVE: "detected",
    PiiMode.REDACT: "redacted",
    PiiMode.PSEUDONYMIZE: "pseudonymized",
}
UNANALYZED: Final = "UNANALYZED"
"""The count key of a ``fail_closed`` decision: one text that could not be analysed and was masked."""
MAX_REPLY_STREAMS: Final = 64
_LLM_STAGES: Final = frozenset({Stage.LLM, Stage.REALTIME})


@dataclass(frozen=True, slots=True)
class PiiGuardSettings:
    """How the guard behaves around the engine (built from ``config.PiiConfig``).

    ``policy`` applies when the guard has no policy store; with one, each call's packs decide and
    ``overrides`` (the configuration's ``pii.modes``) sit on top.
    """

    policy: PiiPolicy = DEFAULT_POLICY
    overrides: PiiOverrides = field(default_factory=PiiOverrides)
    hold_chars: int = 80
    window_chars: int = 120
    vault_ttl_s: float = 3600.0
    vault_max_entries: int = 1000
    block_status: int = 403
    observe_ner_in_flight: bool = False

    @classmethod
    def from_config(cls, config: PiiConfig) -> PiiGuardSettings:
        return cls(
            policy=config.policy(),
            overrides=config.overrides(),
            hold_chars=config.stream_hold_chars,
            window_chars=config.window_chars,
            vault_ttl_s=config.vault_ttl_seconds,
            vault_max_entries=config.vault_max_entries,
            block_status=config.block_status,
            observe_ner_in_flight=config.observe_ner_in_flight,
        )


@dataclass(slots=True)
class _CallState:
    vault: PseudonymVault
    window: ConversationWindow
    replies: OrderedDict[tuple[str, str], ReplyStream] = field(default_factory=OrderedDict)


def _json_escape(value: str) -> str:
    return orjson.dumps(value).decode()[1:-1]


def _text_of(event: Event) -> str | None:
    if isinstance(event, ToolCall):
        return event.arguments
    text = getattr(event, "text", None)
    return text if isinstance(text, str) else None


def _with_text(event: Event, text: str) -> Event:
    if isinstance(event, ToolCall):
        return dataclasses.replace(event, arguments=text)
    if isinstance(event, Transcript | PromptText | TextDelta | AgentText | TTSText):
        return dataclasses.replace(event, text=text)
    return event


class PiiGuard:
    """See the module docstring; one instance serves every call (per-call state lives on the call)."""

    name = "pii"

    def __init__(
        self,
        engine: PiiEngine,
        settings: PiiGuardSettings | None = None,
        *,
        sealer: Sealer | None = None,
        replacer: Replacer | None = None,
        policies: PolicyStore | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings or PiiGuardSettings()
        self.policy = self.settings.policy
        self.policies = policies
        self._sealer = sealer or EphemeralSealer()
        self._replacer = replacer or Replacer()
        self._state_key = object()
        self._modes_by_call = ModesByCall(
            self.policy,
            self.settings.overrides,
            policies,
            uses_ner=engine.uses_ner,
            observe_ner=self.settings.observe_ner_in_flight,
        )

    # --- lifecycle ------------------------------------------------------------------------------------------

    def start(self, call: Call) -> None:
        pass

    def finish(self, call: Call) -> None:
        pass  # the state lives in call.scratch and goes with the call

    def _state(self, call: Call) -> _CallState:
        def create() -> _CallState:
            vault = PseudonymVault(
                self._sealer,
                f"pii-vault:{call.id}",
                ttl_s=self.settings.vault_ttl_s,
                max_entries=self.settings.vault_max_entries,
            )
            return _CallState(vault, ConversationWindow(self.settings.window_chars))

        return call.scratch(self._state_key, create)

    # --- the call's modes -----------------------------------------------------------------------------------

    def _modes(self, call: Call) -> CallModes:
        return self._modes_by_call.of(call)

    def modes_for(self, call: Call) -> PiiPolicy:
        """The modes that apply to ``call`` (for the admin view and tests)."""
        return self._modes(call).policy

    # --- dispatch -------------------------------------------------------------------------------------------

    def passes(self, kind: type[Event], direction: Direction, stage: Stage) -> bool:
        """Audio and wire anomalies carry no text, so ``process`` hands them straight back (``Selective``)."""
        return kind is AudioChunk or kind is WireAnomaly

    def process(self, ctx: GuardContext, event: Event) -> Iterable[Event]:
        if isinstance(event, ResponseDone):
            yield from self._flush_replies(ctx)
            yield event
            return
        if isinstance(event, LLMRequest):
            self._state(ctx.call).window.forget(("prompt", ctx.exchange_id))
            yield event
            return
        text = _text_of(event)
        if text is None or not text:
            yield event
            return
        replying = (
            ctx.direction is Direction.TO_CLIENT
            and ctx.exchange.stage in _LLM_STAGES
            and isinstance(event, AgentText | TextDelta | ToolCall)
        )
        if replying and isinstance(event, TextDelta | ToolCall) and not _complete(event):
            yield from self._reply_delta(ctx, event, text)
            return
        yield from self._complete_text(ctx, event, text, replying)

    def _complete_text(self, ctx: GuardContext, event: Event, text: str, replying: bool) -> Iterator[Event]:
        state = self._state(ctx.call)
        modes = self._modes(ctx.call)
        window = state.window
        toward_llm = ctx.direction is Direction.TO_UPSTREAM and ctx.exchange.stage in _LLM_STAGES
        flow = Flow.LLM if toward_llm else Flow.SPEECH
        key, remember = self._window_key(ctx, event)
        prefix = window.prefix(key) if key is not None else ""
        try:
            findings = self._analyze(modes, flow, text, prefix)
        except AnalysisFailed as failure:
            yield _with_text(event, MASK.redact(text))
            yield self._failed(modes.policy, flow, failure.reason)
            return
        new_text, changed, decisions = self._act(modes.policy, text, findings, flow, state.vault, replying)
        restored: dict[str, int] = {}
        if replying and isinstance(event, AgentText | ToolCall):
            escape = _json_escape if isinstance(event, ToolCall) else None
            new_text, restored = state.vault.restore(new_text, escape)
        if key is not None and remember:
            window.remember(key, text)
        if _is_agent_text(event):
            window.remember_agent(text)
        out = event if new_text == text else _with_text(event, new_text)
        if isinstance(out, Transcript) and out.words and changed:
            out = dataclasses.replace(out, words=redact_words(out.words, text, changed))
        yield out
        yield from decisions
        if restored:
            yield self._decision(modes.policy, modes.policy.rule_id, "restore", "restored", flow, restored)

    def _window_key(self, ctx: GuardContext, event: Event) -> tuple[object | None, bool]:
        """The window a text is read in, and whether it joins that window (interim results do not)."""
        if isinstance(event, Transcript):
            return ("transcript", event.stream), event.is_final
        if isinstance(event, TTSText):
            return ("tts", ctx.exchange_id, event.stream), True
        if isinstance(event, PromptText) and event.role in (TextRole.USER, TextRole.TOOL):
            return ("prompt", ctx.exchange_id), True
        return None, False

    # --- analysis and action --------------------------------------------------------------------------------

    def _analyze(self, modes: CallModes, flow: Flow, text: str, prefix: str) -> list[Finding]:
        entities = modes.entities[flow]
        if not entities:
            return []
        return self.engine.analyze(
            text, entities, prefix=prefix, ner=modes.ner[flow], score_threshold=modes.policy.score_threshold
        )

    def _act(
        self,
        policy: PiiPolicy,
        text: str,
        findings: list[Finding],
        flow: Flow,
        vault: PseudonymVault,
        replying: bool,
    ) -> tuple[str, list[Finding], list[PolicyDecision]]:
        """Apply each finding's mode: the new text, the findings replaced in it, the decisions.

        Raises ``Blocked`` if any finding's mode is ``block``.
        """
        counts = count_by_rule(policy, flow, findings)
        changes = [
            finding
            for finding in findings
            if policy.mode(flow, finding.entity_type) in (PiiMode.REDACT, PiiMode.PSEUDONYMIZE)
        ]
        blocked = sorted((rule, kinds) for (mode, rule), kinds in counts.items() if mode is PiiMode.BLOCK)
        if blocked:
            rule_id = blocked[0][0]
            kinds = ", ".join(sorted({kind for _, per_type in blocked for kind in per_type}))
            raise Blocked(
                rule_id,
                f"refused by policy {rule_id}: the text carries {kinds}, which may not be sent",
                status=self.settings.block_status,
                evidence=_evidence(policy, flow),
            )

        def replacement(entity_type: str, value: str) -> str:
            if policy.mode(flow, entity_type) is PiiMode.PSEUDONYMIZE and not replying:
                return vault.pseudonym(entity_type, value) or label(entity_type)
            return label(entity_type)

        new_text = self._replacer.replace(text, changes, replacement)
        decisions = [
            self._decision(policy, rule, mode.value, OUTCOMES[mode], flow, per_type)
            for (mode, rule), per_type in counts.items()
        ]
        return new_text, changes, decisions

    @staticmethod
    def _decision(
        policy: PiiPolicy, rule_id: str, action: str, outcome: str, flow: Flow, counts: Mapping[str, int]
    ) -> PolicyDecision:
        return PolicyDecision(
            rule_id=rule_id,
            action=action,
            outcome=outcome,
            counts=tuple(sorted(counts.items())),
            evidence=_evidence(policy, flow),
        )

    def _failed(self, policy: PiiPolicy, flow: Flow, reason: str) -> PolicyDecision:
        decision = self._decision(policy, policy.rule_id, "fail_closed", "masked", flow, {UNANALYZED: 1})
        return dataclasses.replace(decision, evidence=(*decision.evidence, ("reason", reason)))

    # --- streamed replies -----------------------------------------------------------------------------------

    def _reply_stream(self, ctx: GuardContext, state: _CallState, event: TextDelta | ToolCall) -> ReplyStream:
        key = (ctx.exchange_id, event.stream)
        stream = state.replies.get(key)
        if stream is not None:
            return stream
        modes = self._modes(ctx.call)
        policy = modes.policy
        entities = modes.entities[Flow.SPEECH]
        acting = policy.acting(Flow.SPEECH)
        ner = modes.ner[Flow.SPEECH]
        scanner = None
        if entities:
            threshold = policy.score_threshold

            def analyze(text: str, prefix: str) -> list[Finding]:
                return self.engine.analyze(text, entities, prefix=prefix, ner=ner, score_threshold=threshold)

            scanner = StreamScanner(
                analyze,
                hold_limit=self.settings.hold_chars,
                sentences=bool(acting & NER_ENTITIES) and ner,
            )
        escape = _json_escape if isinstance(event, ToolCall) else None

        def redact(released: Released) -> str:
            if released.failed is not None:
                return MASK.redact(released.text)
            text, _, _ = self._act(policy, released.text, released.findings, Flow.SPEECH, state.vault, True)
            return text

        stream = ReplyStream(
            scanner, PlaceholderRestorer(state.vault, escape), hold=bool(acting), redact=redact
        )
        state.replies[key] = stream
        while len(state.replies) > MAX_REPLY_STREAMS:
            state.replies.popitem(last=False)
        return stream

    def _reply_delta(self, ctx: GuardContext, event: TextDelta | ToolCall, text: str) -> Iterator[Event]:
        state = self._state(ctx.call)
        output = self._reply_stream(ctx, state, event).feed(text)
        yield event if output.text == text else _with_text(event, output.text)
        yield from self._reply_reports(self._modes(ctx.call).policy, output)

    def _reply_reports(self, policy: PiiPolicy, output: ReplyOutput) -> Iterator[PolicyDecision]:
        released = output.released
        if released is not None and released.failed is not None:
            yield self._failed(policy, Flow.SPEECH, released.failed)
        elif released is not None and released.findings:
            counts = count_by_rule(policy, Flow.SPEECH, released.findings)
            for (mode, rule), per_type in counts.items():
                if mode in OUTCOMES:
                    yield self._decision(policy, rule, mode.value, OUTCOMES[mode], Flow.SPEECH, per_type)
        if output.restored:
            yield self._decision(policy, policy.rule_id, "restore", "restored", Flow.SPEECH, output.restored)

    def _flush_replies(self, ctx: GuardContext) -> Iterator[Event]:
        """The reply ended: release what every stream of this exchange still holds, before the end."""
        state = self._state(ctx.call)
        policy = self._modes(ctx.call).policy
        for key in [key for key in state.replies if key[0] == ctx.exchange_id]:
            stream = state.replies.pop(key)
            output = stream.flush()
            if stream.context:
                state.window.remember_agent(stream.context)
            if output.text:
                name = key[1]
                if ".tool" in name:
                    yield ToolCall(name=None, arguments=output.text, complete=False, stream=name)
                else:
                    yield TextDelta(output.text, stream=name)
            yield from self._reply_reports(policy, output)


def _evidence(policy: PiiPolicy, flow: Flow) -> tuple[tuple[str, str], ...]:
    """What every PII decision records: that it is one (sinks count entities from it), the flow, and the
    policy that set the modes."""
    return (
        (DECISION_CONTROL, PII_CONTROL),
        ("flow", flow.value),
        ("policy_version", policy.version),
        *policy.evidence,
    )


def _complete(event: TextDelta | ToolCall) -> bool:
    return isinstance(event, ToolCall) and event.complete


def _is_agent_text(event: Event) -> bool:
    return isinstance(event, AgentText | TTSText) or (
        isinstance(event, PromptText) and event.role is TextRole.ASSISTANT
    )
