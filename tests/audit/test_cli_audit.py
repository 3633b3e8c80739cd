"""``voiceguard audit`` says what is wrong, with the documented exit codes, instead of failing obscurely."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from voiceguard import cli
from voiceguard.audit.chain import CheckpointSigner
from voiceguard.keys import KeyStore


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "voiceguard.yaml"
    path.write_text(yaml.safe_dump({"data_dir": str(tmp_path / "data")}))
    return path


def test_verify_without_any_key_asks_for_one(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["audit", "verify", "--config", str(config)]) == 2
    assert "no audit signing key" in capsys.readouterr().err


def test_verify_where_no_log_was_written_says_so_and_creates_nothing(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    KeyStore(tmp_path / "data", env={}).signing_key("audit")
    assert cli.main(["audit", "verify", "--config", str(config)]) == 1
    assert "no audit log here yet" in capsys.readouterr().err
    assert cli.main(["audit", "export", "--config", str(config), "--output", str(tmp_path / "x.jsonl")]) == 1
    assert not (tmp_path / "data" / "audit.sqlite3").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "yesterday"], "not an ISO 8601 time"),
        (["--since", "2026-11-24", "--until", "2026-11-23"], "--since must be earlier"),
    ],
)
def test_export_refuses_a_bad_range(
    args: list[str], message: str, config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    KeyStore(tmp_path / "data", env={}).signing_key("audit")
    assert cli.main(["audit", "export", "--config", str(config), *args]) == 2
    assert message in capsys.readouterr().err


def test_commands_on_a_log_that_is_off_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "off.yaml"
    path.write_text(yaml.safe_dump({"data_dir": str(tmp_path / "data"), "audit": {"store": "off"}}))
    KeyStore(tmp_path / "data", env={}).signing_key("audit")
    assert cli.main(["audit", "verify", "--config", str(path)]) == 2
    assert "audit.store: off" in capsys.readouterr().err


def test_postgres_without_a_dsn_is_a_configuration_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VOICEGUARD_AUDIT_POSTGRES_DSN", raising=False)
    path = tmp_path / "pg.yaml"
    path.write_text(yaml.safe_dump({"data_dir": str(tmp_path / "data"), "audit": {"store": "postgres"}}))
    KeyStore(tmp_path / "data", env={}).signing_key("audit")
    assert cli.main(["audit", "verify", "--config", str(path)]) == 2
    assert "VOICEGUARD_AUDIT_POSTGRES_DSN" in capsys.readouterr().err


def test_verifying_a_file_that_is_not_an_export_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello auditor\n")
    assert cli.main(["audit", "verify", "--export", str(path)]) == 1
    assert "not a voiceguard export" in capsys.readouterr().err


def test_key_prints_the_public_key_and_its_fingerprint(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    public = CheckpointSigner(KeyStore(tmp_path / "data", env={}).signing_key("audit")).public
    assert cli.main(["audit", "key", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert public.fingerprint in out and public.to_json()["public_key"] in out
