"""The per-turn latency waterfall: where the time between the caller's last word and the agent's voice went.

Numbers are ``Turn.breakdown_ms()``, the very numbers the ``voice.turn`` span and the latency histograms
carry. The stages of a cascade follow one another, so each bar starts where the one before it ended; the
LLM's whole reply is drawn beside its first token, because a simple agent waits for it before speaking.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from voiceguard.turns import Turn

BAR_WIDTH: Final = 40
CHAIN: Final = (
    ("end_of_speech_detection", "end-of-speech detection", "cyan"),
    ("stt_finalization", "STT finalization", "cyan"),
    ("gap_transcript_to_llm", "agent: transcript → LLM request", "yellow"),
    ("llm_time_to_first_token", "LLM time to first token", "magenta"),
    ("gap_llm_to_tts", "agent: first token → TTS request", "yellow"),
    ("tts_time_to_first_byte", "TTS time to first byte", "green"),
)
"""The stages in the order they happen, each starting where the previous one ended."""
LLM_WHOLE: Final = ("llm_total", "  (LLM whole reply)", "magenta dim")
PUBLISHED: Final = (
    "For scale, a published production breakdown (p50 / p99 ms): end of speech 50 / 100, "
    "STT finalization 100 / 250, LLM first token 150 / 400, TTS first byte 100 / 250, "
    "voice-to-voice 470 / 1160."
)


def format_ms(value: float) -> str:
    return f"{value:.1f} ms"


def _bar(start: float, length: float, scale: float, style: str) -> Text:
    offset = round(start * scale)
    width = max(1, round(length * scale)) if length > 0 else 0
    bar = Text(" " * offset)
    bar.append("█" * width if width else "▏", style=style)
    return bar


def _span(breakdown: dict[str, float | None]) -> float:
    return sum(breakdown.get(key) or 0.0 for key, _, _ in CHAIN)


def turn_table(turn: Turn, scale: float) -> Table:
    breakdown = turn.breakdown_ms()
    table = Table(box=None, show_header=False, padding=(0, 1), pad_edge=False)
    table.add_column("stage", min_width=34)
    table.add_column("ms", justify="right", min_width=9)
    table.add_column("bar", no_wrap=True)
    at = 0.0
    llm_started: float | None = None
    for key, label, style in CHAIN:
        value = breakdown.get(key)
        if value is None:
            continue
        if key == "llm_time_to_first_token":
            llm_started = at
        table.add_row(label, format_ms(value), _bar(at, value, scale, style))
        if key == "llm_time_to_first_token" and (whole := breakdown.get(LLM_WHOLE[0])) is not None:
            table.add_row(Text(LLM_WHOLE[1], style="dim"), Text(format_ms(whole), style="dim"),
                          _bar(llm_started or 0.0, whole, scale, LLM_WHOLE[2]))  # fmt: skip
        at += value
    voice = breakdown.get("voice_to_voice")
    if voice is not None:
        start = breakdown.get("end_of_speech_detection") or 0.0
        table.add_row(Text("voice-to-voice", style="bold"), Text(format_ms(voice), style="bold"),
                      _bar(start, voice, scale, "bold white"))  # fmt: skip
    overhead = breakdown.get("proxy_overhead")
    if overhead is not None:
        table.add_row(
            Text("voiceguard's own time (overhead)", style="dim"), Text(format_ms(overhead), style="dim"), ""
        )
    return table


def waterfall(turns: Sequence[Turn], notes: Sequence[str] = ()) -> RenderableType:
    """Every turn's waterfall on one time scale, so turns compare at a glance."""
    longest = max((_span(turn.breakdown_ms()) for turn in turns), default=0.0)
    scale = BAR_WIDTH / longest if longest > 0 else 0.0
    parts: list[RenderableType] = []
    for turn in turns:
        voice = turn.breakdown_ms().get("voice_to_voice")
        title = Text(f"Turn {turn.number}", style="bold")
        if voice is not None:
            title.append(f" · voice-to-voice {format_ms(voice)}", style="bold")
        parts.extend([title, turn_table(turn, scale), Text("")])
    parts.extend(Text(note, style="dim") for note in (*notes, PUBLISHED))
    return Group(*parts)
