"""Pseudonyms: stable per call and value, sealed at rest, restored only while fresh."""

from __future__ import annotations

from pathlib import Path

from voiceguard.keys import KeyStore
from voiceguard.pii.vault import EphemeralSealer, PseudonymVault


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def vault(clock: Clock | None = None, max_entries: int = 100) -> PseudonymVault:
    return PseudonymVault(
        EphemeralSealer(), "pii-vault:call-1", ttl_s=60, max_entries=max_entries, clock=clock or Clock()
    )


def test_the_same_value_in_any_form_gets_the_same_placeholder() -> None:
    names = vault()
    first = names.pseudonym("CREDIT_CARD", "4111 1111 1111 1111")
    assert first == "<CREDIT_CARD_1>"
    assert names.pseudonym("CREDIT_CARD", "4111-1111-1111-1111") == first
    assert (
        names.pseudonym("CREDIT_CARD", "four one one one one one one one one one one one one one one one")
        == first
    )
    assert names.pseudonym("CREDIT_CARD", "5555 5555 5555 4444") == "<CREDIT_CARD_2>"
    assert names.pseudonym("US_SSN", "123-45-6789") == "<US_SSN_1>"
    assert names.original(first) == "4111 1111 1111 1111"


def test_restore_replaces_known_placeholders_only() -> None:
    names = vault()
    names.pseudonym("EMAIL_ADDRESS", 'jo"e@example.com')
    text, counts = names.restore("mail <EMAIL_ADDRESS_1>, not <EMAIL_ADDRESS_2> or <b>")
    assert text == 'mail jo"e@example.com, not <EMAIL_ADDRESS_2> or <b>' and counts == {"EMAIL_ADDRESS": 1}
    escaped, _ = names.restore('{"to": "<EMAIL_ADDRESS_1>"}', escape=lambda v: v.replace('"', '\\"'))
    assert escaped == '{"to": "jo\\"e@example.com"}'


def test_placeholders_expire_after_the_ttl_without_use() -> None:
    clock = Clock()
    names = vault(clock)
    placeholder = names.pseudonym("CREDIT_CARD", "4111111111111111")
    assert placeholder is not None
    clock.now = 59.0
    assert names.original(placeholder) == "4111111111111111"  # use refreshes the expiry
    clock.now = 118.0
    assert names.original(placeholder) == "4111111111111111"
    clock.now = 180.0
    assert names.original(placeholder) is None
    assert names.pseudonym("CREDIT_CARD", "4111111111111111") == "<CREDIT_CARD_2>"  # never reused


def test_a_full_vault_says_so_instead_of_growing() -> None:
    names = vault(max_entries=1)
    assert names.pseudonym("CVV", "123") == "<CVV_1>"
    assert names.pseudonym("CVV", "456") is None


def test_values_are_sealed_with_the_key_store_and_bound_to_the_call(tmp_path: Path) -> None:
    keys = KeyStore(tmp_path, env={})
    names = PseudonymVault(keys, "pii-vault:call-7", ttl_s=60, max_entries=10)
    names.pseudonym("CREDIT_CARD", "4111111111111111")
    [entry] = names._entries.values()
    assert b"4111" not in entry.sealed and entry.sealed.startswith(b"vgk1")
    assert keys.open(entry.sealed, "pii-vault:call-7") == b"4111111111111111"
