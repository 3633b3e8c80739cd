from __future__ import annotations

from pathlib import Path

import pytest

from tests.biometrics.synthetic_voices import save_checkpoint


@pytest.fixture(scope="session")
def speaker_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The directory of a pyannote x-vector checkpoint this test session created (see synthetic_voices)."""
    directory = tmp_path_factory.mktemp("speaker-model")
    save_checkpoint(directory)
    return directory
