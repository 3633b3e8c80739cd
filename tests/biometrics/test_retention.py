"""Stored audio and voiceprints carry a destruction date from the law that applies, and die on it."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import AsyncIterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.policy_dirs import policy_dir, rule
from voiceguard.biometrics.artefacts import ArtefactError, ArtefactStore
from voiceguard.biometrics.retention import PackRetentionSchedule, RetentionSchedule, rules_from_packs
from voiceguard.biometrics.sweeper import RetentionSweeper
from voiceguard.consent.model import now_utc
from voiceguard.keys import KeyStore
from voiceguard.policy import PolicyStore
from voiceguard.policy.loader import default_directory, load_policy_set

SHIPPED_RULES = rules_from_packs(load_policy_set(default_directory()))
"""The ``biometric-retention`` rules of the shipped packs: the schedule the proxy runs on by default."""
SCHEDULE = RetentionSchedule(SHIPPED_RULES, default_days=10 * 365)
AUDIO = b"RIFF-pretend-this-is-a-caller's-voice" * 100


def test_bipa_destroys_three_years_after_the_last_interaction_or_once_the_purpose_is_met() -> None:
    created = now_utc()
    due = SCHEDULE.destruction("US-IL", created, created)
    assert (due.rule_id, due.at) == ("BIPA-15a-DESTROY", created + timedelta(days=3 * 365))
    satisfied = created + timedelta(days=10)
    assert SCHEDULE.destruction("US-IL", created, created, satisfied).at == satisfied


def test_texas_allows_a_year_after_the_purpose_and_colorado_45_days_or_24_months() -> None:
    created = now_utc()
    satisfied = created + timedelta(days=1)
    assert SCHEDULE.destruction("US-TX", created, created, satisfied).at == satisfied + timedelta(days=365)
    colorado = SCHEDULE.destruction("US-CO", created, created)
    assert (colorado.rule_id, colorado.at) == ("CO-6-1-1314-DELETE", created + timedelta(days=730))
    assert SCHEDULE.destruction("US-CO", created, created, satisfied).at == satisfied + timedelta(days=45)


def test_washington_and_the_gdpr_keep_nothing_once_the_purpose_is_met() -> None:
    created = now_utc()
    satisfied = created + timedelta(days=3)
    for where in ("US-WA", "DE", "NO", "GB"):
        assert SCHEDULE.destruction(where, created, created, satisfied).at == satisfied, where


def test_the_schedule_follows_the_packs_in_force_after_a_reload(tmp_path: Path) -> None:
    store = PolicyStore(load_policy_set(default_directory()))
    schedule = PackRetentionSchedule(store, default_days=10 * 365)
    created = now_utc()
    assert schedule.destruction("US-IL", created, created).at == created + timedelta(days=3 * 365)

    def one_year(name: str, document: dict[str, Any]) -> None:
        if name == "bipa.yaml":
            rule(document, "BIPA-15a-DESTROY")["parameters"]["max_retention_days"] = 365

    store.swap(load_policy_set(policy_dir(tmp_path, edit=one_year)))
    assert schedule.destruction("US-IL", created, created).at == created + timedelta(days=365)


def test_the_installation_cap_bounds_every_jurisdiction() -> None:
    created = now_utc()
    capped = RetentionSchedule(SHIPPED_RULES, default_days=30)
    assert capped.destruction("US-IL", created, created).rule_id == "VOICEGUARD-RETENTION-CAP"
    assert capped.destruction(None, created, created).at == created + timedelta(days=30)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[ArtefactStore]:
    opened = ArtefactStore(tmp_path, KeyStore(tmp_path, env={}), SCHEDULE)
    await opened.open()
    yield opened
    await opened.close()


async def test_an_artefact_is_sealed_at_rest_and_reads_back(store: ArtefactStore) -> None:
    artefact = await store.put(
        "audio", AUDIO, purpose="recording", subject_hash="ab" * 32, jurisdiction="US-IL"
    )
    on_disk = (store.directory / f"{artefact.id}.sealed").read_bytes()
    assert AUDIO[:40] not in on_disk and b"caller" not in on_disk
    assert await store.read(artefact.id) == AUDIO
    assert artefact.sha256 == hashlib.sha256(AUDIO).hexdigest() and artefact.rule_id == "BIPA-15a-DESTROY"


async def test_sweep_destroys_only_what_is_due_and_the_index_keeps_the_evidence(store: ArtefactStore) -> None:
    artefact = await store.put(
        "audio", AUDIO, purpose="recording", subject_hash="ab" * 32, jurisdiction="US-IL"
    )
    keep = await store.put("audio", AUDIO, purpose="recording", subject_hash="cd" * 32, jurisdiction="US-IL")
    assert await store.sweep() == []
    await store.purpose_satisfied("ab" * 32)
    [destroyed] = await store.sweep()
    assert destroyed.id == artefact.id and destroyed.destroyed_at is not None
    assert not (store.directory / f"{artefact.id}.sealed").exists()
    with pytest.raises(ArtefactError, match="destroyed"):
        await store.read(artefact.id)
    assert (await store.get(artefact.id)).sha256 == artefact.sha256
    assert await store.read(keep.id) == AUDIO


async def test_a_legal_hold_keeps_an_artefact_past_its_date_until_released(store: ArtefactStore) -> None:
    artefact = await store.put("voiceprint", b"\x01" * 256, purpose="voiceprint", subject_hash="ab" * 32,
                               jurisdiction="US-IL")  # fmt: skip
    await store.hold(artefact.id, "subpoena 2026-CV-123")
    await store.purpose_satisfied("ab" * 32)
    assert await store.sweep() == []
    await store.hold(artefact.id, None)
    assert [a.id for a in await store.sweep()] == [artefact.id]


async def test_a_new_interaction_restarts_the_bipa_clock(store: ArtefactStore) -> None:
    created = now_utc() - timedelta(days=400)
    artefact = await store.put(
        "audio", AUDIO, purpose="recording", subject_hash="ab" * 32, jurisdiction="US-IL", at=created
    )
    [moved] = await store.interaction("ab" * 32)
    assert moved.destroy_at > artefact.destroy_at + timedelta(days=399)


class ListAudit:
    def __init__(self) -> None:
        self.entries: list[tuple[str, Mapping[str, object]]] = []

    async def append(self, kind: str, fields: Mapping[str, object]) -> None:
        self.entries.append((kind, fields))


async def test_every_destruction_is_audited_without_the_content(store: ArtefactStore) -> None:
    audit = ListAudit()
    sweeper = RetentionSweeper(store, interval_s=3600, audit=audit)
    artefact = await store.put(
        "audio", AUDIO, purpose="recording", subject_hash="ab" * 32, jurisdiction="US-IL"
    )
    await store.purpose_satisfied("ab" * 32)
    await sweeper.sweep_once()
    [(kind, fields)] = audit.entries
    assert kind == "retention.destroyed"
    assert fields["artefact_id"] == artefact.id and fields["rule_id"] == "BIPA-15a-DESTROY"
    assert fields["sha256"] == artefact.sha256 and fields["destroyed_at"] is not None
    assert "caller" not in repr(fields)


def test_policy_publish_renders_the_schedule_from_the_rules_in_force(tmp_path: Path) -> None:
    config = tmp_path / "voiceguard.yaml"
    config.write_text("biometrics:\n  retention_cap_days: 1095\n  contact: privacy@example.com\n")
    out = tmp_path / "schedule.md"
    result = subprocess.run(
        [sys.executable, "-m", "voiceguard", "policy", "publish", "--config", str(config), "--output",
         str(out)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    law = "Illinois BIPA (voiceprints): 740 ILCS 14/15(a)"
    assert f"| US-IL | BIPA-15a-DESTROY | {law} | at once | 3 years |" in text
    assert (
        "| US-IL | BIPA-15b-CONSENT | diarization, speaker identification, speaker enrolment, "
        "speaker verification, voice cloning | a written release or an electronic signature |" in text
    )
    assert "| US-TX | TX-CUBI-CONSENT | speaker identification, " in text  # Texas: no diarization
    assert "longer than 3 years after it was collected" in text and "privacy@example.com" in text
    assert f"sha256 {hashlib.sha256(text.encode()).hexdigest()}" in result.stderr
