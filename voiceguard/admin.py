"""The admin API under ``/_voiceguard/``: health, readiness, metrics, and the token-protected endpoints.

``healthz`` says the process is serving; ``readyz`` says it can do its job (every component that registered a
problem is listed, with 503); ``metrics`` is Prometheus text. Endpoints that read or change records (consent,
audit export) require the bearer token from ``VOICEGUARD_ADMIN_TOKEN`` and a loopback peer by default.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final, Literal

from aiohttp import web

from voiceguard.config import Settings
from voiceguard.proxy.errors import error_response
from voiceguard.proxy.runtime import Runtime

ADMIN_PREFIX: Final = "/_voiceguard"
RUNTIME: Final = web.AppKey("runtime", Runtime)
MIN_ADMIN_TOKEN_CHARS: Final = 24

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _is_loopback(peer: str | None) -> bool:
    if not peer:
        return False
    try:
        return ipaddress.ip_address(peer).is_loopback
    except ValueError:
        return peer.startswith("/")  # a unix socket peer is local


def require_admin(handler: Handler) -> Handler:
    """Wrap an admin handler: bearer token required, and a loopback peer unless remote admin is allowed."""

    async def guarded(request: web.Request) -> web.StreamResponse:
        runtime = request.app[RUNTIME]
        token = runtime.admin_token
        if not token:
            return error_response(
                403, "admin_disabled", "set VOICEGUARD_ADMIN_TOKEN to enable the protected admin API"
            )
        if not _is_loopback(request.remote) and not runtime.settings.admin.allow_remote:
            return error_response(403, "admin_not_local", "the admin API only answers loopback clients")
        supplied = request.headers.get("Authorization", "")
        scheme, _, value = supplied.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(), token.encode()):
            return error_response(
                401,
                "unauthorized",
                "a valid bearer token is required",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return await handler(request)

    return guarded


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    problems = dict(runtime.readiness.problems)
    if problems:
        return web.json_response({"status": "not_ready", "problems": problems}, status=503)
    return web.json_response({"status": "ready"})


async def metrics(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    return web.Response(
        body=runtime.metrics.prometheus_text(),
        headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"},
    )


def add_admin_routes(app: web.Application) -> None:
    app.router.add_get(f"{ADMIN_PREFIX}/healthz", healthz)
    app.router.add_get(f"{ADMIN_PREFIX}/readyz", readyz)
    app.router.add_get(f"{ADMIN_PREFIX}/metrics", metrics)


@dataclass(frozen=True, slots=True)
class Exposure:
    """A start-up finding about who can reach this process; logged at ``level`` before serving."""

    level: Literal["warning", "error"]
    event: str
    message: str


def _loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def exposure_findings(settings: Settings, admin_token: str | None) -> list[Exposure]:
    """What an operator must hear about before the first request: clear text on the network, open admin."""
    findings: list[Exposure] = []
    exposed = not _loopback_host(settings.listen.host)
    tls = settings.tls.cert is not None
    if exposed and not tls:
        findings.append(
            Exposure(
                "warning",
                "listening_without_tls",
                f"listening on {settings.listen.host} without TLS: API keys and conversations cross the "
                "network in clear text; serve TLS (--tls-cert/--tls-key) or terminate it in front",
            )
        )
    if settings.admin.allow_remote and admin_token and not tls:
        findings.append(
            Exposure(
                "error",
                "admin_exposed_without_tls",
                "admin.allow_remote is on without TLS: the admin bearer token and consent records are "
                "readable on the network",
            )
        )
    if admin_token and len(admin_token) < MIN_ADMIN_TOKEN_CHARS:
        findings.append(
            Exposure(
                "warning",
                "admin_token_short",
                f"{settings.admin.token_env} is shorter than {MIN_ADMIN_TOKEN_CHARS} characters; "
                "use a long random value (e.g. openssl rand -hex 32)",
            )
        )
    return findings
