"""The machine's PostgreSQL for tests: its DSN, admin statements, and a database a test may cut off."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

PG_DSN = os.environ.get("VOICEGUARD_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")


async def admin(sql: str) -> None:
    connection = await asyncpg.connect(PG_DSN)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


async def cut_off(database: str) -> None:
    """Refuse new connections to ``database`` and end the open ones: the store is down."""
    await admin(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
    await admin(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}'")


async def reconnect(database: str) -> None:
    await admin(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')


def dsn_of(database: str) -> str:
    return PG_DSN.rsplit("/", 1)[0] + f"/{database}"


@asynccontextmanager
async def own_database(prefix: str = "vg_test") -> AsyncIterator[str]:
    """A database of the caller's own (so cutting it off touches no one else); dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    await admin(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        await reconnect(name)
        await admin(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")
        await admin(f'DROP DATABASE IF EXISTS "{name}"')
