"""The registry gives calls their subject's consent, and changes reach running calls on every replica."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path

import pytest

from tests.consent.conftest import POSTGRES_DSN
from voiceguard.consent.model import CALL_CONSENT, ConsentSlot, Purpose, SignatureMethod, SubjectConsent
from voiceguard.consent.postgres import PostgresConsentStore
from voiceguard.consent.registry import ConsentRegistry
from voiceguard.consent.requests import GrantRequest, WithdrawRequest
from voiceguard.consent.sqlite import SqliteConsentStore
from voiceguard.consent.store import ConsentStore
from voiceguard.testing import make_call

SUBJECT = "+13125550100"


def hasher(subject: str) -> str:
    return hmac.new(b"k" * 32, subject.encode(), hashlib.sha256).hexdigest()


GRANT = GrantRequest(
    subject=SUBJECT,
    purpose=Purpose.VOICEPRINT,
    jurisdiction="US-IL",
    notice_version="bipa-v3",
    signature=SignatureMethod.ELECTRONIC,
    evidence_ref="esign:123",
    valid_days=365,
)


class ListAudit:
    def __init__(self) -> None:
        self.entries: list[tuple[str, Mapping[str, object]]] = []

    async def append(self, kind: str, fields: Mapping[str, object]) -> None:
        self.entries.append((kind, fields))


StoreFactory = Callable[[], ConsentStore]


async def eventually(condition: Callable[[], bool], within: float = 10.0) -> None:
    """Wait until ``condition`` holds (a change pushed or polled by a background task), or fail."""
    deadline = asyncio.get_running_loop().time() + within
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "the change never arrived"
        await asyncio.sleep(0.01)


@pytest.fixture(params=["sqlite", "postgres"])
def new_store(request: pytest.FixtureRequest, tmp_path: Path, postgres_schema: str) -> StoreFactory:
    """Stores on one database, as two replicas (or the proxy and another process) would open it."""
    if request.param == "sqlite":
        return lambda: SqliteConsentStore(tmp_path / "consent.sqlite3")
    return lambda: PostgresConsentStore(POSTGRES_DSN, postgres_schema)


@pytest.fixture
async def replicas(new_store: StoreFactory) -> AsyncIterator[tuple[ConsentRegistry, ConsentRegistry]]:
    first = ConsentRegistry(new_store(), hasher, refresh_seconds=3600, audit=ListAudit())
    second = ConsentRegistry(new_store(), hasher, refresh_seconds=3600)
    await first.start()
    await second.start()
    yield first, second
    await second.close()
    await first.close()


async def attached(registry: ConsentRegistry, call_id: str = "call-1") -> SubjectConsent:
    call = make_call(call_id, jurisdiction="US-IL", subject=SUBJECT)
    view = await registry.attach(call)
    assert view is not None and call.scratch(CALL_CONSENT, ConsentSlot).view is view
    return view


async def test_calls_of_one_subject_share_one_view_loaded_once(
    replicas: tuple[ConsentRegistry, ConsentRegistry],
) -> None:
    registry, _ = replicas
    first = await attached(registry, "a")
    second = await attached(registry, "b")
    assert first is second and first.loaded and first.records == () and first.version == 1


async def test_a_grant_through_this_replica_reaches_its_running_calls_before_it_returns(
    replicas: tuple[ConsentRegistry, ConsentRegistry],
) -> None:
    registry, _ = replicas
    view = await attached(registry)
    record = await registry.grant(GRANT, actor="test")
    assert view.records == (record,)
    assert record.subject_hash == hasher(SUBJECT) and record.expires_at is not None


async def test_a_withdrawal_on_another_replica_reaches_running_calls_by_the_change_log(
    replicas: tuple[ConsentRegistry, ConsentRegistry],
) -> None:
    here, there = replicas
    await there.grant(GRANT, actor="test")
    view = await attached(here)
    assert len(view.active(Purpose.VOICEPRINT, view.records[0].granted_at)) == 1
    await there.withdraw(WithdrawRequest(subject=SUBJECT, purpose=Purpose.VOICEPRINT), actor="test")
    await here.poll_once()
    assert view.records[0].withdrawn_at is not None


async def test_postgres_replicas_hear_a_withdrawal_without_polling(postgres_schema: str) -> None:
    here = ConsentRegistry(PostgresConsentStore(POSTGRES_DSN, postgres_schema), hasher, refresh_seconds=3600)
    there = ConsentRegistry(PostgresConsentStore(POSTGRES_DSN, postgres_schema), hasher, refresh_seconds=3600)
    await here.start()
    await there.start()
    try:
        await there.grant(GRANT, actor="test")
        view = await attached(here)
        await there.withdraw(WithdrawRequest(subject=SUBJECT), actor="test")
        # the grant's own notification may still arrive after the load: wait for the withdrawal itself
        await eventually(lambda: bool(view.records) and view.records[0].withdrawn_at is not None)
    finally:
        await there.close()
        await here.close()


async def test_the_background_poll_applies_changes_from_another_process(tmp_path: Path) -> None:
    path = tmp_path / "consent.sqlite3"
    here = ConsentRegistry(SqliteConsentStore(path), hasher, refresh_seconds=0.05)
    cli_process = ConsentRegistry(SqliteConsentStore(path), hasher, refresh_seconds=3600)
    await here.start()
    await cli_process.start()
    try:
        view = await attached(here)
        await cli_process.grant(GRANT, actor="cli")
        await eventually(lambda: bool(view.records))
    finally:
        await cli_process.close()
        await here.close()


async def test_every_change_is_audited_with_the_subject_only_as_its_hash(
    replicas: tuple[ConsentRegistry, ConsentRegistry],
) -> None:
    registry, _ = replicas
    record = await registry.grant(GRANT, actor="admin-api@127.0.0.1")
    await registry.withdraw(WithdrawRequest(consent_id=record.id, reason="asked by phone"), actor="cli")
    audit = registry.audit
    assert isinstance(audit, ListAudit)
    assert [kind for kind, _ in audit.entries] == ["consent.granted", "consent.revoked"]
    granted = audit.entries[0][1]
    assert granted["consent_id"] == record.id and granted["record_digest"] == record.digest()
    assert granted["signature"] == "electronic" and granted["actor"] == "admin-api@127.0.0.1"
    flat = repr(audit.entries)
    assert SUBJECT not in flat and "5550100" not in flat and "asked by phone" not in flat


async def test_a_store_that_cannot_be_read_leaves_the_call_without_consent_not_failing(
    tmp_path: Path,
) -> None:
    registry = ConsentRegistry(SqliteConsentStore(tmp_path / "c.sqlite3"), hasher, refresh_seconds=3600)
    await registry.start()
    await registry.store.close()  # the database goes away under a running proxy
    view = await attached(registry)
    assert not view.loaded and view.error is not None
    await registry.close()


async def test_a_call_without_a_subject_gets_no_view(
    replicas: tuple[ConsentRegistry, ConsentRegistry],
) -> None:
    registry, _ = replicas
    assert await registry.attach(make_call(jurisdiction="US-IL")) is None
