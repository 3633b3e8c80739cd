"""Reading decoded JSON whose shape a peer may get wrong: a wrong type reads as absent, never as a crash."""

from __future__ import annotations

from typing import Any


def as_dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def as_number(value: object) -> float | None:
    """A JSON number as a float; ``None`` for anything else (``true`` is not a number)."""
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def as_str(value: object) -> str | None:
    return value if isinstance(value, str) else None
