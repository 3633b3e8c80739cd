"""``voiceguard consent grant|revoke|list``: the admin API from the command line.

The CLI talks to the running proxy rather than to the store, so the proxy that holds the calls applies a
change before the command returns, and the change is audited by the process that owns the audit log. The
server defaults to the configured listen address; the token comes from the variable named by
``admin.token_env`` (``VOICEGUARD_ADMIN_TOKEN``). ``--subject -`` reads the subject from standard input, so
a phone number need not appear in the shell history or the process list.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any, Final

from voiceguard.config import Settings
from voiceguard.consent.model import Purpose, SignatureMethod

TIMEOUT_S: Final = 30.0
ADMIN_PATH: Final = "/_voiceguard/consent"


class CliError(Exception):
    """A failure to report on stderr with exit status ``code``."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


Handler = Callable[[argparse.Namespace, Settings], int]


def add_consent_commands(
    commands: Any,
    add_config: Callable[[argparse.ArgumentParser], None],
    load: Callable[[argparse.Namespace], Settings],
) -> None:
    """Add ``consent`` and its subcommands to the top-level parser's subcommands."""

    def run(handler: Handler) -> Callable[[argparse.Namespace], int]:
        def command(args: argparse.Namespace) -> int:
            try:
                return handler(args, load(args))
            except CliError as exc:
                print(f"voiceguard: {exc}", file=sys.stderr)
                return exc.code

        return command

    consent = commands.add_parser("consent", help="grant, withdraw and list consent records")
    actions = consent.add_subparsers(dest="consent_command", required=True, metavar="ACTION")

    def common(parser: argparse.ArgumentParser) -> None:
        add_config(parser)
        parser.add_argument(
            "--server", metavar="URL", help="voiceguard's base URL (default: the listen address)"
        )
        parser.add_argument("--json", action="store_true", help="print the server's JSON answer")

    grant = actions.add_parser("grant", help="record a consent")
    common(grant)
    grant.add_argument("--subject", required=True, help="the caller (e.g. +13125550100); '-' reads stdin")
    grant.add_argument("--purpose", required=True, choices=[p.value for p in Purpose])
    grant.add_argument("--signature", required=True, choices=[m.value for m in SignatureMethod])
    grant.add_argument("--notice-version", required=True, help="version of the notice text the subject saw")
    grant.add_argument("--notice-sha256", help="SHA-256 of the notice text the subject saw")
    grant.add_argument("--jurisdiction", help="whose notice it was (e.g. US-IL); omit for a global notice")
    grant.add_argument("--evidence", dest="evidence_ref", help="where the signed release is kept")
    expiry = grant.add_mutually_exclusive_group()
    expiry.add_argument("--expires", dest="expires_at", metavar="ISO-8601", help="e.g. 2027-06-30T00:00:00Z")
    expiry.add_argument("--valid-days", type=int, help="the consent lapses this many days after it was given")
    grant.add_argument("--granted-at", metavar="ISO-8601", help="when it was signed, if before now")
    grant.set_defaults(handler=run(_grant))

    revoke = actions.add_parser("revoke", help="withdraw consent (takes effect for running calls)")
    common(revoke)
    target = revoke.add_mutually_exclusive_group(required=True)
    target.add_argument("--subject", help="withdraw this subject's records; '-' reads stdin")
    target.add_argument("--id", dest="consent_id", help="withdraw one record")
    revoke.add_argument("--purpose", choices=[p.value for p in Purpose], help="only this purpose")
    revoke.add_argument("--reason", help="kept with the record (not in the audit log)")
    revoke.set_defaults(handler=run(_revoke))

    listing = actions.add_parser("list", help="list consent records")
    common(listing)
    listing.add_argument("--subject", help="only this subject's records; '-' reads stdin")
    listing.add_argument("--purpose", choices=[p.value for p in Purpose])
    listing.add_argument("--all", action="store_true", help="include withdrawn records")
    listing.set_defaults(handler=run(_list))


def _subject(value: str | None) -> str | None:
    if value == "-":
        line = sys.stdin.readline().strip()
        if not line:
            raise CliError("--subject - read nothing from standard input", 2)
        return line
    return value


def _drop_none(payload: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in payload.items() if value is not None}


def _grant(args: argparse.Namespace, settings: Settings) -> int:
    body = _drop_none(
        {
            "subject": _subject(args.subject),
            "purpose": args.purpose,
            "signature": args.signature,
            "notice_version": args.notice_version,
            "notice_sha256": args.notice_sha256,
            "jurisdiction": args.jurisdiction,
            "evidence_ref": args.evidence_ref,
            "expires_at": args.expires_at,
            "valid_days": args.valid_days,
            "granted_at": args.granted_at,
        }
    )
    answer = _call(args, settings, "POST", ADMIN_PATH, body)
    _show(args, answer, [answer])
    return 0


def _revoke(args: argparse.Namespace, settings: Settings) -> int:
    body = _drop_none(
        {
            "subject": _subject(args.subject),
            "consent_id": args.consent_id,
            "purpose": args.purpose,
            "reason": args.reason,
        }
    )
    answer = _call(args, settings, "POST", ADMIN_PATH + "/withdraw", body)
    _show(args, answer, answer["withdrawn"])
    if not answer["withdrawn"]:
        print("no active consent matched", file=sys.stderr)
    return 0


def _list(args: argparse.Namespace, settings: Settings) -> int:
    query = _drop_none({"subject": _subject(args.subject), "purpose": args.purpose})
    if args.all:
        query["include_withdrawn"] = "true"
    answer = _call(args, settings, "GET", ADMIN_PATH + "?" + urllib.parse.urlencode(query))
    _show(args, answer, answer["records"])
    return 0


def _show(args: argparse.Namespace, answer: Any, records: list[dict[str, Any]]) -> None:
    if args.json:
        print(json.dumps(answer, indent=2))
        return
    for record in records:
        state = "withdrawn " + record["withdrawn_at"] if record["withdrawn_at"] else "active"
        expires = f" expires {record['expires_at']}" if record["expires_at"] else ""
        print(
            f"{record['id']}  {record['purpose']:<13} {record['jurisdiction'] or 'any':<6} "
            f"{record['signature']:<10} notice {record['notice_version']}  "
            f"granted {record['granted_at']}{expires}  {state}  subject {record['subject_hash'][:16]}…"
        )


def _base_url(args: argparse.Namespace, settings: Settings) -> str:
    if args.server:
        return str(args.server).rstrip("/")
    scheme = "https" if settings.tls.cert else "http"
    host = settings.listen.host
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1"
    return f"{scheme}://{host}:{settings.listen.port}"


def _call(
    args: argparse.Namespace, settings: Settings, method: str, path: str, body: dict[str, Any] | None = None
) -> Any:
    token = os.environ.get(settings.admin.token_env)
    if not token:
        raise CliError(f"set {settings.admin.token_env} to the proxy's admin token", 2)
    url = _base_url(args, settings) + path
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        try:
            error = json.loads(exc.read())["error"]
            message = f"{error['type']}: {error['message']}"
        except (ValueError, KeyError, TypeError):
            message = f"HTTP {exc.code}"
        raise CliError(f"voiceguard refused ({exc.code}): {message}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise CliError(f"cannot reach voiceguard at {url.split('?')[0]}: {reason}") from None
