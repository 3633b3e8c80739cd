"""Policy steps run on every event, in the order ``build_guards`` gives them."""

from __future__ import annotations

from voiceguard.config import Settings
from voiceguard.guards.base import Guard
from voiceguard.policy.context import PolicyStore


def build_guards(settings: Settings, policies: PolicyStore | None = None) -> list[Guard]:
    """The guard chain for these settings; order is data, decided here and nowhere else.

    The policy guard runs first so every later guard (and every decision) sees the call's resolved policy;
    the disclosure guard runs late, on the text the client will actually receive.
    """
    guards: list[Guard] = []
    if policies is not None:
        from voiceguard.guards.ai_marking import AiMarkingGuard
        from voiceguard.guards.disclosure import DisclosureGuard
        from voiceguard.guards.policy_context import PolicyContextGuard

        guards.append(PolicyContextGuard(policies))
        guards.extend([DisclosureGuard(policies), AiMarkingGuard(policies)])
    return guards
