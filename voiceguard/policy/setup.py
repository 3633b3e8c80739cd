"""The policy store a proxy (or a command) runs on, built from the settings."""

from __future__ import annotations

from voiceguard.config import Settings
from voiceguard.policy.context import PolicyStore
from voiceguard.policy.loader import default_directory, load_policy_set


def policy_store(settings: Settings) -> PolicyStore:
    """The packs in force at start-up; a broken directory stops voiceguard (``PolicyError``)."""
    config = settings.policy
    return PolicyStore(
        load_policy_set(config.dir or default_directory()),
        default_jurisdiction=config.default_jurisdiction,
        operator_jurisdictions=config.operator_jurisdictions,
    )
