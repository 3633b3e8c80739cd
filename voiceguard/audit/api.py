"""The audit log as other parts of voiceguard see it: ``runtime.audit``.

Components that change state outside a proxied request (the consent registry, the retention job, admin
endpoints) record what they did with ``await runtime.audit.append(kind, fields, ...)``; it returns once the
record is durably stored (or the store is down and the log is failing open). Fields must be canonical JSON
(strings, integers, booleans, null, lists, objects; no floats) and must not hold raw personal data: pass the
person as ``subject=`` and the log stores only its keyed hash.

Kinds are dotted lower-case words; use ``consent.granted``, ``consent.revoked``, ``retention.destroyed``,
``admin.<action>``; the OCSF export maps ``consent.*`` to Account Change (3001).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from voiceguard.audit.canonical import JsonValue


class AuditTrail(Protocol):
    """Append records from outside the request path (see the module docstring)."""

    @property
    def refuses_traffic(self) -> bool:
        """True while the store is down and the log is configured to fail closed."""
        ...

    async def append(
        self,
        kind: str,
        fields: Mapping[str, JsonValue],
        *,
        call_id: str | None = None,
        subject: str | None = None,
    ) -> None: ...


class DisabledAuditTrail:
    """``audit.store: off``: records go nowhere and traffic is never refused."""

    @property
    def refuses_traffic(self) -> bool:
        return False

    async def append(
        self,
        kind: str,
        fields: Mapping[str, JsonValue],
        *,
        call_id: str | None = None,
        subject: str | None = None,
    ) -> None:
        return None
