"""One streamed reply (text or a tool call's arguments) on its way back to the client.

Two stages, in this order: the scanner redacts what the LLM itself wrote (with the ``speech`` flow's modes)
and holds back only an open tail; the restorer then puts the call's pseudonyms back. Redacting first means
restored values are never redacted again — they are what the caller said, given back to the caller.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from voiceguard.pii.streaming import PlaceholderRestorer, Released, StreamScanner


@dataclass(slots=True)
class ReplyOutput:
    """What a reply stream lets go now, and what it found and restored on the way."""

    text: str
    released: Released | None
    restored: dict[str, int]


class ReplyStream:
    """``hold`` is false when every mode is ``observe``: text then flows at once and is only counted."""

    __slots__ = ("_redact", "hold", "restorer", "scanner")

    def __init__(
        self,
        scanner: StreamScanner | None,
        restorer: PlaceholderRestorer,
        *,
        hold: bool,
        redact: Callable[[Released], str],
    ) -> None:
        self.scanner = scanner
        self.restorer = restorer
        self.hold = hold
        self._redact = redact

    def feed(self, text: str) -> ReplyOutput:
        released = self.scanner.feed(text) if self.scanner is not None else None
        if self.scanner is not None and self.hold:
            text = self._redact(released) if released is not None else ""
        restored, counts = self.restorer.feed(text)
        return ReplyOutput(restored, released, counts)

    def flush(self) -> ReplyOutput:
        released = self.scanner.flush() if self.scanner is not None else None
        text = self._redact(released) if released is not None and self.hold else ""
        restored, counts = self.restorer.feed(text)
        rest, more = self.restorer.flush()
        for entity_type, count in more.items():
            counts[entity_type] = counts.get(entity_type, 0) + count
        return ReplyOutput(restored + rest, released, counts)

    @property
    def context(self) -> str:
        return self.scanner.context if self.scanner is not None else ""
