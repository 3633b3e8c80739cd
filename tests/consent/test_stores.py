"""Both consent stores keep records, withdraw them, and log every change in order."""

from __future__ import annotations

from datetime import timedelta

import pytest

from voiceguard.consent.model import ConsentRecord, Purpose, SignatureMethod, new_consent_id, now_utc
from voiceguard.consent.store import ChangeKind, ConsentStore, ConsentStoreError, Withdrawal


def record(
    subject: str = "a" * 64, purpose: Purpose = Purpose.VOICEPRINT, **changes: object
) -> ConsentRecord:
    fields: dict[str, object] = {
        "id": new_consent_id(),
        "subject_hash": subject,
        "purpose": purpose,
        "jurisdiction": "US-IL",
        "notice_version": "bipa-notice-v3",
        "signature": SignatureMethod.ELECTRONIC,
        "granted_at": now_utc(),
        "notice_sha256": "0" * 64,
        "evidence_ref": "docusign:envelope-42",
        "expires_at": now_utc() + timedelta(days=365),
    }
    fields.update(changes)
    return ConsentRecord(**fields)  # type: ignore[arg-type]


async def test_a_record_round_trips_with_every_term_intact(store: ConsentStore) -> None:
    granted = record()
    change = await store.insert(granted)
    assert change.kind is ChangeKind.GRANTED and change.consent_id == granted.id
    [loaded] = await store.records(granted.subject_hash)
    assert loaded == granted
    assert loaded.digest() == granted.digest()


async def test_withdrawal_stamps_records_keeps_them_and_logs_each(store: ConsentStore) -> None:
    voiceprint, cloning = record(), record(purpose=Purpose.VOICE_CLONING)
    other_subject = record(subject="b" * 64)
    for item in (voiceprint, cloning, other_subject):
        await store.insert(item)
    before = await store.last_seq()
    at = now_utc()
    changed = await store.withdraw(Withdrawal(at=at, subject_hash="a" * 64, reason="caller asked"))
    assert {r.id for r, _ in changed} == {voiceprint.id, cloning.id}
    assert all(r.withdrawn_at == at and r.withdrawal_reason == "caller asked" for r, _ in changed)
    kept = await store.records("a" * 64)
    assert len(kept) == 2 and not any(r.active(now_utc()) for r in kept)
    changes = await store.changes_since(before)
    assert [c.kind for c in changes] == [ChangeKind.WITHDRAWN, ChangeKind.WITHDRAWN]
    assert [c.seq for c in changes] == sorted(c.seq for c in changes)
    assert await store.withdraw(Withdrawal(at=now_utc(), subject_hash="a" * 64)) == []
    assert (await store.records("b" * 64))[0].withdrawn_at is None


async def test_withdrawal_by_id_touches_only_that_record(store: ConsentStore) -> None:
    first, second = record(), record()
    await store.insert(first)
    await store.insert(second)
    [(withdrawn, _change)] = await store.withdraw(Withdrawal(at=now_utc(), consent_id=first.id))
    assert withdrawn.id == first.id
    active = await store.search(subject_hash="a" * 64)
    assert [r.id for r in active] == [second.id]
    everything = await store.search(subject_hash="a" * 64, include_withdrawn=True)
    assert {r.id for r in everything} == {first.id, second.id}


async def test_search_filters_by_purpose_newest_first(store: ConsentStore) -> None:
    older = record(granted_at=now_utc() - timedelta(days=2))
    newer = record()
    await store.insert(older)
    await store.insert(newer)
    await store.insert(record(purpose=Purpose.TRAINING))
    found = await store.search(purpose=Purpose.VOICEPRINT)
    assert [r.id for r in found] == [newer.id, older.id]


async def test_a_withdrawal_without_a_target_is_refused(store: ConsentStore) -> None:
    with pytest.raises(ConsentStoreError, match="names a consent id or a subject"):
        await store.withdraw(Withdrawal(at=now_utc(), purpose=Purpose.VOICEPRINT))


async def test_a_duplicate_id_is_an_error_not_a_silent_overwrite(store: ConsentStore) -> None:
    granted = record()
    await store.insert(granted)
    with pytest.raises(ConsentStoreError):
        await store.insert(granted)
    assert len(await store.records(granted.subject_hash)) == 1
