"""Key material: created private, reused, sealed under the master key, refused when exposed."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest

from voiceguard.keys import MASTER_KEY_ENV, KeyError_, KeyStore


def test_keys_are_created_private_and_stable(tmp_path: Path) -> None:
    store = KeyStore(tmp_path, env={})
    first = store.subject_hash("+13125550100")
    again = KeyStore(tmp_path, env={}).subject_hash("+13125550100")
    assert first == again and "+1312" not in first and len(first) == 64
    for path in (tmp_path / "keys").iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "keys").stat().st_mode) == 0o700


def test_named_keys_are_stored_sealed_not_in_clear(tmp_path: Path) -> None:
    store = KeyStore(tmp_path, env={})
    secret = store.secret("pseudonyms")
    assert secret not in (tmp_path / "keys" / "pseudonyms.key").read_bytes()


def test_a_different_master_key_cannot_open_the_keys(tmp_path: Path) -> None:
    master = base64.b64encode(os.urandom(32)).decode()
    KeyStore(tmp_path, env={MASTER_KEY_ENV: master}).secret("audit")
    other = base64.b64encode(os.urandom(32)).decode()
    with pytest.raises(KeyError_, match="wrong master key"):
        KeyStore(tmp_path, env={MASTER_KEY_ENV: other}).secret("audit")


def test_a_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    KeyStore(tmp_path, env={})
    (tmp_path / "keys" / "master.key").chmod(0o644)
    with pytest.raises(KeyError_, match="readable by others"):
        KeyStore(tmp_path, env={})


def test_sealed_blobs_are_bound_to_their_purpose(tmp_path: Path) -> None:
    store = KeyStore(tmp_path, env={})
    blob = store.seal(b"4111111111111111", "pseudonyms:call-1")
    assert store.open(blob, "pseudonyms:call-1") == b"4111111111111111"
    with pytest.raises(KeyError_):
        store.open(blob, "pseudonyms:call-2")


def test_signing_keys_sign_and_verify(tmp_path: Path) -> None:
    key = KeyStore(tmp_path, env={}).signing_key("audit")
    signature = key.sign(b"checkpoint")
    key.public_key().verify(signature, b"checkpoint")
