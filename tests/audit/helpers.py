"""Reading what a live voiceguard wrote, the way an operator would: straight from the store."""

from __future__ import annotations

import asyncio
import json
import socket
import sqlite3
import sys
import time
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

import aiohttp

from tests.leakscan import output_file
from voiceguard.events import Event, PolicyDecision, PromptText
from voiceguard.guards.base import GuardContext
from voiceguard.session import Call

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello"}]}
AUTH = {"Authorization": "Bearer sk-test"}
CARD = "4111 1111 1111 1111"


def sqlite_records(path: Path) -> list[dict[str, Any]]:
    """Every record's content, in log order, read with a connection of our own."""
    connection = sqlite3.connect(path)
    try:
        return [
            json.loads(body) for (body,) in connection.execute("SELECT body FROM audit_records ORDER BY seq")
        ]
    finally:
        connection.close()


def of_kind(records: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [record for record in records if record["kind"] == kind]


async def chat(
    client: aiohttp.ClientSession,
    base: str,
    call_id: str | None = None,
    *,
    content: str = "hello",
    subject: str | None = None,
) -> int:
    """One chat completion through voiceguard; returns the status once the whole response was read."""
    sent = dict(AUTH)
    if call_id is not None:
        sent["X-VoiceGuard-Call-Id"] = call_id
    if subject is not None:
        sent["X-VoiceGuard-Subject"] = subject
    body = {**CHAT, "messages": [{"role": "user", "content": content}]}
    async with client.post(f"{base}/openai/v1/chat/completions", json=body, headers=sent) as response:
        await response.read()
        return response.status


async def eventually(check: Callable[[], Awaitable[bool]], within_s: float = 20.0) -> None:
    """Wait for a condition the proxy reaches on its own (a retry, a health change)."""
    deadline = time.monotonic() + within_s
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


def metric(text: str, name: str) -> float:
    """The value of a metric line ``name{...} value`` in Prometheus text (0 when absent)."""
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


class SqliteLock:
    """Holds the audit file's write lock from another connection: a real store outage for voiceguard."""

    def __init__(self, path: Path) -> None:
        self.connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)

    def __enter__(self) -> SqliteLock:
        self.connection.execute("BEGIN IMMEDIATE")
        return self

    def __exit__(self, *exc: object) -> None:
        self.connection.execute("ROLLBACK")
        self.connection.close()


class CardRedactor:
    """A stand-in policy step that reports a PII decision, the way the PII guard does."""

    name = "test-pii"

    def start(self, call: Call) -> None:
        return None

    def process(self, ctx: GuardContext, event: Event) -> Iterable[Event]:
        yield event
        if isinstance(event, PromptText) and CARD in event.text:
            yield PolicyDecision(
                "PII-CARD",
                "redact",
                "redacted",
                counts=(("CREDIT_CARD", 1),),
                evidence=(("recognizer", "luhn"),),
            )

    def finish(self, call: Call) -> None:
        return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run a command to its end without blocking the loop; returns the exit code and its output."""
    process = await asyncio.create_subprocess_exec(
        *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await process.communicate()
    return await process.wait(), output.decode()


async def start_serving(config: Path, env: dict[str, str] | None = None) -> asyncio.subprocess.Process:
    """``voiceguard serve`` as a real process (output kept for the session's credential scan)."""
    with output_file("audit-serve").open("wb") as output:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "voiceguard",
            "serve",
            "--config",
            str(config),
            env=env,
            stdout=output,
            stderr=output,
        )


async def wait_ready(base: str, process: asyncio.subprocess.Process) -> None:
    deadline = time.monotonic() + 30
    async with aiohttp.ClientSession() as client:
        while time.monotonic() < deadline:
            assert process.returncode is None, "voiceguard exited before it was healthy"
            try:
                async with client.get(f"{base}/_voiceguard/readyz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("voiceguard did not become ready")
