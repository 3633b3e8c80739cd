"""The pure half of ``benchmarks.run``: results as data, verdicts against DESIGN.md's numbers, the table.

Kept free of processes and sockets so that the verdict rules and the table layout are unit tested
(``tests/test_bench_report.py``) and a saved run (``--json``) re-renders without measuring again.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

DIRECT = "direct"
VOICEGUARD = "voiceguard"
VOICEGUARD_OFF = "voiceguard, telemetry off"
NGINX = "nginx"
LITELLM = "LiteLLM"
TARGETS = (DIRECT, VOICEGUARD, VOICEGUARD_OFF, NGINX, LITELLM)
"""Table columns, in order. ``direct`` is the floor every other column is compared with."""


@dataclass(frozen=True)
class Cell:
    """One target's figure for a row; ``value`` is None when the target does not apply (``note`` says why)."""

    value: float | None
    note: str = ""
    at_least: bool = False
    """The figure is a lower bound: the target passed the highest load tried (or the generator's ceiling)."""


@dataclass(frozen=True)
class Budget:
    """A DESIGN.md target for voiceguard's column.

    ``added_max``: voiceguard's figure minus direct's must stay at or under ``limit`` (latency rows).
    ``max``: voiceguard's figure itself must stay at or under ``limit`` (in-process PII guard latency).
    ``min``: voiceguard's figure must reach ``limit`` (capacity rows).
    """

    kind: Literal["added_max", "max", "min"]
    limit: float
    text: str


@dataclass
class Row:
    key: str
    """Stable name for ``--only`` and for the saved JSON."""
    label: str
    unit: str
    cells: dict[str, Cell] = field(default_factory=dict)
    budget: Budget | None = None
    compare: bool = True
    """Whether added/ratio against direct means something (latency rows yes; capacity and memory no)."""

    def value(self, target: str) -> float | None:
        cell = self.cells.get(target)
        return None if cell is None else cell.value


def verdict(row: Row) -> str:
    """Met, or missed by how much, for voiceguard's column against the row's DESIGN.md budget."""
    if row.budget is None:
        return "—"
    mine = row.value(VOICEGUARD)
    note = row.cells[VOICEGUARD].note if VOICEGUARD in row.cells else ""
    if row.budget is not None and row.budget.kind == "min" and mine is None and note.startswith("below"):
        return f"missed: {note}"
    if mine is None or math.isnan(mine):
        return "not measured"
    budget = row.budget
    if budget.kind == "added_max":
        floor = row.value(DIRECT)
        if floor is None or math.isnan(floor):
            return "not measured"
        figure = mine - floor
    else:
        figure = mine
    if budget.kind == "min":
        if figure >= budget.limit:
            return "met"
        if row.cells[VOICEGUARD].at_least:
            return "not reached (load limit)"
        return f"missed by {_num(budget.limit - figure)} {row.unit} ({_num(figure)} < {_num(budget.limit)})"
    if figure <= budget.limit:
        return "met"
    return f"missed by {_num(figure - budget.limit)} {row.unit} ({_num(figure)} > {_num(budget.limit)})"


def ratio(value: float, floor: float) -> float | None:
    if floor <= 0 or math.isnan(floor) or math.isnan(value):
        return None
    return value / floor


def format_cell(row: Row, target: str) -> str:
    cell = row.cells.get(target)
    if cell is None:
        return "n/a"
    if cell.value is None or math.isnan(cell.value):
        return f"n/a ({cell.note})" if cell.note else "n/a"
    text = ("≥ " if cell.at_least else "") + _num(cell.value)
    floor = row.value(DIRECT)
    if row.compare and target != DIRECT and floor is not None and not math.isnan(floor):
        times = ratio(cell.value, floor)
        extra = f"+{_num(cell.value - floor)}" if cell.value >= floor else f"-{_num(floor - cell.value)}"
        text += f" ({extra}" + (f", x{times:.1f})" if times is not None else ")")
    elif cell.note:
        text += f" ({cell.note})"
    return text


def _num(value: float) -> str:
    if value == int(value) and abs(value) >= 10:
        return f"{value:.0f}"  # counts (calls, requests/s) read as counts
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def markdown(rows: Sequence[Row], targets: Sequence[str] = TARGETS) -> str:
    """The results table as GitHub Markdown (plain text in a terminal reads the same)."""
    headers = ["measure", "unit", *targets, "DESIGN target (voiceguard)", "verdict"]
    body = [
        [
            row.label,
            row.unit,
            *(format_cell(row, t) for t in targets),
            row.budget.text if row.budget else "—",
            verdict(row),
        ]
        for row in rows
    ]
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in line) + " |" for line in body]
    return "\n".join(lines)


def to_json(rows: Sequence[Row], meta: dict[str, Any]) -> dict[str, Any]:
    return {"meta": meta, "rows": [asdict(row) for row in rows]}


def from_json(data: dict[str, Any]) -> tuple[list[Row], dict[str, Any]]:
    rows = []
    for raw in data["rows"]:
        budget = Budget(**raw["budget"]) if raw.get("budget") else None
        cells = {name: Cell(**cell) for name, cell in raw["cells"].items()}
        rows.append(Row(raw["key"], raw["label"], raw["unit"], cells, budget, raw.get("compare", True)))
    return rows, dict(data.get("meta", {}))
