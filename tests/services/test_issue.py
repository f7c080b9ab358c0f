"""Seal issuance through the service layer, on every configured database backend."""

from __future__ import annotations

import concurrent.futures as cf

import pytest
from sqlalchemy import func, select

from registry.db.models import AuditEvent, Certificate, Seal, SealApplication
from registry.domain.errors import Conflict, NotFound, PermissionDenied, ValidationError
from registry.domain.esid import validate_esid
from registry.domain.roles import Role
from registry.domain.states import ApplicationState
from registry.pki import ses, x509
from registry.pki.keys import Algorithm, PrivateKey
from registry.services import authorities, seals
from registry.services.context import Actor, ServiceContext
from registry.services.core import issuance
from tests.support.data import ADMIN, CANCELLED_USCC, NOW, OTHER_USCC, SHENZHEN_USCC, UNKNOWN_USCC
from tests.support.pki import csr_for
from tests.support.seals import issue_request
from tests.support.seals import issue_with as issue


@pytest.mark.parametrize("alg", list(Algorithm))
def test_issued_seal_binds_holder_certificate_and_verifies(ctx: ServiceContext, alg: Algorithm) -> None:
    key, csr = csr_for(SHENZHEN_USCC, alg, common_name="holder")
    r = issue(ctx, key=seals.KeyMaterial(csr=csr), seal_type="contract")
    parsed = ses.parse_seal(r.seal_der)
    assert parsed.generation == "v4" and parsed.version == 4
    assert parsed.es_id == r.es_id and validate_esid(r.es_id) == r.es_id
    assert parsed.property.name == "深圳市前海示范科技有限公司合同专用章"
    assert parsed.property.type == 4
    assert parsed.property.cert_list_type == 1
    assert parsed.property.certificates == (r.certificate_der,)
    assert parsed.property.valid_start == NOW
    assert parsed.picture.type == "PNG" and parsed.picture.width == 40
    assert ses.verify_seal_signature(parsed)
    holder = x509.Certificate.from_der(r.certificate_der)
    assert holder.public_key == key.public_key
    assert holder.subject.get("2.5.4.97") == SHENZHEN_USCC
    assert holder.key_usage == {"digitalSignature", "nonRepudiation"}
    issuing = x509.Certificate.from_der(r.chain_der[0])
    assert holder.verify_signature(issuing.public_key)
    maker = x509.Certificate.from_der(parsed.maker_cert)
    assert maker.verify_signature(x509.Certificate.from_der(r.chain_der[-1]).public_key)
    assert holder.serial > 0 and holder.serial.bit_length() >= 64


def test_holder_certificate_names_its_fixed_crl_shard(ctx: ServiceContext) -> None:
    r = issue(ctx)
    holder = x509.Certificate.from_der(r.certificate_der)
    shard = holder.serial % ctx.settings.crl_shards
    assert holder.crl_urls == (
        "http://registry.test/crl/sm2-issuing.crl",
        f"http://registry.test/crl/sm2-issuing/shard-{shard}.crl",
    )
    assert holder.freshest_crl_urls == ("http://registry.test/crl/sm2-issuing-delta.crl",)
    with ctx.reader() as s:
        row = s.scalar(select(Certificate).where(Certificate.serial == format(holder.serial, "x")))
        assert row is not None and row.shard == shard and row.kind == "holder"


def test_issuance_walks_the_application_through_dual_control_with_audit_events(ctx: ServiceContext) -> None:
    r = issue(ctx)
    with ctx.reader() as s:
        app = s.get(SealApplication, r.application_id)
        assert app is not None and app.state is ApplicationState.ISSUED
        assert app.reviewed_by_id != app.approved_by_id
        seal = s.scalar(select(Seal).where(Seal.es_id == r.es_id))
        assert seal is not None and seal.application_id == app.id
        events = s.scalars(
            select(AuditEvent)
            .where(AuditEvent.action.like("application.%") | (AuditEvent.action == "seal.issued"))
            .order_by(AuditEvent.id)
        ).all()
        assert [(e.actor, e.action) for e in events] == [
            ("test-admin", "application.submitted"),
            ("olivia", "application.reviewed"),
            ("rita", "application.approved"),
            ("test-admin", "seal.issued"),
        ]
        assert events[-1].target_id == r.es_id and events[-1].details["application"] == app.id


def test_generated_key_is_returned_once_and_never_stored(ctx: ServiceContext) -> None:
    r = issue(ctx)
    assert r.private_key_pem and "PRIVATE KEY" in r.private_key_pem
    key = PrivateKey.from_pem(r.private_key_pem)
    assert x509.Certificate.from_der(r.certificate_der).public_key == key.public_key
    scalar = key._scalar  # the 32-byte private value
    with ctx.engine.connect() as conn:
        for table in ("seals", "certificates", "seal_applications", "audit_events", "authorities"):
            for row in conn.exec_driver_sql(f"SELECT * FROM {table}"):
                for value in row:
                    if isinstance(value, (bytes, memoryview)):
                        assert scalar not in bytes(value), table
                    elif isinstance(value, str):
                        assert scalar.hex() not in value.lower(), table


def test_name_seal_is_square_and_named_after_the_legal_representative(ctx: ServiceContext) -> None:
    r = issue(ctx, seal_type="legal-representative")
    parsed = ses.parse_seal(r.seal_der)
    assert parsed.property.name.startswith("张三")
    assert parsed.picture.width == parsed.picture.height == 20


def test_public_key_pem_is_accepted_as_key_material(ctx: ServiceContext) -> None:
    key = PrivateKey.generate(Algorithm.ECDSA)
    r = issue(ctx, key=seals.KeyMaterial(public_key_pem=key.public_key.pem().encode()))
    assert r.algorithm is Algorithm.ECDSA
    assert x509.Certificate.from_der(r.certificate_der).public_key == key.public_key


# -- refused requests change nothing --------------------------------------------------------------

BAD_CASES = {
    "wrong USCC check character": (dict(uscc="91440300MA5F12342R"), ValidationError, "check character"),
    "unknown seal type": (dict(seal_type="stamp"), ValidationError, "unknown seal type"),
    "no licence": (dict(uscc=UNKNOWN_USCC), NotFound, "no licence on record"),
    "cancelled licence": (dict(uscc=CANCELLED_USCC), Conflict, "cancelled"),
    "same operator and approver": (dict(operator="otto", approver="otto"), PermissionDenied, "dual control"),
    "approver without reviewer role": (dict(approver="aud"), PermissionDenied, "application.approve"),
    "operator without operator role": (dict(operator="rita", approver="otto"), PermissionDenied, "application.review"),
    "unknown operator": (dict(operator="nobody"), NotFound, "no staff user"),
    "png that is not a png": (dict(picture_png=b"GIF89a" + b"\x00" * 100), ValidationError, "PNG"),
    "garbage csr": (
        dict(
            key=seals.KeyMaterial(csr=b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n")
        ),
        ValidationError,
        "certificate request",
    ),
    "two kinds of key material": (
        dict(key=seals.KeyMaterial(generate=True, public_key_pem=b"x")),
        ValidationError,
        "exactly one",
    ),
    "algorithm mismatch": (
        dict(
            algorithm="ecdsa",
            key=seals.KeyMaterial(public_key_pem=PrivateKey.generate(Algorithm.SM2).public_key.pem().encode()),
        ),
        ValidationError,
        "--algorithm ecdsa",
    ),
}


@pytest.mark.parametrize("case", list(BAD_CASES))
def test_refused_issuance_names_the_problem_and_writes_nothing(ctx: ServiceContext, fingerprint, case: str) -> None:  # type: ignore[no-untyped-def]
    kwargs, exc_type, words = BAD_CASES[case]
    before = fingerprint(ctx)
    with pytest.raises(exc_type) as info:
        issue(ctx, **kwargs)
    assert words in str(info.value)
    assert "\n" not in str(info.value)
    assert fingerprint(ctx) == before


def test_csr_naming_another_enterprise_is_refused(ctx: ServiceContext, fingerprint) -> None:  # type: ignore[no-untyped-def]
    _key, csr = csr_for(OTHER_USCC, common_name="holder")
    before = fingerprint(ctx)
    with pytest.raises(ValidationError, match=f"names USCC {OTHER_USCC}"):
        issue(ctx, key=seals.KeyMaterial(csr=csr))
    assert fingerprint(ctx) == before


def test_csr_with_failed_proof_of_possession_is_refused(ctx: ServiceContext, fingerprint) -> None:  # type: ignore[no-untyped-def]
    from registry.pki import der

    _key, csr = csr_for(SHENZHEN_USCC, common_name="holder")
    raw = bytearray(der.pem_to_der(csr))
    raw[-5] ^= 0x01  # inside the signature value
    before = fingerprint(ctx)
    with pytest.raises(ValidationError, match="proof of possession"):
        issue(ctx, key=seals.KeyMaterial(csr=bytes(raw)))
    assert fingerprint(ctx) == before


@pytest.mark.parametrize(
    "actor",
    [
        Actor(name="rita", kind="staff", roles=frozenset({Role.REVIEWER})),
        Actor(name="aud", kind="staff", roles=frozenset({Role.AUDITOR, Role.ADMIN})),
        Actor(name="enterprise:91440300MA5FAKE01X", kind="enterprise"),
    ],
    ids=["reviewer", "auditor+admin", "enterprise"],
)
def test_issuing_without_the_seal_issue_permission_is_refused_and_writes_nothing(  # type: ignore[no-untyped-def]
    ctx: ServiceContext, fingerprint, actor: Actor
) -> None:
    """The staff use case checks its caller first: no ``seal.issue``, no seal (a renewal too)."""
    req = seals.IssueRequest(
        uscc=SHENZHEN_USCC,
        seal_type="finance",
        key=seals.KeyMaterial(generate=True),
        operator="olivia",
        approver="rita",
    )
    code = issue(ctx).es_id
    before = fingerprint(ctx)
    for call in (
        lambda: seals.issue_seal(ctx, actor, req),
        lambda: seals.issue_seals(ctx, actor, [req, req]),
        lambda: seals.issue_seals(ctx, actor, []),
        lambda: seals.renew_seal(ctx, actor, code),
    ):
        with pytest.raises(PermissionDenied) as info:
            call()
        assert info.value.code == "role.may_needs_role_that"
        assert "seal.issue" in str(info.value) and "seal.issue" in info.value.text("zh")
    assert fingerprint(ctx) == before


def test_wrong_curve_key_is_refused(ctx: ServiceContext, fingerprint) -> None:  # type: ignore[no-untyped-def]
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    pem = (
        ec.generate_private_key(ec.SECP384R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    before = fingerprint(ctx)
    with pytest.raises(ValidationError, match=r"unsupported curve secp384r1 \(1.3.132.0.34\)"):
        issue(ctx, key=seals.KeyMaterial(public_key_pem=pem))
    assert fingerprint(ctx) == before


def test_issuance_needs_the_hierarchy(bare_ctx: ServiceContext) -> None:
    from registry.domain.roles import Role
    from registry.services import licences, users
    from registry.services.demo import DEMO_CSV

    users.add_user(bare_ctx, ADMIN, "olivia", [Role.OPERATOR])
    users.add_user(bare_ctx, ADMIN, "rita", [Role.REVIEWER])
    licences.import_licences(bare_ctx, ADMIN, DEMO_CSV.encode(), "demo.csv")
    with pytest.raises(ValidationError, match="registry init"):
        issue(bare_ctx)


def test_hierarchy_creation_is_idempotent(ctx: ServiceContext) -> None:
    assert authorities.ensure_hierarchies(ctx, ADMIN) == []
    assert authorities.verify_hierarchy(ctx) == []
    names = [a.name for a in authorities.list_authorities(ctx)]
    assert sorted(names) == sorted(f"{a}-{k}" for a in ("sm2", "ecdsa") for k in ("root", "issuing", "seal-maker"))


def test_ca_private_keys_are_encrypted_at_rest(ctx: ServiceContext) -> None:
    from registry.db.models import Authority

    with ctx.reader() as s:
        for row in s.scalars(select(Authority)):
            assert row.key_blob.startswith(b"RGK1")
            key = authorities.load(ctx, s, row.name).signer
            assert key._scalar not in row.key_blob and key.pkcs8() not in row.key_blob


# -- concurrency ----------------------------------------------------------------------------------


def test_parallel_issuances_get_distinct_serials_and_esids(ctx: ServiceContext) -> None:
    """200 issuances from 8 threads (the issue asks for it on PostgreSQL; SQLite serialises writers)."""
    n = 200 if ctx.engine.dialect.name == "postgresql" else 60
    pub = PrivateKey.generate(Algorithm.SM2).public_key.pem().encode()
    png = ses.parse_seal(issue(ctx).seal_der).picture.data  # render once; reuse the picture

    def one(i: int) -> str:
        return issue(
            ctx,
            key=seals.KeyMaterial(public_key_pem=pub),
            picture_png=png,
            seal_type=["official", "finance", "contract", "invoice"][i % 4],
        ).es_id

    with cf.ThreadPoolExecutor(max_workers=8) as pool:
        es_ids = list(pool.map(one, range(n)))
    assert len(set(es_ids)) == n
    with ctx.reader() as s:
        assert s.scalar(select(func.count(Seal.id))) == n + 1
        serials = s.scalars(select(Certificate.serial).where(Certificate.kind == "holder")).all()
        assert len(serials) == len(set(serials)) == n + 1


# -- batches --------------------------------------------------------------------------------------


def test_standard_set_of_four_is_issued_in_one_transaction(ctx: ServiceContext) -> None:
    from registry.domain.seal_types import STANDARD_SET

    results = seals.issue_seals(ctx, ADMIN, [issue_request(seal_type=t.code) for t in STANDARD_SET])
    assert len({r.es_id for r in results}) == 4
    with ctx.reader() as s:
        rows = s.scalars(select(Seal).order_by(Seal.id)).all()
        assert [row.seal_type for row in rows] == list(STANDARD_SET)
        assert [row.id for row in rows] == [r.seal_id for r in results]
        for row, res in zip(rows, results, strict=True):
            assert row.es_id == res.es_id and row.application.id == res.application_id
            assert [c.der for c in row.certificates] == [res.certificate_der]
        assert s.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == "seal.issued")) == 4


def test_one_bad_request_refuses_the_whole_batch_and_names_it(ctx: ServiceContext, fingerprint) -> None:  # type: ignore[no-untyped-def]
    before = fingerprint(ctx)
    with pytest.raises(Conflict, match="seal 3 of 3: the licence of 91440300000000000E is cancelled"):
        seals.issue_seals(
            ctx, ADMIN, [issue_request(), issue_request(seal_type="official"), issue_request(uscc=CANCELLED_USCC)]
        )
    with pytest.raises(ValidationError, match="seal 2 of 2: unknown seal type"):
        seals.issue_seals(ctx, ADMIN, [issue_request(), issue_request(seal_type="nope")])
    assert fingerprint(ctx) == before


def test_batch_size_is_bounded(ctx: ServiceContext) -> None:
    with pytest.raises(ValidationError, match="at most 500"):
        seals.issue_seals(ctx, ADMIN, [issue_request()] * 501)


# -- a licence that changes while seals are being signed -------------------------------------------


def _change_during_signing(ctx: ServiceContext, monkeypatch, statement: str) -> None:  # type: ignore[no-untyped-def]
    """Run ``statement`` once, after the checks and before the write (while signing)."""
    from sqlalchemy import text

    real = issuance._holder_certificate
    fired = []

    def holder_certificate(*args, **kwargs):  # type: ignore[no-untyped-def]
        if not fired:
            fired.append(True)
            with ctx.engine.begin() as conn:
                conn.execute(text(statement), {"uscc": SHENZHEN_USCC})
        return real(*args, **kwargs)

    monkeypatch.setattr(issuance, "_holder_certificate", holder_certificate)


def test_licence_cancelled_while_signing_issues_nothing(ctx: ServiceContext, monkeypatch, fingerprint) -> None:  # type: ignore[no-untyped-def]
    _change_during_signing(ctx, monkeypatch, "UPDATE enterprises SET status = 'cancelled' WHERE uscc = :uscc")
    with pytest.raises(Conflict, match="cancelled"):
        issue(ctx)
    with ctx.reader() as s:
        assert s.scalar(select(func.count(Seal.id))) == 0
        assert s.scalar(select(func.count(Certificate.id)).where(Certificate.kind == "holder")) == 0


def test_licence_renamed_while_signing_gets_a_seal_with_the_new_name(ctx: ServiceContext, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    _change_during_signing(ctx, monkeypatch, "UPDATE enterprises SET name = '深圳市新名称有限公司' WHERE uscc = :uscc")
    r = issue(ctx, seal_type="contract")
    assert ses.parse_seal(r.seal_der).property.name == "深圳市新名称有限公司合同专用章"
    assert x509.Certificate.from_der(r.certificate_der).subject.get("2.5.4.10") == "深圳市新名称有限公司"
    with ctx.reader() as s:
        assert s.scalar(select(func.count(Seal.id))) == 1
