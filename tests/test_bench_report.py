"""The pure parts of ``benchmarks.run``: verdicts against DESIGN.md, cells, ratios, the table, peer configs.

These decide what the README claims, so they are pinned here; the measuring itself is never a timed test.
"""

from __future__ import annotations

import math
from pathlib import Path

from benchmarks.harness import Summary
from benchmarks.peers import litellm_config, nginx_config
from benchmarks.report import (
    DIRECT,
    LITELLM,
    NGINX,
    VOICEGUARD,
    Budget,
    Cell,
    Row,
    format_cell,
    from_json,
    markdown,
    ratio,
    to_json,
    verdict,
)

P99 = Budget("added_max", 3.0, "added p99 ≤ 3 ms")


def latency_row(direct: float, mine: float, budget: Budget | None = P99) -> Row:
    return Row("json-p99", "JSON, p99", "ms", {DIRECT: Cell(direct), VOICEGUARD: Cell(mine)}, budget)


def test_summary_percentiles_pick_the_sample_at_the_rank() -> None:
    summary = Summary.of([n * 1_000_000 for n in range(1, 101)])
    assert (summary.count, summary.p50_ms, summary.p95_ms, summary.p99_ms) == (100, 51.0, 96.0, 100.0)
    assert math.isnan(Summary.of([]).p50_ms)


def test_added_budget_is_met_at_the_limit_and_missed_by_the_excess() -> None:
    assert verdict(latency_row(0.5, 3.5)) == "met"
    assert verdict(latency_row(0.5, 4.75)) == "missed by 1.25 ms (4.25 > 3.00)"


def test_min_budget_and_lower_bounds() -> None:
    budget = Budget("min", 200, "≥ 200 calls")
    row = Row("calls", "calls", "calls", {VOICEGUARD: Cell(100.0)}, budget, compare=False)
    assert verdict(row) == "missed by 100 calls (100 < 200)"
    row.cells[VOICEGUARD] = Cell(300.0, at_least=True)
    assert verdict(row) == "met"
    row.cells[VOICEGUARD] = Cell(100.0, at_least=True)
    assert verdict(row) == "not reached (load limit)"


def test_verdict_without_a_figure_or_a_budget() -> None:
    assert verdict(latency_row(0.5, 1.0, budget=None)) == "—"
    row = latency_row(0.5, 1.0)
    row.cells[VOICEGUARD] = Cell(None, "crashed")
    assert verdict(row) == "not measured"


def test_cells_show_added_time_and_ratio_against_direct() -> None:
    row = latency_row(0.5, 1.5)
    row.cells[NGINX] = Cell(0.25)
    row.cells[LITELLM] = Cell(None, "cannot start")
    assert format_cell(row, DIRECT) == "0.50"
    assert format_cell(row, VOICEGUARD) == "1.50 (+1.00, x3.0)"
    assert format_cell(row, NGINX) == "0.25 (-0.25, x0.5)"
    assert format_cell(row, LITELLM) == "n/a (cannot start)"
    assert format_cell(row, "absent") == "n/a"
    assert ratio(1.0, 0.0) is None


def test_capacity_cells_carry_lower_bounds_and_notes_without_ratios() -> None:
    row = Row("rps", "rps", "req/s", {DIRECT: Cell(3000.0), VOICEGUARD: Cell(700.0, "x", at_least=True)})
    row.compare = False
    assert format_cell(row, VOICEGUARD) == "≥ 700 (x)"


def test_markdown_table_has_one_line_per_row_and_escapes_pipes() -> None:
    row = latency_row(0.5, 1.5)
    row.cells[NGINX] = Cell(None, "a|b")
    lines = markdown([row], targets=(DIRECT, VOICEGUARD, NGINX)).splitlines()
    assert (
        lines[0] == "| measure | unit | direct | voiceguard | nginx | DESIGN target (voiceguard) | verdict |"
    )
    assert lines[1] == "|---|---|---|---|---|---|---|"
    assert lines[2] == "| JSON, p99 | ms | 0.50 | 1.50 (+1.00, x3.0) | n/a (a\\|b) | added p99 ≤ 3 ms | met |"


def test_saved_runs_round_trip() -> None:
    rows = [latency_row(0.5, 1.5), Row("memory", "RSS", "KiB", {VOICEGUARD: Cell(40.0)}, compare=False)]
    again, meta = from_json(to_json(rows, {"uptime": "load average: 1.0"}))
    assert again == rows
    assert meta == {"uptime": "load average: 1.0"}


def test_nginx_config_proxies_http_with_keepalive_and_websockets(tmp_path: Path) -> None:
    config = nginx_config(tmp_path, 8081, "127.0.0.1", 9000, root=False)
    assert "listen 127.0.0.1:8081;" in config
    assert "server 127.0.0.1:9000;" in config
    assert "keepalive 64;" in config
    assert "proxy_set_header Upgrade $http_upgrade;" in config
    assert "map $http_upgrade $connection_upgrade { default upgrade; '' ''; }" in config
    assert "proxy_buffering off;" in config
    assert "user root;" not in config
    assert "user root;" in nginx_config(tmp_path, 8081, "127.0.0.1", 9000, root=True)
    assert config.count("{") == config.count("}")


def test_litellm_config_points_every_model_at_the_upstream_and_turns_logging_off() -> None:
    config = litellm_config("http://127.0.0.1:9000")
    models = {entry["model_name"]: entry for entry in config["model_list"]}  # type: ignore[attr-defined]
    assert set(models) == {"gpt-4o-mini", "whisper-1", "bench"}
    assert all(m["litellm_params"]["api_base"] == "http://127.0.0.1:9000/v1" for m in models.values())
    assert models["whisper-1"]["model_info"] == {"mode": "audio_transcription"}
    assert config["general_settings"]["disable_spend_logs"] is True  # type: ignore[index]
    assert "database_url" not in config["general_settings"]  # type: ignore[operator]
