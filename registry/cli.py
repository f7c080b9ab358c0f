"""The ``registry`` command (design.md §8).

Conventions: a command that creates something prints its identifier alone on the last line of
standard output; an error is one line on standard error and exit status 2, with nothing written.
"""

from __future__ import annotations

import functools
import getpass
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from .config import Settings
from .domain.errors import DomainError
from .domain.roles import Role
from .pki.keys import KeyFormatError
from .services.context import Actor, ServiceContext, load_or_create_secret_key

if TYPE_CHECKING:
    from .services.seals import IssueResult, KeyMaterial

F = TypeVar("F", bound=Callable[..., Any])


class CliError(click.ClickException):
    exit_code = 2

    def show(self, file: Any = None) -> None:
        click.echo(f"registry: error: {self.format_message()}", err=True)


def handle_errors(fn: F) -> F:
    """Turn domain errors into one line on stderr and exit status 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (DomainError, KeyFormatError) as exc:
            raise CliError(str(exc)) from None
        except OSError as exc:
            raise CliError(f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc)) from None

    return wrapper  # type: ignore[return-value]


def _ctx(create_keys: bool = False) -> ServiceContext:
    return ServiceContext.create(Settings.from_env(), create_keys=create_keys)


def _cli_actor() -> Actor:
    try:
        who = getpass.getuser()
    except Exception:  # noqa: BLE001 - no passwd entry in some containers
        who = str(os.getuid())
    return Actor(name=f"cli:{who}", kind="system", roles=frozenset(Role))


def _secret(env: str, prompt: str) -> str:
    """A password or code: from the environment (scripted use, tests) or typed without echo."""
    value = os.environ.get(env)
    if value is not None:
        return value
    if not sys.stdin.isatty():
        raise CliError(f"{prompt.lower()} is needed: run in a terminal, or set {env}")
    return click.prompt(prompt, hide_input=True, err=True)


def _read(path: str, what: str, limit: int = 16 * 1024 * 1024) -> bytes:
    p = Path(path)
    if not p.is_file():
        raise CliError(f"{what} {path}: no such file")
    if p.stat().st_size > limit:
        raise CliError(f"{what} {path} is larger than {limit // 1024} KB")
    return p.read_bytes()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Registration authority for enterprise electronic seals (电子印章)."""


# -- init / serve --------------------------------------------------------------------------------


@main.command()
@click.option("--demo", is_flag=True, help="Also load demonstration licences and staff accounts.")
@handle_errors
def init(demo: bool) -> None:
    """Bring the schema up to date, create the CA hierarchies and a first admin (idempotent)."""
    old_umask = os.umask(0o077)  # everything init creates (database, keys) is the registry's own
    try:
        _init(demo)
    finally:
        os.umask(old_umask)


def _init(demo: bool) -> None:
    from .db.migrate import upgrade
    from .services import authorities, users

    settings = Settings.from_env()
    settings.instance_path.mkdir(parents=True, exist_ok=True, mode=0o700)
    upgrade(settings.database_url)
    click.echo(f"database: {_redact(settings.database_url)} (schema up to date)")
    for line in _tighten_permissions(settings):
        click.echo(line)
    load_or_create_secret_key(settings)
    ctx = ServiceContext.create(settings, create_keys=True)
    actor = _cli_actor()
    created = authorities.ensure_hierarchies(ctx, actor)
    for a in authorities.list_authorities(ctx):
        mark = "created" if a.name in created else "exists"
        click.echo(f"authority {a.name:18} {mark:8} {a.subject}")
    from .services import elicence

    if elicence.ensure_demo_issuer(ctx):
        click.echo(f"e-licence issuer (demo): new key and certificate at {settings.elicence_cert}")
    first_admin = users.ensure_first_admin(ctx, actor)
    if first_admin:
        click.echo(f"first admin: user '{first_admin[0]}', one-time password: {first_admin[1]}")
        click.echo("(shown once; it must be changed at first login)")
    else:
        click.echo("admin account exists")
    if demo:
        from .services.demo import load_demo

        for line in load_demo(ctx, actor):
            click.echo(line)
    from .services import crl_publish

    due = crl_publish.pending(ctx)
    if due:
        for p in crl_publish.publish(ctx, actor, due):
            click.echo(f"published {p.path} number {p.number}")
    else:
        click.echo("CRLs up to date")


def _tighten_permissions(settings: Settings) -> list[str]:
    """The instance directory 0700, the SQLite database and its WAL/SHM 0600 (an instance made by an
    older version had them readable by every local user). The publish directory holds public CRLs
    and may be served by another user's web server, so it is left as it is."""
    import stat

    paths: list[tuple[Path, int]] = [(settings.instance_path, 0o700)]
    if settings.database_url.startswith("sqlite"):
        db = Path(settings.database_url.split("///", 1)[-1].split("?", 1)[0])
        paths += [(db, 0o600), (db.with_name(db.name + "-wal"), 0o600), (db.with_name(db.name + "-shm"), 0o600)]
    out = []
    for path, mode in paths:
        try:
            st = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            continue
        if st.st_uid == os.getuid() and stat.S_IMODE(st.st_mode) & 0o077:
            path.chmod(mode)
            out.append(f"permissions of {path} set to {mode:o}")
    return out


def _redact(url: str) -> str:
    import re

    return re.sub(r"//([^:/@]+):[^@]+@", r"//\1:***@", url)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
@click.option("--dev", is_flag=True, help="Use Flask's single-process development server instead.")
@click.option("--no-publisher", is_flag=True, help="Do not run the CRL publisher next to the portal.")
@handle_errors
def serve(host: str, port: int, workers: int, dev: bool, no_publisher: bool) -> None:
    """Run the portal with gunicorn (the same server as `gunicorn 'registry.wsgi:app'`), and the
    CRL publisher (`registry crl daemon`) beside it."""
    import subprocess
    import sys

    from .web import create_app

    os.umask(0o077)  # the database's WAL/SHM, CRL temp files, logs: not readable by other local users
    app = create_app()  # fail here, with a clear message, before forking workers
    click.echo(
        f"portal on http://{host}:{port}/  ({'development server' if dev else f'gunicorn, {workers} workers'}; "
        "Ctrl-C to stop)"
    )
    publisher = (
        None
        if no_publisher
        else subprocess.Popen([sys.executable, "-c", "from registry.cli import main; main()", "crl", "daemon"])
    )
    try:
        if dev:
            app.run(host=host, port=port, debug=False, use_reloader=False)
        else:
            _gunicorn(app, host, port, workers)
    finally:
        if publisher is not None:
            publisher.terminate()
            publisher.wait(timeout=10)


def _gunicorn(app, host: str, port: int, workers: int) -> None:  # type: ignore[no-untyped-def]
    from gunicorn.app.base import BaseApplication

    class _Server(BaseApplication):
        def load_config(self) -> None:
            def post_fork(_server, _worker):  # type: ignore[no-untyped-def]
                # never share a pooled database connection across processes
                app.extensions["registry"].engine.dispose(close=False)

            for key, value in {
                "bind": f"{host}:{port}",
                "workers": workers,
                "accesslog": "-",
                "timeout": 60,
                "graceful_timeout": 10,
                "post_fork": post_fork,
            }.items():
                self.cfg.set(key, value)

        def load(self):  # type: ignore[no-untyped-def]
            return app

    _Server().run()


# -- users ---------------------------------------------------------------------------------------


@main.group()
def user() -> None:
    """Staff accounts."""


@user.command("add")
@click.argument("name")
@click.option(
    "--role", "roles", multiple=True, required=True, help="operator, reviewer, admin or auditor (repeatable)."
)
@click.option("--display-name", default="")
@handle_errors
def user_add(name: str, roles: tuple[str, ...], display_name: str) -> None:
    """Create a staff account; prints its one-time password, then its username on the last line."""
    from .services import users

    parsed = [Role.parse(r) for r in roles]
    u, password = users.add_user(_ctx(), _cli_actor(), name, parsed, display_name)
    click.echo(f"one-time password: {password}")
    click.echo(u.username)


# -- licences ------------------------------------------------------------------------------------


@main.group()
def licence() -> None:
    """Electronic business licence data."""


@licence.command("import")
@click.argument("file")
@handle_errors
def licence_import(file: str) -> None:
    """Import a CSV or JSON Lines licence file; bad rows are reported, good rows kept."""
    from .services import licences

    data = _read(file, "licence file", 64 * 1024 * 1024)
    report = licences.import_licences(_ctx(), _cli_actor(), data, Path(file).name)
    for err in report.errors:
        click.echo(f"{file}: {err}", err=True)
    click.echo(
        f"created {len(report.created)}, updated {len(report.updated)}, "
        f"unchanged {len(report.unchanged)}, rejected {len(report.errors)}"
    )
    if report.errors and not report.good:
        sys.exit(2)


# -- keygen --------------------------------------------------------------------------------------


@main.command()
@click.option(
    "--algorithm",
    type=click.Choice(["sm2", "ecdsa", "p256"]),
    default="sm2",
    show_default=True,
    help="sm2 (SM2/SM3), or ecdsa / p256 (ECDSA P-256 with SHA-256).",
)
@click.option("--uscc", required=True, help="The enterprise's unified social credit code.")
@click.option("--name", default="", help="Common name for the request (default: the USCC).")
@click.option("--key-out", required=True, type=click.Path(dir_okay=False))
@click.option("--csr-out", required=True, type=click.Path(dir_okay=False))
@handle_errors
def keygen(algorithm: str, uscc: str, name: str, key_out: str, csr_out: str) -> None:
    """Enterprise side: make a key pair and a PKCS#10 request carrying the USCC.

    The subject is C=CN, CN=<name or USCC>, organizationIdentifier=<USCC>; an SM2 request is signed
    with SM3 and the GM/T 0009 user ID. The key is written with mode 0600; neither file may exist."""
    from .pki.csr import build_csr
    from .pki.keys import Algorithm, PrivateKey
    from .pki.uscc import UsccError, validate_uscc
    from .pki.x509 import Name

    try:
        code = validate_uscc(uscc)
    except UsccError as exc:
        raise CliError(f"USCC {uscc!r}: {exc}") from None
    name = name.strip()
    if len(name) > 64:
        raise CliError(f"--name has {len(name)} characters; a common name holds at most 64 (RFC 5280)")
    if Path(key_out).resolve() == Path(csr_out).resolve():
        raise CliError("--key-out and --csr-out name the same file")
    for p in (key_out, csr_out):
        if Path(p).exists():
            raise CliError(f"{p} exists; refusing to overwrite")
    key = PrivateKey.generate(Algorithm.ECDSA if algorithm == "p256" else Algorithm(algorithm))
    csr = build_csr(key, Name.build(C="CN", CN=name or code, organizationIdentifier=code))
    _write_private(Path(key_out), key.pem())
    try:
        fd = os.open(csr_out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        with os.fdopen(fd, "w") as fh:
            fh.write(csr)
    except BaseException:
        Path(key_out).unlink(missing_ok=True)  # nothing written: no key without its request
        raise
    click.echo(f"key: {key_out} ({key.algorithm.label})")
    click.echo(csr_out)


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)


# -- seals ---------------------------------------------------------------------------------------


@main.group()
def seal() -> None:
    """Electronic seals."""


@seal.command("issue")
@click.option("--uscc", required=True)
@click.option(
    "--type",
    "seal_type",
    required=True,
    help="01 official, 02 finance, 03 invoice, 04 contract, 05 legal-representative, 99 other (code or name).",
)
@click.option("--csr", type=click.Path(dir_okay=False), help="PKCS#10 request (PEM or DER).")
@click.option("--public-key", type=click.Path(dir_okay=False), help="Holder public key (PEM).")
@click.option("--generate-key", is_flag=True, help="Make the holder key here (written to --out).")
@click.option("--image", type=click.Path(dir_okay=False), help="Seal picture (PNG); default: drawn.")
@click.option("--operator", help="Staff user who checked the application: signs in here (password and code).")
@click.option("--approver", help="A different staff user with the reviewer role: confirms with their own code.")
@click.option(
    "--break-glass",
    "break_glass",
    metavar="REASON",
    help="Issue without a second person, recorded as the command-line user's act under the "
    "break-glass policy, with REASON, in the audit log.",
)
@click.option("--algorithm", type=click.Choice(["sm2", "ecdsa"]))
@click.option("--out", type=click.Path(file_okay=False), help="Also export the seal into this directory.")
@handle_errors
def seal_issue(
    uscc: str,
    seal_type: str,
    csr: str | None,
    public_key: str | None,
    generate_key: bool,
    image: str | None,
    operator: str | None,
    approver: str | None,
    break_glass: str | None,
    algorithm: str | None,
    out: str | None,
) -> None:
    """Issue a seal under dual control; prints the esID on the last line.

    The operator signs in (password, then a code from their authenticator) and the approver types a
    code of their own; both are prompted (or read from REGISTRY_OPERATOR_PASSWORD,
    REGISTRY_OPERATOR_CODE and REGISTRY_APPROVER_CODE, for scripted use). Accounts that have not
    chosen their own password or enrolled a second factor, and admins as approvers, are refused.
    Without them: --break-glass REASON (see the README's dual-control policy)."""
    from .services import counter_auth, seals

    cli_user = _cli_actor()
    if break_glass is not None:
        if operator or approver:
            raise CliError("--break-glass issues without an operator and an approver: give one or the other")
        counter_auth.check_reason(break_glass)
        req = seals.IssueRequest(
            uscc=uscc,
            seal_type=seal_type,
            key=seals.KeyMaterial(),
            operator="",
            approver="",
            algorithm=algorithm,
            break_glass=break_glass,
            picture_png=_read(image, "image") if image else None,
        )
    else:
        if not operator or not approver:
            raise CliError("name the --operator and the --approver (both confirm here), or use --break-glass REASON")
        req = seals.IssueRequest(
            uscc=uscc,
            seal_type=seal_type,
            key=seals.KeyMaterial(),
            operator=operator,
            approver=approver,
            algorithm=algorithm,
            picture_png=_read(image, "image") if image else None,
        )
    ctx = _ctx()
    if break_glass is None:
        assert operator and approver
        if operator.strip().lower() == approver.strip().lower():
            raise CliError("dual control: the operator and the approver must be two different people")
        counter_auth.check_eligible(ctx, approver, "approver")
        counter_auth.check_eligible(ctx, operator, "operator")
        password = _secret("REGISTRY_OPERATOR_PASSWORD", f"Password of operator {operator}")
        counter_auth.confirm(
            ctx,
            cli_user,
            operator,
            "operator",
            _secret("REGISTRY_OPERATOR_CODE", f"Code of operator {operator}"),
            password=password,
        )
        counter_auth.confirm(
            ctx,
            cli_user,
            approver,
            "approver",
            _secret("REGISTRY_APPROVER_CODE", f"Approver {approver}: your code to approve"),
        )

    def issue(key: seals.KeyMaterial) -> seals.IssueResult:
        from dataclasses import replace

        return seals.issue_seal(ctx, _cli_actor(), replace(req, key=key))

    _issue_and_export(
        ctx,
        issue,
        csr=csr,
        public_key=public_key,
        generate_key=generate_key,
        algorithm=algorithm or "sm2",
        out=out,
        describe=lambda r: f"issued {r.es_id} ({r.algorithm.label}), application {r.application_id}",
    )
    if break_glass is not None:
        click.echo(
            f"break-glass: issued by {cli_user.name} alone, recorded in the audit log "
            "(application.break_glass) with the reason",
            err=True,
        )


def _issue_and_export(
    ctx: ServiceContext,
    issue: Callable[[KeyMaterial], IssueResult],
    *,
    csr: str | None,
    public_key: str | None,
    generate_key: bool,
    algorithm: str,
    out: str | None,
    describe: Callable[[IssueResult], str],
) -> None:
    """Shared by `seal issue` and `seal renew`. With --generate-key the holder key is made here and
    written to OUT/holder.key (mode 0600) *before* the seal is issued, so a seal never exists whose
    key was lost; if the issuance is refused, the key file (and OUT, if this made it) is removed."""
    from .pki.keys import Algorithm, PrivateKey
    from .services import seals

    if sum(map(bool, (csr, public_key, generate_key))) > 1:
        raise CliError("give one of --csr, --public-key or --generate-key")
    if generate_key and not out:
        raise CliError("--generate-key needs --out DIR to write the holder's private key to")
    out_dir = Path(out) if out else None
    if out_dir is not None:
        _check_out_dir(out_dir, generate_key)
    key_file = made_dir = None
    if generate_key:
        holder = PrivateKey.generate(Algorithm.parse(algorithm))
        assert out_dir is not None
        made_dir = not out_dir.exists()
        out_dir.mkdir(parents=True, exist_ok=True)
        key_file = out_dir / "holder.key"
        _write_private(key_file, holder.pem())
        material = seals.KeyMaterial(public_key_pem=holder.public_key.pem().encode())
    else:
        material = seals.KeyMaterial(
            csr=_read(csr, "certificate request") if csr else None,
            public_key_pem=_read(public_key, "public key") if public_key else None,
        )
    try:
        result = issue(material)
    except BaseException:
        if key_file is not None:
            key_file.unlink(missing_ok=True)
            if made_dir and out_dir is not None:
                out_dir.rmdir()
        raise
    click.echo(describe(result))
    if out_dir is not None:
        written = _export(ctx, result.es_id, out_dir) + (["holder.key"] if key_file else [])
        click.echo(f"wrote {', '.join(written)} to {out_dir}")
    click.echo(result.es_id)


_EXPORT_FILES = ("seal.esl", "cert.pem", "chain.pem", "maker-chain.pem")


def _check_out_dir(out: Path, with_key: bool = False) -> None:
    if out.exists() and not out.is_dir():
        raise CliError(f"{out} is not a directory")
    clash = [n for n in _EXPORT_FILES + (("holder.key",) if with_key else ()) if (out / n).exists()]
    if clash:
        raise CliError(f"{out} already holds {', '.join(clash)}; refusing to overwrite")


def _export(ctx: ServiceContext, es_id: str, out: Path) -> list[str]:
    from .services import seals

    exp = seals.export_seal(ctx, es_id)
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "seal.esl": exp.seal_der,
        "cert.pem": exp.certificate_pem.encode(),
        "chain.pem": exp.chain_pem.encode(),
        "maker-chain.pem": exp.maker_chain_pem.encode(),
    }
    for n, data in files.items():
        tmp = out / f".{n}.tmp"
        tmp.write_bytes(data)
        os.replace(tmp, out / n)
    return list(files)


@seal.command("show")
@click.argument("code")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@handle_errors
def seal_show(code: str, as_json: bool) -> None:
    """Show a seal by its esID."""
    from .services import seals

    info = seals.show_seal(_ctx(), code)
    if as_json:
        click.echo(json.dumps(info, ensure_ascii=False, indent=2))
        return
    for k in (
        "es_id",
        "name",
        "type",
        "type_name_zh",
        "enterprise",
        "uscc",
        "algorithm",
        "status",
        "valid_start",
        "valid_end",
        "maker",
    ):
        click.echo(f"{k:14} {info[k]}")
    for c in info["certificates"]:
        click.echo(f"{'certificate':14} {c['serial']} by {c['issuer']} shard {c['shard']} {c['status']}")


@seal.command("export")
@click.argument("code")
@click.option("--out", required=True, type=click.Path(file_okay=False))
@handle_errors
def seal_export(code: str, out: str) -> None:
    """Write seal.esl (DER), cert.pem, chain.pem and maker-chain.pem into OUT."""
    _check_out_dir(Path(out))
    ctx = _ctx()
    written = _export(ctx, code.strip().upper(), Path(out))
    click.echo(f"wrote {', '.join(written)}")
    click.echo(out)


def _parse_time(text: str | None, what: str):  # type: ignore[no-untyped-def]
    import datetime as dt

    if text is None:
        return None
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise CliError(f"{what} {text!r} is not an ISO 8601 time (e.g. 2026-11-20T08:00:00Z)") from None
    if value.tzinfo is None:
        raise CliError(f"{what} needs a time zone (e.g. 2026-11-20T08:00:00Z or +08:00)")
    return value


@seal.command("revoke")
@click.argument("code")
@click.option(
    "--reason",
    required=True,
    help="keyCompromise, affiliationChanged, superseded, cessationOfOperation, privilegeWithdrawn or unspecified.",
)
@click.option("--invalidity-date", help="When the seal became unusable (ISO 8601), if earlier than now.")
@handle_errors
def seal_revoke(code: str, reason: str, invalidity_date: str | None) -> None:
    """Revoke a seal: its holder certificates go on the next CRLs at the event time."""
    from .services import revocation

    seal_ = revocation.revoke_seal(
        _ctx(), _cli_actor(), code, reason, _parse_time(invalidity_date, "--invalidity-date")
    )
    click.echo(f"revoked {seal_.es_id} ({seal_.revocation_reason}) at {seal_.revoked_at:%Y-%m-%d %H:%M:%S}Z")
    click.echo(seal_.es_id)


@seal.command("suspend")
@click.argument("code")
@click.option("--note", default="")
@handle_errors
def seal_suspend(code: str, note: str) -> None:
    """停用: put the seal's certificates on hold (certificateHold)."""
    from .services import revocation

    seal_ = revocation.suspend_seal(_ctx(), _cli_actor(), code, note)
    click.echo(f"suspended {seal_.es_id}")
    click.echo(seal_.es_id)


@seal.command("resume")
@click.argument("code")
@click.option("--note", default="")
@handle_errors
def seal_resume(code: str, note: str) -> None:
    """恢复: release the hold (removeFromCRL on the next delta CRL)."""
    from .services import revocation

    seal_ = revocation.resume_seal(_ctx(), _cli_actor(), code, note)
    click.echo(f"resumed {seal_.es_id}")
    click.echo(seal_.es_id)


@seal.command("renew")
@click.argument("code")
@click.option("--csr", type=click.Path(dir_okay=False), help="A new key's PKCS#10 request.")
@click.option("--generate-key", is_flag=True, help="Make a new holder key (written to --out).")
@click.option("--out", type=click.Path(file_okay=False), help="Export the new seal into this directory.")
@handle_errors
def seal_renew(code: str, csr: str | None, generate_key: bool, out: str | None) -> None:
    """Issue a new seal for the same enterprise and type and revoke this one as superseded."""
    from .services import seals

    ctx = _ctx()
    with ctx.reader() as session:
        algorithm = seals.find_seal(session, code).algorithm.value  # a new key stays on the seal's hierarchy
    _issue_and_export(
        ctx,
        lambda key: seals.renew_seal(ctx, _cli_actor(), code, key),
        csr=csr,
        public_key=None,
        generate_key=generate_key,
        algorithm=algorithm,
        out=out,
        describe=lambda r: f"renewed {code.strip().upper()} as {r.es_id}; the old seal is revoked (superseded)",
    )


@licence.command("credential")
@click.argument("uscc")
@click.option("--challenge", help="The challenge the portal's sign-in page shows (default: a new one, printed).")
@handle_errors
def licence_credential(uscc: str, challenge: str | None) -> None:
    """Play the e-licence app: a signed credential for USCC answering the portal's challenge (demo
    issuer). The credential is the last line of output."""
    from .services import elicence

    if not challenge:
        challenge = elicence.new_challenge()
        click.echo(f"challenge: {challenge}")
    click.echo(elicence.demo_credential(_ctx(), uscc, challenge))


@licence.command("set-status")
@click.argument("uscc")
@click.argument("status", type=click.Choice(["active", "cancelled", "revoked"]))
@click.option("--name", help="New registered name (a change revokes the seals: affiliationChanged).")
@click.option("--legal-representative", help="New legal representative (same effect).")
@click.option("--entity-type", help="New entity type (same effect).")
@handle_errors
def licence_set_status(
    uscc: str, status: str, name: str | None, legal_representative: str | None, entity_type: str | None
) -> None:
    """A licence event: cancellation or revocation revokes every seal (cessationOfOperation); a
    change of name, legal representative or entity type revokes them (affiliationChanged) and opens
    re-issue applications."""
    from .services import licences

    change = licences.set_licence_status(
        _ctx(),
        _cli_actor(),
        uscc,
        status,
        name=name,
        legal_representative=legal_representative,
        entity_type=entity_type,
    )
    if not change.changes:
        click.echo(f"{change.uscc}: nothing changed")
    for field_name, (old, new) in change.changes.items():
        click.echo(f"{change.uscc}: {field_name} {old} → {new}")
    for es_id in change.revoked_seals:
        click.echo(f"revoked {es_id}")
    click.echo(change.uscc)


@main.group("crl")
def crl_group() -> None:
    """Certificate revocation lists."""


@crl_group.command("publish")
@click.option("--issuer", "issuers", multiple=True, help="Only this CRL issuer (repeatable), e.g. sm2-issuing.")
@click.option("--all-shards", is_flag=True, help="Re-publish every shard, not only changed or due ones.")
@handle_errors
def crl_publish(issuers: tuple[str, ...], all_shards: bool) -> None:
    """Publish full, delta and shard CRLs; prints each CRL written with its number."""
    from .services import crl_publish as pub

    ctx = _ctx()
    for p in pub.publish(ctx, _cli_actor(), list(issuers) or None, all_shards=all_shards):
        base = f" base {p.base_number}" if p.base_number is not None else ""
        click.echo(f"{p.path:36} number {p.number:<6} {p.kind:5}{base} entries {p.entries:<8} {p.size} bytes")


@crl_group.command("daemon")
@click.option(
    "--interval",
    type=click.FloatRange(0.2, 3600),
    help="Seconds between checks (default REGISTRY_CRL_PUBLISH_INTERVAL).",
)
@click.option("--max-seconds", type=click.FloatRange(0, None), default=None, help="Stop after this long.")
@handle_errors
def crl_daemon(interval: float | None, max_seconds: float | None) -> None:
    """Publish within seconds of each revocation and before CRLs go stale; runs until stopped."""
    from .services import crl_publish as pub

    ctx = _ctx()
    from .services import ocsp

    for line in pub.run_publisher(
        ctx, _cli_actor(), interval=interval, max_seconds=max_seconds, also=ocsp.refresher(ctx)
    ):  # OCSP responses refreshed at half-life
        click.echo(line, nl=True)


@main.group("ocsp")
def ocsp_group() -> None:
    """The OCSP responder's pre-signed responses (served at /ocsp)."""


@ocsp_group.command("refresh")
@click.option(
    "--batch",
    default=500,
    show_default=True,
    type=click.IntRange(1, 100_000),
    help="Responses signed per write transaction.",
)
@handle_errors
def ocsp_refresh(batch: int) -> None:
    """Re-sign the responses past half their validity and sign any missing one."""
    from .services import ocsp

    click.echo(str(ocsp.refresh(_ctx(), batch=batch)))


@main.group("ca")
def ca_group() -> None:
    """Our CA and seal-maker certificates."""


@ca_group.command("revoke")
@click.argument("name")
@click.option(
    "--reason",
    required=True,
    help="keyCompromise, cACompromise, affiliationChanged, superseded, cessationOfOperation or unspecified.",
)
@handle_errors
def ca_revoke(name: str, reason: str) -> None:
    """Revoke an issuing CA or seal-maker certificate (listed on the root's CRL); it stops issuing."""
    from .services import revocation

    auth = revocation.revoke_authority(_ctx(), _cli_actor(), name, reason)
    click.echo(f"revoked the certificate of {auth.name}; it no longer issues")
    click.echo(auth.name)


@main.group("audit")
def audit_group() -> None:
    """The audit log."""


@audit_group.command("verify")
def audit_verify() -> None:
    """Check the audit log's hash chain: every event's hash, every link, and the chain head.

    Prints one line: the chain is intact (events, head seq and hash), or the first event that was
    changed, removed or inserted behind the application's back. The chain is then compared with the
    newest signed checkpoint (`registry audit checkpoint`): it must reach the checkpoint's event and
    hold the hash it recorded. Exit status: 0 intact, 1 tampered, 2 the check could not run.
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from .services import audit

    try:
        settings = Settings.from_env()
        url = make_url(settings.database_url)
        if (
            url.get_backend_name() == "sqlite"
            and url.database not in (None, "", ":memory:")
            and not Path(url.database).is_file()
        ):
            raise CliError(f"no database at {url.database}: run `registry init` first")
        report = audit.verify_audit_chain(_ctx(), _cli_actor())
    except DomainError as exc:
        raise CliError(str(exc)) from None
    except SQLAlchemyError as exc:
        raise CliError(f"cannot read the audit log: {str(exc).splitlines()[0]}") from None
    click.echo(report.summary())
    sys.exit(0 if report.ok else 1)


@audit_group.command("checkpoint")
@handle_errors
def audit_checkpoint() -> None:
    """Sign the audit chain's head (seq and hash) with the SM2 root key into a numbered checkpoint
    file under <publish dir>/audit/ (each CRL publish run does the same). `registry audit verify`
    fails if the chain later ends before a checkpoint or disagrees with it. Copy the files off the
    machine: they are public and signed."""
    from .services import audit_anchor, crl_publish

    ctx = _ctx()
    with crl_publish.publish_lock(ctx.settings.publish_dir):
        cp = audit_anchor.make_checkpoint(ctx)
        if cp is None:
            newest = audit_anchor.newest_checkpoint(ctx)
            assert newest is not None
            click.echo(f"{newest} already records the chain head: {newest.path}")
            return
    click.echo(f"{cp}: head seq {cp.seq} hash {cp.hash} signed by {cp.signer} -> {cp.path}")


# -- notifications -------------------------------------------------------------------------------


@main.group("notify")
def notify_group() -> None:
    """E-mail notices to enterprises: at most one digest per enterprise per day."""


@notify_group.command("run")
@click.option(
    "--every",
    type=click.FloatRange(0.1, 86400),
    metavar="SECONDS",
    help="Run again every SECONDS until stopped (for a service); default: one pass.",
)
@click.option("--rounds", type=click.IntRange(1, None), help="With --every: stop after this many passes.")
@handle_errors
def notify_run(every: float | None, rounds: int | None) -> None:
    """Collect notices (audit log since the last run, the daily expiry scan) and send each
    enterprise's digest. One pass prints what it did; exit status 1 if a digest could not be sent
    (it is retried by the next run). A second run while one holds the lease is skipped."""
    from .services import notify

    ctx = _ctx()
    if every is None:
        report = notify.run_once(ctx, _cli_actor())
        for line in report.lines():
            click.echo(line)
        sys.exit(1 if report.failed else 0)
    for line in notify.run_loop(ctx, _cli_actor(), every=every, rounds=rounds):
        click.echo(line)


# -- verification and the signing helper -------------------------------------------------------


@main.command("verify")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--document", type=click.Path(dir_okay=False), help="The signed file, for an SES_Signature (checks its digest)."
)
@click.option("--at", "at", help="Judge as of this time (ISO 8601) instead of now.")
def verify_cmd(file: str, document: str | None, at: str | None) -> None:
    """Verify an electronic seal (.esl), an SES_Signature or a sealed OFD document.

    Prints the verdict as JSON, every check with its reason in Chinese and English. Exit status:
    0 valid, 1 invalid (or undecided), 2 the file could not be read at all.
    """
    from .services import verify as verify_service

    try:
        ctx = _ctx()
        limit = ctx.settings.verify_max_bytes
        data = _read(file, "file", limit)
        doc = _read(document, "document", limit) if document else None
        report = verify_service.verify_file(ctx, data, document=doc, at=_parse_time(at, "--at"))
    except (DomainError, KeyFormatError) as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc)) from None
    click.echo(json.dumps(report.to_json(), ensure_ascii=False, indent=2))
    sys.exit(0 if report.valid else 1)


@main.command("sign")
@click.option("--seal", "seal_path", required=True, type=click.Path(dir_okay=False), help="The seal (.esl).")
@click.option(
    "--key",
    "key_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="The holder's private key (PEM, PKCS#8 or SEC1).",
)
@click.option(
    "--cert",
    "cert_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="The holder's certificate, one the seal lists (PEM or DER).",
)
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Where to write the SES_Signature.")
@handle_errors
def sign_cmd(seal_path: str, key_path: str, cert_path: str, file: str, out: str) -> None:
    """Make a GB/T 38540 v4 SES_Signature over FILE with a seal (the enterprise-side helper).

    Refuses, writing nothing, if the signature would not verify as valid now (revoked, suspended
    or expired seal or certificate, a key that doesn't match, a certificate the seal doesn't list).
    """
    from .pki.keys import PrivateKey
    from .services import signing

    target = Path(out)
    if target.exists():
        raise CliError(f"--out {out} already exists; choose a new file")
    ctx = _ctx()
    limit = ctx.settings.verify_max_bytes
    result = signing.sign_file(
        ctx,
        seal=_read(seal_path, "seal"),
        key=PrivateKey.from_pem(_read(key_path, "key", 64 * 1024)),
        certificate=_read(cert_path, "certificate", 64 * 1024),
        data=_read(file, "file", limit),
        file_name=Path(file).name,
    )
    tmp = target.with_name(f".{target.name}.tmp{os.getpid()}")
    try:
        tmp.write_bytes(result.signature)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    item = result.report.items[0]
    click.echo(
        f"signed {Path(file).name} ({item.summary.get('property_info')}) with seal "
        f"{item.summary['seal']['es_id']} at {item.summary.get('signing_time')}"
    )
    click.echo(out)


if __name__ == "__main__":  # pragma: no cover
    main()
