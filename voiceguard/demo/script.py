"""The scripted call: an Illinois caller pays a bill by voice, and the agent gets two things wrong.

The caller gives a card number by voice and asks whether they are talking to a robot. The simulated LLM
(the "agent's brain") forgets the AI disclosure and dodges the question. The delays are those of a
typical production pipeline, so the latency waterfall has believable numbers; they are injected by the
simulator, not measured from a real vendor.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Final

from voiceguard.simulator.backend import Reply, ToolCallSpec

CALLER: Final = "+13125550142"
"""A Chicago number (area code 312) from the range reserved for fiction (555-0100 to 555-0199)."""
JURISDICTION: Final = "US-IL"
CALLER_AUDIO_S: Final = 1.0
"""Seconds of caller audio per utterance: the simulated Deepgram ends an utterance after one second."""
AGENT_MODEL: Final = "gpt-4o-mini"
TTS_MODEL: Final = "gpt-4o-mini-tts"
STT_MODEL: Final = "nova-3"
SYSTEM_PROMPT: Final = "You are the billing assistant of Lakeshore Power. Be brief."
CHARGE_TOOL: Final[dict[str, Any]] = {
    "type": "function",
    "function": {
        "name": "charge_card",
        "description": "Charge the caller's card for the open bill.",
        "parameters": {
            "type": "object",
            "properties": {"card_number": {"type": "string"}, "amount_usd": {"type": "number"}},
            "required": ["card_number", "amount_usd"],
        },
    },
}
PLACEHOLDER: Final = re.compile(r"<[A-Z_]+_\d+>")


@dataclass(frozen=True, slots=True)
class ScriptedTurn:
    """One exchange of the call, with the delays the simulated vendors add to it (seconds)."""

    caller_says: str
    """What the simulated Deepgram "hears" in the caller's audio."""
    agent_reply: str
    """What the simulated LLM answers (before voiceguard)."""
    shows: str
    """What the turn demonstrates, for the progress display."""
    stt_endpointing_s: float
    """Deepgram: end of the caller's audio → the final, endpointed result."""
    llm_first_token_s: float
    tts_first_byte_s: float
    charges_card: bool = False
    """The LLM also calls ``charge_card`` with the card number it was given."""


TURNS: Final = (
    ScriptedTurn(
        caller_says="Hi, I'd like to pay my electricity bill.",
        agent_reply="Sure, I can help you pay your bill today. What's the card number?",
        shows="the agent forgets to say it is an AI",
        stt_endpointing_s=0.16,
        llm_first_token_s=0.26,
        tts_first_byte_s=0.14,
    ),
    ScriptedTurn(
        caller_says="It's four one one one one one one one one one one one one one one one.",
        agent_reply="Thank you, your payment of forty two dollars went through.",
        shows="a card number, spoken",
        stt_endpointing_s=0.22,
        llm_first_token_s=0.38,
        tts_first_byte_s=0.17,
        charges_card=True,
    ),
    ScriptedTurn(
        caller_says="Wait, am I talking to a robot?",
        agent_reply="I'm here to make your payment quick and easy. Anything else?",
        shows='"am I talking to a robot?"',
        stt_endpointing_s=0.14,
        llm_first_token_s=0.21,
        tts_first_byte_s=0.12,
    ),
)


def card_said(turns: tuple[ScriptedTurn, ...] = TURNS) -> str:
    """The card number as the caller says it (what must never reach the LLM vendor)."""
    said = next(turn.caller_says for turn in turns if turn.charges_card)
    return said.removeprefix("It's ").rstrip(".")


class ScriptedLLM:
    """The simulated LLM's answers, in call order; the card goes into the tool call as the LLM got it."""

    def __init__(self, turns: tuple[ScriptedTurn, ...] = TURNS) -> None:
        self._turns = turns
        self._next = 0

    def __call__(self, prompt: str) -> Reply:
        turn = self._turns[min(self._next, len(self._turns) - 1)]
        self._next += 1
        if not turn.charges_card:
            return Reply(text=turn.agent_reply)
        # Whatever the LLM was told stands for the card: a placeholder, or the raw words if a guard failed.
        found = PLACEHOLDER.search(prompt)
        card = found.group(0) if found else prompt
        arguments = json.dumps({"card_number": card, "amount_usd": 42})
        return Reply(text=turn.agent_reply, tool_calls=(ToolCallSpec("charge_card", arguments),))
