"""``GET /_voiceguard/audit/export``: the same exports as the CLI, streamed, behind the admin token.

Query parameters: ``format`` (jsonl, csv, ocsf, html; default jsonl), ``since``, ``until`` (ISO 8601, UTC
when no offset), ``call`` (a call id). The log is sealed with a checkpoint first, so the export is covered to
its end, and the export itself is put on the record (``audit.exported``: format, filter, record count).
"""

from __future__ import annotations

import contextlib
from typing import Final

import structlog
from aiohttp import web

from voiceguard.admin import ADMIN_PREFIX, RUNTIME, require_admin
from voiceguard.audit.export import Export
from voiceguard.audit.factory import open_store
from voiceguard.audit.formats import export_format
from voiceguard.audit.record import AUDIT_EXPORTED
from voiceguard.audit.session import now_us, parse_selection
from voiceguard.audit.sink import AuditSink
from voiceguard.audit.store import StoreUnavailable
from voiceguard.proxy.errors import error_response

log = structlog.get_logger("voiceguard.audit")

EXPORT_PATH: Final = f"{ADMIN_PREFIX}/audit/export"


async def export_handler(request: web.Request) -> web.StreamResponse:
    runtime = request.app[RUNTIME]
    sink = runtime.audit
    if not isinstance(sink, AuditSink):
        return error_response(404, "audit_disabled", "the audit log is off (audit.store: off)")
    query = request.query
    name = query.get("format", "jsonl")
    try:
        output = export_format(name)
        selection = parse_selection(query.get("since"), query.get("until"), query.get("call"))
    except ValueError as exc:
        return error_response(400, "bad_request", str(exc))
    if not await sink.checkpoint_now():
        return error_response(503, "audit_unavailable", "the audit store cannot be sealed for export now")
    store = open_store(runtime.settings)
    export = Export(store, selection, [sink.signer.public], output, now_us=now_us())
    chunks = export.chunks()
    response: web.StreamResponse | None = None
    try:
        try:
            first = await anext(chunks)
        except StoreUnavailable as exc:
            log.error("audit_export_failed", error=str(exc))
            return error_response(503, "audit_unavailable", "the audit store cannot be read now")
        response = web.StreamResponse(
            headers={
                "Content-Type": output.media_type,
                "Content-Disposition": f'attachment; filename="voiceguard-audit.{output.extension}"',
                "Cache-Control": "no-store",
            }
        )
        await response.prepare(request)
        await response.write(first.encode())
        async for chunk in chunks:
            await response.write(chunk.encode())
    except StoreUnavailable as exc:
        log.error("audit_export_failed", error=str(exc))
        if request.transport is not None:
            request.transport.abort()  # a truncated export must not look complete
        return response or web.Response(status=503)
    finally:
        with contextlib.suppress(StoreUnavailable):
            await store.close()
    await sink.append(
        AUDIT_EXPORTED,
        {"format": name, "filter": selection.describe(), "records": export.records, "via": "admin_api"},
    )
    await response.write_eof()
    return response


def add_audit_routes(app: web.Application) -> None:
    app.router.add_get(EXPORT_PATH, require_admin(export_handler))
