"""Picks up changed policy packs without a restart: polls the directory and swaps the set in whole.

Polling file metadata (name, mtime, size) works on every filesystem, including the symlink swaps of a
Kubernetes ConfigMap, where inotify-style events are unreliable. A pack that breaks on reload never takes
effect: the previous set stays in force, the problems are logged, and ``/readyz`` reports the failure
(when configured) until a good set loads. The proxy never runs without a policy.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Final

import structlog

from voiceguard.policy.context import PolicyStore
from voiceguard.policy.loader import PolicyError, fingerprint, load_policy_set
from voiceguard.proxy.runtime import Readiness

log = structlog.get_logger("voiceguard.policy")

READINESS_COMPONENT: Final = "policy"


class PolicyWatcher:
    """Owned by the server's lifecycle; ``run`` is its one background task."""

    def __init__(
        self,
        store: PolicyStore,
        directory: Path,
        interval_s: float,
        readiness: Readiness,
        *,
        unready_on_failure: bool = True,
    ) -> None:
        self.store = store
        self.directory = directory
        self.interval_s = interval_s
        self.readiness = readiness
        self.unready_on_failure = unready_on_failure
        self._seen = fingerprint(directory)
        self.reloads = 0
        self.failures = 0

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self.check()
            except Exception:
                log.exception("policy_watch_failed")

    async def check(self) -> bool:
        """Reload when the packs changed since the last look; True when a new set went into force."""
        current = fingerprint(self.directory)
        if current == self._seen:
            return False
        self._seen = current
        try:
            policy = await asyncio.to_thread(load_policy_set, self.directory)
        except PolicyError as exc:
            self.failures += 1
            problems = [str(problem) for problem in exc.problems]
            log.error(
                "policy_reload_rejected",
                directory=str(self.directory),
                problems=problems,
                in_force=self.store.current.digest,
            )
            if self.unready_on_failure:
                self.readiness.set_problem(
                    READINESS_COMPONENT, f"policy reload rejected, previous set in force: {problems[0]}"
                )
            return False
        self.store.swap(policy)
        self.reloads += 1
        self.readiness.set_problem(READINESS_COMPONENT, None)
        log.info(
            "policy_reloaded",
            directory=str(self.directory),
            digest=policy.digest,
            packs={ref.name: ref.version for ref in policy.refs},
        )
        return True
