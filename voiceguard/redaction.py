"""What every recording sink (traces, logs, audit) calls before text leaves the process.

Whatever a guard does in flight, what voiceguard itself records is always redacted. The PII engine provides
the real ``RecordRedactor``; until one is configured, ``MaskEverything`` stands in and fails closed: it keeps
only the shape of the text (lengths, spaces, punctuation), so no word of a caller is ever recorded raw.
"""

from __future__ import annotations

import re
from typing import Protocol

_ALNUM = re.compile(r"\w", re.UNICODE)


class RecordRedactor(Protocol):
    """Turns text into what may be recorded (entities replaced by their type labels)."""

    def redact(self, text: str) -> str: ...


class MaskEverything:
    """The fail-closed redactor: every letter and digit becomes ``*``."""

    def redact(self, text: str) -> str:
        return _ALNUM.sub("*", text)
