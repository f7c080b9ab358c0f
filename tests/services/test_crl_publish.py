"""Published CRLs, checked by OpenSSL and pyhanko-certvalidator (issue: revocation and CRLs)."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from registry.db import crl_entries
from registry.db.models import PublishedCrl
from registry.domain.errors import Conflict
from registry.domain.seal_types import STANDARD_SET
from registry.pki import crl, der, x509
from registry.pki.crl import CrlReason
from registry.services import licences, revocation, seals
from registry.services.context import ServiceContext
from registry.services.crls import publish as crl_publish
from tests.support.cli import publisher_env
from tests.support.data import ADMIN, NOW, SHENZHEN_USCC
from tests.support.seals import issue_many
from tests.support.seals import issue_with_algorithm as issue

AT = NOW + dt.timedelta(hours=1)  # verification time: independent of the day the tests run


def publish(ctx: ServiceContext) -> dict[str, crl_publish.Published]:
    return {p.path: p for p in crl_publish.publish(ctx, ADMIN)}


def crl_bytes(ctx: ServiceContext, rel: str) -> bytes:
    return (ctx.settings.publish_dir / rel).read_bytes()


def shard_of(ctx: ServiceContext, r: seals.IssueResult) -> int:
    return x509.Certificate.from_der(r.certificate_der).serial % ctx.settings.crl_shards


def entries(ctx: ServiceContext, rel: str) -> dict[int, CrlReason | None]:
    return {e.serial: e.reason for e in crl.parse_crl(crl_bytes(ctx, rel)).entries()}


def write_pem(path: Path, ders: list[bytes], label: str = "CERTIFICATE") -> Path:
    path.write_text("".join(der.der_to_pem(d, label) for d in ders))
    return path


def openssl_verify(
    tmp_path: Path, chain: list[bytes], crl_der: bytes, cert_der: bytes
) -> subprocess.CompletedProcess[str]:
    ca = write_pem(tmp_path / "ca.pem", chain)
    crl_file = write_pem(tmp_path / "crl.pem", [crl_der], "X509 CRL")
    leaf = write_pem(tmp_path / "leaf.pem", [cert_der])
    return subprocess.run(
        [
            "openssl",
            "verify",
            "-attime",
            str(int(AT.timestamp())),
            "-crl_check",
            "-CRLfile",
            str(crl_file),
            "-CAfile",
            str(ca),
            str(leaf),
        ],
        capture_output=True,
        text=True,
    )


# -- the ECDSA hierarchy through OpenSSL and pyhanko-certvalidator -------------------------------------


def test_revoked_ecdsa_certificate_is_reported_revoked_from_full_and_shard_crl(
    ctx: ServiceContext, tmp_path: Path, openssl: str
) -> None:
    a, b = issue(ctx, "ecdsa"), issue(ctx, "ecdsa", "contract")
    ctx.clock.advance(minutes=10)
    revocation.revoke_seal(ctx, ADMIN, a.es_id, "keyCompromise")
    published = publish(ctx)
    full = crl_bytes(ctx, "ecdsa-issuing.crl")
    shard = crl_bytes(ctx, f"ecdsa-issuing/shard-{shard_of(ctx, a)}.crl")
    assert published["ecdsa-issuing.crl"].entries == 1
    for name, data in (("full", full), ("shard", shard)):
        v = openssl_verify(tmp_path, a.chain_der, data, a.certificate_der)
        assert v.returncode != 0 and "error 23" in v.stdout + v.stderr and "revoked" in v.stdout + v.stderr, (name, v)
    ok = openssl_verify(tmp_path, b.chain_der, full, b.certificate_der)
    assert ok.returncode == 0 and ok.stdout.strip().endswith(": OK"), ok


def test_pyhanko_certvalidator_raises_revoked_from_full_and_shard_crl(ctx: ServiceContext) -> None:
    import asyncio

    from asn1crypto import crl as a_crl
    from asn1crypto import x509 as a_x509
    from pyhanko_certvalidator import CertificateValidator, ValidationContext
    from pyhanko_certvalidator.errors import RevokedError

    a, b = issue(ctx, "ecdsa"), issue(ctx, "ecdsa", "contract")
    ctx.clock.advance(minutes=10)
    revocation.revoke_seal(ctx, ADMIN, a.es_id, "keyCompromise")
    publish(ctx)
    # a verifier also fetches the delta CRLs the Freshest CRL pointers name (hard-fail insists)
    root_crls = [crl_bytes(ctx, "ecdsa-root.crl"), crl_bytes(ctx, "ecdsa-root-delta.crl")]
    delta = crl_bytes(ctx, "ecdsa-issuing-delta.crl")
    issuing, root = a.chain_der

    def validator(cert_der: bytes, crls: list[bytes]) -> CertificateValidator:
        vc = ValidationContext(
            trust_roots=[a_x509.Certificate.load(root)],
            other_certs=[a_x509.Certificate.load(issuing)],
            crls=[a_crl.CertificateList.load(c) for c in crls],
            revocation_mode="hard-fail",
            moment=AT,
            allow_fetching=False,
        )
        return CertificateValidator(a_x509.Certificate.load(cert_der), validation_context=vc)

    for crls in (
        [crl_bytes(ctx, "ecdsa-issuing.crl"), delta, *root_crls],
        [crl_bytes(ctx, f"ecdsa-issuing/shard-{shard_of(ctx, a)}.crl"), *root_crls],
    ):
        with pytest.raises(RevokedError):
            asyncio.run(validator(a.certificate_der, crls).async_validate_usage({"digital_signature"}))
    path = asyncio.run(
        validator(b.certificate_der, [crl_bytes(ctx, "ecdsa-issuing.crl"), delta, *root_crls]).async_validate_usage(
            {"digital_signature", "non_repudiation"}
        )
    )
    assert path is not None


# -- the SM2 hierarchy: OpenSSL 3.0 can check the signature only over the extracted TBS -------------------


def test_sm2_crl_signature_verifies_with_openssl_over_the_extracted_tbs(
    ctx: ServiceContext, tmp_path: Path, openssl: str
) -> None:
    r = issue(ctx, "sm2")
    revocation.revoke_seal(ctx, ADMIN, r.es_id, "keyCompromise")
    publish(ctx)
    data = crl_bytes(ctx, "sm2-issuing.crl")
    (tmp_path / "crl.der").write_bytes(data)
    top = der.parse(data)
    ap = subprocess.run(
        [
            "openssl",
            "asn1parse",
            "-inform",
            "DER",
            "-in",
            "crl.der",
            "-strparse",
            str(top.header_len),
            "-noout",
            "-out",
            "tbs.der",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert ap.returncode == 0, ap.stderr
    (tmp_path / "sig.der").write_bytes(top.children()[2].as_bit_string())
    issuing = x509.Certificate.from_der(r.chain_der[0])
    (tmp_path / "issuer.pem").write_text(issuing.public_key.pem())
    v = subprocess.run(
        [
            "openssl",
            "dgst",
            "-sm3",
            "-verify",
            "issuer.pem",
            "-sigopt",
            "distid:1234567812345678",
            "-signature",
            "sig.der",
            "tbs.der",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert v.stdout.strip() == "Verified OK", v.stdout + v.stderr
    text = subprocess.run(
        ["openssl", "crl", "-inform", "DER", "-in", "crl.der", "-text", "-noout"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    ).stdout
    serial_hex = format(x509.Certificate.from_der(r.certificate_der).serial, "X")
    assert serial_hex in text.replace(":", "").upper() and "Key Compromise" in text
    assert "SM2-with-SM3" in text or "sm2sign-with-sm3" in text.lower()


# -- hold and release, licence events ---------------------------------------------------------------------


def test_suspend_lists_hold_then_resume_puts_remove_from_crl_on_the_next_delta(ctx: ServiceContext) -> None:
    r = issue(ctx, "ecdsa")
    serial = x509.Certificate.from_der(r.certificate_der).serial
    revocation.suspend_seal(ctx, ADMIN, r.es_id)
    first = publish(ctx)
    assert entries(ctx, "ecdsa-issuing.crl")[serial] is CrlReason.CERTIFICATE_HOLD
    ctx.clock.advance(hours=1)
    revocation.resume_seal(ctx, ADMIN, r.es_id)
    second = publish(ctx)
    delta = crl.parse_crl(crl_bytes(ctx, "ecdsa-issuing-delta.crl"))
    assert delta.delta_base == first["ecdsa-issuing.crl"].number
    assert delta.number == second["ecdsa-issuing-delta.crl"].number > second["ecdsa-issuing.crl"].number
    assert {e.serial: e.reason for e in delta.entries()} == {serial: CrlReason.REMOVE_FROM_CRL}
    assert serial not in entries(ctx, "ecdsa-issuing.crl")


def test_licence_cancellation_puts_all_four_seals_on_the_next_crls(ctx: ServiceContext) -> None:
    results = issue_many(ctx, [t.code for t in STANDARD_SET])
    before = publish(ctx)
    licences.set_licence_status(ctx, ADMIN, SHENZHEN_USCC, "cancelled")
    assert crl_publish.pending(ctx) == ["sm2-issuing"]
    publish(ctx)
    serials = {x509.Certificate.from_der(r.certificate_der).serial for r in results}
    full = entries(ctx, "sm2-issuing.crl")
    assert {s: full[s] for s in serials} == {s: CrlReason.CESSATION_OF_OPERATION for s in serials}
    delta = crl.parse_crl(crl_bytes(ctx, "sm2-issuing-delta.crl"))
    assert delta.delta_base == before["sm2-issuing.crl"].number
    assert {e.serial for e in delta.entries()} == serials
    for r in results:
        assert x509.Certificate.from_der(r.certificate_der).serial in entries(
            ctx, f"sm2-issuing/shard-{shard_of(ctx, r)}.crl"
        )


def test_expired_entries_leave_the_crl_unless_configured_to_stay(ctx: ServiceContext) -> None:
    r = issue(ctx, "ecdsa")
    serial = x509.Certificate.from_der(r.certificate_der).serial
    revocation.revoke_seal(ctx, ADMIN, r.es_id, "keyCompromise")
    ctx.clock.advance(days=ctx.settings.seal_validity_days + 2)
    publish(ctx)
    assert serial not in entries(ctx, "ecdsa-issuing.crl")
    ctx.settings = ctx.settings.with_overrides(crl_keep_expired=True)
    ctx.clock.advance(minutes=1)
    publish(ctx)
    assert serial in entries(ctx, "ecdsa-issuing.crl")


# -- numbers and files --------------------------------------------------------------------------------------


def test_crl_numbers_strictly_increase_across_full_delta_and_shards(ctx: ServiceContext) -> None:
    for _i in range(3):
        r = issue(ctx, "sm2")
        revocation.revoke_seal(ctx, ADMIN, r.es_id, "superseded")
        ctx.clock.advance(minutes=1)
        publish(ctx)
    with ctx.reader() as s:
        rows = s.execute(select(PublishedCrl.issuer_id, PublishedCrl.number).order_by(PublishedCrl.id)).all()
    by_issuer: dict[int, list[int]] = {}
    for issuer, number in rows:
        by_issuer.setdefault(issuer, []).append(number)
    for numbers in by_issuer.values():
        assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)


def test_publishing_refuses_to_replace_a_crl_with_a_lower_or_equal_number(ctx: ServiceContext) -> None:
    published = publish(ctx)
    path = ctx.settings.publish_dir / "sm2-issuing.crl"
    before = path.read_bytes()
    number = published["sm2-issuing.crl"].number
    for lower in (number, number - 1):
        with pytest.raises(Conflict, match=f"refusing to replace CRL number {number}"):
            crl_publish.write_atomically(path, b"new bytes", lower)
    assert path.read_bytes() == before
    assert not list(path.parent.glob(".*.tmp"))


def test_publisher_killed_between_write_and_rename_leaves_the_old_crl_and_the_next_run_recovers(
    ctx: ServiceContext, tmp_path: Path
) -> None:
    publish(ctx)
    path = ctx.settings.publish_dir / "sm2-root.crl"
    before = path.read_bytes()
    marker = tmp_path / "paused"
    exe = Path(sys.executable).parent / "registry"
    proc = subprocess.Popen(
        [str(exe), "crl", "publish", "--issuer", "sm2-root"],
        env=publisher_env(ctx, REGISTRY_TEST_HOLD_BEFORE_RENAME=str(marker)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        for _ in range(300):  # bounded: at most 30 s for the subprocess to reach the pause
            if marker.exists():
                break
            time.sleep(0.1)
        assert marker.exists(), proc.stderr.read() if proc.poll() is not None else "publisher never paused"
        temp = Path(marker.read_text())
        assert temp.exists() and temp.read_bytes() != before
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert path.read_bytes() == before  # the served CRL is untouched
    old_number = crl.parse_crl(before).number
    # The lease of the killed publisher blocks others until it expires; the next run after that recovers.
    from registry.db.models import Lease

    with ctx.transaction() as s:
        lease = s.get(Lease, "crl:sm2-root")
        assert lease is not None
        lease.expires_at = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    again = {p.path: p for p in crl_publish.publish(ctx, ADMIN, ["sm2-root"])}
    assert again["sm2-root.crl"].number > old_number
    assert crl.parse_crl(path.read_bytes()).number == again["sm2-root.crl"].number
    assert not list(ctx.settings.publish_dir.rglob(".*.tmp"))


_RESERVE = """
import sys
from registry.config import Settings
from registry.services.context import Actor, ServiceContext
from registry.services.crls.publish import _reserve_numbers
ctx = ServiceContext.create(Settings.from_env())
who = Actor.system("crl-publisher")
print(" ".join(str(_reserve_numbers(ctx, who, int(sys.argv[1]), 3)) for _ in range(60)))
"""


def test_concurrent_publishers_never_duplicate_or_reverse_a_number(ctx: ServiceContext) -> None:
    publish(ctx)
    from registry.db.models import Authority

    with ctx.reader() as s:
        issuer_id = s.scalar(select(Authority.id).where(Authority.name == "sm2-issuing"))
    env = publisher_env(ctx)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _RESERVE, str(issuer_id)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1] for o in outs]
    runs = [[int(x) for x in out.split()] for out, _err in outs]
    numbers = [n + k for run in runs for n in run for k in range(3)]
    assert len(numbers) == len(set(numbers)) == 2 * 60 * 3  # never the same number twice
    for run in runs:
        assert run == sorted(run)  # never backwards within a publisher
    # and whole publish runs from two processes at once: the lease lets one through at a time
    exe = Path(sys.executable).parent / "registry"
    procs = [
        subprocess.Popen(
            [str(exe), "crl", "publish", "--issuer", "sm2-issuing"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    ok = [p.returncode == 0 for p in procs]
    assert any(ok), outs
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0 or ("being published" in err and p.returncode == 2), (out, err)
    with ctx.reader() as s:
        rows = s.execute(
            select(PublishedCrl.path, PublishedCrl.number)
            .where(PublishedCrl.issuer_id == issuer_id)
            .order_by(PublishedCrl.id)
        ).all()
    last: dict[str, int] = {}
    for path, number in rows:
        assert number > last.get(path, -1)
        last[path] = number
    assert crl.parse_crl((ctx.settings.publish_dir / "sm2-issuing.crl").read_bytes()).number == last["sm2-issuing.crl"]


def test_publisher_loop_publishes_what_changed_and_then_idles(ctx: ServiceContext) -> None:
    import threading

    publish(ctx)
    assert crl_publish.pending(ctx) == []
    r = issue(ctx, "ecdsa")
    revocation.revoke_seal(ctx, ADMIN, r.es_id, "keyCompromise")
    assert crl_publish.pending(ctx) == ["ecdsa-issuing"]
    stop = threading.Event()
    lines = []
    for line in crl_publish.run_publisher(ctx, ADMIN, interval=0.2, stop=stop):
        lines.append(line)
        if line.startswith("ecdsa-issuing-delta.crl"):
            stop.set()
    assert any(line.startswith("ecdsa-issuing.crl number") for line in lines)
    assert not any(line.startswith(("sm2-", "ecdsa-root")) for line in lines)  # only the issuer that changed
    assert crl_publish.pending(ctx) == []
    serial = x509.Certificate.from_der(r.certificate_der).serial
    assert entries(ctx, "ecdsa-issuing.crl")[serial] is CrlReason.KEY_COMPROMISE
    # half-way to nextUpdate everything is due again, with no change at all
    ctx.clock.advance(hours=ctx.settings.crl_validity_hours / 2 + 0.1)
    assert sorted(crl_publish.pending(ctx)) == sorted(crl_publish.crl_issuers(ctx))


def test_publisher_loop_reports_an_error_and_keeps_going(ctx: ServiceContext, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import threading

    calls = {"n": 0}
    real = crl_publish.publish

    def flaky(ctx_, actor, names=None, **kw):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if names == ["sm2-root"]:
            raise OSError(28, "No space left on device")
        return real(ctx_, actor, names, **kw)

    monkeypatch.setattr(crl_publish, "publish", flaky)
    stop = threading.Event()
    lines = []
    for line in crl_publish.run_publisher(ctx, ADMIN, interval=0.2, stop=stop):
        lines.append(line)
        if line.startswith("ecdsa-issuing-delta.crl"):
            stop.set()
    assert any("publishing sm2-root failed: OSError" in line for line in lines)
    assert any(line.startswith("sm2-issuing.crl number") for line in lines)  # the others still published
    assert crl_publish.pending(ctx) == ["sm2-root"]


def test_full_crl_read_in_id_ranges_holds_every_entry_once(ctx: ServiceContext, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A large full CRL is read in id ranges (on PostgreSQL dealt to several connections sharing one
    snapshot); forcing that path on a small table, one id per range, must give exactly the entries of
    a single read (tests/services/test_crl_entries_read.py compares the bytes)."""
    monkeypatch.setattr(crl_entries, "PARALLEL_MIN_ROWS", 1)
    monkeypatch.setattr(crl_entries, "PG_CHUNK_IDS", 1)
    monkeypatch.setattr(crl_entries, "SQLITE_CHUNK_IDS", 1)
    results = issue_many(ctx, ["01", "02", "03", "04", "05", "99"])
    for r in results:
        revocation.revoke_seal(ctx, ADMIN, r.es_id, "keyCompromise")
    published = publish(ctx)
    serials = sorted(x509.Certificate.from_der(r.certificate_der).serial for r in results)
    listed = [e.serial for e in crl.parse_crl(crl_bytes(ctx, "sm2-issuing.crl")).entries()]
    assert sorted(listed) == serials and published["sm2-issuing.crl"].entries == 6
