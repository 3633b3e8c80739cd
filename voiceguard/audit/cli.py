"""``voiceguard audit verify|export|checkpoint|key``: the audit log's tools for operators and auditors.

Exit codes: 0 verified (or done), 1 the log or export does not verify or cannot be read, 2 bad arguments or
configuration. Long work shows a progress bar on stderr when it is a terminal; results go to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from voiceguard.audit.chain import Checkpoint
from voiceguard.audit.export import Export
from voiceguard.audit.factory import AuditDisabled, open_store
from voiceguard.audit.formats import FORMAT_NAMES, export_format
from voiceguard.audit.offline import BadExport, verify_export
from voiceguard.audit.session import local_signer, now_us, parse_selection, read_public_key, trusted_keys
from voiceguard.audit.store import AuditStore, StoreUnavailable
from voiceguard.audit.verify import Report, verify_store
from voiceguard.config import ConfigError, Settings, load_settings


def _progress() -> Progress:
    console = Console(stderr=True)
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )


def _fail(message: str, code: int = 1) -> int:
    print(f"voiceguard audit: {message}", file=sys.stderr)
    return code


def _settings(args: argparse.Namespace) -> Settings:
    try:
        return load_settings(args.config)
    except ConfigError as exc:
        print(f"voiceguard: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def _store(settings: Settings) -> AuditStore:
    try:
        return open_store(settings)
    except AuditDisabled as exc:
        raise SystemExit(_fail(f"{exc}; nothing to do", 2)) from None
    except ConfigError as exc:
        raise SystemExit(_fail(str(exc), 2)) from None


def _print_report(report: Report, where: str, out: TextIO) -> None:
    if report.failure is not None:
        at = f" at record #{report.failure.seq}" if report.failure.seq is not None else ""
        print(f"voiceguard audit verify: FAILED{at}", file=out)
        print(f"  {report.failure.message}", file=out)
        print(f"  log {report.origin} ({where})", file=out)
        return
    print("voiceguard audit verify: OK", file=out)
    print(f"  log       {report.origin} ({where})", file=out)
    print(f"  records   {report.records} checked, log size {report.size}", file=out)
    keys = ", ".join(sorted(report.key_ids)) or "none"
    print(
        f"  signed    through #{report.signed_through} by {report.checkpoints} checkpoint(s), key(s) {keys}",
        file=out,
    )
    if report.unsigned:
        print(
            f"  unsigned  {report.unsigned} record(s) after the last checkpoint: their chain is intact; "
            "the next checkpoint will sign them",
            file=out,
        )


# --- verify -------------------------------------------------------------------------------------------


def _cmd_verify(args: argparse.Namespace) -> int:
    if args.export is not None:
        return _verify_export(args)
    settings = _settings(args)
    try:
        keys = trusted_keys(settings, args.public_key)
    except (OSError, ValueError) as exc:
        return _fail(str(exc), 2)
    if not keys:
        return _fail(f"no audit signing key under {settings.data_dir}/keys; pass --public-key", 2)
    trusted = None
    if args.checkpoint is not None:
        try:
            trusted = Checkpoint.from_json(json.loads(Path(args.checkpoint).read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            return _fail(f"cannot read checkpoint {args.checkpoint}: {exc}", 2)
    store = _store(settings)

    async def run() -> Report:
        try:
            head = await store.head()
            with _progress() as progress:
                task = progress.add_task("Verifying", total=head.size)
                return await verify_store(
                    store, keys, trusted=trusted, progress=lambda n: progress.advance(task, n)
                )
        finally:
            await store.close()

    try:
        report = asyncio.run(run())
    except StoreUnavailable as exc:
        return _fail(str(exc))
    _print_report(report, store.description, sys.stdout)
    return 0 if report.ok else 1


def _verify_export(args: argparse.Namespace) -> int:
    try:
        keys = [read_public_key(value) for value in args.public_key]
        check = verify_export(Path(args.export), keys, allow_unsigned_tail=args.allow_unsigned_tail)
    except (OSError, ValueError) as exc:
        return _fail(f"cannot verify {args.export}: {exc}")
    except BadExport as exc:
        return _fail(str(exc))
    _print_report(check.report, str(args.export), sys.stdout)
    if check.keys_from_export:
        print(
            "  trust     keys taken from the export itself: compare these fingerprints with the ones the "
            "operator published, or pass --public-key",
            file=sys.stdout,
        )
        for fingerprint in check.fingerprints:
            print(f"            {fingerprint}", file=sys.stdout)
    return 0 if check.report.ok else 1


# --- export -------------------------------------------------------------------------------------------


def _cmd_export(args: argparse.Namespace) -> int:
    settings = _settings(args)
    try:
        selection = parse_selection(args.since, args.until, args.call)
        output = export_format(args.format)
    except ValueError as exc:
        return _fail(str(exc), 2)
    signer = local_signer(settings)
    if signer is None:
        return _fail(
            f"no audit signing key under {settings.data_dir}/keys: run this where voiceguard runs", 2
        )
    store = _store(settings)

    async def run(out: TextIO) -> Export:
        try:
            if not args.no_seal:
                try:
                    await store.checkpoint(signer, now_us())
                except StoreUnavailable as exc:
                    print(f"voiceguard audit: warning: could not seal the log first: {exc}", file=sys.stderr)
            total = await store.count(selection)
            with _progress() as progress:
                task = progress.add_task("Exporting", total=total)
                export = Export(
                    store,
                    selection,
                    [signer.public],
                    output,
                    now_us=now_us(),
                    on_record=lambda: progress.advance(task),
                )
                async for chunk in export.chunks():
                    out.write(chunk)
            return export
        finally:
            await store.close()

    try:
        if args.output is None:
            export = asyncio.run(run(sys.stdout))
        else:
            with Path(args.output).open("w", encoding="utf-8", newline="") as handle:
                export = asyncio.run(run(handle))
    except StoreUnavailable as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(f"cannot write {args.output}: {exc.strerror or exc}")
    report = export.report
    if report is not None and not report.ok and report.failure is not None:
        return _fail(
            f"exported {export.records} record(s), but the log does not verify: {report.failure.message}"
        )
    print(f"voiceguard audit: exported {export.records} record(s)", file=sys.stderr)
    return 0


# --- checkpoint and key -------------------------------------------------------------------------------


def _cmd_checkpoint(args: argparse.Namespace) -> int:
    settings = _settings(args)
    signer = local_signer(settings)
    if signer is None:
        return _fail(f"no audit signing key under {settings.data_dir}/keys", 2)
    store = _store(settings)

    async def run() -> Checkpoint | None:
        try:
            await store.checkpoint(signer, now_us())
            return await store.checkpoint_before((await store.head()).size + 1)
        finally:
            await store.close()

    try:
        checkpoint = asyncio.run(run())
    except StoreUnavailable as exc:
        return _fail(str(exc))
    if checkpoint is None:
        return _fail("the log is empty: nothing to sign yet")
    document: dict[str, Any] = {**checkpoint.to_json(), "public_key": signer.public.to_json()}
    text = json.dumps(document, indent=2) + "\n"
    if args.output is None:
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text, encoding="utf-8")
    return 0


def _cmd_key(args: argparse.Namespace) -> int:
    settings = _settings(args)
    signer = local_signer(settings)
    if signer is None:
        return _fail(f"no audit signing key under {settings.data_dir}/keys (it is created on first serve)", 2)
    key = signer.public.to_json()
    print(f"key id       {key['key_id']}")
    print(f"algorithm    {key['algorithm']}")
    print(f"public key   {key['public_key']}")
    print(f"fingerprint  {key['fingerprint_sha256']}")
    return 0


# --- parser -------------------------------------------------------------------------------------------


def add_audit_commands(commands: Any, add_config: Callable[[argparse.ArgumentParser], None]) -> None:
    """Register ``voiceguard audit ...`` on the top-level subparsers."""
    audit = commands.add_parser("audit", help="verify and export the tamper-evident audit log")
    sub = audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION")

    verify = sub.add_parser(
        "verify", help="check the chain and the checkpoint signatures (of the log or an export)"
    )
    add_config(verify)
    verify.add_argument("--export", metavar="FILE", help="verify an export file offline instead of the log")
    verify.add_argument(
        "--public-key",
        action="append",
        default=[],
        metavar="KEY",
        help="a trusted public key (base64, or a file holding it); repeatable",
    )
    verify.add_argument(
        "--checkpoint",
        metavar="FILE",
        help="a checkpoint saved earlier (voiceguard audit checkpoint) the log must contain",
    )
    verify.add_argument(
        "--allow-unsigned-tail",
        action="store_true",
        help="accept an export whose last records no checkpoint covers",
    )
    verify.set_defaults(handler=_cmd_verify)

    export = sub.add_parser("export", help="export records by time range and/or call")
    add_config(export)
    export.add_argument("--format", choices=FORMAT_NAMES, default="jsonl")
    export.add_argument(
        "--since", metavar="TIME", help="from this time, inclusive (ISO 8601; UTC if no offset)"
    )
    export.add_argument("--until", metavar="TIME", help="up to this time, exclusive")
    export.add_argument("--call", metavar="ID", help="only this call")
    export.add_argument("--output", metavar="FILE", help="write here instead of stdout")
    export.add_argument("--no-seal", action="store_true", help="do not sign a checkpoint of the head first")
    export.set_defaults(handler=_cmd_export)

    checkpoint = sub.add_parser(
        "checkpoint", help="sign the current head and print the checkpoint (to keep aside)"
    )
    add_config(checkpoint)
    checkpoint.add_argument("--output", metavar="FILE")
    checkpoint.set_defaults(handler=_cmd_checkpoint)

    key = sub.add_parser("key", help="print the audit public key and its fingerprint (to publish)")
    add_config(key)
    key.set_defaults(handler=_cmd_key)
