"""The rolling window: what came just before a text, put in front of it for analysis.

Speech-to-text cuts a card number wherever the speaker pauses ("4111 1111" | "1111 1111"), and the cue that
says what a number is often comes from the other side ("What is your social security number?" — then the
caller says nine digits). So each text is analysed with a prefix: the tail of the agent's last words, a
newline (which no number reads across), and the tail of the previous text of the same stream, joined by a
space (which numbers read across). Findings inside the prefix are never reported: what was already
forwarded cannot be taken back; the part of a split entity in the new text is redacted.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Final

TAIL_CHARS: Final = 120
MAX_STREAMS: Final = 64


@dataclass(slots=True)
class ConversationWindow:
    """Tails of recent text of one call (held in memory with the call, never recorded)."""

    tail_chars: int = TAIL_CHARS
    agent: str = ""
    _previous: OrderedDict[object, str] = field(default_factory=OrderedDict)

    def prefix(self, key: object) -> str:
        previous = self._previous.get(key, "")
        if not self.agent and not previous:
            return ""
        return f"{self.agent}\n{previous} " if previous else f"{self.agent}\n"

    def remember(self, key: object, text: str) -> None:
        """``text`` was a complete result of stream ``key``: the next one is read after it."""
        if not text.strip():
            return
        self._previous[key] = text[-self.tail_chars :]
        self._previous.move_to_end(key)
        while len(self._previous) > MAX_STREAMS:
            self._previous.popitem(last=False)

    def forget(self, key: object) -> None:
        self._previous.pop(key, None)

    def remember_agent(self, text: str) -> None:
        """The agent said or wrote ``text``: its cues ("your card number?") frame the caller's answer."""
        if text.strip():
            self.agent = text[-self.tail_chars :].replace("\n", " ")
