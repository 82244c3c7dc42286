"""The ``frontdesk`` command: one entry point, one subcommand per job.

Every subcommand that touches the database takes ``--db URL`` (default: the
``FRONTDESK_DB`` environment variable, else ``sqlite:///var/frontdesk.db``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import shutil
import subprocess
import sys
import textwrap
import urllib.request
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

from . import __version__, auth
from . import protocol as p
from .app import ServerSettings, public_url, run
from .exceptions import Conflict, FrontdeskError, NotFound
from .ratelimit import RATE_SETTINGS, parse_rate
from .store import DEFAULT_DB_URL, Store, agents, events, now_ms, open_store, reports, tenants, visitors
from .store.tenants import Tenant

__all__ = ["main"]

DEMO_ORIGINS = ["localhost:8080", "127.0.0.1:8080"]


def _env(name: str, default: str) -> str:
    return os.environ.get(f"FRONTDESK_{name}", default)


def _db_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        default=_env("DB", DEFAULT_DB_URL),
        metavar="URL",
        help="database URL: sqlite:///PATH or postgresql://… (env FRONTDESK_DB; default %(default)s)",
    )


def _json_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON instead of text")


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0: {text!r}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text!r}")
    return value


class _Formatter(argparse.RawDescriptionHelpFormatter):
    pass


def _sub(subparsers: Any, name: str, help_text: str, example: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        name,
        help=help_text,
        description=help_text,
        epilog="example:\n  " + example,
        formatter_class=_Formatter,
    )
    return parser


async def _with_store(url: str, fn: Callable[[Store], Coroutine[Any, Any, int]], *, migrate: bool = True) -> int:
    store = open_store(url)
    await store.open(migrate=migrate)
    try:
        return await fn(store)
    finally:
        await store.close()


def _snippet(base_url: str, site_key: str) -> str:
    return f'<script src="{base_url}/widget.js" data-site="{site_key}" async></script>'


async def _find_tenant(store: Store, slug: str | None) -> Tenant:
    rows = await store.read(tenants.all_tenants)
    if slug is None:
        if len(rows) == 1:
            return rows[0]
        if not rows:
            raise SystemExit("error: there is no tenant yet; run `frontdesk init` first")
        raise SystemExit("error: several tenants exist; pass --tenant SLUG (see `frontdesk tenant list`)")
    for row in rows:
        if row.slug == slug:
            return row
    raise SystemExit(f"error: no tenant with slug {slug!r} (see `frontdesk tenant list`)")


# -- serve ---------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> int:
    rates: dict[str, Any] = {rate.name: parse_rate(getattr(args, rate.name)) for rate in RATE_SETTINGS}
    settings = ServerSettings(
        db_url=args.db,
        host=args.host,
        port=args.port,
        trust_proxy=args.trust_proxy,
        auth_timeout=args.auth_timeout,
        max_sockets_per_ip=args.max_sockets_per_ip,
        unreferenced_upload_s=args.unreferenced_upload_s,
        upload_dir=args.upload_dir,
        clamd=args.clamd,
        secret_key_file=args.secret_key_file,
        webhook_allow=tuple(args.webhook_allow),
        smtp_listen=args.smtp_listen,
        smtp_tls_cert=args.smtp_tls_cert,
        smtp_tls_key=args.smtp_tls_key,
        webhook_ca_file=args.webhook_ca_file,
        geoip=args.geoip,
        public_url=args.public_url,
        **rates,
    )

    def ready(server: Any) -> None:
        print(f"Frontdesk listening on {public_url(settings.host, server.port)}", flush=True)

    problem = _tls_problem(settings)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    try:
        asyncio.run(run(settings, on_ready=ready))
    except FrontdeskError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"error: cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


def _tls_problem(settings: ServerSettings) -> str | None:
    """Why the SMTP listener's certificate or the webhooks' CA file cannot be used, or None (checked before
    the server starts, so the error names the file rather than the listening address)."""
    import ssl

    from .mail import smtp_tls_context
    from .webhooks import webhook_ssl_context

    if bool(settings.smtp_tls_cert) != bool(settings.smtp_tls_key):
        return "give both --smtp-tls-cert and --smtp-tls-key, or neither"
    try:
        if settings.smtp_tls_cert and settings.smtp_tls_key:
            smtp_tls_context(settings.smtp_tls_cert, settings.smtp_tls_key)
    except (OSError, ssl.SSLError) as exc:
        return f"cannot use --smtp-tls-cert/--smtp-tls-key: {exc}"
    try:
        webhook_ssl_context(settings.webhook_ca_file)
    except (OSError, ssl.SSLError) as exc:
        return f"cannot use --webhook-ca-file {settings.webhook_ca_file}: {exc}"
    return None


# -- init / tenant ----------------------------------------------------------------------------


async def _create_tenant(store: Store, slug: str, name: str, origins: list[str]) -> Tenant:
    from .domain import validate_config_patch

    config = validate_config_patch({"allowed_origins": origins})
    return await store.write(tenants.create_tenant, slug, name, auth.new_site_key(), auth.new_secret(), config)


def cmd_init(args: argparse.Namespace) -> int:
    async def go(store: Store) -> int:
        existing = await store.read(tenants.tenant_by_slug, args.slug)
        if existing is not None:
            admins = [a for a in await store.read(agents.list_agents, existing.id) if a.role == "admin"]
            admins.sort(key=lambda a: a.id)
            if args.json:
                print(
                    json.dumps(
                        {
                            "created": False,
                            "tenant_slug": args.slug,
                            "site_key": existing.site_key,
                            "admin_email": admins[0].email if admins else None,
                        }
                    )
                )
            else:
                print(f"Tenant {args.slug!r} already exists; nothing changed.")
                print(f"Widget snippet:\n  {_snippet(args.public_url, existing.site_key)}")
            return 0
        tenant = await _create_tenant(store, args.slug, args.name, args.origin or DEMO_ORIGINS)
        password = args.admin_password or auth.generate_password()
        password_hash = await asyncio.to_thread(auth.hash_password, password)
        await store.write(
            agents.create_agent,
            tenant.id,
            args.admin_email.lower(),
            args.admin_name,
            "admin",
            password_hash,
            emit=False,
        )
        if args.json:
            print(
                json.dumps(
                    {
                        "created": True,
                        "tenant_slug": args.slug,
                        "site_key": tenant.site_key,
                        "admin_email": args.admin_email.lower(),
                        "admin_password": password,
                        "identity_secret": tenant.secret,
                    }
                )
            )
        else:
            print(
                textwrap.dedent(f"""\
                Created tenant {args.name!r} ({args.slug}).

                Admin login (shown once, keep it safe):
                  email:    {args.admin_email.lower()}
                  password: {password}

                Widget snippet for your site:
                  {_snippet(args.public_url, tenant.site_key)}
                """)
            )
        return 0

    return asyncio.run(_with_store(args.db, go))


def cmd_tenant_add(args: argparse.Namespace) -> int:
    async def go(store: Store) -> int:
        if await store.read(tenants.tenant_by_slug, args.slug):
            print(f"error: a tenant with slug {args.slug!r} already exists", file=sys.stderr)
            return 1
        tenant = await _create_tenant(store, args.slug, args.name, args.origin or [])
        if args.json:
            print(json.dumps({"tenant_slug": args.slug, "site_key": tenant.site_key, "identity_secret": tenant.secret}))
        else:
            print(f"Created tenant {args.slug!r}. Widget snippet:\n  {_snippet(args.public_url, tenant.site_key)}")
            print(f"Add its first admin: frontdesk agent add --tenant {args.slug} --email … --name … --role admin")
        return 0

    return asyncio.run(_with_store(args.db, go))


def cmd_tenant_list(args: argparse.Namespace) -> int:
    async def go(store: Store) -> int:
        rows = await store.read(tenants.all_tenants)
        if args.json:
            print(json.dumps([p.to_wire(r.public()) for r in rows]))
        else:
            for r in rows:
                print(f"{r.slug:<20} {r.site_key:<24} {r.name}")
            if not rows:
                print("No tenants yet; run `frontdesk init`.")
        return 0

    return asyncio.run(_with_store(args.db, go))


# -- agents ---------------------------------------------------------------------------------


def cmd_agent_add(args: argparse.Namespace) -> int:
    async def go(store: Store) -> int:
        tenant = await _find_tenant(store, args.tenant)
        password = args.password or auth.generate_password()
        password_hash = await asyncio.to_thread(auth.hash_password, password)
        try:
            agent = await store.write(
                agents.create_agent, tenant.id, args.email.lower(), args.name, args.role, password_hash
            )
        except Conflict as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        if args.json:
            print(json.dumps({**p.to_wire(agent), "password": password}))
        else:
            print(f"Added {args.role} {agent.email} to {tenant.slug}. Password (shown once): {password}")
        return 0

    return asyncio.run(_with_store(args.db, go))


def cmd_agent_list(args: argparse.Namespace) -> int:
    async def go(store: Store) -> int:
        tenant = await _find_tenant(store, args.tenant)
        rows = sorted(await store.read(agents.list_agents, tenant.id), key=lambda a: a.id)
        if args.json:
            print(json.dumps([p.to_wire(r) for r in rows]))
        else:
            for r in rows:
                state = "active" if r.active else "disabled"
                print(f"{r.id:>4}  {r.email:<32} {r.role:<6} {state:<8} {r.name}")
        return 0

    return asyncio.run(_with_store(args.db, go))


async def _agent_by_email(store: Store, tenant_id: int, email: str) -> p.AgentProfile:
    row = await store.read(agents.agent_by_email, tenant_id, email.lower())
    if row is None:
        raise SystemExit(f"error: no agent {email} in this tenant (see `frontdesk agent list`)")
    return row


def cmd_agent_disable(args: argparse.Namespace) -> int:
    async def go(store: Store) -> int:
        tenant = await _find_tenant(store, args.tenant)
        agent = await _agent_by_email(store, tenant.id, args.email)
        try:
            # The last-active-admin rule is checked inside this write (agents.update_agent), so a
            # concurrent demotion from a console cannot slip past it.
            await store.write(agents.update_agent, tenant.id, agent.id, {"active": bool(args.enable)})
        except Conflict:
            print("error: this is the tenant's last active admin; add another admin first", file=sys.stderr)
            return 1
        print(f"{'Enabled' if args.enable else 'Disabled'} {agent.email}; their tokens are revoked.")
        return 0

    return asyncio.run(_with_store(args.db, go))


def cmd_agent_passwd(args: argparse.Namespace) -> int:
    async def go(store: Store) -> int:
        tenant = await _find_tenant(store, args.tenant)
        agent = await _agent_by_email(store, tenant.id, args.email)
        password = args.password or auth.generate_password()
        password_hash = await asyncio.to_thread(auth.hash_password, password)
        await store.write(agents.update_agent, tenant.id, agent.id, {"password_hash": password_hash})
        print(f"New password for {agent.email} (shown once): {password}")
        return 0

    return asyncio.run(_with_store(args.db, go))


def cmd_tenant_identity_secret(args: argparse.Namespace) -> int:
    async def go(store: Store) -> int:
        tenant = await _find_tenant(store, args.tenant)
        if args.action2 == "show":
            state = await store.read(tenants.identity_secret_state, tenant.id)
        else:
            new = auth.new_secret() if args.action2 == "rotate" else None
            state = await store.write(tenants.rotate_identity_secret, tenant.id, new)
        if args.json:
            print(json.dumps({"tenant_slug": tenant.slug, **p.to_wire(state)}))
            return 0
        print(f"Identity secret of {tenant.slug}: {state.secret}")
        if state.previous:
            print(f"Previous secret, still accepted until you end the rotation: {state.previous}")
            print(
                f"End the rotation once your backend signs with the new one: frontdesk tenant identity-secret "
                f"end-rotation --tenant {tenant.slug}"
            )
        elif args.action2 == "end-rotation":
            print("The previous secret is no longer accepted.")
        print(
            "Your backend computes user_hash = hex(HMAC-SHA256(secret, user_id + ':' + ts)), keyed with the"
            " secret's text (its 64 hex characters as UTF-8), ts in seconds."
        )
        return 0

    return asyncio.run(_with_store(args.db, go))


# -- visitors ------------------------------------------------------------------------------


def cmd_visitor_erase(args: argparse.Namespace) -> int:
    async def go(store: Store) -> int:
        tenant = await _find_tenant(store, args.tenant)
        try:
            n = await store.write(visitors.erase_visitor, tenant.id, args.visitor_id)
        except NotFound:
            print(f"error: no visitor {args.visitor_id} in {tenant.slug}", file=sys.stderr)
            return 1
        await _delete_erased_files(store, args.db)
        print(
            f"Erased visitor {args.visitor_id} and {n} conversation(s): messages, notes, files and events are gone."
            " Running servers close the visitor's open widgets (4001) within a second."
        )
        return 0

    return asyncio.run(_with_store(args.db, go))


async def _delete_erased_files(store: Store, db_url: str) -> None:
    """Run the blob deletions erasure queued (``store/files.py``, GC_JOB) now, rather than when a server next
    runs its jobs: an erased visitor's files are gone when the command returns."""
    from .files import cleanup_handlers
    from .jobs import JobRunner
    from .store.blobs import open_blob_store
    from .store.files import GC_JOB

    blobs = open_blob_store(db_url)
    await blobs.open()
    try:
        await JobRunner(store, {GC_JOB: cleanup_handlers(store, blobs)[GC_JOB]}).run_due()
    finally:
        await blobs.close()


# -- retention -------------------------------------------------------------------------------


def cmd_prune(args: argparse.Namespace) -> int:
    if args.keep_days < 0:
        print("error: --keep-days must be 0 or more", file=sys.stderr)
        return 2
    cutoff = now_ms() - int(args.keep_days * 86_400_000)

    async def go(store: Store) -> int:
        # Every event's reporting facts first: pruned events can no longer be projected.
        for tenant_id in await store.read(reports.report_tenants):
            await store.write(reports.project_all, tenant_id)
        deleted, upto = await store.write(events.prune_before, cutoff)
        print(f"Pruned {deleted} event(s) up to event {upto}; older resume cursors now get reset_required.")
        return 0

    return asyncio.run(_with_store(args.db, go))


# -- reports ---------------------------------------------------------------------------------


def cmd_reports_rebuild(args: argparse.Namespace) -> int:
    """Recompute the reporting facts of one tenant or all from the event log (docs/REPORTS.md, "Rebuild")."""

    async def go(store: Store) -> int:
        try:
            ids = await store.read(reports.report_tenants, args.tenant)
        except NotFound as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        for tenant_id in ids:
            replayed = await store.write(reports.rebuild, tenant_id)
            print(f"Tenant {tenant_id}: rebuilt the reports from {replayed} event(s).")
        return 0

    return asyncio.run(_with_store(args.db, go))


# -- schema / backup -------------------------------------------------------------------------


def cmd_migrate(args: argparse.Namespace) -> int:
    async def go(store: Store) -> int:
        print(f"Schema at version {await store.schema_version()} (latest {store.latest_schema_version()}).")
        return 0

    return asyncio.run(_with_store(args.db, go))


def cmd_backup(args: argparse.Namespace) -> int:
    if os.path.exists(args.output):
        print(f"error: {args.output} exists; choose a new file", file=sys.stderr)
        return 1

    async def go(store: Store) -> int:
        if not store.capabilities.backup:
            print("error: use pg_dump for PostgreSQL backups (docs/OPERATIONS.md)", file=sys.stderr)
            return 1
        await store.backup(args.output)
        copied = await asyncio.to_thread(_copy_blobs, _blob_root(args.db), Path(args.output + ".blobs"))
        print(f"Backed up to {args.output} (and {copied} attachment file(s) to {args.output}.blobs/).")
        return 0

    return asyncio.run(_with_store(args.db, go, migrate=False))


# -- secrets ------------------------------------------------------------------------------------


def _webhook_network(text: str) -> str:
    import ipaddress

    try:
        return str(ipaddress.ip_network(text, strict=False))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a network (CIDR, e.g. 10.0.0.0/8): {text!r}") from None


def _host_port(text: str) -> str:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"not HOST:PORT (e.g. 0.0.0.0:25): {text!r}")
    return text


def _serve_webhook_args(parser: argparse.ArgumentParser) -> None:
    """``serve``'s secret key, webhook and inbound email options (docs/OPERATIONS.md, "Webhooks", "Email")."""
    _secret_key_arg(parser)
    parser.add_argument(
        "--webhook-allow",
        action="append",
        type=_webhook_network,
        default=[n for n in _env("WEBHOOK_ALLOW", "").split(",") if n.strip()],
        metavar="CIDR",
        help="a network webhooks may reach although it is private or loopback (repeatable; env"
        " FRONTDESK_WEBHOOK_ALLOW=NET,NET; default: public addresses only)",
    )
    parser.add_argument(
        "--public-url",
        default=_env("PUBLIC_URL", "") or None,
        help="the address visitors reach this server at, for links in emails (survey links;"
        " env FRONTDESK_PUBLIC_URL; default: the listening host and port)",
    )
    parser.add_argument(
        "--smtp-listen",
        type=_host_port,
        default=_env("SMTP_LISTEN", "") or None,
        metavar="HOST:PORT",
        help="receive email replies with an SMTP listener here (point an MX at it; env FRONTDESK_SMTP_LISTEN;"
        ' default: off; docs/OPERATIONS.md, "Email")',
    )
    parser.add_argument(
        "--smtp-tls-cert",
        default=_env("SMTP_TLS_CERT", "") or None,
        metavar="FILE",
        help="PEM certificate chain: the SMTP listener offers STARTTLS with it (with --smtp-tls-key;"
        " env FRONTDESK_SMTP_TLS_CERT)",
    )
    parser.add_argument(
        "--smtp-tls-key",
        default=_env("SMTP_TLS_KEY", "") or None,
        metavar="FILE",
        help="the PEM private key of --smtp-tls-cert (env FRONTDESK_SMTP_TLS_KEY)",
    )
    parser.add_argument(
        "--webhook-ca-file",
        default=_env("WEBHOOK_CA_FILE", "") or None,
        metavar="FILE",
        help="PEM CA certificates HTTPS webhooks trust besides the system's (a private CA; env"
        " FRONTDESK_WEBHOOK_CA_FILE); certificates are always checked",
    )


def _secret_key_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--secret-key-file",
        default=os.environ.get("FRONTDESK_SECRET_KEY_FILE"),
        metavar="FILE",
        help="key file, one key a line, the sealing key first (env FRONTDESK_SECRET_KEY_FILE;"
        " or the keys themselves in FRONTDESK_SECRET_KEYS=NEW,OLD)",
    )


def cmd_secrets_keygen(args: argparse.Namespace) -> int:
    from .secrets import generate_key

    key = generate_key()
    if args.output is None:
        print(key)
        return 0
    try:
        fd = os.open(args.output, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        print(f"error: {args.output} exists; keys are never overwritten (add a line to rotate)", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"error: cannot create {args.output}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(f"# Frontdesk secret key: the first line seals, every line opens (docs/OPERATIONS.md)\n{key}\n")
    print(f"Wrote a new key to {args.output}.")
    return 0


def cmd_secrets_rotate(args: argparse.Namespace) -> int:
    from .secrets import SecretKeyError, SecretStore, load_box

    try:
        box = load_box(args.secret_key_file)
    except SecretKeyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1

    async def go(store: Store) -> int:
        try:
            count = await SecretStore(store, box).rotate()
        except SecretKeyError as exc:
            print(f"error: {exc}; nothing was changed", file=sys.stderr)
            return 1
        print(f"Resealed {count} secret(s) with the first of {box.key_count} key(s).")
        if box.key_count > 1:
            print("The other keys now open nothing; remove them from the key file or FRONTDESK_SECRET_KEYS.")
        return 0

    return asyncio.run(_with_store(args.db, go))


def cmd_secrets_list(args: argparse.Namespace) -> int:
    from .store import secrets as secret_ops

    async def go(store: Store) -> int:
        tenant = await _find_tenant(store, args.tenant)
        names = await store.read(secret_ops.names, tenant.id)
        if args.json:
            print(json.dumps({"tenant_slug": tenant.slug, "secrets": names}))
        else:
            print("\n".join(names) if names else f"No secrets stored for {tenant.slug}.")
        return 0

    return asyncio.run(_with_store(args.db, go))


def _blob_root(db_url: str) -> Path:
    """The folder of an SQLite database's attachment bytes (``store/blobs/disk.py``)."""
    from .store.blobs import open_blob_store
    from .store.blobs.disk import DiskBlobStore

    blobs = open_blob_store(db_url)
    assert isinstance(blobs, DiskBlobStore)
    return blobs.root


def _copy_blobs(source: Path, target: Path) -> int:
    """Copy the content-addressed files under ``source`` to ``target`` (those not there yet); how many. Hard links
    where both are on one file system (blobs are immutable), else fsynced copies. Partial puts (``tmp/``) stay."""
    copied = 0
    if not source.is_dir():
        return 0
    for path in source.rglob("*"):
        relative = path.relative_to(source)
        if not path.is_file() or relative.parts[0] == "tmp":
            continue
        destination = target / relative
        if destination.exists():
            continue
        destination.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:  # a blob never changes once written: a hard link is a copy that costs no space
            os.link(path, destination)
        except OSError:
            shutil.copyfile(path, destination)
            with open(destination, "rb") as handle:
                os.fsync(handle.fileno())
        copied += 1
    return copied


def cmd_restore(args: argparse.Namespace) -> int:
    if args.db.startswith("sqlite:"):
        from .store import sqlite_path
        from .store.sqlite import restore_copy

        if not args.copy:
            print("error: name the copy to restore: frontdesk restore --db URL FILE", file=sys.stderr)
            return 2
        if not os.path.isfile(args.copy):
            print(f"error: {args.copy} is not a file", file=sys.stderr)
            return 1
        db = os.path.abspath(sqlite_path(args.db))
        epoch, aside = restore_copy(Path(db), Path(args.copy))
        kept = f"; the replaced database is kept as {aside}" if aside else ""
        print(f"Restored {args.copy} as {db}{kept}.")
        if os.path.isdir(args.copy + ".blobs"):
            copied = _copy_blobs(Path(args.copy + ".blobs"), _blob_root(args.db))
            print(f"Restored {copied} attachment file(s) from {args.copy}.blobs/.")
        print(f"The database has a new epoch ({epoch}): every client refetches on its next connection.")
        return 0
    if args.copy:
        print(
            "error: restore the dump with pg_restore first, then run frontdesk restore without a file", file=sys.stderr
        )
        return 2

    async def go(store: Store) -> int:
        import uuid

        epoch = uuid.uuid4().hex
        await store.write(events.new_epoch, epoch)
        print(f"The database has a new epoch ({epoch}): every client refetches on its next connection.")
        print("Start (or restart) every node now: a running node keeps handing out the old epoch.")
        return 0

    return asyncio.run(_with_store(args.db, go))


def cmd_migrate_db(args: argparse.Namespace) -> int:
    from .store.transfer import migrate_database

    shown: dict[str, int] = {}

    def progress(table: str, done: int, total: int) -> None:
        # One line per table when it starts and ends, and about every tenth of a big one.
        step = max(total // 10, 1)
        if done in (0, total) or done - shown.get(table, 0) >= step:
            shown[table] = done
            print(f"  {table}: {done:,} of {total:,} rows", file=sys.stderr, flush=True)

    print(f"Copying {args.source} to {args.target} …", file=sys.stderr)
    try:
        report = asyncio.run(
            migrate_database(
                args.source, args.target, replace=args.replace, new_epoch=args.new_epoch, progress=progress
            )
        )
    except FrontdeskError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for table in report.tables:
        rows = f"{table.target_rows:,} row{'' if table.target_rows == 1 else 's'}"
        print(f"✓ {table.name}: {rows}, checksum matches")
    if report.epoch_kept:
        print(f"Kept the epoch ({report.epoch}): connected clients resume against the new database without a reset.")
    else:
        print(f"New epoch ({report.epoch}): every client refetches a snapshot on its next connection.")
    print(f"Now serve from it: frontdesk serve --db {args.target}")
    return 0


# -- verify -------------------------------------------------------------------------------------


def cmd_verify(args: argparse.Namespace) -> int:
    failures = 0

    def check(ok: bool, what: str, fix: str = "") -> None:
        nonlocal failures
        print(f"{'✓' if ok else '✗'} {what}" + ("" if ok or not fix else f"\n    fix: {fix}"), flush=True)
        failures += not ok

    async def go() -> None:
        store = open_store(args.db)
        try:
            await store.open(migrate=False)
        except Exception as exc:
            check(False, f"database reachable ({args.db}): {exc}", "check --db / FRONTDESK_DB and file permissions")
            return
        try:
            check(True, f"database reachable ({args.db})")
            durability = await store.durability()
            if "synchronous_commit" in durability:  # PostgreSQL (open() already refused an unsafe server)
                sync, fsync = durability["synchronous_commit"], durability.get("fsync")
                check(
                    sync != "off" and fsync == "on",
                    f"durable settings (synchronous_commit={sync}, fsync={fsync})",
                    "ALTER SYSTEM SET synchronous_commit = on; ALTER SYSTEM SET fsync = on; SELECT pg_reload_conf()",
                )
            elif durability:
                ok = durability.get("journal_mode") == "wal" and durability.get("synchronous") in ("FULL", "EXTRA")
                mode, sync = durability.get("journal_mode"), durability.get("synchronous")
                check(
                    ok,
                    f"durable settings (journal_mode={mode}, synchronous={sync})",
                    "use a local filesystem that supports WAL",
                )
            version, latest = await store.schema_version(), store.latest_schema_version()
            check(
                version == latest,
                f"schema at version {version} (latest {latest})",
                f"run: frontdesk migrate --db {args.db}",
            )
            missing = await store.missing_tables()
            check(
                not missing,
                "all required tables present" if not missing else f"missing tables: {', '.join(missing)}",
                f"run: frontdesk migrate --db {args.db}",
            )
            if not missing:  # a probe write: one meta row, committed like any write
                writable, error = await store.check_writable()
                check(
                    writable,
                    "database writable" if writable else f"database writable: {error}",
                    "free disk space (docs/OPERATIONS.md, Disk space), and check that the server's user may write"
                    " the database file, its -wal and -shm files and their directory, on a file system mounted"
                    " read-write",
                )
        finally:
            await store.close()
        if args.url:
            await _verify_server(args.url, check)

    asyncio.run(go())
    if not args.url:
        print("- server round trip skipped (pass --url ws://HOST:PORT to check a running server)")
    print("All checks passed." if not failures else f"{failures} check(s) failed.")
    return 1 if failures else 0


def _get_json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 - an operator-given URL
        result: dict[str, Any] = json.loads(resp.read())
    return result


async def _verify_server(url: str, check: Callable[..., None]) -> None:
    from websockets.asyncio.client import connect

    base = url.rstrip("/")
    http_base = "http" + base[2:] if base.startswith("ws") else base
    ws_base = "ws" + base[4:] if base.startswith("http") else base
    try:
        health = await asyncio.to_thread(_get_json, http_base + "/healthz")
        check(
            health.get("status") == "ok",
            f"server healthy at {http_base}/healthz (version {health.get('version')},"
            f" schema {health.get('schema_version')}, {health.get('connections')} connections)",
        )
    except Exception as exc:
        check(False, f"server healthy at {http_base}/healthz: {exc}", "start it: frontdesk serve (or make run)")
        return
    try:
        async with asyncio.timeout(5):
            async with connect(ws_base + "/v1/agent", compression=None) as ws:
                await ws.send(p.encode({"type": "ping", "ref": "verify"}))
                reply = p.decode(str(await ws.recv()))
        check(
            (reply.get("type") == "error" and reply.get("code") == "unauthorized") or reply.get("type") == "reply",
            f"WebSocket round trip to {ws_base}/v1/agent",
        )
    except Exception as exc:
        check(
            False,
            f"WebSocket round trip to {ws_base}/v1/agent: {exc!r}",
            "check that proxies pass the Upgrade and Connection headers (docs/OPERATIONS.md)",
        )


# -- console / bench ---------------------------------------------------------------------------


def cmd_console(args: argparse.Namespace, rest: list[str]) -> int:
    """Start ``frontdesk-console`` as a process of its own (the server never
    imports the console) and return its exit status."""
    from frontdesk.server.bench._console import console_command, console_installed

    if not console_installed():
        print("error: the console is not installed; pip install 'frontdesk[console]'", file=sys.stderr)
        return 1
    proc = subprocess.Popen([*console_command(), *rest])
    while True:
        try:
            return proc.wait()
        except KeyboardInterrupt:  # the console got the same Ctrl+C: let it close itself
            continue


def cmd_bench(args: argparse.Namespace, rest: list[str]) -> int:
    try:
        from frontdesk.server.bench import main as bench_main
    except ImportError as exc:
        print(f"error: the benchmark is not available ({exc})", file=sys.stderr)
        return 1
    result: int = bench_main(rest)
    return result


# -- the parser -----------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="frontdesk",
        description="Frontdesk: self-hosted real-time customer chat.",
        epilog="example:\n  frontdesk init && frontdesk serve\n\nRun `frontdesk COMMAND --help` for each command.",
        formatter_class=_Formatter,
    )
    parser.add_argument("--version", action="version", version=f"frontdesk {__version__}")
    parser.add_argument(
        "--log-level", default=_env("LOG_LEVEL", "INFO"), help="DEBUG, INFO, WARNING… (env FRONTDESK_LOG_LEVEL)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    s = _sub(
        sub,
        "serve",
        "Run the chat server (WebSocket endpoints, widget, demo page, /healthz).",
        "frontdesk serve --host 0.0.0.0 --port 8080 --db sqlite:///var/frontdesk.db",
    )
    _db_arg(s)
    s.add_argument(
        "--host",
        default=_env("HOST", "127.0.0.1"),
        help="address to listen on (env FRONTDESK_HOST; default %(default)s)",
    )
    s.add_argument(
        "--port",
        type=int,
        default=int(_env("PORT", "8080")),
        help="port; 0 picks a free one (env FRONTDESK_PORT; default %(default)s)",
    )
    for rate in RATE_SETTINGS:  # PER_SECOND/BURST; declared once, in ratelimit.RATE_SETTINGS
        s.add_argument(
            rate.flag,
            default=_env(rate.name.upper(), str(rate.default)),
            metavar="RATE",
            help=f"{rate.meaning}, PER_SECOND/BURST (env {rate.env}; default %(default)s)",
        )
    s.add_argument(
        "--auth-timeout",
        type=_positive_float,
        default=_env("AUTH_TIMEOUT", "10"),
        metavar="SECONDS",
        help="time after the upgrade to send a successful hello/login/auth, else close 1013 (default %(default)s)",
    )
    s.add_argument(
        "--max-sockets-per-ip",
        type=_positive_int,
        default=_env("MAX_SOCKETS_PER_IP", "256"),
        metavar="N",
        help="open sockets per client address; more are closed with 1013 (default %(default)s)",
    )
    s.add_argument(
        "--trust-proxy",
        action="store_true",
        default=_env("TRUST_PROXY", "") == "1",
        help="take client addresses from X-Forwarded-For (only behind your own proxy; env FRONTDESK_TRUST_PROXY=1)",
    )
    s.add_argument(
        "--unreferenced-upload-s",
        type=_positive_float,
        default=_env("UNREFERENCED_UPLOAD_S", "3600"),
        metavar="SECONDS",
        help="how long an upload no message refers to is kept before it is deleted (default %(default)s)",
    )
    s.add_argument(
        "--upload-dir",
        default=_env("UPLOAD_DIR", "") or None,
        metavar="DIR",
        help="where partial uploads are spooled (default: DATABASE.uploads/ beside SQLite, else a temporary folder)",
    )
    s.add_argument(
        "--clamd",
        default=_env("CLAMD", "") or None,
        metavar="SOCKET",
        help="scan files with clamd at this Unix socket path or tcp://HOST:PORT; files stay pending until passed",
    )
    _serve_webhook_args(s)
    s.add_argument(
        "--geoip",
        default=_env("GEOIP", "") or None,
        metavar="PATH.mmdb",
        help="a MaxMind-format database for visitors' city and region (docs/OPERATIONS.md; env FRONTDESK_GEOIP);"
        " the country needs none",
    )
    s.set_defaults(func=cmd_serve)

    s = _sub(
        sub,
        "init",
        "Create a tenant and its first admin; print the password once and the widget snippet. Safe to run twice.",
        "frontdesk init --name 'Acme Inc' --slug acme --admin-email ops@acme.test --origin acme.test",
    )
    _db_arg(s)
    s.add_argument("--name", default="Demo Company", help="tenant's display name (default %(default)s)")
    s.add_argument("--slug", default="demo", help="tenant's short name (default %(default)s)")
    s.add_argument("--admin-email", default="admin@demo.test", help="first admin's email (default %(default)s)")
    s.add_argument("--admin-name", default="Admin", help="first admin's name (default %(default)s)")
    s.add_argument("--admin-password", help="first admin's password (default: generated and printed once)")
    s.add_argument(
        "--origin",
        action="append",
        metavar="HOST",
        help=f"allowed website host, repeatable (default {' '.join(DEMO_ORIGINS)})",
    )
    s.add_argument(
        "--public-url",
        default=_env("PUBLIC_URL", "http://127.0.0.1:8080"),
        help="server URL for the snippet (default %(default)s)",
    )
    _json_arg(s)
    s.set_defaults(func=cmd_init)

    tenant = _sub(sub, "tenant", "Manage tenants.", "frontdesk tenant list")
    tsub = tenant.add_subparsers(dest="action", metavar="ACTION", required=True)
    s = _sub(tsub, "add", "Add a tenant.", "frontdesk tenant add --slug acme --name 'Acme Inc' --origin acme.test")
    _db_arg(s)
    s.add_argument("--slug", required=True)
    s.add_argument("--name", required=True)
    s.add_argument("--origin", action="append", metavar="HOST", help="allowed website host, repeatable")
    s.add_argument("--public-url", default=_env("PUBLIC_URL", "http://127.0.0.1:8080"))
    _json_arg(s)
    s.set_defaults(func=cmd_tenant_add)
    s = _sub(tsub, "list", "List tenants with their site keys.", "frontdesk tenant list --json")
    _db_arg(s)
    _json_arg(s)
    s.set_defaults(func=cmd_tenant_list)

    s = _sub(
        tsub,
        "identity-secret",
        "Show or rotate the secret your backend signs visitor identities with (identity verification).",
        "frontdesk tenant identity-secret show --tenant demo",
    )
    s.add_argument(
        "action2",
        metavar="show|rotate|end-rotation",
        choices=("show", "rotate", "end-rotation"),
        help="show: print it; rotate: make a new one, the old one stays valid until end-rotation;"
        " end-rotation: stop accepting the old one",
    )
    _db_arg(s)
    s.add_argument("--tenant", help="tenant slug (optional when there is one tenant)")
    _json_arg(s)
    s.set_defaults(func=cmd_tenant_identity_secret)

    agent = _sub(sub, "agent", "Manage agents.", "frontdesk agent list --tenant demo")
    asub = agent.add_subparsers(dest="action", metavar="ACTION", required=True)
    s = _sub(
        asub,
        "add",
        "Add an agent; prints a generated password once.",
        "frontdesk agent add --tenant demo --email ada@demo.test --name Ada --role agent",
    )
    _db_arg(s)
    s.add_argument("--tenant", help="tenant slug (optional when there is one tenant)")
    s.add_argument("--email", required=True)
    s.add_argument("--name", required=True)
    s.add_argument("--role", choices=p.ROLES, default="agent")
    s.add_argument("--password", help="default: generated and printed once")
    _json_arg(s)
    s.set_defaults(func=cmd_agent_add)
    s = _sub(asub, "list", "List a tenant's agents.", "frontdesk agent list --tenant demo")
    _db_arg(s)
    s.add_argument("--tenant")
    _json_arg(s)
    s.set_defaults(func=cmd_agent_list)
    s = _sub(
        asub,
        "disable",
        "Disable an agent and revoke their tokens (--enable to undo).",
        "frontdesk agent disable --email ada@demo.test",
    )
    _db_arg(s)
    s.add_argument("--tenant")
    s.add_argument("--email", required=True)
    s.add_argument("--enable", action="store_true", help="re-enable instead")
    s.set_defaults(func=cmd_agent_disable)
    s = _sub(
        asub,
        "passwd",
        "Set a new password (generated unless given); revokes the agent's tokens.",
        "frontdesk agent passwd --email ada@demo.test",
    )
    _db_arg(s)
    s.add_argument("--tenant")
    s.add_argument("--email", required=True)
    s.add_argument("--password")
    s.set_defaults(func=cmd_agent_passwd)

    visitor = _sub(sub, "visitor", "Visitor data requests.", "frontdesk visitor erase --id 42")
    vsub = visitor.add_subparsers(dest="action", metavar="ACTION", required=True)
    s = _sub(
        vsub,
        "erase",
        "Erase a visitor and all their conversations, messages, notes and events.",
        "frontdesk visitor erase --tenant demo --id 42",
    )
    _db_arg(s)
    s.add_argument("--tenant")
    s.add_argument("--id", dest="visitor_id", type=int, required=True)
    s.set_defaults(func=cmd_visitor_erase)

    secrets = _sub(
        sub,
        "secrets",
        "The secret store's keys: make one, rotate to a new one, list a tenant's secrets.",
        "frontdesk secrets keygen --output /etc/frontdesk/secret.key",
    )
    ssub = secrets.add_subparsers(dest="action", metavar="ACTION", required=True)
    s = _sub(
        ssub,
        "keygen",
        "Make a new secret key (printed, or written to a new file readable by its owner only).",
        "frontdesk secrets keygen --output /etc/frontdesk/secret.key",
    )
    s.add_argument("--output", metavar="FILE", help="new key file to write (mode 0600); default: print the key")
    s.set_defaults(func=cmd_secrets_keygen)
    s = _sub(
        ssub,
        "rotate",
        "Reseal every stored secret with the first key; the keys after it may then be dropped.",
        "FRONTDESK_SECRET_KEYS=NEW,OLD frontdesk secrets rotate --db sqlite:///var/frontdesk.db",
    )
    _db_arg(s)
    _secret_key_arg(s)
    s.set_defaults(func=cmd_secrets_rotate)
    s = _sub(ssub, "list", "List the names of a tenant's stored secrets (never values).", "frontdesk secrets list")
    _db_arg(s)
    s.add_argument("--tenant")
    _json_arg(s)
    s.set_defaults(func=cmd_secrets_list)

    s = _sub(
        sub,
        "prune",
        "Delete resume events older than N days (messages stay); older cursors then get reset_required.",
        "frontdesk prune --keep-days 30",
    )
    _db_arg(s)
    s.add_argument("--keep-days", type=float, required=True, metavar="N", help="keep the events of the last N days")
    s.set_defaults(func=cmd_prune)

    rep = _sub(sub, "reports", "Reporting facts.", "frontdesk reports rebuild --tenant acme")
    rsub = rep.add_subparsers(dest="action", metavar="ACTION", required=True)
    s = _sub(
        rsub,
        "rebuild",
        "Recompute the reporting facts from the event log (the same rules as when they are written).",
        "frontdesk reports rebuild --tenant acme",
    )
    _db_arg(s)
    s.add_argument("--tenant", metavar="SLUG", help="only this tenant (default: every tenant)")
    s.set_defaults(func=cmd_reports_rebuild)

    s = _sub(sub, "migrate", "Apply pending schema migrations.", "frontdesk migrate --db sqlite:///var/frontdesk.db")
    _db_arg(s)
    s.set_defaults(func=cmd_migrate)

    s = _sub(
        sub,
        "backup",
        "Copy a live SQLite database consistently (online backup API).",
        "frontdesk backup --db sqlite:///var/frontdesk.db backups/frontdesk-2026-11-26.db",
    )
    _db_arg(s)
    s.add_argument("output", help="new file to write")
    s.set_defaults(func=cmd_backup)

    s = _sub(
        sub,
        "restore",
        "Put a copy back (server stopped) with a new epoch, so every client refetches. PostgreSQL: after"
        " pg_restore, run it without FILE.",
        "frontdesk restore --db sqlite:////var/lib/frontdesk/frontdesk.db backups/frontdesk-2026-11-26.db",
    )
    _db_arg(s)
    s.add_argument("copy", nargs="?", metavar="FILE", help="the copy: frontdesk backup, VACUUM INTO (SQLite only)")
    s.set_defaults(func=cmd_restore)

    s = _sub(
        sub,
        "migrate-db",
        "Move an installation from SQLite to PostgreSQL (servers stopped): every row, id and cursor, then verified"
        " by row counts and checksums.",
        "frontdesk migrate-db --from sqlite:////var/lib/frontdesk/frontdesk.db --to postgresql://frontdesk@db/frontdesk",
    )
    s.add_argument("--from", dest="source", required=True, metavar="URL", help="the SQLite database, sqlite:///PATH")
    s.add_argument("--to", dest="target", required=True, metavar="URL", help="the PostgreSQL database, postgresql://…")
    s.add_argument("--replace", action="store_true", help="delete the rows a non-empty target holds first")
    s.add_argument(
        "--new-epoch", action="store_true", help="give the target a new epoch: clients refetch instead of resuming"
    )
    s.set_defaults(func=cmd_migrate_db)

    s = _sub(
        sub,
        "verify",
        "Check the database, its schema and durability, and a running server; ✓/✗ per check.",
        "frontdesk verify --url ws://127.0.0.1:8080",
    )
    _db_arg(s)
    s.add_argument("--url", help="running server to check, ws://HOST:PORT or http://HOST:PORT")
    s.set_defaults(func=cmd_verify)

    s = _sub(
        sub,
        "console",
        "Open the agent console (the frontdesk-console program); options follow, see `frontdesk console --help`.",
        "frontdesk console --server http://127.0.0.1:8080",
    )
    s.set_defaults(func=cmd_console, passthrough=True)
    s = _sub(
        sub,
        "bench",
        "Benchmark a server through the public protocol; see `frontdesk bench --help`.",
        "frontdesk bench latency --baseline",
    )
    s.set_defaults(func=cmd_bench, passthrough=True)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    # `console` and `bench` own their options; hand everything after the name over.
    for i, word in enumerate(argv):
        if word in ("console", "bench") and all(a.startswith("-") for a in argv[:i]):
            known = parser.parse_args([*argv[:i], word])
            _setup_logging(known.log_level)
            result: int = known.func(known, argv[i + 1 :])
            return result
        if not word.startswith("-"):
            break
    args = parser.parse_args(argv)
    _setup_logging(args.log_level)
    try:
        code: int = args.func(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except FrontdeskError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return code


def _setup_logging(level: str) -> None:
    numeric = getattr(logging, str(level).upper(), logging.INFO)
    logging.basicConfig(level=numeric, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s", stream=sys.stderr)
    # One line per connection opened and closed is noise at INFO; keep it for DEBUG.
    # Never below INFO: websockets' DEBUG output dumps frames, tokens and bodies included.
    logging.getLogger("websockets").setLevel(max(numeric, logging.WARNING) if numeric > logging.DEBUG else logging.INFO)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
