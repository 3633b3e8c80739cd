"""The consent endpoints of the admin API, behind the bearer token (``require_admin``).

- ``POST   /_voiceguard/consent``            grant: a ``GrantRequest`` body; 201 with the record
- ``GET    /_voiceguard/consent``            list: ``?subject=&purpose=&include_withdrawn=true``
- ``POST   /_voiceguard/consent/withdraw``   withdraw: a ``WithdrawRequest`` body
- ``DELETE /_voiceguard/consent/{id}``       withdraw one record

Records come back with the subject only as its keyed hash. A change is in force for this replica's running
calls before the response is sent, and for other replicas within ``consent.refresh_seconds``.
"""

from __future__ import annotations

from typing import Final, TypeVar

import orjson
from aiohttp import web
from pydantic import BaseModel, ValidationError

from voiceguard.admin import ADMIN_PREFIX, RUNTIME, require_admin
from voiceguard.consent.model import Purpose
from voiceguard.consent.registry import ConsentRegistry
from voiceguard.consent.requests import GrantRequest, WithdrawRequest
from voiceguard.consent.store import ConsentStoreError
from voiceguard.proxy.errors import error_response

MAX_BODY_BYTES: Final = 64 * 1024
M = TypeVar("M", bound=BaseModel)


class _BadRequest(Exception):
    pass


def _registry(request: web.Request) -> ConsentRegistry:
    registry = request.app[RUNTIME].consent
    if registry is None:
        raise web.HTTPServiceUnavailable(reason="the consent registry is not running")
    return registry


def _actor(request: web.Request) -> str:
    return f"admin-api@{request.remote or 'unknown'}"


async def _body(request: web.Request, model: type[M]) -> M:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise _BadRequest(f"body exceeds {MAX_BODY_BYTES} bytes")
    raw = await request.content.read(MAX_BODY_BYTES + 1)
    if len(raw) > MAX_BODY_BYTES:
        raise _BadRequest(f"body exceeds {MAX_BODY_BYTES} bytes")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise _BadRequest("body is not valid JSON") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in item['loc']) or 'body'}: {item['msg'].removeprefix('Value error, ')}"
            for item in exc.errors()
        )
        raise _BadRequest(problems) from None


def _records(payload: object, status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(payload), content_type="application/json")


async def _handle(request: web.Request, work: str) -> web.StreamResponse:
    registry = _registry(request)
    try:
        if work == "grant":
            record = await registry.grant(await _body(request, GrantRequest), _actor(request))
            return _records(record.to_json(), status=201)
        if work == "withdraw":
            withdrawn = await registry.withdraw(await _body(request, WithdrawRequest), _actor(request))
            return _records({"withdrawn": [r.to_json() for r in withdrawn]})
        if work == "delete":
            target = WithdrawRequest(consent_id=request.match_info["consent_id"])
            withdrawn = await registry.withdraw(target, _actor(request))
            if not withdrawn:
                return error_response(404, "not_found", "no active consent record with that id")
            return _records({"withdrawn": [r.to_json() for r in withdrawn]})
        query = request.query
        purpose = Purpose(query["purpose"]) if "purpose" in query else None
        found = await registry.search(
            subject=query.get("subject") or None,
            purpose=purpose,
            include_withdrawn=query.get("include_withdrawn", "").lower() in ("1", "true", "yes"),
        )
        return _records({"records": [r.to_json() for r in found]})
    except _BadRequest as exc:
        return error_response(400, "bad_request", str(exc))
    except ValidationError:
        return error_response(400, "bad_request", "consent id must look like cns_<24 hex digits>")
    except ValueError:
        return error_response(400, "bad_request", f"purpose must be one of {', '.join(Purpose)}")
    except ConsentStoreError as exc:
        return error_response(503, "consent_store_unavailable", str(exc))


@require_admin
async def grant(request: web.Request) -> web.StreamResponse:
    return await _handle(request, "grant")


@require_admin
async def withdraw(request: web.Request) -> web.StreamResponse:
    return await _handle(request, "withdraw")


@require_admin
async def delete(request: web.Request) -> web.StreamResponse:
    return await _handle(request, "delete")


@require_admin
async def listing(request: web.Request) -> web.StreamResponse:
    return await _handle(request, "list")


def add_consent_routes(app: web.Application) -> None:
    app.router.add_post(f"{ADMIN_PREFIX}/consent", grant)
    app.router.add_get(f"{ADMIN_PREFIX}/consent", listing)
    app.router.add_post(f"{ADMIN_PREFIX}/consent/withdraw", withdraw)
    app.router.add_delete(f"{ADMIN_PREFIX}/consent/{{consent_id}}", delete)
