"""The enterprise portal's seal pages through the test client: applying with CSRs and drawn or
uploaded pictures, the seal page and its downloads (checked with OpenSSL), the printable
certificate, renewal, loss reports, cancellation; every refusal is a message on the page with its
status and leaves the database as it was; another enterprise gets 404 at every URL."""

from __future__ import annotations

import io
import re
import subprocess
from pathlib import Path

import pytest
import segno
from PIL import Image
from sqlalchemy import select

from registry.db.models import Seal, SealApplication
from registry.domain.states import SealStatus
from registry.pki import ses, x509
from registry.pki.keys import Algorithm
from registry.services import revocation
from registry.services.context import ServiceContext
from tests.support.data import OTHER_USCC, SHENZHEN_USCC
from tests.support.pki import csr_for
from tests.support.portal import TOKEN, alert, client_for, post_files, token
from tests.support.portal_seals import into_window, issue, person, png

pytestmark = pytest.mark.demo_issuer  # the app fixture sets up the demo e-licence issuer first


def person_client(app, principal):  # type: ignore[no-untyped-def]
    """Signed in as an authorised person (the server-side session the person sign-in leaves behind)."""
    from registry.services import web_sessions
    from registry.services.core.tx import begin

    ctx = app.extensions["registry"]
    with begin(ctx, principal.actor) as tx:
        started = web_sessions.start(tx, "person", person_id=principal.person_id, enterprise_id=principal.enterprise_id)
    c = app.test_client()
    c.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    with c.session_transaction() as sess:
        sess["portal_sid"] = started.token
    return c


def text(r) -> str:  # type: ignore[no-untyped-def]
    return r.get_data(as_text=True)


# ------------------------------------------------------------------------------------------------
# Applying


def test_apply_page_shows_the_drawn_preview_of_each_seal_of_the_set(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    c = client_for(app, ctx)
    html = text(c.get("/portal/apply"))
    for code in ("01", "02", "04", "05"):
        assert f'src="/portal/apply/preview/{code}.png"' in html and f'name="csr_{code}"' in html
        assert f'name="picture_{code}"' in html
    assert "<script>" not in html and '<script src="/portal/static/portal.js"' in html
    r = c.get("/portal/apply/preview/02.png")
    assert r.status_code == 200 and r.mimetype == "image/png"
    with Image.open(io.BytesIO(r.data)) as img:
        assert img.size == (472, 472)
    js = c.get("/portal/static/portal.js")
    assert js.status_code == 200 and "javascript" in js.mimetype and "FileReader" in text(js)
    assert c.get("/portal/apply/preview/42.png").status_code == 400


def test_apply_and_preview_are_for_the_legal_representative_only(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    code, _key = issue(ctx)
    someone = person_client(app, person(ctx, {code: "manage"}))
    assert someone.get(f"/portal/seals/{code}").status_code == 200  # signed in for real
    for path in ("/portal/apply", "/portal/apply/seal", "/portal/apply/preview/01.png"):
        assert someone.get(path).status_code == 403
    assert app.test_client().get("/portal/apply").headers["Location"] == "/portal/login?next=/portal/apply"


def test_apply_set_with_one_uploaded_picture(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    c = client_for(app, ctx)
    picture = png()
    data = {f"csr_{code}": (io.BytesIO(csr_for(SHENZHEN_USCC)[1]), "r.csr") for code in ("01", "02", "04", "05")}
    data["picture_04"] = (io.BytesIO(picture), "seal.png")
    r = post_files(c, "/portal/apply", data, token(c, "/portal/apply"))
    assert r.status_code == 302, alert(r)
    with ctx.reader() as s:
        apps = {a.seal_type.code: a.picture_png for a in s.scalars(select(SealApplication))}
    assert apps == {"01": None, "02": None, "04": picture, "05": None}


@pytest.mark.parametrize("case", ["not-png", "too-large-picture", "too-large-csr", "missing-csr", "other-uscc"])
def test_bad_apply_input_is_a_message_on_the_page_and_nothing_is_stored(
    app,
    ctx: ServiceContext,
    fingerprint,  # type: ignore[no-untyped-def]
    case: str,
) -> None:
    c = client_for(app, ctx)
    tok = token(c, "/portal/apply")
    data = {f"csr_{code}": (io.BytesIO(csr_for(SHENZHEN_USCC)[1]), "r.csr") for code in ("01", "02", "04", "05")}
    expected_status, expected_text = 400, ""
    if case == "not-png":
        data["picture_02"] = (io.BytesIO(b"\xff\xd8\xff\xe0 a jpeg really"), "seal.png")
        expected_text = "not a PNG"
    elif case == "too-large-picture":
        data["picture_02"] = (io.BytesIO(b"\x89PNG" + b"\0" * ctx.settings.max_picture_bytes), "big.png")
        expected_status, expected_text = 413, "The picture is larger than 512 KB; nothing was stored."
    elif case == "too-large-csr":
        data["csr_02"] = (io.BytesIO(b"-" * (64 * 1024 + 1)), "big.csr")
        expected_status, expected_text = 413, "the certificate request is larger than 64 KB"
    elif case == "missing-csr":
        del data["csr_05"]
        expected_text = "a certificate request (CSR) is needed for this seal"
    else:
        data["csr_01"] = (io.BytesIO(csr_for(OTHER_USCC)[1]), "r.csr")
        expected_text = OTHER_USCC
    before = fingerprint(ctx)
    r = post_files(c, "/portal/apply", data, tok)
    assert r.status_code == expected_status and expected_text in alert(r)
    assert fingerprint(ctx) == before


def test_single_seal_preview_without_script_then_apply(app, ctx: ServiceContext, fingerprint) -> None:  # type: ignore[no-untyped-def]
    c = client_for(app, ctx)
    html = text(c.get("/portal/apply/seal?type=99"))
    assert re.search(r'<option value="99"[^>]*selected', html)
    assert 'id="preview_single" src="/portal/apply/preview/99.png"' in html
    tok = TOKEN.search(html).group(1)  # type: ignore[union-attr]
    before = fingerprint(ctx)
    r = post_files(c, "/portal/apply/seal", {"seal_type": "03", "action": "preview"}, tok)  # the "Preview" button
    assert r.status_code == 200 and 'id="preview_single" src="/portal/apply/preview/03.png"' in text(r)
    assert fingerprint(ctx) == before
    r = post_files(c, "/portal/apply/seal", {"seal_type": "42"}, tok)
    assert r.status_code == 400 and "Unknown seal type" in alert(r) and fingerprint(ctx) == before
    r = post_files(
        c,
        "/portal/apply/seal",
        {"seal_type": "03", "action": "submit", "csr_single": (io.BytesIO(csr_for(SHENZHEN_USCC)[1]), "r.csr")},
        tok,
    )
    assert r.status_code == 302 and re.search(r"/portal/applications/\d+$", r.headers["Location"])
    assert "The application was submitted." in text(c.get(r.headers["Location"]))
    with ctx.reader() as s:
        app_row = s.scalar(select(SealApplication))
        assert app_row is not None and app_row.seal_type.code == "03" and app_row.channel == "portal"


@pytest.mark.parametrize("kind", ["p256", "sm2-distid", "sm2-empty-id"])
def test_a_csr_made_by_openssl_is_accepted(app, ctx: ServiceContext, openssl: str, tmp_path: Path, kind: str) -> None:  # type: ignore[no-untyped-def]
    curve = "P-256" if kind == "p256" else "SM2"
    subprocess.run(
        [openssl, "genpkey", "-algorithm", "EC", "-pkeyopt", f"ec_paramgen_curve:{curve}", "-out", "k.pem"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
    )
    opts = {
        "p256": ["-sha256"],
        "sm2-distid": ["-sm3", "-sigopt", "distid:1234567812345678"],
        "sm2-empty-id": ["-sm3"],
    }[kind]  # OpenSSL 3.0 signs SM2 with an empty ID unless told (design.md §9)
    subprocess.run(
        [
            openssl,
            "req",
            "-new",
            "-key",
            "k.pem",
            *opts,
            "-subj",
            f"/C=CN/CN=深圳市前海示范科技有限公司/organizationIdentifier={SHENZHEN_USCC}",
            "-utf8",
            "-out",
            "r.csr",
        ],
        cwd=tmp_path,
        check=True,
        capture_output=True,
    )
    c = client_for(app, ctx)
    r = post_files(
        c,
        "/portal/apply/seal",
        {"seal_type": "03", "csr_single": (io.BytesIO((tmp_path / "r.csr").read_bytes()), "r.csr")},
        token(c, "/portal/apply/seal"),
    )
    assert r.status_code == 302, alert(r)
    spki = subprocess.run(
        [openssl, "pkey", "-in", "k.pem", "-pubout", "-outform", "DER"], cwd=tmp_path, capture_output=True, check=True
    ).stdout
    with ctx.reader() as s:
        assert s.scalar(select(SealApplication.public_key_spki)) == spki


# ------------------------------------------------------------------------------------------------
# The seal page, downloads, the printable certificate


def test_seal_page_and_downloads_checked_with_openssl(app, ctx: ServiceContext, openssl: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    code, key = issue(ctx, alg=Algorithm.ECDSA)
    c = client_for(app, ctx)
    assert f'href="/portal/seals/{code}"' in text(c.get("/portal/"))
    html = text(c.get(f"/portal/seals/{code}"))
    assert code in html and "Active" in html and SHENZHEN_USCC in html
    for name in ("seal.esl", "cert.pem", "chain.pem", "chain.p7b", "maker-chain.pem"):
        assert f'href="/portal/seals/{code}/{name}"' in html
    esl = c.get(f"/portal/seals/{code}/seal.esl")
    assert esl.status_code == 200 and f'filename="{code}.esl"' in esl.headers["Content-Disposition"]
    parsed = ses.parse_seal(esl.data)
    assert parsed.es_id == code
    for name in ("cert.pem", "chain.pem", "chain.p7b", "maker-chain.pem"):
        (tmp_path / name).write_bytes(c.get(f"/portal/seals/{code}/{name}").data)
    ok = subprocess.run(
        [openssl, "verify", "-CAfile", "chain.pem", "cert.pem"], cwd=tmp_path, capture_output=True, text=True
    )
    assert ok.returncode == 0, ok.stderr
    subject = subprocess.run(
        [openssl, "x509", "-in", "cert.pem", "-noout", "-subject"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert SHENZHEN_USCC in subject
    p7 = subprocess.run(
        [openssl, "pkcs7", "-inform", "DER", "-in", "chain.p7b", "-print_certs"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert p7.count("BEGIN CERTIFICATE") == 3
    assert x509.Certificate.load((tmp_path / "cert.pem").read_bytes()).public_key == key.public_key
    assert x509.Certificate.load((tmp_path / "cert.pem").read_bytes()).der in parsed.property.cert_list
    pic = c.get(f"/portal/seals/{code}/picture.png")
    assert pic.status_code == 200 and pic.data == parsed.picture.data


def test_printable_certificate_has_the_picture_the_data_and_a_qr_code_to_the_status_page(
    app, ctx: ServiceContext
) -> None:  # type: ignore[no-untyped-def]
    code, _key = issue(ctx)
    c = client_for(app, ctx)
    r = c.get(f"/portal/seals/{code}/certificate")
    html = text(r)
    assert r.status_code == 200 and "@media print" in html and "@page" in html
    url = f"http://registry.test/seals/{code}"  # REGISTRY_BASE_URL of the tests
    assert f'<code id="status-url">{url}</code>' in html
    qr = re.search(r'<img id="status-qr" src="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    assert qr.startswith("data:image/svg+xml")
    # the same symbol segno draws for that URL (and a different one for any other URL)
    assert qr.replace("&amp;", "&") == segno.make(url, error="m").svg_data_uri(scale=4, border=2)
    assert qr.replace("&amp;", "&") != segno.make(url + "X", error="m").svg_data_uri(scale=4, border=2)
    assert f'src="/portal/seals/{code}/picture.png"' in html and "width: 40mm" in html
    assert "<script>" not in html
    # and the URL it encodes is the public status page of this seal
    assert app.test_client().get(f"/seals/{code}").status_code == 200


# ------------------------------------------------------------------------------------------------
# Renewal, loss, cancellation


def test_renewal_outside_the_window_then_inside(app, ctx: ServiceContext, fingerprint) -> None:  # type: ignore[no-untyped-def]
    code, _key = issue(ctx)
    c = client_for(app, ctx)
    html = text(c.get(f"/portal/seals/{code}"))
    assert "Renewal opens 60 days before the seal expires" in html and "Renew this seal" not in html
    tok = TOKEN.search(html).group(1)  # type: ignore[union-attr]
    before = fingerprint(ctx)
    r = post_files(c, f"/portal/seals/{code}/renew", {"key": "same"}, tok)
    assert r.status_code == 409 and "can be renewed from" in alert(r)
    assert fingerprint(ctx) == before
    into_window(ctx, code)
    c = client_for(app, ctx)  # ~670 days later: the old session ended long ago
    tok = token(c, f"/portal/seals/{code}")
    before = fingerprint(ctx)  # the new sign-in is a change of record (its audit event, its challenge)
    assert "Renewal open" in text(c.get("/portal/"))
    r = post_files(c, f"/portal/seals/{code}/renew", {"key": "new"}, tok)  # a new key, but no CSR
    assert r.status_code == 400 and "Choose the certificate request" in alert(r)
    r = post_files(
        c, f"/portal/seals/{code}/renew", {"key": "new", "csr": (io.BytesIO(csr_for(OTHER_USCC)[1]), "r.csr")}, tok
    )
    assert r.status_code == 400 and OTHER_USCC in alert(r)
    r = post_files(c, f"/portal/seals/{code}/renew", {"key": "new", "csr": (io.BytesIO(b"x" * 70000), "r.csr")}, tok)
    assert r.status_code == 413 and "larger than 64 KB" in alert(r)
    assert fingerprint(ctx) == before
    r = post_files(c, f"/portal/seals/{code}/renew", {"key": "same"}, tok)
    assert r.status_code == 302
    new_code = r.headers["Location"].rsplit("/", 1)[1]
    page = text(c.get(f"/portal/seals/{new_code}"))
    assert "was renewed" in page and code in page and "Replaces" in page
    old_page = text(c.get(f"/portal/seals/{code}"))
    assert "Renewed (superseded)" in old_page and new_code in old_page and 'id="loss"' not in old_page


def test_report_loss_needs_the_typed_code_then_revokes_at_once(app, ctx: ServiceContext, fingerprint) -> None:  # type: ignore[no-untyped-def]
    code, _key = issue(ctx)
    holder = person_client(app, person(ctx, {code: "hold"}))
    html = text(holder.get(f"/portal/seals/{code}"))
    assert 'id="loss"' in html and 'id="renew"' not in html and 'id="cancel"' not in html
    tok = TOKEN.search(html).group(1)  # type: ignore[union-attr]
    before = fingerprint(ctx)
    r = holder.post(f"/portal/seals/{code}/loss", data={"csrf_token": tok, "confirm": code[:-1]})
    assert r.status_code == 400 and "does not match the seal's code" in alert(r)
    assert holder.post(f"/portal/seals/{code}/loss", data={"confirm": code}).status_code == 400  # no CSRF token
    assert fingerprint(ctx) == before
    r = holder.post(f"/portal/seals/{code}/loss", data={"csrf_token": tok, "confirm": code})
    assert r.status_code == 302
    page = text(holder.get(f"/portal/seals/{code}"))
    assert "key compromise" in page and "keyCompromise" in page and "Revoked" in page
    with ctx.reader() as s:
        assert s.scalar(select(Seal.status).where(Seal.es_id == code)) is SealStatus.REVOKED
    assert (
        app.test_client().get(f"/seals/{code}", headers={"Accept": "application/json"}).json["revocation_reason"]
        == "keyCompromise"
    )
    after = fingerprint(ctx)
    r = holder.post(f"/portal/seals/{code}/loss", data={"csrf_token": tok, "confirm": code})
    assert r.status_code == 409 and "already revoked" in alert(r) and fingerprint(ctx) == after


def test_cancel_needs_manage(app, ctx: ServiceContext, fingerprint) -> None:  # type: ignore[no-untyped-def]
    code, _key = issue(ctx)
    holder = person_client(app, person(ctx, {code: "hold"}))
    tok = token(holder, f"/portal/seals/{code}")
    before = fingerprint(ctx)
    for action, data in (("cancel", {"confirm": code}), ("renew", {"key": "same"})):
        r = holder.post(f"/portal/seals/{code}/{action}", data={"csrf_token": tok, **data})
        assert r.status_code == 403 and "authority to manage" in alert(r)
    assert fingerprint(ctx) == before
    c = client_for(app, ctx)
    tok = token(c, f"/portal/seals/{code}")
    r = c.post(f"/portal/seals/{code}/cancel", data={"csrf_token": tok, "confirm": code})
    assert r.status_code == 302 and "cessation of operation" in text(c.get(f"/portal/seals/{code}"))
    assert revocation.CANCEL_REASON.rfc_name == "cessationOfOperation"


# ------------------------------------------------------------------------------------------------
# Isolation


def test_another_enterprise_gets_404_at_every_seal_url(app, ctx: ServiceContext, fingerprint) -> None:  # type: ignore[no-untyped-def]
    mine, _key = issue(ctx)
    into_window(ctx, mine)
    b = client_for(app, ctx, OTHER_USCC)
    tok = token(b)
    before = fingerprint(ctx)
    gets = [
        "",
        "/picture.png",
        "/seal.esl",
        "/cert.pem",
        "/chain.pem",
        "/maker-chain.pem",
        "/chain.p7b",
        "/certificate",
    ]
    for suffix in gets:
        r = b.get(f"/portal/seals/{mine}{suffix}")
        assert r.status_code == 404, suffix
        assert "深圳市前海示范科技有限公司" not in text(r)  # the message echoes only the code typed
    posts = {"renew": {"key": "same"}, "loss": {"confirm": mine}, "cancel": {"confirm": mine}}
    for action, data in posts.items():
        r = b.post(f"/portal/seals/{mine}/{action}", data={"csrf_token": tok, **data})
        assert r.status_code == 404, action
    # with a bad CSR or an oversized upload too: the seal is looked up first
    r = post_files(b, f"/portal/seals/{mine}/renew", {"key": "new", "csr": (io.BytesIO(b"x" * 70000), "r.csr")}, tok)
    assert r.status_code == 404
    assert fingerprint(ctx) == before
    # a code that does not exist at all looks the same
    assert b.get("/portal/seals/NOPE").status_code == 404
    # a person of A without a grant on the seal gets 404 as well
    stranger = person_client(app, person(ctx, {}, username="li"))
    assert stranger.get(f"/portal/seals/{mine}").status_code == 404
