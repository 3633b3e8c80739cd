"""Loading an example script as a module, so a test can start the app or call the function it defines."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType


def load_example(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{path.parent.name}_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
