"""Policy steps run on every event, in the order ``build_guards`` gives them."""

from __future__ import annotations

from voiceguard.config import Settings
from voiceguard.guards.base import Guard


def build_guards(settings: Settings) -> list[Guard]:
    """The guard chain for these settings; order is data, decided here and nowhere else."""
    return []
