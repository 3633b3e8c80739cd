"""The SIMULATED OpenAI and Deepgram of the demo, and what they received (the vendor's side of the story).

Both are ``voiceguard.simulator`` apps on loopback ports: the real wire protocols, scripted answers,
injected delays. What they logged is the proof of what reached a vendor: the demo reads it to show that
the LLM vendor never saw the card number and Deepgram never saw the diarization option.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import orjson

from voiceguard.demo.script import TURNS, ScriptedLLM, ScriptedTurn
from voiceguard.simulator import RunningApp, start_app
from voiceguard.simulator.backend import Backend, Timings
from voiceguard.simulator.deepgram_api import deepgram_app
from voiceguard.simulator.openai_api import openai_app

OPENAI_KEY: Final = "sk-demo-simulated-not-a-real-key"
DEEPGRAM_KEY: Final = "demo-simulated-not-a-real-key"
LLM_FIRST_BYTE_S: Final = 0.04
LLM_WORD_INTERVAL_S: Final = 0.02
SPEECH_CHUNK_INTERVAL_S: Final = 0.005


@dataclass
class SimulatedVendors:
    """The two simulated vendors, running; ``close`` frees their ports."""

    openai: Backend
    deepgram: Backend
    openai_app: RunningApp
    deepgram_app: RunningApp

    @property
    def upstreams(self) -> dict[str, str]:
        """voiceguard's routes pointed here instead of the vendors' clouds."""
        return {"openai": self.openai_app.url, "deepgram": self.deepgram_app.url}

    def prepare(self, turn: ScriptedTurn) -> None:
        """Set the delays the vendors add during ``turn``."""
        self.deepgram.timings = Timings(end_of_speech=turn.stt_endpointing_s)
        self.openai.timings = Timings(
            first_byte=LLM_FIRST_BYTE_S,
            first_token=max(0.0, turn.llm_first_token_s - LLM_FIRST_BYTE_S),
            chunk_interval=LLM_WORD_INTERVAL_S,
        )
        # Speech streams faster than real time once it starts (100 ms of audio every 5 ms).
        self.openai.speech_timings = Timings(
            first_byte=turn.tts_first_byte_s * 0.8,
            first_token=turn.tts_first_byte_s * 0.2,
            chunk_interval=SPEECH_CHUNK_INTERVAL_S,
        )

    async def close(self) -> None:
        await self.openai_app.close()
        await self.deepgram_app.close()

    # --- what the vendors received -----------------------------------------------------------------------

    def listen_options(self) -> list[list[tuple[str, str]]]:
        """The query options of every Deepgram listen request, as Deepgram received them."""
        return [received.query for received in self.deepgram.received if received.path == "/v1/listen"]

    def prompts(self) -> list[str]:
        """The last user message of every chat request, as the LLM vendor received it."""
        out: list[str] = []
        for received in self.openai.received:
            if received.path != "/v1/chat/completions":
                continue
            messages = orjson.loads(received.body).get("messages") or []
            users = [m.get("content") for m in messages if m.get("role") == "user"]
            out.append(str(users[-1]) if users else "")
        return out

    def llm_bodies(self) -> list[bytes]:
        """Every byte the LLM vendor received in chat and speech requests."""
        return [received.body for received in self.openai.received]

    def credentials(self) -> set[str]:
        """The credentials the vendors were sent (voiceguard forwards the client's untouched)."""
        seen = {r.headers.get("Authorization", "") for r in self.openai.received + self.deepgram.received}
        return {value.partition(" ")[2] for value in seen if value}


async def start_vendors(turns: tuple[ScriptedTurn, ...] = TURNS) -> SimulatedVendors:
    """Start the simulated OpenAI and Deepgram on free loopback ports."""
    openai = Backend(responder=ScriptedLLM(turns), api_keys=frozenset({OPENAI_KEY}))
    deepgram = Backend(api_keys=frozenset({DEEPGRAM_KEY}))
    deepgram.script(turn.caller_says for turn in turns)
    openai_running = await start_app(openai_app(openai))
    try:
        deepgram_running = await start_app(deepgram_app(deepgram))
    except BaseException:
        await openai_running.close()
        raise
    return SimulatedVendors(openai, deepgram, openai_running, deepgram_running)
