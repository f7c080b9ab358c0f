"""``registry seal``: issue (under dual control, or break-glass), renew, revoke, suspend, resume,
show and export electronic seals."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import click

from ..pki.keys import Algorithm, PrivateKey
from ..services import counter_auth, revocation, seals
from ..services.context import ServiceContext
from .base import CliError, State, main, parse_time, pass_state, read_file, secret, write_private


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
@pass_state
def seal_issue(
    state: State,
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
    Without them: --break-glass REASON (see the dual-control policy in docs/cli.md)."""
    cli_user = state.actor
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
            picture_png=read_file(image, "image") if image else None,
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
            picture_png=read_file(image, "image") if image else None,
        )
    ctx = state.ctx
    if break_glass is None:
        assert operator and approver
        if operator.strip().lower() == approver.strip().lower():
            raise CliError("dual control: the operator and the approver must be two different people")
        counter_auth.check_eligible(ctx, approver, "approver")
        counter_auth.check_eligible(ctx, operator, "operator")
        password = secret("REGISTRY_OPERATOR_PASSWORD", f"Password of operator {operator}")
        counter_auth.confirm(
            ctx,
            cli_user,
            operator,
            "operator",
            secret("REGISTRY_OPERATOR_CODE", f"Code of operator {operator}"),
            password=password,
        )
        counter_auth.confirm(
            ctx,
            cli_user,
            approver,
            "approver",
            secret("REGISTRY_APPROVER_CODE", f"Approver {approver}: your code to approve"),
        )

    def issue(key: seals.KeyMaterial) -> seals.IssueResult:
        return seals.issue_seal(ctx, cli_user, replace(req, key=key))

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


@seal.command("renew")
@click.argument("code")
@click.option("--csr", type=click.Path(dir_okay=False), help="A new key's PKCS#10 request.")
@click.option("--generate-key", is_flag=True, help="Make a new holder key (written to --out).")
@click.option("--out", type=click.Path(file_okay=False), help="Export the new seal into this directory.")
@pass_state
def seal_renew(state: State, code: str, csr: str | None, generate_key: bool, out: str | None) -> None:
    """Issue a new seal for the same enterprise and type and revoke this one as superseded."""
    ctx = state.ctx
    _issue_and_export(
        ctx,
        lambda key: seals.renew_seal(ctx, state.actor, code, key),
        csr=csr,
        public_key=None,
        generate_key=generate_key,
        algorithm=seals.renewal_key_algorithm(ctx, code),
        out=out,
        describe=lambda r: f"renewed {code.strip().upper()} as {r.es_id}; the old seal is revoked (superseded)",
    )


def _issue_and_export(
    ctx: ServiceContext,
    issue: Callable[[seals.KeyMaterial], seals.IssueResult],
    *,
    csr: str | None,
    public_key: str | None,
    generate_key: bool,
    algorithm: str,
    out: str | None,
    describe: Callable[[seals.IssueResult], str],
) -> None:
    """Shared by `seal issue` and `seal renew`. With --generate-key the holder key is made here and
    written to OUT/holder.key (mode 0600) *before* the seal is issued, so a seal never exists whose
    key was lost; if the issuance is refused, the key file (and OUT, if this made it) is removed."""
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
        write_private(key_file, holder.pem())
        material = seals.KeyMaterial(public_key_pem=holder.public_key.pem().encode())
    else:
        material = seals.KeyMaterial(
            csr=read_file(csr, "certificate request") if csr else None,
            public_key_pem=read_file(public_key, "public key") if public_key else None,
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
@pass_state
def seal_show(state: State, code: str, as_json: bool) -> None:
    """Show a seal by its esID."""
    info = seals.show_seal(state.ctx, code)
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
@pass_state
def seal_export(state: State, code: str, out: str) -> None:
    """Write seal.esl (DER), cert.pem, chain.pem and maker-chain.pem into OUT."""
    _check_out_dir(Path(out))
    written = _export(state.ctx, code.strip().upper(), Path(out))
    click.echo(f"wrote {', '.join(written)}")
    click.echo(out)


@seal.command("revoke")
@click.argument("code")
@click.option(
    "--reason",
    required=True,
    help="keyCompromise, affiliationChanged, superseded, cessationOfOperation, privilegeWithdrawn or unspecified.",
)
@click.option("--invalidity-date", help="When the seal became unusable (ISO 8601), if earlier than now.")
@pass_state
def seal_revoke(state: State, code: str, reason: str, invalidity_date: str | None) -> None:
    """Revoke a seal: its holder certificates go on the next CRLs at the event time."""
    seal_ = revocation.revoke_seal(
        state.ctx, state.actor, code, reason, parse_time(invalidity_date, "--invalidity-date")
    )
    click.echo(f"revoked {seal_.es_id} ({seal_.revocation_reason}) at {seal_.revoked_at:%Y-%m-%d %H:%M:%S}Z")
    click.echo(seal_.es_id)


@seal.command("suspend")
@click.argument("code")
@click.option("--note", default="")
@pass_state
def seal_suspend(state: State, code: str, note: str) -> None:
    """停用: put the seal's certificates on hold (certificateHold)."""
    seal_ = revocation.suspend_seal(state.ctx, state.actor, code, note)
    click.echo(f"suspended {seal_.es_id}")
    click.echo(seal_.es_id)


@seal.command("resume")
@click.argument("code")
@click.option("--note", default="")
@pass_state
def seal_resume(state: State, code: str, note: str) -> None:
    """恢复: release the hold (removeFromCRL on the next delta CRL)."""
    seal_ = revocation.resume_seal(state.ctx, state.actor, code, note)
    click.echo(f"resumed {seal_.es_id}")
    click.echo(seal_.es_id)
