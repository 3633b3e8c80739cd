"""A LiveKit Agents worker whose STT, LLM and TTS go through voiceguard.

The lines that change are in ``plugins()`` (marked ←); the worker itself is the stock LiveKit Agents
quick-start. It needs a LiveKit server (``LIVEKIT_URL``, ``LIVEKIT_API_KEY``, ``LIVEKIT_API_SECRET``);
``check_plugins.py`` exercises the same three plugins headless, without one, against the simulator.

    pip install 'livekit-agents[openai,deepgram,silero]'
    python examples/livekit/agent.py dev
"""

from __future__ import annotations

import os

import aiohttp
from livekit.agents import Agent, AgentSession, JobContext, WorkerOptions, cli
from livekit.plugins import deepgram, openai

VOICEGUARD = os.environ.get("VOICEGUARD_URL", "http://127.0.0.1:8080")


def plugins(
    call_id: str, http_session: aiohttp.ClientSession | None = None
) -> tuple[deepgram.STT, openai.LLM, openai.TTS]:
    """The three services, pointed at voiceguard; ``call_id`` puts the LLM requests into one call."""
    stt = deepgram.STT(
        model="nova-3",
        http_session=http_session,  # the worker's own session when None
        api_key=os.environ.get("DEEPGRAM_API_KEY", "simulated"),
        base_url=f"{VOICEGUARD}/deepgram/v1/listen",  # ← becomes ws://…/deepgram/v1/listen
    )
    llm = openai.LLM(
        model="gpt-4o-mini",
        api_key=os.environ.get("OPENAI_API_KEY", "sk-simulated"),
        base_url=f"{VOICEGUARD}/openai/v1",  # ←
        extra_headers={"X-VoiceGuard-Call-Id": call_id},  # ← one call per room
    )
    tts = openai.TTS(
        model="gpt-4o-mini-tts",
        voice="alloy",
        api_key=os.environ.get("OPENAI_API_KEY", "sk-simulated"),
        base_url=f"{VOICEGUARD}/openai/v1",  # ←
    )
    return stt, llm, tts


async def entrypoint(ctx: JobContext) -> None:
    await ctx.connect()
    stt, llm, tts = plugins(call_id=ctx.room.name)
    session = AgentSession(stt=stt, llm=llm, tts=tts)
    await session.start(agent=Agent(instructions="You are a helpful phone agent. Be brief."), room=ctx.room)
    await session.generate_reply(instructions="Greet the caller.")


if __name__ == "__main__":
    cli.run_app(WorkerOptions(entrypoint_fnc=entrypoint))
