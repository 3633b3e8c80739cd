"""Tampering with a stored log is caught by ``voiceguard audit verify``, which names the first bad record.

Each test builds a real log (SQLite file or PostgreSQL schema), edits the store behind voiceguard's back the
way an attacker with database access would, and runs the CLI command an operator runs.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import asyncpg
import pytest
import yaml

from tests.audit.conftest import PG_DSN, entry
from voiceguard import cli
from voiceguard.audit.chain import GENESIS, CheckpointSigner, leaf_hash, link_hash
from voiceguard.audit.factory import open_store
from voiceguard.config import load_settings
from voiceguard.keys import KeyStore

Tamper = Callable[[str], None]
"""Runs SQL on the log's store; ``{records}`` and ``{checkpoints}`` name its tables."""


@pytest.fixture
def config(store_kind: str, tmp_path: Path, pg_schema: str) -> Path:
    audit: dict[str, object] = {"store": store_kind}
    if store_kind == "postgres":
        audit.update(postgres_dsn=PG_DSN, postgres_schema=pg_schema)
    path = tmp_path / "voiceguard.yaml"
    path.write_text(yaml.safe_dump({"data_dir": str(tmp_path / "data"), "audit": audit}))
    return path


@pytest.fixture
def log(config: Path) -> Path:
    """A log of 23 records: checkpoints signed at 10 and 20, then 3 records no checkpoint covers yet."""
    settings = load_settings(config, env={})
    signer = CheckpointSigner(KeyStore(settings.data_dir, env={}).signing_key("audit"))

    async def build() -> None:
        store = open_store(settings, env={})
        await store.open()
        for batch in range(4):
            await store.append([entry(batch * 5 + i + 1) for i in range(5)], signer, 10, batch)
        await store.append([entry(21), entry(22), entry(23)], signer, 10, 9)
        await store.close()

    asyncio.run(build())
    return config


@pytest.fixture
def tamper(store_kind: str, tmp_path: Path, pg_schema: str) -> Tamper:
    def run(sql: str) -> None:
        if store_kind == "sqlite":
            connection = sqlite3.connect(tmp_path / "data" / "audit.sqlite3", isolation_level=None)
            connection.executescript(sql.format(records="audit_records", checkpoints="audit_checkpoints"))
            connection.close()
            return

        async def on_postgres() -> None:
            connection = await asyncpg.connect(PG_DSN)
            try:
                await connection.execute(
                    sql.format(
                        records=f"{pg_schema}.audit_records", checkpoints=f"{pg_schema}.audit_checkpoints"
                    )
                )
            finally:
                await connection.close()

        asyncio.run(on_postgres())

    return run


def verify(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = cli.main(["audit", "verify", *args])
    return code, capsys.readouterr().out


def test_an_untouched_log_verifies_and_reports_its_unsigned_tail(
    log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = verify(capsys, "--config", str(log))
    assert code == 0, out
    assert "OK" in out and "23 checked" in out and "through #20 by 2 checkpoint(s)" in out
    assert "3 record(s) after the last checkpoint" in out


def test_a_changed_field_names_the_changed_record(
    log: Path, tamper: Tamper, capsys: pytest.CaptureFixture[str]
) -> None:
    tamper("""UPDATE {records} SET body = replace(body, '"n":7', '"n":70') WHERE seq = 7""")
    code, out = verify(capsys, "--config", str(log))
    assert code == 1
    assert "FAILED at record #7" in out and "changed after it was written" in out


def test_a_change_with_every_hash_recomputed_is_caught_by_the_signed_checkpoint(
    log: Path, tamper: Tamper, capsys: pytest.CaptureFixture[str]
) -> None:
    _rewrite_chain_from(log, 7, tamper)
    code, out = verify(capsys, "--config", str(log))
    assert code == 1
    assert "FAILED at record #10" in out
    assert "a record between #1 and #10 was rewritten along with its hashes" in out


def test_a_deleted_record_is_named(log: Path, tamper: Tamper, capsys: pytest.CaptureFixture[str]) -> None:
    tamper("DELETE FROM {records} WHERE seq = 5")
    code, out = verify(capsys, "--config", str(log))
    assert code == 1
    assert "FAILED at record #5" in out and "missing" in out


def test_two_reordered_records_are_named(
    log: Path, tamper: Tamper, capsys: pytest.CaptureFixture[str]
) -> None:
    tamper(
        "UPDATE {records} SET seq = -4 WHERE seq = 4; UPDATE {records} SET seq = 4 WHERE seq = 5; "
        "UPDATE {records} SET seq = 5 WHERE seq = -4"
    )
    code, out = verify(capsys, "--config", str(log))
    assert code == 1
    assert "FAILED at record #4" in out


def test_a_truncated_tail_is_caught_by_the_last_signed_checkpoint(
    log: Path, tamper: Tamper, capsys: pytest.CaptureFixture[str]
) -> None:
    tamper("DELETE FROM {records} WHERE seq > 12")
    code, out = verify(capsys, "--config", str(log))
    assert code == 1
    assert "FAILED at record #13" in out and "signed 20 records but the log ends at #12" in out


def test_a_tail_truncated_with_its_checkpoints_is_caught_by_a_checkpoint_saved_earlier(
    log: Path, tamper: Tamper, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saved = tmp_path / "witness.json"
    assert cli.main(["audit", "checkpoint", "--config", str(log), "--output", str(saved)]) == 0
    assert json.loads(saved.read_text())["size"] == 23
    tamper("DELETE FROM {records} WHERE seq > 12; DELETE FROM {checkpoints} WHERE size > 12")
    code, out = verify(capsys, "--config", str(log))
    assert code == 0, "without a witness the shortened log is self-consistent"
    code, out = verify(capsys, "--config", str(log), "--checkpoint", str(saved))
    assert code == 1
    assert "FAILED at record #13" in out and "checkpoint saved earlier" in out


def test_a_forged_checkpoint_is_caught(log: Path, tamper: Tamper, capsys: pytest.CaptureFixture[str]) -> None:
    tamper(f"UPDATE {{checkpoints}} SET head = '{'ab' * 32}' WHERE size = 10")
    code, out = verify(capsys, "--config", str(log))
    assert code == 1
    assert "checkpoint at size 10: the signature does not verify" in out


def test_a_deleted_checkpoint_breaks_the_chain_of_signatures(
    log: Path, tamper: Tamper, capsys: pytest.CaptureFixture[str]
) -> None:
    tamper("DELETE FROM {checkpoints} WHERE size = 10")
    code, out = verify(capsys, "--config", str(log))
    assert code == 1
    assert "checkpoint at size 20 does not chain to the checkpoint before it" in out


def test_a_checkpoint_signed_by_another_key_is_not_trusted(
    log: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    other = KeyStore(tmp_path / "elsewhere", env={})
    public = CheckpointSigner(other.signing_key("audit")).public.to_json()["public_key"]
    (tmp_path / "data" / "keys" / "ed25519-audit.key").unlink()
    code, out = verify(capsys, "--config", str(log), "--public-key", public)
    assert code == 1
    assert "not a trusted key" in out


def _rewrite_chain_from(config: Path, first: int, tamper: Tamper) -> None:
    """What an attacker without the signing key can do best: edit a record and recompute every hash after."""
    settings = load_settings(config, env={})

    async def rows() -> list[tuple[int, str]]:
        store = open_store(settings, env={})
        await store.attach()
        records = await store.records(0, 100)
        await store.close()
        return [(row.seq, row.body) for row in records]

    head = GENESIS
    statements = []
    for seq, body in asyncio.run(rows()):
        if seq == first:
            body = body.replace('"n":7', '"n":70')
        leaf = leaf_hash(body)
        chained = link_hash(head, leaf)
        if seq >= first:
            escaped = body.replace("'", "''").replace("{", "{{").replace("}", "}}")
            statements.append(
                f"UPDATE {{records}} SET body = '{escaped}', leaf = '{leaf}', prev = '{head}', "
                f"hash = '{chained}' WHERE seq = {seq}"
            )
        head = chained
    tamper("; ".join(statements))
