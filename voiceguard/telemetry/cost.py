"""Estimated cost of what a stage consumed, from the configured price table.

Usage is tallied per exchange (and per realtime response) from the events the adapters report, so each
amount is priced with the model that produced it; turns and calls add up their stages.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from voiceguard.config import PriceConfig
from voiceguard.events import AudioChunk, Direction, Event, TTSText, Usage

_DATE_SUFFIX = re.compile(r"-(\d{4}-\d{2}-\d{2}|\d{8}|\d{4})$")
MILLION = 1_000_000


@dataclass(slots=True)
class UsageTally:
    """What one exchange (or one realtime response) consumed."""

    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    audio_input_tokens: int = 0
    audio_output_tokens: int = 0
    reported_audio_s: float = 0.0
    """Audio seconds the backend billed (``Usage.audio_seconds``)."""
    audio_in_s: float = 0.0
    audio_out_s: float = 0.0
    characters: int = 0
    reported_characters: int = 0
    seen: bool = False

    def observe(self, event: Event) -> bool:
        """Account for ``event``; True when it changed what is billed."""
        if isinstance(event, Usage):
            self.input_tokens += event.input_tokens or 0
            self.output_tokens += event.output_tokens or 0
            self.cached_input_tokens += event.cached_input_tokens or 0
            self.audio_input_tokens += event.audio_input_tokens or 0
            self.audio_output_tokens += event.audio_output_tokens or 0
            self.reported_audio_s += event.audio_seconds or 0.0
            self.reported_characters += event.characters or 0
        elif isinstance(event, AudioChunk) and event.seconds:
            if event.direction is Direction.TO_CLIENT:
                self.audio_out_s += event.seconds
            else:
                self.audio_in_s += event.seconds
        elif isinstance(event, TTSText):
            self.characters += len(event.text)
        else:
            return False
        self.seen = True
        return True

    def add(self, other: UsageTally) -> None:
        for name in self.__slots__:
            if name != "seen":
                setattr(self, name, getattr(self, name) + getattr(other, name))
        self.seen = self.seen or other.seen

    @property
    def billed_audio_in_s(self) -> float:
        return self.reported_audio_s or self.audio_in_s

    @property
    def billed_characters(self) -> int:
        return max(self.characters, self.reported_characters)


def estimate(price: PriceConfig, tally: UsageTally) -> float:
    """US dollars for ``tally`` at ``price``."""
    cached = min(tally.cached_input_tokens, tally.input_tokens)
    audio_in = min(tally.audio_input_tokens, tally.input_tokens - cached)
    text_in = tally.input_tokens - cached - audio_in
    audio_out = min(tally.audio_output_tokens, tally.output_tokens)
    text_out = tally.output_tokens - audio_out
    cached_price = (
        price.input_per_mtok if price.cached_input_per_mtok is None else price.cached_input_per_mtok
    )
    per_token = (
        text_in * price.input_per_mtok
        + cached * cached_price
        + audio_in * price.audio_input_per_mtok
        + text_out * price.output_per_mtok
        + audio_out * price.audio_output_per_mtok
    ) / MILLION
    # Speech-to-text billed in tokens reports no minutes; the per-minute price is for those that do not.
    heard_s = tally.billed_audio_in_s if not tally.input_tokens else 0.0
    per_minute = (
        heard_s * price.audio_input_per_minute + tally.audio_out_s * price.audio_output_per_minute
    ) / 60
    per_character = tally.billed_characters * price.per_million_characters / MILLION
    return per_token + per_minute + per_character


class PriceTable:
    """Looks a model up by its exact name, then without a date suffix, then by the longest known prefix."""

    def __init__(self, prices: Mapping[str, PriceConfig]) -> None:
        self._prices = dict(prices)
        self._by_length = sorted(self._prices, key=len, reverse=True)
        self._cache: dict[str, PriceConfig | None] = {}

    def price_for(self, model: str | None) -> PriceConfig | None:
        if not model:
            return None
        if model in self._cache:
            return self._cache[model]
        name = model.rsplit("/", 1)[-1]
        found = self._prices.get(name) or self._prices.get(_DATE_SUFFIX.sub("", name))
        if found is None:
            found = next((self._prices[key] for key in self._by_length if name.startswith(key)), None)
        if len(self._cache) < 1024:
            self._cache[model] = found
        return found

    def cost(self, model: str | None, tally: UsageTally) -> float | None:
        """The estimated cost, or ``None`` when the model is not in the table."""
        price = self.price_for(model)
        return None if price is None else estimate(price, tally)
