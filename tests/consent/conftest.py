"""Consent stores on real databases: a SQLite file per test, and a PostgreSQL schema per test."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from voiceguard.consent.postgres import PostgresConsentStore
from voiceguard.consent.sqlite import SqliteConsentStore
from voiceguard.consent.store import ConsentStore

POSTGRES_DSN = os.environ.get("VOICEGUARD_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture
async def postgres_schema() -> AsyncIterator[str]:
    """A schema of its own for one test, dropped afterwards (tests of several engineers share the server)."""
    schema = "vg_consent_" + os.urandom(6).hex()
    yield schema
    connection = await asyncpg.connect(POSTGRES_DSN)
    try:
        await connection.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    finally:
        await connection.close()


@pytest.fixture(params=["sqlite", "postgres"])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_schema: str
) -> AsyncIterator[ConsentStore]:
    opened: ConsentStore
    if request.param == "sqlite":
        opened = SqliteConsentStore(tmp_path / "consent.sqlite3")
    else:
        opened = PostgresConsentStore(POSTGRES_DSN, postgres_schema)
    await opened.open()
    yield opened
    await opened.close()
