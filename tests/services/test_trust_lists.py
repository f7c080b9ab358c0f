"""Our published trust list (registry.services.trust_lists): its contents, its numbering and
links, when it is due, its files, and its signatures checked by node's jose and by OpenSSL."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from registry.db.models import AuditEvent, Authority
from registry.db.trust_models import ListSigningKey, TrustListVersion
from registry.domain import trust_list as tl
from registry.domain.errors import Conflict, PermissionDenied
from registry.domain.roles import Role
from registry.domain.seal_types import SealType
from registry.pki import jws
from registry.pki.keys import KeyFormatError, PublicKey, decrypt_private_key
from registry.services import revocation, trust_lists
from registry.services.context import Actor, ServiceContext
from tests.support.data import ADMIN
from tests.support.jose import jose_verify, node_jose_dir, openssl_sm2_verifies, spki_pem
from tests.support.pki import ossl


def trust_dir(ctx: ServiceContext) -> Path:
    return ctx.settings.publish_dir / "trust"


def keys_of(lst: tl.TrustList) -> dict[str, PublicKey]:
    return {k.alg: PublicKey.from_spki(k.spki) for k in lst.scheme.signing_keys if k.status is tl.KeyStatus.CURRENT}


def test_the_first_list_names_every_ca_and_seal_maker_with_scope(ctx: ServiceContext) -> None:
    published = trust_lists.publish(ctx, ADMIN)
    assert published.sequence == 1 and published.reason == "requested"
    lst = tl.parse((trust_dir(ctx) / "list.json").read_bytes())
    sch = lst.scheme
    assert (sch.operator.area_code, sch.operator.name_zh) == ("440300", "深圳市市场监督管理局")
    assert sch.previous is None and sch.sequence == 1
    assert sch.next_update - sch.issued_at == dt.timedelta(days=7)
    assert sch.distribution_points == ("http://registry.test/trust/list.jws",)
    with ctx.reader() as s:
        authorities = {a.name: a for a in s.scalars(select(Authority))}
    assert {svc.id for svc in lst.services} == set(authorities) and len(lst.services) == 6
    for svc in lst.services:
        auth = authorities[svc.id]
        assert svc.cert == auth.certificate_der
        assert svc.sha256 == hashlib.sha256(auth.certificate_der).hexdigest()
        assert svc.status is tl.ServiceStatus.GRANTED
        assert [h.status for h in svc.history] == [tl.ServiceStatus.GRANTED]
    maker = lst.service("sm2-seal-maker")
    assert maker is not None and maker.role is tl.ServiceRole.SEAL_MAKER and maker.issuer == "sm2-root"
    assert maker.constraints == tl.Constraints(es_id_prefix="440300", seal_types=tuple(t.code for t in SealType))
    assert maker.crl == () and maker.ocsp == ()
    issuing = lst.service("ecdsa-issuing")
    assert issuing is not None and issuing.role is tl.ServiceRole.ISSUING_CA and issuing.alg == "P-256"
    assert issuing.constraints == tl.Constraints(policy_oids=(ctx.settings.policy_oid,))
    urls = [u for p in issuing.crl for u in p.urls()]
    assert "http://registry.test/crl/ecdsa-issuing.crl" in urls
    assert "http://registry.test/crl/ecdsa-issuing-delta.crl" in urls
    assert f"http://registry.test/crl/ecdsa-issuing/shard-{ctx.settings.crl_shards - 1}.crl" in urls
    root = lst.service("sm2-root")
    assert root is not None and root.issuer is None and root.role is tl.ServiceRole.ROOT
    assert lst.status_api == tl.StatusApi("http://registry.test/api/v1/seals/{esID}", signed=False)
    # two current keys, one per algorithm, both signing the exact bytes served
    assert sorted(k.alg for k in sch.signing_keys) == ["ES256", "SM2-SM3"]
    verified = jws.verify((trust_dir(ctx) / "list.jws").read_bytes(), keys_of(lst).values())
    assert verified.payload == (trust_dir(ctx) / "list.json").read_bytes() == published.payload
    assert len(verified.verified_kids) == 2 and all(r.verified for r in verified.signatures)


def test_every_file_is_written_and_the_digest_matches(ctx: ServiceContext) -> None:
    published = trust_lists.publish(ctx, ADMIN)
    d = trust_dir(ctx)
    assert (d / "list.json.sha256").read_text() == f"{hashlib.sha256(published.payload).hexdigest()}  list.json\n"
    assert (d / "lists" / "1.jws").read_bytes() == (d / "list.jws").read_bytes() == published.jws
    assert (d / "lists" / "1.json").read_bytes() == published.payload
    peers = jws.verify((d / "peers.jws").read_bytes(), keys_of(published.trust_list).values())
    doc = json.loads(peers.payload)
    assert doc["format"] == trust_lists.PEERS_FORMAT and doc["peers"] == [] and doc["sequence"] == 1
    for name in ("list.json", "list.jws", "list.json.sha256", "peers.jws"):
        assert oct((d / name).stat().st_mode & 0o777) == "0o644"


def test_sequence_rises_by_one_and_each_list_names_the_last(ctx: ServiceContext) -> None:
    lists = []
    for _ in range(3):
        lists.append(trust_lists.publish(ctx, ADMIN))
        ctx.clock.advance(seconds=10)
    assert [p.sequence for p in lists] == [1, 2, 3]
    for before, after in zip(lists, lists[1:], strict=False):
        prev = after.trust_list.scheme.previous
        assert prev == tl.Previous(
            before.sequence, before.sha256, f"http://registry.test/trust/lists/{before.sequence}.jws"
        )
    for p in lists:
        assert (trust_dir(ctx) / "lists" / f"{p.sequence}.jws").read_bytes() == p.jws
    # a peer that pinned list 1's keys walks to list 3 through the past versions
    first = lists[0]
    pins = {k.kid for k in first.trust_list.scheme.signing_keys}
    keys = list(keys_of(first.trust_list).values())
    signed = [tl.SignedList.from_verified(jws.verify(p.jws, keys)) for p in lists]
    decision, held = tl.walk(signed[0], pins, signed[1:], area_code="440300", now=ctx.clock.now())
    assert decision.accepted and decision.sequence == 3
    assert held is not None and held.sequence == 3
    assert [p.sequence for p in trust_lists.overview(ctx, ADMIN).versions] == [3, 2, 1]


def test_keys_are_made_once_kept_under_the_kek_and_audited(ctx: ServiceContext) -> None:
    made = trust_lists.ensure_signing_keys(ctx, ADMIN)
    assert sorted(k.alg for k in made) == ["ES256", "SM2-SM3"]
    assert trust_lists.ensure_signing_keys(ctx, ADMIN) == []
    trust_lists.publish(ctx, ADMIN)
    with ctx.reader() as s:
        rows = s.scalars(select(ListSigningKey)).all()
        assert len(rows) == 2
        for r in rows:
            assert r.kid == "sha256:" + hashlib.sha256(r.spki_der).hexdigest()
            # wrapped under the KEK: it opens with the key ring, to the key whose SPKI is listed
            assert r.key_kek_id == ctx.require_keyring().current
            assert decrypt_private_key(r.key_blob, ctx.require_keyring().keys).public_key.spki() == r.spki_der
            with pytest.raises(KeyFormatError):
                decrypt_private_key(r.key_blob, {r.key_kek_id: b"\x00" * 32})
        events = s.scalars(
            select(AuditEvent).where(AuditEvent.action.like("trust_list.%")).order_by(AuditEvent.seq)
        ).all()
        assert [e.action for e in events] == [
            "trust_list.key_created",
            "trust_list.key_created",
            "trust_list.published",
        ]
        assert events[-1].details["sequence"] == 1
        assert events[-1].details["sha256"] == s.get(TrustListVersion, 1).sha256  # type: ignore[union-attr]
    pins = trust_lists.fingerprints(ctx)
    assert [alg for alg, _ in pins] == ["ES256", "SM2-SM3"]
    assert {f"sha256:{h}" for _, h in pins} == {r.kid for r in rows}


def test_due_at_once_on_a_ca_change_and_at_half_its_validity(ctx: ServiceContext) -> None:
    assert trust_lists.due(ctx) == "first"
    trust_lists.publish(ctx, ADMIN)
    assert trust_lists.due(ctx) is None
    ctx.clock.advance(hours=1)
    revoked_at = ctx.clock.now()
    revocation.revoke_authority(ctx, ADMIN, "ecdsa-seal-maker", "keyCompromise")
    assert trust_lists.due(ctx) == "changed"
    published = trust_lists.publish_if_due(ctx, ADMIN)
    assert published is not None and published.reason == "changed" and published.sequence == 2
    maker = published.trust_list.service("ecdsa-seal-maker")
    assert maker is not None and maker.status is tl.ServiceStatus.WITHDRAWN and maker.status_since == revoked_at
    assert [h.status for h in maker.history] == [tl.ServiceStatus.GRANTED, tl.ServiceStatus.WITHDRAWN]
    assert trust_lists.publish_if_due(ctx, ADMIN) is None
    ctx.clock.advance(days=3, hours=11)
    assert trust_lists.due(ctx) is None
    ctx.clock.advance(hours=1)
    assert trust_lists.due(ctx) == "half-life"


def test_the_daemon_round_publishes_only_when_due(ctx: ServiceContext) -> None:
    tick = trust_lists.refresher(ctx, every=0)
    assert [line.split(" (")[0] for line in tick()] == ["trust/list.jws sequence 1"]
    assert list(tick()) == []
    ctx.clock.advance(days=4)
    assert [line.split(" (")[1].split(")")[0] for line in tick()] == ["half-life"]


def test_without_the_permission_nothing_is_published(ctx: ServiceContext) -> None:
    clerk = Actor("olivia", roles=frozenset({Role.OPERATOR}))
    with pytest.raises(PermissionDenied):
        trust_lists.publish(ctx, clerk)
    with ctx.reader() as s:
        assert s.scalar(select(func.count()).select_from(TrustListVersion)) == 0
        assert s.scalar(select(func.count()).select_from(ListSigningKey)) == 0
    assert not trust_dir(ctx).exists()


def test_a_clock_behind_the_last_list_publishes_nothing(ctx: ServiceContext) -> None:
    trust_lists.publish(ctx, ADMIN)
    before = (trust_dir(ctx) / "list.jws").read_bytes()
    ctx.clock.advance(hours=-1)
    with pytest.raises(Conflict) as e:
        trust_lists.publish(ctx, ADMIN)
    assert "before list 1's issue time" in str(e.value)
    assert trust_lists.current(ctx).sequence == 1  # type: ignore[union-attr]
    assert (trust_dir(ctx) / "list.jws").read_bytes() == before


def test_files_lost_after_the_commit_are_written_by_the_next_run(
    ctx: ServiceContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    trust_lists.publish(ctx, ADMIN)
    real = trust_lists._write

    def disk_full(path: Path, data: bytes) -> bool:
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(trust_lists, "_write", disk_full)
    ctx.clock.advance(seconds=5)
    with pytest.raises(OSError):
        trust_lists.publish(ctx, ADMIN)
    assert trust_lists.current(ctx).sequence == 2  # type: ignore[union-attr]  # recorded: the number is used
    assert json.loads((trust_dir(ctx) / "list.json").read_bytes())["scheme"]["sequence"] == 1
    monkeypatch.setattr(trust_lists, "_write", real)
    written = trust_lists.write_files(ctx)
    assert "lists/2.jws" in written and "list.jws" in written
    assert json.loads((trust_dir(ctx) / "list.json").read_bytes())["scheme"]["sequence"] == 2


def test_a_publish_directory_holding_a_newer_list_is_not_overwritten(ctx: ServiceContext) -> None:
    trust_lists.publish(ctx, ADMIN)
    d = trust_dir(ctx)
    foreign = json.loads((d / "list.json").read_bytes())
    foreign["scheme"]["sequence"] = 99
    (d / "list.json").write_text(json.dumps(foreign))
    jws_before = (d / "list.jws").read_bytes()
    ctx.clock.advance(seconds=5)
    with pytest.raises(Conflict) as e:
        trust_lists.publish(ctx, ADMIN)
    assert "belongs to another database" in str(e.value)
    assert (d / "list.jws").read_bytes() == jws_before


# -- checked by tools nobody here wrote ------------------------------------------------------------


def test_node_jose_verifies_the_es256_signature_of_the_published_list(ctx: ServiceContext, tmp_path: Path) -> None:
    where = node_jose_dir()
    published = trust_lists.publish(ctx, ADMIN)
    es256 = next(k for k in published.trust_list.scheme.signing_keys if k.alg == "ES256")
    result = jose_verify(where, (trust_dir(ctx) / "list.jws").read_bytes(), spki_pem(es256.spki), tmp_path)
    assert result["ok"] is True, result
    assert base64.b64decode(str(result["payload"])) == (trust_dir(ctx) / "list.json").read_bytes()
    assert result["header"] == {"alg": "ES256", "kid": es256.kid}
    # and refuses the same list with one byte of the payload changed
    tampered = (trust_dir(ctx) / "list.jws").read_bytes().replace(b'"payload":"', b'"payload":"A', 1)
    refused = jose_verify(where, tampered, spki_pem(es256.spki), tmp_path)
    assert refused["ok"] is False and refused["error"] == "ERR_JWS_SIGNATURE_VERIFICATION_FAILED"


@pytest.mark.openssl
def test_openssl_verifies_the_sm2_signature_and_derives_the_pinned_fingerprints(
    ctx: ServiceContext, openssl: str, tmp_path: Path
) -> None:
    published = trust_lists.publish(ctx, ADMIN)
    keys = {k.alg: k for k in published.trust_list.scheme.signing_keys}
    document = (trust_dir(ctx) / "list.jws").read_bytes()
    assert openssl_sm2_verifies(openssl, document, spki_pem(keys["SM2-SM3"].spki), tmp_path)
    tampered = document.replace(b'"payload":"', b'"payload":"A', 1)
    assert not openssl_sm2_verifies(openssl, tampered, spki_pem(keys["SM2-SM3"].spki), tmp_path)
    for alg, hexdigest in trust_lists.fingerprints(ctx):
        (tmp_path / "pub.pem").write_text(spki_pem(keys[alg].spki))
        ossl(openssl, "pkey", "-pubin", "-in", tmp_path / "pub.pem", "-outform", "DER", "-out", tmp_path / "spki.der")
        assert hashlib.sha256((tmp_path / "spki.der").read_bytes()).hexdigest() == hexdigest
