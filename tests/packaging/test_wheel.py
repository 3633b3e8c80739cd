"""An installed voiceguard carries its policy packs and schema, not only a source checkout."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def test_the_wheel_ships_every_policy_pack_and_the_schema(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    [wheel] = tmp_path.glob("voiceguard-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    packs = sorted(path.name for path in (ROOT / "policies").glob("*.yaml"))
    assert packs
    assert {f"voiceguard/policy/packs/{name}" for name in packs} <= names
    assert "voiceguard/policy/schema.json" in names
