"""EU AI Act Art. 50(1): the caller hears that they talk to an AI, and gets a straight answer when they ask.

Every stage voiceguard sees is checked on its own: the first LLM reply of a call (before it goes to TTS),
the first TTS text, the first realtime response (its output transcript). Where the reply lacks a
disclosure, the rule's action decides: ``enforce`` puts the configured text in front of it, ``block``
refuses it, ``observe`` records a violation. When the caller asks whether they talk to a machine (a final
transcript, or the last user message of an LLM request), the next reply of each stage must admit it.

A streamed LLM reply cannot be repaired after its first words went out, so under ``enforce``/``block`` the
first reply of a call is held back until ``verify_window_chars`` characters arrived (or the agent's own
disclosure did), then released, with the injected text first. Realtime audio cannot be held: there the
disclosure is added to the session's instructions and the response's transcript is verified afterwards.

Disclosure is per speaker: when speaker-change detection (``biometrics/speaker_change.py``) hears a voice
join the call that was not there when the disclosure went out, the next reply of each stage must carry it
again (decisions say ``trigger=new_speaker``). Detection runs only on calls whose packs gate voiceprints.

Evidence: the disclosure's id, version and locale, the stage, how it was delivered, and when, relative to
the first agent audio of the call (negative: before it). The clock is injected so tests drive it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Final

from voiceguard.biometrics.call_state import CALL_SPEAKERS, CallSpeakers
from voiceguard.events import (
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
    Transcript,
    TTSText,
)
from voiceguard.guards.base import Blocked, GuardContext
from voiceguard.guards.disclosure_state import CallState, Held, Timing
from voiceguard.guards.policy_context import PolicyBoundGuard
from voiceguard.guards.reply_check import Judgement, Requirement, Verdict, judge
from voiceguard.policy.context import CallPolicy, PolicyStore, bind
from voiceguard.policy.disclosure import (
    DisclosureSettings,
    QuestionSettings,
    SettingsError,
    VersionedText,
    disclosure_settings,
    locale_of,
    question_settings,
)
from voiceguard.policy.model import Action, Control
from voiceguard.session import Call

STAGE_NAMES = {Stage.LLM: "llm", Stage.TTS: "tts", Stage.REALTIME: "realtime"}
_SPOKEN_STAGES: Final = ("tts", "realtime")
"""Stages whose replies reach the caller as audio."""
REALTIME_INSTRUCTION = 'Begin your first response by saying exactly: "{text}"'
MAX_CACHED_SETTINGS = 256
_STATE = "voiceguard.guards.disclosure"


class DisclosureGuard(PolicyBoundGuard):
    """Checks, repairs or refuses what the agent says about being an AI (rules of the disclosure packs)."""

    name = "disclosure"

    def __init__(self, store: PolicyStore, clock: Callable[[], int] = time.time_ns) -> None:
        super().__init__(store)
        self.clock = clock
        self._parsed: dict[int, tuple[Control, DisclosureSettings | QuestionSettings]] = {}

    # --- dispatch -----------------------------------------------------------------------------------------

    def passes(self, kind: type[Event], direction: Direction, stage: Stage) -> bool:
        """Audio matters here only on its way to the client from a TTS or realtime exchange (the first audio
        of a reply may need a spoken disclosure before it); the caller's audio frames skip this guard."""
        if kind is not AudioChunk:
            return False
        return direction is not Direction.TO_CLIENT or STAGE_NAMES.get(stage) not in _SPOKEN_STAGES

    def process(self, ctx: GuardContext, event: Event) -> Iterable[Event]:
        stage = STAGE_NAMES.get(ctx.exchange.stage)
        to_client = ctx.direction is Direction.TO_CLIENT
        if isinstance(event, AudioChunk):
            if to_client and stage in _SPOKEN_STAGES:
                return [*self._first_audio(ctx.call), event]
            return (event,)
        if isinstance(event, Transcript):
            if to_client and event.is_final:
                self._user_said(ctx.call, event.text, event.language, ("llm", "tts", "realtime"))
            return (event,)
        if stage is None:
            return (event,)
        if isinstance(event, LLMRequest | PromptText) and not to_client:
            return self._request_text(ctx, stage, event)
        if stage == "tts" and isinstance(event, TTSText) and not to_client:
            return self._whole_reply(ctx, stage, event)
        if not to_client or stage == "tts":
            return (event,)
        self._reply_started(ctx.call, stage)
        out: list[Event] = []
        if isinstance(event, TextDelta):
            out.extend(self._delta(ctx, stage, event))
        elif isinstance(event, AgentText):
            out.extend(self._agent_text(ctx, stage, event))
        elif isinstance(event, ResponseDone):
            out.extend(self._settle_stage(ctx, stage))
            state = self._state(ctx.call)
            for key in [key for key in state.prefixes if key[0] == stage]:
                del state.prefixes[key]
            out.append(event)
        else:
            out.append(event)
        return out

    # --- settings -----------------------------------------------------------------------------------------

    def _settings(self, call: Call) -> tuple[CallPolicy, DisclosureSettings | None, QuestionSettings | None]:
        policy = bind(call, self.store)
        disclosure = self._parse(policy.applied.control("disclosure"), disclosure_settings)
        question = self._parse(policy.applied.control("ai-question"), question_settings)
        assert disclosure is None or isinstance(disclosure, DisclosureSettings)
        assert question is None or isinstance(question, QuestionSettings)
        return policy, disclosure, question

    def _parse(
        self,
        control: Control | None,
        parse: Callable[[Control], DisclosureSettings | QuestionSettings],
    ) -> DisclosureSettings | QuestionSettings | None:
        if control is None:
            return None
        cached = self._parsed.get(id(control))
        if cached is not None and cached[0] is control:
            return cached[1]
        try:
            parsed = parse(control)
        except SettingsError as exc:
            # Fail closed: a rule that cannot be read must not silently stop applying.
            raise Blocked(control.rules[0], f"the policy for {control.name} is unusable: {exc}") from None
        if len(self._parsed) >= MAX_CACHED_SETTINGS:
            self._parsed.clear()
        self._parsed[id(control)] = (control, parsed)
        return parsed

    @staticmethod
    def _state(call: Call) -> CallState:
        return call.scratch(_STATE, CallState)

    def _locale(self, state: CallState, policy: CallPolicy, disclosure: DisclosureSettings | None) -> str:
        if state.locale:
            return state.locale
        if disclosure is not None:
            for code in policy.applied.scope:
                if code in disclosure.jurisdiction_locales:
                    return disclosure.jurisdiction_locales[code]
            return disclosure.default_locale
        return "en"

    def _requirements(self, call: Call, stage: str) -> tuple[Requirement, ...]:
        """What the next reply of ``stage`` must say; marks them as being checked."""
        state = self._state(call)
        self._new_voices(call, state)
        policy, disclosure, question = self._settings(call)
        locale = self._locale(state, policy, disclosure)
        found: list[Requirement] = []
        if disclosure is not None and stage in disclosure.stages and stage not in state.disclosed:
            state.disclosed.add(stage)
            found.append(
                Requirement(
                    disclosure.rule_id,
                    "disclosure",
                    disclosure.action,
                    disclosure.text_for(locale),
                    disclosure.accepted,
                    disclosure.denials,
                    disclosure.window,
                )
            )
        if question is not None and stage in state.asked:
            state.asked.discard(stage)
            default = disclosure.default_locale if disclosure is not None else "en"
            found.append(
                Requirement(
                    question.rule_id,
                    "admission",
                    question.action,
                    question.text_for(locale, default),
                    question.accepted,
                    question.denials,
                    question.window,
                )
            )
        return tuple(found)

    @staticmethod
    def _new_voices(call: Call, state: CallState) -> None:
        """A voice joined since the disclosure went out: every stage owes it the disclosure again."""
        voices = call.scratch(CALL_SPEAKERS, CallSpeakers).voices
        if voices > state.voices_told:
            state.voices_told = voices
            state.redisclosing.update(state.disclosed)
            state.disclosed.clear()

    # --- what the caller says -----------------------------------------------------------------------------

    def _user_said(self, call: Call, text: str, language: str | None, stages: tuple[str, ...]) -> None:
        state = self._state(call)
        state.locale = locale_of(language) or state.locale
        _, _, question = self._settings(call)
        if question is None:
            return
        asked_in = question.questions.locale_of_match(text)
        if asked_in is not None:
            state.locale = state.locale or asked_in
            state.asked.update(stages)

    def _request_text(self, ctx: GuardContext, stage: str, event: LLMRequest | PromptText) -> list[Event]:
        state = self._state(ctx.call)
        if isinstance(event, LLMRequest):
            state.last_prompt = None
            return [event]
        if event.role is TextRole.USER:
            if stage == "realtime":
                self._user_said(ctx.call, event.text, None, ("realtime",))
            else:
                state.last_prompt = event.text
                state.prompt_pending = True
            return [event]
        if event.role is TextRole.INSTRUCTIONS and stage == "realtime":
            return self._instruct_realtime(ctx.call, event)
        return [event]

    def _reply_started(self, call: Call, stage: str) -> None:
        """The request's last user message is known once its reply starts: was it "are you a robot?"."""
        state = self._state(call)
        if stage == "llm" and state.prompt_pending:
            state.prompt_pending = False
            if state.last_prompt:
                self._user_said(call, state.last_prompt, None, ("llm", "tts"))

    def _instruct_realtime(self, call: Call, event: PromptText) -> list[Event]:
        state = self._state(call)
        policy, disclosure, _ = self._settings(call)
        if (
            disclosure is None
            or disclosure.action is not Action.ENFORCE
            or "realtime" not in disclosure.stages
            or "realtime" in state.disclosed
        ):
            return [event]
        text = disclosure.text_for(self._locale(state, policy, disclosure))
        if text.text in event.text:
            return [event]
        amended = f"{event.text.rstrip()}\n\n{REALTIME_INSTRUCTION.format(text=text.text)}".lstrip()
        evidence = self._text_evidence("disclosure", text, "realtime", "instructed", policy)
        action = disclosure.action.value
        return [
            replace(event, text=amended),
            PolicyDecision(disclosure.rule_id, action, "instructed", (), evidence),
        ]

    # --- what the agent says ------------------------------------------------------------------------------

    def _whole_reply(self, ctx: GuardContext, stage: str, event: TTSText | AgentText) -> list[Event]:
        requirements = self._requirements(ctx.call, stage)
        if not requirements:
            return [event]
        judgement = judge(requirements, event.text, can_inject=stage != "realtime")
        out: list[Event] = list(self._decisions(ctx.call, stage, judgement.verdicts))
        out.append(replace(event, text=judgement.prefix + event.text) if judgement.prefix else event)
        return out

    def _agent_text(self, ctx: GuardContext, stage: str, event: AgentText) -> list[Event]:
        held = self._state(ctx.call).streams.get((stage, event.stream))
        if held is None and not event.text:
            return [event]  # an empty snapshot (a realtime content part being opened) says nothing yet
        if held is None:
            if (stage, event.stream) in self._state(ctx.call).prefixes:
                return [self._with_prefix(ctx.call, stage, event)]
            return self._whole_reply(ctx, stage, event)
        held.text = event.text
        out = self._settle(ctx, stage, (stage, event.stream))
        out.append(self._with_prefix(ctx.call, stage, event))
        return out

    def _with_prefix(self, call: Call, stage: str, event: AgentText) -> AgentText:
        """A snapshot of a repaired stream (a summary, a closing event) says what the client received."""
        prefix = self._state(call).prefixes.get((stage, event.stream), "")
        if not prefix or event.text.startswith(prefix):
            return event
        return replace(event, text=prefix + event.text)

    def _delta(self, ctx: GuardContext, stage: str, event: TextDelta) -> list[Event]:
        state = self._state(ctx.call)
        key = (stage, event.stream)
        held = state.streams.get(key)
        if held is None:
            if not event.text:
                return [event]
            requirements = self._requirements(ctx.call, stage)
            if not requirements:
                return [event]
            hold = stage != "realtime" and any(r.action is not Action.OBSERVE for r in requirements)
            held = Held(requirements, hold)
            state.streams[key] = held
        held.text += event.text
        out: list[Event] = []
        if held.hold:
            held.events.append(event)
        else:
            out.append(event)
        if held.ready():
            out = [*self._settle(ctx, stage, key), *out]
        return out

    def _settle_stage(self, ctx: GuardContext, stage: str) -> list[Event]:
        state = self._state(ctx.call)
        out: list[Event] = []
        for key in [key for key in state.streams if key[0] == stage]:
            out.extend(self._settle(ctx, stage, key))
        return out

    def _settle(self, ctx: GuardContext, stage: str, key: tuple[str, str]) -> list[Event]:
        """Judge a held or watched stream on what arrived so far, and release it."""
        state = self._state(ctx.call)
        held = state.streams.pop(key)
        judgement: Judgement = judge(held.requirements, held.text, can_inject=held.hold)
        out: list[Event] = list(self._decisions(ctx.call, stage, judgement.verdicts))
        if judgement.prefix:
            state.prefixes[key] = judgement.prefix
            out.append(TextDelta(judgement.prefix, key[1]))
        out.extend(held.events)
        return out

    # --- evidence -----------------------------------------------------------------------------------------

    def _decisions(self, call: Call, stage: str, verdicts: Iterable[Verdict]) -> Iterable[PolicyDecision]:
        policy = bind(call, self.store)
        for verdict in verdicts:
            requirement = verdict.requirement
            evidence = list(
                self._text_evidence(requirement.kind, requirement.text, stage, verdict.delivery, policy)
            )
            if verdict.denied:
                evidence.append(("denied", "true"))
            if requirement.kind == "disclosure" and stage in self._state(call).redisclosing:
                self._state(call).redisclosing.discard(stage)
                evidence.append(("trigger", "new_speaker"))
            if requirement.kind == "disclosure" and verdict.delivery != "missing":
                evidence.extend(self._delivered(call, requirement, stage))
            yield PolicyDecision(
                requirement.rule_id, requirement.action.value, verdict.outcome, evidence=tuple(evidence)
            )

    @staticmethod
    def _text_evidence(
        kind: str, text: VersionedText, stage: str, delivery: str, policy: CallPolicy
    ) -> tuple[tuple[str, str], ...]:
        return (
            (f"{kind}_id", text.id),
            ("version", text.version),
            ("locale", text.locale),
            ("stage", stage),
            ("delivery", delivery),
            ("policy_digest", policy.applied.digest),
        )

    def _delivered(self, call: Call, requirement: Requirement, stage: str) -> list[tuple[str, str]]:
        """When the disclosure went out, relative to the first agent audio if that was already heard."""
        state = self._state(call)
        now = self.clock()
        if state.disclosed_ns is None:
            state.disclosed_ns = now
        if state.first_audio_ns is not None:
            return [("delivered_offset_ms", _offset_ms(now, state.first_audio_ns))]
        if state.timing is None:
            state.timing = Timing(requirement, stage, now)
        return []

    def _first_audio(self, call: Call) -> list[Event]:
        """The first agent audio of the call: report how long before it the disclosure went out."""
        state = self._state(call)
        if state.first_audio_ns is not None:
            return []
        state.first_audio_ns = now = self.clock()
        timing, state.timing = state.timing, None
        if timing is None:
            return []
        policy = bind(call, self.store)
        requirement = timing.requirement
        offset = _offset_ms(timing.at_ns, now)
        evidence = (
            ("disclosure_id", requirement.text.id),
            ("version", requirement.text.version),
            ("stage", timing.stage),
            ("delivered_offset_ms", offset),
            ("before_first_audio", "true"),
            ("policy_digest", policy.applied.digest),
        )
        return [PolicyDecision(requirement.rule_id, requirement.action.value, "timed", evidence=evidence)]


def _offset_ms(at_ns: int, first_audio_ns: int) -> str:
    return f"{(at_ns - first_audio_ns) / 1_000_000:.1f}"
