"""A Pipecat voice pipeline (Deepgram STT → OpenAI LLM → OpenAI TTS) whose services go through voiceguard.

The lines that change are the services' base URLs (marked ←); everything else is a stock Pipecat
pipeline. A real bot has a transport (Daily, LiveKit, Twilio, a local microphone) in front of the STT
and behind the TTS; this one feeds the caller's audio in as frames and collects the agent's audio, so it
runs headless against the local simulator (see README.md).

    pip install 'pipecat-ai[openai,deepgram]'
    python examples/pipecat/bot.py
"""

from __future__ import annotations

import asyncio
import math
import os
import struct
import uuid

from pipecat.frames.frames import (
    EndFrame,
    Frame,
    InputAudioRawFrame,
    LLMTextFrame,
    TranscriptionFrame,
    TTSAudioRawFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.runner import WorkerRunner
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import LLMContextAggregatorPair
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.services.deepgram.stt import DeepgramSTTService
from pipecat.services.openai.llm import OpenAILLMService
from pipecat.services.openai.tts import OpenAITTSService

VOICEGUARD = os.environ.get("VOICEGUARD_URL", "http://127.0.0.1:8080")
CALL = {"X-VoiceGuard-Call-Id": f"pipecat-{uuid.uuid4().hex[:8]}", "X-VoiceGuard-Jurisdiction": "US-IL"}
RATE = 16_000


def services() -> tuple[DeepgramSTTService, OpenAILLMService, OpenAITTSService]:
    stt = DeepgramSTTService(
        api_key=os.environ.get("DEEPGRAM_API_KEY", "simulated"),
        base_url=f"{VOICEGUARD}/deepgram",  # ← ws://…/deepgram/v1/listen for the live socket
    )
    llm = OpenAILLMService(
        api_key=os.environ.get("OPENAI_API_KEY", "sk-simulated"),
        base_url=f"{VOICEGUARD}/openai/v1",  # ←
        default_headers=CALL,  # ← names the call (and its jurisdiction) on every LLM request
        settings=OpenAILLMService.Settings(model="gpt-4o-mini"),
    )
    tts = OpenAITTSService(
        api_key=os.environ.get("OPENAI_API_KEY", "sk-simulated"),
        base_url=f"{VOICEGUARD}/openai/v1",  # ←
        settings=OpenAITTSService.Settings(voice="alloy"),
    )
    return stt, llm, tts


class Collect(FrameProcessor):
    """Notes what passes (transcripts, reply text, audio): where a real bot has its transport and logs."""

    def __init__(self) -> None:
        super().__init__()
        self.heard: list[str] = []
        self.said: list[str] = []
        self.audio_bytes = 0
        self.replied = asyncio.Event()

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, TranscriptionFrame):
            self.heard.append(frame.text)
        elif isinstance(frame, LLMTextFrame):
            self.said.append(frame.text)
        elif isinstance(frame, TTSAudioRawFrame):
            self.audio_bytes += len(frame.audio)
            self.replied.set()
        await self.push_frame(frame, direction)


def caller_audio(seconds: float = 1.0, frame_s: float = 0.02) -> list[bytes]:
    samples = [int(3000 * math.sin(2 * math.pi * 220 * i / RATE)) for i in range(int(seconds * RATE))]
    pcm = struct.pack(f"<{len(samples)}h", *samples)
    size = int(frame_s * RATE) * 2
    return [pcm[i : i + size] for i in range(0, len(pcm), size)]


async def main() -> None:
    stt, llm, tts = services()
    context = LLMContext([{"role": "system", "content": "You are a helpful phone agent. Be brief."}])
    aggregators = LLMContextAggregatorPair(context)
    heard, said, collect = Collect(), Collect(), Collect()
    pipeline = Pipeline([stt, heard, aggregators.user(), llm, said, tts, collect, aggregators.assistant()])
    task = PipelineWorker(pipeline, params=PipelineParams(audio_in_sample_rate=RATE))
    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(task)
    running = asyncio.create_task(runner.run())
    await asyncio.sleep(0.5)  # let the services connect
    await task.queue_frame(UserStartedSpeakingFrame())
    for chunk in caller_audio():
        await task.queue_frame(InputAudioRawFrame(audio=chunk, sample_rate=RATE, num_channels=1))
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.5)  # the transcript arrives before the turn is handed to the LLM
    await task.queue_frame(UserStoppedSpeakingFrame())
    await asyncio.wait_for(collect.replied.wait(), 30)
    await asyncio.sleep(1.0)
    await task.queue_frame(EndFrame())
    await asyncio.wait_for(running, 30)
    print(f"caller: {' '.join(heard.heard)}")
    print(f"agent:  {''.join(said.said)}")
    print(f"speech: {collect.audio_bytes} bytes")
    print(f"call id {CALL['X-VoiceGuard-Call-Id']}")


if __name__ == "__main__":
    asyncio.run(main())
