"""The atheris harness keeps working: a short coverage-guided run finds nothing (long runs: its docstring)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

HARNESS = Path(__file__).resolve().parents[1] / "fuzz" / "fuzz_protocols.py"


@pytest.mark.skipif(importlib.util.find_spec("atheris") is None, reason="atheris is not installed here")
def test_a_short_atheris_run_over_every_parser_finds_no_crash(tmp_path: Path) -> None:
    result = subprocess.run(
        # Linux keeps the parent's peak RSS across exec, and this pytest process may hold NER models by now:
        # libFuzzer would read that as its own and stop at once, so its RSS limit is off for this short run.
        [sys.executable, str(HARNESS), "-runs=1500", "-seed=1", "-rss_limit_mb=0", str(tmp_path / "corpus")],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert "Done 1500 runs" in result.stderr
