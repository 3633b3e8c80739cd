"""Hash chaining and checkpoint signatures, as an auditor would recompute them by hand."""

from __future__ import annotations

import base64
import hashlib

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from tests.audit.conftest import entry
from voiceguard.audit.chain import GENESIS, CheckpointSigner, PublicKey, fold, leaf_hash, link
from voiceguard.keys import KeyStore


def test_chain_hashes_are_sha256_with_rfc6962_domain_separation() -> None:
    rows = link(0, GENESIS, [entry(1), entry(2)])
    first, second = rows
    assert first.leaf == hashlib.sha256(b"\x00" + first.body.encode()).hexdigest()
    assert first.prev == GENESIS
    assert first.hash == hashlib.sha256(b"\x01" + bytes(32) + bytes.fromhex(first.leaf)).hexdigest()
    assert second.prev == first.hash
    assert fold(GENESIS, [first.leaf, second.leaf]) == second.hash
    assert leaf_hash(second.body) == second.leaf


def test_checkpoint_signature_covers_the_documented_text(keys: KeyStore) -> None:
    signer = CheckpointSigner(keys.signing_key("audit"))
    first = signer.sign("voiceguard-audit/x", 3, "ab" * 32, 1_700_000_000_000_000, None)
    second = signer.sign("voiceguard-audit/x", 7, "cd" * 32, 1_700_000_001_000_000, first)
    assert second.previous_signature == first.signature
    message = (
        "voiceguard-audit-checkpoint/v1\nvoiceguard-audit/x\n7\n"
        + "cd" * 32
        + "\n2023-11-14T22:13:21.000000Z\n"
        + first.signature
        + "\n"
    ).encode()
    public = Ed25519PublicKey.from_public_bytes(signer.public.raw)
    public.verify(base64.b64decode(second.signature), message)  # raises if the text differs
    assert second.verify(signer.public)


def test_a_changed_checkpoint_or_another_key_does_not_verify(keys: KeyStore) -> None:
    signer = CheckpointSigner(keys.signing_key("audit"))
    other = CheckpointSigner(keys.signing_key("someone-else"))
    checkpoint = signer.sign("voiceguard-audit/x", 3, "ab" * 32, 1, None)
    from dataclasses import replace

    assert not replace(checkpoint, size=4).verify(signer.public)
    assert not replace(checkpoint, head="ac" * 32).verify(signer.public)
    assert not checkpoint.verify(other.public)


def test_public_keys_parse_from_their_printed_form(keys: KeyStore) -> None:
    public = CheckpointSigner(keys.signing_key("audit")).public
    parsed = PublicKey.parse(public.to_json()["public_key"])
    assert parsed == public and parsed.fingerprint == hashlib.sha256(public.raw).hexdigest()
