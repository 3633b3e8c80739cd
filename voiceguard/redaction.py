"""What every recording sink (traces, logs, audit) calls before text leaves the process.

Whatever a guard does in flight, what voiceguard itself records is always redacted. The PII engine provides
the real ``RecordRedactor``; until one is configured, ``MaskEverything`` stands in and fails closed: it keeps
only the shape of the text (lengths, spaces, punctuation), so no word of a caller is ever recorded raw.
"""

from __future__ import annotations

import re
from typing import Protocol
from urllib.parse import quote, unquote

_ALNUM = re.compile(r"\w", re.UNICODE)


class RecordRedactor(Protocol):
    """Turns text into what may be recorded (entities replaced by their type labels)."""

    def redact(self, text: str) -> str: ...


class MaskEverything:
    """The fail-closed redactor: every letter and digit becomes ``*``."""

    def redact(self, text: str) -> str:
        return _ALNUM.sub("*", text)


_NUMBER_RUN = re.compile(r"\+?\d(?:[ ().\-]*\d){5,}")
_EMAIL = re.compile(r"[^/@\s]+@[^/@\s]+\.[A-Za-z]{2,}")
_PATH_SAFE = "/:@!$&'()*+,;=-._~"


def recordable_path(raw_path: str) -> str:
    """A request path as logs and audit records may keep it: number runs and e-mail addresses masked.

    Vendor paths hold ids and model names, never personal data, but a client can put anything in a URL
    (``/v1/lookup/+13125550100``). Runs of six or more digits (cards, phones, SSNs, whatever separates them)
    become ``[number]``, addresses ``[email]``; the result is re-encoded, so no control character from the
    path reaches a log line.
    """
    decoded = unquote(raw_path) if "%" in raw_path else raw_path
    masked = _NUMBER_RUN.sub("[number]", decoded)
    if "@" in masked:
        masked = _EMAIL.sub("[email]", masked)
    if masked is raw_path or masked == raw_path:
        return raw_path  # nothing encoded, nothing masked: already what a record may keep
    return quote(masked, safe=_PATH_SAFE + "[]")
