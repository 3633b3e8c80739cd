"""Deepgram Voice Agent: ``/v1/agent/converse`` on the ``deepgram-agent`` route, one socket per conversation.

Facts: REFERENCE-protocols.md §3. The client configures the agent once (``Settings``: prompt, greeting,
functions, earlier context, audio formats), then streams the caller's audio and receives the agent's. Text
lives in ``ConversationText`` (the caller's words as a ``Transcript``, the agent's as spoken ``AgentText``),
``AgentThinking``, function calls and their results, injected messages and prompt updates. The server's own
latency figures (``AgentStartedSpeaking``, ``LatencyReport``) become ``BackendLatency``. Audio formats come
from ``Settings.audio`` (Deepgram's default: linear16 at 24 kHz both ways).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import orjson

from voiceguard.events import (
    AgentText,
    BackendLatency,
    Direction,
    Event,
    LLMRequest,
    PromptText,
    ResponseDone,
    ResponseStarted,
    SpeechStarted,
    Stage,
    TextRole,
    ToolCall,
    Transcript,
    TTSText,
)
from voiceguard.protocols.audioformat import AudioFormat, positive_int
from voiceguard.protocols.base import ExchangeInfo, WireUnit
from voiceguard.protocols.deepgram_wire import upstream_error
from voiceguard.protocols.jsonspan import JsonPath
from voiceguard.protocols.jsonunit import JsonOrigin
from voiceguard.protocols.jsonvalues import as_dict, as_list, as_number
from voiceguard.protocols.wsjson import JsonFrame, JsonSocketCodec

PROVIDER: Final = "deepgram"
AGENT: Final = ExchangeInfo(provider=PROVIDER, operation="agent", stage=Stage.REALTIME)
DEFAULT_AUDIO: Final = AudioFormat(encoding="linear16", sample_rate=24_000)
_ROLES: Final = {"user": TextRole.USER, "assistant": TextRole.ASSISTANT}


def _audio(settings: Mapping[str, Any], default: AudioFormat) -> AudioFormat:
    if not settings:
        return default
    encoding = settings.get("encoding")
    return AudioFormat(
        encoding=encoding if isinstance(encoding, str) else default.encoding,
        sample_rate=positive_int(settings.get("sample_rate")) or default.sample_rate,
        bit_rate=positive_int(settings.get("bitrate")),
    )


class AgentSocketCodec(JsonSocketCodec):
    """One Voice Agent conversation."""

    info = AGENT

    def __init__(self) -> None:
        super().__init__()
        self._input = DEFAULT_AUDIO
        self._output = DEFAULT_AUDIO

    def binary(self, data: bytes, direction: Direction) -> list[Event]:
        audio = self._input if direction is Direction.TO_UPSTREAM else self._output
        return [audio.chunk(direction, len(data))]

    def parse(self, frame: JsonFrame) -> list[Event]:
        if frame.direction is Direction.TO_UPSTREAM:
            return self._from_client(frame)
        return self._from_agent(frame)

    # --- client → agent ---------------------------------------------------------------------------------

    def _from_client(self, frame: JsonFrame) -> list[Event]:
        body, kind, message = frame.body, frame.kind, frame.message
        if kind == "Settings":
            return self._settings(frame)
        if kind == "UpdatePrompt":
            return self._texts(message, body, [("prompt", TextRole.INSTRUCTIONS)])
        if kind == "UpdateThink":
            return self._think(message, body.get("think"), ("think",))
        if kind == "InjectUserMessage":
            return self._texts(message, body, [("content", TextRole.USER)])
        if kind == "InjectAgentMessage" and isinstance(body.get("message"), str):
            return [TTSText(body["message"], stream="inject", origin=JsonOrigin(message, ("message",)))]
        if kind == "FunctionCallResponse":
            return self._texts(message, body, [("content", TextRole.TOOL)])
        return []

    def _settings(self, frame: JsonFrame) -> list[Event]:
        body, message = frame.body, frame.message
        audio = as_dict(body.get("audio"))
        self._input = _audio(as_dict(audio.get("input")), DEFAULT_AUDIO)
        self._output = _audio(as_dict(audio.get("output")), DEFAULT_AUDIO)
        agent = as_dict(body.get("agent"))
        events: list[Event] = self._think(message, agent.get("think"), ("agent", "think"))
        if isinstance(agent.get("greeting"), str):
            origin = JsonOrigin(message, ("agent", "greeting"))
            events.append(TTSText(agent["greeting"], stream="greeting", origin=origin))
        context = as_dict(agent.get("context"))
        if "messages" in context:
            events.extend(self._history(message, context.get("messages"), ("agent", "context", "messages")))
        elif "messages" in agent:
            events.extend(self._history(message, agent.get("messages"), ("agent", "messages")))
        return events

    def _think(self, message: int, think: object, path: JsonPath) -> list[Event]:
        """One think provider, or a list of them (fallbacks): each prompt is an instruction."""
        providers = (
            [(think, path)]
            if isinstance(think, dict)
            else [(item, (*path, index)) for index, item in enumerate(as_list(think))]
        )
        events: list[Event] = []
        for provider_settings, provider_path in providers:
            if not isinstance(provider_settings, dict):
                continue
            model = as_dict(provider_settings.get("provider")).get("model")
            names = tuple(
                str(function["name"])
                for function in as_list(provider_settings.get("functions"))
                if isinstance(function, dict) and isinstance(function.get("name"), str)
            )
            events.append(
                LLMRequest(model=model if isinstance(model, str) else None, stream=True, tool_names=names)
            )
            events.extend(
                self._texts(message, provider_settings, [("prompt", TextRole.INSTRUCTIONS)], provider_path)
            )
        return events

    def _history(self, message: int, items: object, path: JsonPath) -> list[Event]:
        """Earlier conversation: messages by role, and function calls with their arguments and results."""
        events: list[Event] = []
        for index, item in enumerate(as_list(items)):
            if isinstance(item, dict):
                events.extend(self._history_item(message, item, (*path, index)))
        return events

    def _history_item(self, message: int, item: Mapping[str, Any], item_path: JsonPath) -> list[Event]:
        """One history entry found at ``item_path`` (``()`` when the message itself is the entry)."""
        events: list[Event] = []
        role_name = item.get("role")
        role = _ROLES.get(role_name, TextRole.USER) if isinstance(role_name, str) else None
        if role is not None:
            events.extend(self._texts(message, item, [("content", role)], item_path))
        for call_index, call in enumerate(as_list(item.get("function_calls"))):
            if isinstance(call, dict):
                call_path = (*item_path, "function_calls", call_index)
                events.extend(
                    self._texts(
                        message,
                        call,
                        [("arguments", TextRole.ASSISTANT), ("response", TextRole.TOOL)],
                        call_path,
                    )
                )
        return events

    @staticmethod
    def _texts(
        message: int, body: Mapping[str, Any], fields: Sequence[tuple[str, TextRole]], base: JsonPath = ()
    ) -> list[Event]:
        """A ``PromptText`` for each of ``fields`` that holds a string in ``body`` (found at ``base``)."""
        return [
            PromptText(body[key], role, JsonOrigin(message, (*base, key)))
            for key, role in fields
            if isinstance(body.get(key), str)
        ]

    # --- agent → client ---------------------------------------------------------------------------------

    def _from_agent(self, frame: JsonFrame) -> list[Event]:
        body, kind, message = frame.body, frame.kind, frame.message
        content = body.get("content")
        if kind == "ConversationText" and isinstance(content, str):
            origin = JsonOrigin(message, ("content",))
            if body.get("role") == "user":
                return [Transcript(content, is_final=True, end_of_turn=True, stream="user", origin=origin)]
            return [AgentText(content, stream="assistant", spoken=True, origin=origin)]
        if kind == "UserStartedSpeaking":
            return [SpeechStarted()]
        if kind == "AgentThinking" and isinstance(content, str):
            return [AgentText(content, stream="thinking", origin=JsonOrigin(message, ("content",)))]
        if kind == "AgentStartedSpeaking":
            latency = BackendLatency(
                total_s=as_number(body.get("total_latency")),
                llm_s=as_number(body.get("ttt_latency")),
                tts_s=as_number(body.get("tts_latency")),
            )
            return [ResponseStarted(), latency]
        if kind == "LatencyReport":
            llm = body.get("ttt_token_latency", body.get("ttt_text_latency"))
            return [
                BackendLatency(
                    total_s=as_number(body.get("total_latency")),
                    stt_s=as_number(body.get("stt_latency")),
                    llm_s=as_number(llm),
                    tts_s=as_number(body.get("tts_latency")),
                )
            ]
        if kind == "AgentAudioDone":
            return [ResponseDone()]
        if kind == "FunctionCallRequest":
            return self._function_calls(message, body)
        if kind == "FunctionCallResponse":
            return self._texts(message, body, [("content", TextRole.TOOL)])
        if kind == "History":
            return self._history_item(message, body, ()) if "function_calls" in body or "role" in body else []
        if kind in ("Error", "Warning"):
            return [upstream_error(body)]
        return []

    @staticmethod
    def _function_calls(message: int, body: Mapping[str, Any]) -> list[Event]:
        calls: list[Event] = []
        for index, function in enumerate(as_list(body.get("functions"))):
            if isinstance(function, dict) and isinstance(function.get("arguments"), str):
                name, call_id = function.get("name"), function.get("id")
                calls.append(
                    ToolCall(
                        name=name if isinstance(name, str) else None,
                        arguments=function["arguments"],
                        call_id=call_id if isinstance(call_id, str) else None,
                        stream=f"function{index}",
                        origin=JsonOrigin(message, ("functions", index, "arguments")),
                    )
                )
        return calls

    # --- injection ---------------------------------------------------------------------------------------

    def inject(
        self, events: Sequence[Event], direction: Direction, template: JsonFrame | None
    ) -> list[WireUnit]:
        """Words a guard adds toward the agent (a disclosure) are spoken with ``InjectAgentMessage``."""
        if direction is not Direction.TO_UPSTREAM:
            return []
        return [
            WireUnit(raw=orjson.dumps({"type": "InjectAgentMessage", "message": event.text}))
            for event in events
            if isinstance(event, TTSText | AgentText) and event.text
        ]
