"""``server.event_loop``: validated when the configuration loads, and honoured by the runner of ``serve``."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import uvloop

from voiceguard import config, eventloop
from voiceguard.config import ConfigError, load_settings


def _settings_with(tmp_path: Path, value: str) -> config.Settings:
    path = tmp_path / "voiceguard.yaml"
    path.write_text(f"server: {{event_loop: {value}}}\n")
    return load_settings(path, env={})


def test_event_loop_defaults_to_auto() -> None:
    assert load_settings(None, env={}).server.event_loop == "auto"


def test_unknown_event_loop_is_refused_with_the_allowed_values(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as failure:
        _settings_with(tmp_path, "trio")
    assert "server.event_loop" in str(failure.value)
    assert "uvloop" in str(failure.value)


def test_uvloop_requested_where_it_is_missing_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(config, "uvloop_available", lambda: False)
    with pytest.raises(ConfigError, match="uvloop is not installed"):
        _settings_with(tmp_path, "uvloop")


@pytest.mark.parametrize(
    ("choice", "installed", "expected"),
    [
        ("auto", True, uvloop.Loop),
        ("uvloop", True, uvloop.Loop),
        ("asyncio", True, asyncio.BaseEventLoop),
        ("auto", False, asyncio.BaseEventLoop),
    ],
)
def test_serve_runs_on_the_chosen_loop(
    choice: config.EventLoop, installed: bool, expected: type, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(eventloop, "uvloop_available", lambda: installed)

    async def running_loop() -> asyncio.AbstractEventLoop:
        return asyncio.get_running_loop()

    loop = eventloop.run(running_loop(), choice)
    assert isinstance(loop, expected)
    assert isinstance(loop, uvloop.Loop) == (expected is uvloop.Loop)
