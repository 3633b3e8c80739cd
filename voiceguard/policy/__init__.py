"""Policy packs: loading and validating ``policies/*.yaml``, and deciding what applies to a call.

Guards read the result (``context.bind``); nothing here touches the wire, a socket or a clock.
"""

from __future__ import annotations

from voiceguard.policy.context import CallPolicy, PolicyStore, bind, policy_of
from voiceguard.policy.loader import PolicyError, Problem, load_policy_set
from voiceguard.policy.model import Action, AppliedPolicy, Control, Pack, PackRef, PolicySet, Rule

__all__ = [
    "Action",
    "AppliedPolicy",
    "CallPolicy",
    "Control",
    "Pack",
    "PackRef",
    "PolicyError",
    "PolicySet",
    "PolicyStore",
    "Problem",
    "Rule",
    "bind",
    "load_policy_set",
    "policy_of",
]
