"""The README's configuration reference is generated from the models, names every key, and is current."""

from __future__ import annotations

from pathlib import Path

from voiceguard.config import Settings, load_settings
from voiceguard.config_reference import BEGIN, END, MEANINGS, markdown, rows, sections

README = Path(__file__).resolve().parent.parent / "README.md"


def test_the_readme_holds_the_reference_generated_from_the_models() -> None:
    text = README.read_text(encoding="utf-8")
    generated = text[text.index(BEGIN) : text.index(END) + len(END)]
    assert generated == markdown(), "run: python -m voiceguard.config_reference --write README.md"


def test_every_key_has_a_type_a_default_and_a_meaning() -> None:
    keys = [row for _, _, section in sections() for row in section]
    assert sorted(key for key, *_ in keys) == sorted(key for key, *_ in rows(Settings))  # each once
    for key, type_name, default, meaning in keys:
        assert type_name and default and meaning, f"{key} needs a docstring in config.py or a MEANINGS entry"


def test_no_meaning_is_kept_for_a_key_that_is_gone_or_documented_in_the_model() -> None:
    generated = {key: meaning for key, _, _, meaning in rows(Settings)}
    stale = [key for key, meaning in MEANINGS.items() if generated.get(key) != meaning]
    assert not stale, f"MEANINGS entries no longer used: {stale}"


def test_every_documented_top_level_section_is_a_key_the_config_file_accepts(tmp_path: Path) -> None:
    documented = {key.split(".")[0] for key, *_ in rows(Settings)}
    config = tmp_path / "voiceguard.yaml"
    config.write_text(
        "".join(f"{name}: {{}}\n" for name in sorted(documented - {"data_dir"})), encoding="utf-8"
    )
    assert load_settings(config, env={}).listen.port == 8080
