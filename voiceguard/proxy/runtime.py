"""Everything a request handler needs, built once at start-up so the hot path only looks things up."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import aiohttp
from yarl import URL

from voiceguard.audit.api import AuditTrail, DisabledAuditTrail
from voiceguard.biometrics.sweeper import RetentionSweeper
from voiceguard.config import Settings
from voiceguard.consent.registry import ConsentRegistry
from voiceguard.events import Stage
from voiceguard.keys import KeyStore
from voiceguard.pipeline import Pipeline
from voiceguard.policy.context import PolicyStore
from voiceguard.protocols import build_adapter
from voiceguard.protocols.base import ExchangeInfo, ProtocolAdapter
from voiceguard.proxy.admission import Admission
from voiceguard.redaction import MaskEverything, RecordRedactor
from voiceguard.telemetry.metrics import Metrics

if TYPE_CHECKING:
    from voiceguard.biometrics.speaker_change import SpeakerChangeDetector
    from voiceguard.pii.engine import PiiEngine


@dataclass(frozen=True, slots=True)
class Route:
    """A configured route with its upstream URLs and adapter, resolved once."""

    name: str
    upstream: URL
    websocket_upstream: URL
    adapter: ProtocolAdapter
    passthrough_info: ExchangeInfo

    def upstream_url(self, path: str, websocket: bool = False) -> URL:
        """The upstream URL for a request path (percent-encoding kept as the client sent it)."""
        base = self.websocket_upstream if websocket else self.upstream
        base_path = base.raw_path.rstrip("/")
        return base.with_path(base_path + path, encoded=True)


def build_routes(settings: Settings) -> dict[str, Route]:
    routes: dict[str, Route] = {}
    for name, config in settings.routes.items():
        upstream = URL(config.upstream)
        scheme = "wss" if upstream.scheme == "https" else "ws"
        routes[name] = Route(
            name=name,
            upstream=upstream,
            websocket_upstream=upstream.with_scheme(scheme),
            adapter=build_adapter(config.protocol),
            passthrough_info=ExchangeInfo(
                provider=config.protocol, operation="passthrough", stage=Stage.OTHER
            ),
        )
    return routes


class UpstreamRedirected(Exception):
    """An upstream answered a redirect; voiceguard never follows one (it would be an open proxy)."""


async def _refuse_redirect(session: object, context: object, params: object) -> None:
    raise UpstreamRedirected


def _no_redirects() -> aiohttp.TraceConfig:
    """aiohttp's ``ws_connect`` follows redirects unconditionally; this trace hook stops it, and any other."""
    trace = aiohttp.TraceConfig()
    trace.on_request_redirect.append(_refuse_redirect)
    return trace


def upstream_ssl_context(ca_file: Path | None) -> ssl.SSLContext:
    """Upstream certificates are always verified: system store (``SSL_CERT_FILE``) plus ``ca_file``."""
    context = ssl.create_default_context()
    if ca_file is not None:
        context.load_verify_locations(cafile=ca_file)
    return context


@dataclass(slots=True)
class Readiness:
    """Named health checks that ``/readyz`` reports; a component registers its own."""

    problems: dict[str, str] = field(default_factory=dict)

    def set_problem(self, component: str, problem: str | None) -> None:
        if problem is None:
            self.problems.pop(component, None)
        else:
            self.problems[component] = problem


@dataclass(slots=True)
class Runtime:
    """The state of one proxy process."""

    settings: Settings
    routes: dict[str, Route]
    pipeline: Pipeline
    metrics: Metrics
    keys: KeyStore
    readiness: Readiness = field(default_factory=Readiness)
    client: aiohttp.ClientSession | None = None
    admin_token: str | None = None
    policies: PolicyStore | None = None
    audit: AuditTrail = field(default_factory=DisabledAuditTrail)
    """The audit log: ``await runtime.audit.append(kind, fields, subject=...)`` (see ``audit/api.py``)."""
    redactor: RecordRedactor = field(default_factory=MaskEverything)
    """What every recording sink calls on text before it leaves the process (the PII engine's labels)."""
    pii: PiiEngine | None = None
    """The PII engine built at start-up (``None`` when ``pii.enabled`` is false)."""
    consent: ConsentRegistry | None = None
    retention: RetentionSweeper | None = None
    speakers: SpeakerChangeDetector | None = None
    """Speaker-change detection, when ``biometrics.speaker_model`` is set (needs the ``speaker`` extra)."""
    admission: Admission = field(init=False)

    def __post_init__(self) -> None:
        self.admission = Admission(self.settings.limits)

    @property
    def http(self) -> aiohttp.ClientSession:
        if self.client is None:
            raise RuntimeError("the upstream client session is not started")
        return self.client

    def open_client(self) -> None:
        """One pooled client session for all upstreams: connections are reused across requests."""
        timeouts = self.settings.timeouts
        connector = aiohttp.TCPConnector(
            limit=0,
            limit_per_host=0,
            ttl_dns_cache=300,
            ssl=upstream_ssl_context(self.settings.upstream_tls.ca_file),
            enable_cleanup_closed=True,
        )
        self.client = aiohttp.ClientSession(
            connector=connector,
            auto_decompress=False,
            skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
            timeout=aiohttp.ClientTimeout(
                total=None, sock_connect=timeouts.connect, connect=timeouts.connect
            ),
            cookie_jar=aiohttp.DummyCookieJar(),
            trust_env=False,
            trace_configs=[_no_redirects()],
        )
