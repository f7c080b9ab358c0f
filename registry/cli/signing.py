"""The enterprise's side and the relying party's: ``registry keygen`` (a key pair and a request),
``registry sign`` (an SES_Signature with a seal) and ``registry verify``."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from ..pki.csr import build_csr
from ..pki.keys import Algorithm, PrivateKey
from ..pki.uscc import UsccError, validate_uscc
from ..pki.x509 import Name
from ..services import signing
from ..services import verify as verify_service
from .base import CliError, State, main, parse_time, pass_state, read_file, write_private


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
def keygen(algorithm: str, uscc: str, name: str, key_out: str, csr_out: str) -> None:
    """Enterprise side: make a key pair and a PKCS#10 request carrying the USCC.

    The subject is C=CN, CN=<name or USCC>, organizationIdentifier=<USCC>; an SM2 request is signed
    with SM3 and the GM/T 0009 user ID. The key is written with mode 0600; neither file may exist."""
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
    write_private(Path(key_out), key.pem())
    try:
        fd = os.open(csr_out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        with os.fdopen(fd, "w") as fh:
            fh.write(csr)
    except BaseException:
        Path(key_out).unlink(missing_ok=True)  # nothing written: no key without its request
        raise
    click.echo(f"key: {key_out} ({key.algorithm.label})")
    click.echo(csr_out)


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
@pass_state
def sign_cmd(state: State, seal_path: str, key_path: str, cert_path: str, file: str, out: str) -> None:
    """Make a GB/T 38540 v4 SES_Signature over FILE with a seal (the enterprise-side helper).

    Refuses, writing nothing, if the signature would not verify as valid now (revoked, suspended
    or expired seal or certificate, a key that doesn't match, a certificate the seal doesn't list).
    """
    target = Path(out)
    if target.exists():
        raise CliError(f"--out {out} already exists; choose a new file")
    ctx = state.ctx
    limit = ctx.settings.verify_max_bytes
    result = signing.sign_file(
        ctx,
        seal=read_file(seal_path, "seal"),
        key=PrivateKey.from_pem(read_file(key_path, "key", 64 * 1024)),
        certificate=read_file(cert_path, "certificate", 64 * 1024),
        data=read_file(file, "file", limit),
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


@main.command("verify")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--document", type=click.Path(dir_okay=False), help="The signed file, for an SES_Signature (checks its digest)."
)
@click.option("--at", "at", help="Judge as of this time (ISO 8601) instead of now.")
@pass_state
def verify_cmd(state: State, file: str, document: str | None, at: str | None) -> None:
    """Verify an electronic seal (.esl), an SES_Signature or a sealed OFD document.

    Prints the verdict as JSON, every check with its reason in Chinese and English. Exit status:
    0 valid, 1 invalid (or undecided), 2 the file could not be read at all.
    """
    ctx = state.ctx
    limit = ctx.settings.verify_max_bytes
    data = read_file(file, "file", limit)
    doc = read_file(document, "document", limit) if document else None
    report = verify_service.verify_file(ctx, data, document=doc, at=parse_time(at, "--at"))
    click.echo(json.dumps(report.to_json(), ensure_ascii=False, indent=2))
    sys.exit(0 if report.valid else 1)
