"""Fixtures for the audit log: real stores (a SQLite file, a unique schema in the machine's PostgreSQL)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import asyncpg
import pytest

from voiceguard.audit.chain import CheckpointSigner
from voiceguard.audit.postgres import PostgresStore
from voiceguard.audit.record import Entry, make_entry
from voiceguard.audit.sqlite import SqliteStore
from voiceguard.audit.store import AuditStore
from voiceguard.keys import KeyStore

PG_DSN = os.environ.get("VOICEGUARD_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")

StoreFactory = Callable[[], AuditStore]


def unique_schema() -> str:
    return f"vg_test_{uuid.uuid4().hex[:12]}"


async def drop_schema(schema: str) -> None:
    connection = await asyncpg.connect(PG_DSN)
    try:
        await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await connection.close()


@pytest.fixture
def pg_schema() -> Iterator[str]:
    """A PostgreSQL schema no other test run uses; dropped afterwards."""
    schema = unique_schema()
    yield schema
    asyncio.run(drop_schema(schema))


@pytest.fixture(params=["sqlite", "postgres"])
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def new_store(store_kind: str, tmp_path: Path, pg_schema: str) -> StoreFactory:
    """Opens another handle on one log (a new connection each time), SQLite or PostgreSQL."""

    def factory() -> AuditStore:
        if store_kind == "sqlite":
            return SqliteStore(tmp_path / "audit.sqlite3", timeout_s=5.0)
        return PostgresStore(PG_DSN, pg_schema, timeout_s=5.0)

    return factory


@pytest.fixture
def keys(tmp_path: Path) -> KeyStore:
    return KeyStore(tmp_path / "data", env={})


@pytest.fixture
def signer(keys: KeyStore) -> CheckpointSigner:
    return CheckpointSigner(keys.signing_key("audit"))


def entry(
    n: int, *, call_id: str | None = "call-1", kind: str = "request", time_us: int | None = None
) -> Entry:
    return make_entry(
        kind,
        {"n": n, "route": "openai"},
        time_us=time_us if time_us is not None else 1_700_000_000_000_000 + n,
        call_id=call_id,
        source="test",
    )


Filler = Callable[[AuditStore, int], Awaitable[None]]


@pytest.fixture
async def opened(new_store: StoreFactory) -> AsyncIterator[AuditStore]:
    store = new_store()
    await store.open()
    yield store
    await store.close()
