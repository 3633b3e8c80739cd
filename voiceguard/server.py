"""The aiohttp application: routes ``/<route>/<path>`` to upstreams, plus the admin API.

Everything a request needs (routes, adapters, guards, sinks, the pooled upstream client) is built once here;
handlers only look things up. Only ``cli.py`` imports this module.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import ssl
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Final

import structlog
from aiohttp import web

from voiceguard import __version__
from voiceguard.admin import RUNTIME, add_admin_routes, exposure_findings
from voiceguard.audit.admin_api import add_audit_routes
from voiceguard.audit.factory import open_store
from voiceguard.audit.sink import AuditSink
from voiceguard.biometrics.artefacts import ArtefactStore
from voiceguard.biometrics.retention import retention_schedule
from voiceguard.biometrics.speaker_setup import build_speaker_detector
from voiceguard.biometrics.sweeper import RetentionSweeper
from voiceguard.config import ConfigError, Settings
from voiceguard.consent.admin_api import add_consent_routes
from voiceguard.consent.setup import build_registry
from voiceguard.correlation import BadCorrelation, forward_query, read_context
from voiceguard.guards import build_guards
from voiceguard.guards.base import Guard, GuardChain
from voiceguard.keys import KeyStore
from voiceguard.pii.anonymize import PiiRecordRedactor
from voiceguard.pii.engine import PiiEngine, build_engine, engine_settings
from voiceguard.pii.recognizers import ModelNotInstalled
from voiceguard.pipeline import Pipeline
from voiceguard.policy.context import PolicyStore, audit_fields
from voiceguard.policy.loader import default_directory, load_policy_set
from voiceguard.protocols.base import RequestHead
from voiceguard.proxy.admission import client_address
from voiceguard.proxy.errors import error_response
from voiceguard.proxy.http import HttpForwarder
from voiceguard.proxy.paths import escapes_route
from voiceguard.proxy.policy_watch import PolicyWatcher
from voiceguard.proxy.runtime import Readiness, Runtime, build_routes
from voiceguard.proxy.serving import SafeAppRunner, contract_errors
from voiceguard.proxy.websocket import WebSocketRelay
from voiceguard.records import ClosableSink, Sink
from voiceguard.redaction import MaskEverything, RecordRedactor, recordable_path
from voiceguard.telemetry import names
from voiceguard.telemetry.export import build_resource, metric_readers, run_bounded
from voiceguard.telemetry.logging import RequestLogSink
from voiceguard.telemetry.metrics import Metrics, MetricsSink
from voiceguard.telemetry.provider import Tracing, build_tracing
from voiceguard.telemetry.tracing import TracingSink, upstream_hosts
from voiceguard.telemetry.voice_metrics import VoiceMetricsSink

log = structlog.get_logger("voiceguard.server")

SWEEP_INTERVAL_S: Final = 1.0


async def proxy_handler(request: web.Request) -> web.StreamResponse:
    """Forward ``/<route>/<path>`` to the route's upstream, as HTTP or as a WebSocket."""
    handler_started = time.perf_counter_ns()
    runtime = request.app[RUNTIME]
    name = request.match_info["route"]
    route = runtime.routes.get(name)
    if route is None:
        return error_response(
            404, "unknown_route", f"no such route; configured routes: {', '.join(runtime.routes)}"
        )
    try:
        context = read_context(request.headers, request.query)
    except BadCorrelation as exc:
        return error_response(400, "bad_request", str(exc))

    raw_path = request.rel_url.raw_path
    path = raw_path[len(name) + 1 :] or "/"
    if escapes_route(path):
        return error_response(400, "bad_request", "the path must not contain '.' or '..' segments")
    head = RequestHead(
        method=request.method,
        path=path,
        query=forward_query(request.query),
        headers=request.headers,
    )
    websocket = request.method == "GET" and request.headers.get("Upgrade", "").lower() == "websocket"
    transport = "websocket" if websocket else "http"
    ws_codec = route.adapter.websocket(head) if websocket else None
    http_codec = None if websocket else route.adapter.http(head)
    codec = ws_codec or http_codec
    exchange = runtime.pipeline.open_exchange(
        context,
        route=name,
        info=codec.info if codec is not None else route.passthrough_info,
        transport=transport,
        method=request.method,
        path=recordable_path(path),
    )
    if exchange is None:
        return error_response(
            503, "too_many_calls", "voiceguard is at its configured limit of concurrent calls"
        )
    limits = runtime.settings.limits
    client = client_address(request.remote, request.headers, limits.client_address_header)
    if runtime.audit.refuses_traffic:
        # Recorded like any exchange: the access log and metrics now, the audit log once it is back.
        exchange.outcome = "audit_unavailable"
        runtime.pipeline.finish_exchange(exchange, status=503)
        return error_response(
            503, "audit_unavailable", "the audit log cannot record requests and is configured to fail closed"
        )
    refusal = runtime.admission.admit(client, exchange)
    if refusal is not None:
        exchange.outcome = refusal.error_type
        runtime.pipeline.finish_exchange(exchange, status=refusal.status)
        return error_response(refusal.status, refusal.error_type, refusal.message, headers=refusal.headers)
    try:
        if runtime.consent is not None:
            await runtime.consent.attach(exchange.call)
        runtime.pipeline.add_overhead(exchange, time.perf_counter_ns() - handler_started)
        if websocket:
            return await WebSocketRelay(runtime, route, request, exchange, ws_codec).run(head)
        return await HttpForwarder(runtime, route, request, exchange, http_codec).run(head)
    finally:
        runtime.admission.release(client, exchange)


def _build_pii(settings: Settings, metrics: Metrics) -> PiiEngine | None:
    """The PII engine, once per process; its analysis failures are counted (and logged by the engine)."""
    if not settings.pii.enabled:
        return None
    failures = metrics.meter.create_counter(names.PII_ANALYSIS_FAILURES, unit="{text}")

    def count(reason: str) -> None:
        failures.add(1, {names.ATTR_PII_REASON: reason})

    try:
        return build_engine(engine_settings(settings.pii), on_failure=count)
    except ModelNotInstalled as exc:
        raise ConfigError(f"pii.engine: {exc}") from None


def _build_sinks(
    settings: Settings,
    metrics: Metrics,
    keys: KeyStore | None = None,
    tracing: Tracing | None = None,
    redactor: RecordRedactor | None = None,
) -> list[Sink]:
    """The sinks, in order: what every record is handed to; text they record goes through ``redactor``."""
    sinks: list[Sink] = [MetricsSink(metrics), VoiceMetricsSink(metrics, settings.telemetry)]
    if tracing is not None:
        sinks.append(
            TracingSink(
                tracing,
                settings.telemetry,
                redactor or MaskEverything(),
                servers=upstream_hosts(settings),
                subject_hash=keys.subject_hash if keys is not None else None,
            )
        )
    sinks.append(RequestLogSink())
    return sinks


def _build_audit(
    settings: Settings, keys: KeyStore, metrics: Metrics, readiness: Readiness, policies: PolicyStore
) -> AuditSink | None:
    if settings.audit.store == "off":
        return None
    sink = AuditSink(open_store(settings), keys, settings.audit, metrics=metrics, readiness=readiness)
    sink.policy_source = audit_fields(policies)
    return sink


async def _sweeper(pipeline: Pipeline) -> None:
    while True:
        await asyncio.sleep(SWEEP_INTERVAL_S)
        try:
            pipeline.sweep()
        except Exception:
            log.exception("sweep_failed")


def _load_policies(settings: Settings) -> PolicyStore:
    """The packs in force at start-up; a broken directory stops voiceguard (``PolicyError``)."""
    config = settings.policy
    return PolicyStore(
        load_policy_set(config.dir or default_directory()),
        default_jurisdiction=config.default_jurisdiction,
        operator_jurisdictions=config.operator_jurisdictions,
    )


def build_app(
    settings: Settings,
    *,
    extra_sinks: Sequence[Sink] = (),
    guards: Sequence[Guard] | None = None,
) -> web.Application:
    """The whole proxy as an aiohttp application (tests add in-memory sinks through ``extra_sinks``)."""
    keys = KeyStore(settings.data_dir)
    resource = build_resource(__version__, os.environ)
    metrics = Metrics(resource, extra_readers=metric_readers(os.environ))
    tracing = build_tracing(settings.telemetry, os.environ, resource, metrics.meter)
    readiness = Readiness()
    policies = _load_policies(settings)
    pii = _build_pii(settings, metrics)
    redactor: RecordRedactor = PiiRecordRedactor(pii) if pii is not None else MaskEverything()
    audit = _build_audit(settings, keys, metrics, readiness, policies)
    speakers = build_speaker_detector(settings, metrics)
    sinks = [
        *_build_sinks(settings, metrics, keys, tracing, redactor),
        *([speakers] if speakers is not None else []),
        *([audit] if audit is not None else []),
        *extra_sinks,
    ]
    chain = GuardChain(
        build_guards(settings, policies, keys=keys, pii_engine=pii) if guards is None else guards
    )
    pipeline = Pipeline(
        chain,
        sinks,
        max_calls=settings.limits.max_calls,
        call_idle_seconds=settings.limits.call_idle_seconds,
    )
    runtime = Runtime(
        settings=settings,
        routes=build_routes(settings),
        pipeline=pipeline,
        metrics=metrics,
        keys=keys,
        readiness=readiness,
        admin_token=os.environ.get(settings.admin.token_env) or None,
        policies=policies,
        redactor=redactor,
        pii=pii,
    )
    if audit is not None:
        runtime.audit = audit
    runtime.speakers = speakers
    runtime.consent = build_registry(
        settings,
        keys,
        audit=runtime.audit,
        on_problem=lambda problem: runtime.readiness.set_problem("consent", problem),
    )
    runtime.retention = RetentionSweeper(
        ArtefactStore(settings.data_dir, keys, retention_schedule(settings)),
        settings.biometrics.retention_sweep_seconds,
        audit=runtime.audit,
    )
    app = web.Application(
        client_max_size=settings.limits.max_request_body_bytes, middlewares=[contract_errors]
    )
    app[RUNTIME] = runtime
    add_admin_routes(app)
    add_audit_routes(app)
    add_consent_routes(app)
    app.router.add_route("*", "/{route}/{tail:.*}", proxy_handler)
    app.router.add_route("*", "/{route}", proxy_handler)
    app.cleanup_ctx.append(_lifecycle)
    return app


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    runtime = app[RUNTIME]
    if runtime.speakers is not None:
        await runtime.speakers.load()  # first: a model that cannot load stops start-up before anything opens
    runtime.open_client()
    closable = [sink for sink in runtime.pipeline.sinks if isinstance(sink, ClosableSink)]
    for sink in closable:
        await sink.start()
    if runtime.consent is not None:
        await runtime.consent.start()
    if runtime.retention is not None:
        await runtime.retention.start()
    sweeper = asyncio.create_task(_sweeper(runtime.pipeline), name="voiceguard-sweeper")
    watcher = _start_policy_watcher(runtime)
    try:
        yield
    finally:
        for task in (sweeper, watcher):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        runtime.pipeline.shutdown()
        if runtime.consent is not None:
            await runtime.consent.close()
        if runtime.retention is not None:
            await runtime.retention.close()
        if runtime.speakers is not None:
            await runtime.speakers.close()
        for sink in reversed(closable):
            try:
                await sink.close()
            except Exception:
                log.exception("sink_close_failed", sink=getattr(sink, "name", type(sink).__name__))
        if runtime.client is not None:
            await runtime.client.close()
        # A collector that never answers must not hold shutdown: the final metrics export is bounded.
        run_bounded(runtime.metrics.shutdown, runtime.settings.telemetry.shutdown_timeout_s, "metrics")


def _start_policy_watcher(runtime: Runtime) -> asyncio.Task[None] | None:
    config = runtime.settings.policy
    if runtime.policies is None or config.reload_interval_seconds <= 0:
        return None
    watcher = PolicyWatcher(
        runtime.policies,
        config.dir or default_directory(),
        config.reload_interval_seconds,
        runtime.readiness,
        unready_on_failure=config.unready_on_reload_failure,
    )
    return asyncio.create_task(watcher.run(), name="voiceguard-policy-watch")


def _ssl_context(settings: Settings) -> ssl.SSLContext | None:
    if settings.tls.cert is None or settings.tls.key is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(settings.tls.cert, settings.tls.key)
    except (ssl.SSLError, OSError) as exc:
        raise ConfigError(
            f"cannot load the TLS certificate {settings.tls.cert} with key {settings.tls.key}: "
            f"{exc.strerror or exc}"
        ) from None
    return context


@dataclass
class RunningServer:
    """A started proxy: where it listens, and how to stop it."""

    runner: web.AppRunner
    host: str
    port: int
    scheme: str

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    @property
    def runtime(self) -> Runtime:
        return self.runner.app[RUNTIME]

    async def close(self) -> None:
        await self.runner.cleanup()


async def start(
    settings: Settings, *, extra_sinks: Sequence[Sink] = (), guards: Sequence[Guard] | None = None
) -> RunningServer:
    """Start listening; returns once the socket is bound (port 0 picks a free port)."""
    app = build_app(settings, extra_sinks=extra_sinks, guards=guards)
    runner = SafeAppRunner(
        app,
        max_header_bytes=settings.limits.max_header_bytes,
        max_headers=settings.limits.max_headers,
        shutdown_timeout=5.0,
    )
    await runner.setup()
    ssl_context = _ssl_context(settings)
    site = web.TCPSite(runner, settings.listen.host, settings.listen.port, ssl_context=ssl_context)
    await site.start()
    sockets = getattr(site._server, "sockets", None) or ()
    port = sockets[0].getsockname()[1] if sockets else settings.listen.port
    return RunningServer(runner, settings.listen.host, port, "https" if ssl_context else "http")


async def serve_forever(settings: Settings) -> None:
    """Run until SIGINT or SIGTERM, then shut down cleanly (sinks flushed, calls ended)."""
    server = await start(settings)
    for finding in exposure_findings(settings, server.runtime.admin_token):
        log.log(
            logging.ERROR if finding.level == "error" else logging.WARNING,
            finding.event,
            problem=finding.message,
        )
    log.info(
        "listening",
        url=server.url,
        routes={name: str(route.upstream) for name, route in server.runtime.routes.items()},
        version=__version__,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        log.info("shutting_down")
        await server.close()
