"""One JSON log line per exchange with route, status, durations and call id; never a body or a credential."""

from __future__ import annotations

import io
import json
from pathlib import Path

import openai
import structlog

from tests.engines import shared_engine
from voiceguard.server import start
from voiceguard.simulator import RunningApp
from voiceguard.telemetry import ids
from voiceguard.telemetry.logging import configure_logging
from voiceguard.testing import make_call, settings_for


async def test_request_log_line_has_the_facts_and_no_secrets(tmp_path, openai_upstream: RunningApp) -> None:  # type: ignore[no-untyped-def]
    stream = io.StringIO()
    configure_logging("info", "json", stream=stream)
    settings = settings_for({"openai": openai_upstream.url}, tmp_path / "data")
    proxy = await start(settings, pii_engine=shared_engine(settings))
    try:
        async with openai.AsyncOpenAI(
            api_key="sk-test", base_url=f"{proxy.url}/openai/v1", max_retries=0
        ) as client:
            await client.chat.completions.create(
                model="gpt-4o-mini",
                messages=[{"role": "user", "content": "my card is 4111 1111 1111 1111"}],
                extra_headers={"X-VoiceGuard-Call-Id": "call-log-1", "X-VoiceGuard-Subject": "+13125550100"},
            )
    finally:
        await proxy.close()
        configure_logging("info", "json")
    text = stream.getvalue()
    lines = [json.loads(line) for line in text.splitlines()]
    [request] = [line for line in lines if line["event"] == "request"]
    assert request["route"] == "openai" and request["status"] == 200 and request["call_id"] == "call-log-1"
    assert request["operation"] == "chat" and request["duration_ms"] > 0
    # logs and traces join on the call's trace id
    assert request["trace_id"] == ids.trace_id_hex(make_call("call-log-1"))
    for secret in ("sk-test", "4111", "+13125550100", "You said"):
        assert secret not in text


def test_json_lines_carry_the_same_fields_and_values_as_the_standard_library_would_write() -> None:
    stream = io.StringIO()
    configure_logging("info", "json", stream=stream)
    try:
        structlog.get_logger("voiceguard.test").info(
            "request", route="openai", status=200, ratio=0.25, missing=None, name="Zoë", where=Path("/tmp/x")
        )
    finally:
        configure_logging("info", "json")
    line = json.loads(stream.getvalue())
    assert line.pop("timestamp")
    assert line == {
        "event": "request",
        "level": "info",
        "route": "openai",
        "status": 200,
        "ratio": 0.25,
        "missing": None,
        "name": "Zoë",
        "where": repr(Path("/tmp/x")),  # structlog's fallback for what JSON cannot hold, as before
    }
