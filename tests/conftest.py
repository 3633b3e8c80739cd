"""Shared fixtures: simulated vendors on local ports and a live voiceguard in front of them."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.leakscan import leak_scan, log_dir  # noqa: F401  (session-wide credential and PII scan)
from voiceguard import server
from voiceguard.pii.engine import PATTERN_ONLY, EngineSettings, PiiEngine, build_engine
from voiceguard.simulator import RunningApp, start_app
from voiceguard.simulator.anthropic_api import anthropic_app
from voiceguard.simulator.backend import Backend
from voiceguard.simulator.deepgram_api import deepgram_app
from voiceguard.simulator.elevenlabs_api import elevenlabs_app
from voiceguard.simulator.gemini_live import gemini_app
from voiceguard.simulator.openai_api import openai_app
from voiceguard.testing import RecordingSink, settings_for

os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "0")

ProxyFactory = Callable[..., Awaitable[server.RunningServer]]


@pytest.fixture
def backend() -> Backend:
    return Backend()


@pytest.fixture
async def openai_upstream(backend: Backend) -> AsyncIterator[RunningApp]:
    app = await start_app(openai_app(backend))
    yield app
    await app.close()


@pytest.fixture
async def deepgram_upstream(backend: Backend) -> AsyncIterator[RunningApp]:
    app = await start_app(deepgram_app(backend))
    yield app
    await app.close()


@pytest.fixture
def recording() -> RecordingSink:
    return RecordingSink()


@pytest.fixture
async def make_proxy(tmp_path: Path, recording: RecordingSink) -> AsyncIterator[ProxyFactory]:
    """Start voiceguard with routes pointed at given upstreams; stopped at teardown."""
    started: list[server.RunningServer] = []

    async def factory(upstreams: dict[str, str], **overrides: Any) -> server.RunningServer:
        settings = settings_for(upstreams, tmp_path / "data", **overrides)
        running = await server.start(settings, extra_sinks=[recording])
        started.append(running)
        return running

    yield factory
    for running in started:
        await running.close()


@pytest.fixture
async def proxy(
    make_proxy: ProxyFactory, openai_upstream: RunningApp, deepgram_upstream: RunningApp
) -> server.RunningServer:
    """voiceguard in front of the simulated OpenAI and Deepgram."""
    return await make_proxy({"openai": openai_upstream.url, "deepgram": deepgram_upstream.url})


@pytest.fixture
async def anthropic_upstream(backend: Backend) -> AsyncIterator[RunningApp]:
    app = await start_app(anthropic_app(backend))
    yield app
    await app.close()


@pytest.fixture
async def elevenlabs_upstream(backend: Backend) -> AsyncIterator[RunningApp]:
    app = await start_app(elevenlabs_app(backend))
    yield app
    await app.close()


@pytest.fixture
async def gemini_upstream(backend: Backend) -> AsyncIterator[RunningApp]:
    app = await start_app(gemini_app(backend))
    yield app
    await app.close()


@pytest.fixture
def observe_disclosure(tmp_path: Path) -> dict[str, Any]:
    """Overrides for a proxy whose AI-disclosure rules only observe, for tests of adapter faithfulness.

    The embedded default injects the disclosure into every call's first agent utterance; tests that prove
    an adapter relays a vendor's reply byte for byte run on the shipped packs with those rules observing.
    """
    from tests.policy_dirs import policy_dir

    directory = policy_dir(
        tmp_path / "observe-disclosure",
        {"EUAI-50.1-DISCLOSE": "observe", "EUAI-50.1-ASKED": "observe"},
    )
    return {"policy": {"dir": str(directory), "reload_interval_seconds": 0}}


@pytest.fixture(scope="session")
def ner_engine() -> PiiEngine:
    """The default engine (spaCy NER), built once: loading the model is the slow part."""
    return build_engine(EngineSettings())


@pytest.fixture(scope="session")
def pattern_engine() -> PiiEngine:
    return build_engine(EngineSettings(model=PATTERN_ONLY))
