"""The checks of a seal (its maker's signature, the maker certificate, its validity window and holder
certificates) and of a document (its digest, the parts an OFD signature protects).

Maker signatures are verified once per seal and process: :data:`_seal_verdicts` keeps each result
by the exact bytes it was computed from (many documents carry the same seal)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, TypeVar

from cryptography.hazmat.primitives import hashes

from ...messages import M, text_of
from .. import ofd, ses
from ..keys import KeyFormatError, algorithm_for_signature_oid
from ..x509 import CertificateError
from .chain import _check_certificate, _finish, _name
from .report import Check, Msg, TrustSource, _iso, _when


def _seal_summary(seal: ses.Seal) -> dict[str, Any]:
    maker = None
    try:
        maker = _name(seal.maker_certificate())
    except ses.SesError:
        pass
    return {
        "es_id": seal.es_id,
        "name": seal.property.name,
        "type": seal.property.type,
        "generation": seal.generation,
        "vid": seal.vid,
        "created": _iso(seal.property.create_date),
        "valid_start": _iso(seal.property.valid_start),
        "valid_end": _iso(seal.property.valid_end),
        "maker": maker,
        "picture_type": seal.picture.type,
        "picture_size_mm": [seal.picture.width, seal.picture.height],
    }


_T = TypeVar("_T")


def _crypto_check(cid: str, fn: Callable[[_T], bool], arg: _T, ok_msg: Msg, bad_msg: Msg) -> Check:
    check = Check(cid, True)
    try:
        good = fn(arg)
    except ses.SesError as exc:
        check.ok = False
        check.reasons.append((f"无法验证：{text_of(exc, 'zh')}", f"cannot be verified: {exc}"))
        return check
    if good:
        check.reasons.append(ok_msg)
    else:
        check.ok = False
        check.reasons.append(bad_msg)
    return check


_SEAL_VERDICTS_SIZE = 4096
# (signed bytes, maker certificate, algorithm, signature value) -> (verified, why it could not be)
_seal_verdicts: dict[tuple[bytes, bytes, str, bytes], tuple[bool, ses.SesError | None]] = {}


def _seal_signature_verdict(seal: ses.Seal) -> tuple[bool, ses.SesError | None]:
    """The maker-signature result for a seal, kept by the exact bytes it was computed from (a
    cryptographic fact that never changes: cached per process, like certificate signatures; many
    documents carry the same seal)."""
    key = (seal.signed_bytes, seal.maker_cert, seal.signature_algorithm, seal.signature)
    verdict = _seal_verdicts.get(key)
    if verdict is None:
        try:
            verdict = ses.verify_seal_signature(seal), None
        except ses.SesError as exc:
            verdict = False, exc
        if len(_seal_verdicts) >= _SEAL_VERDICTS_SIZE:
            try:
                del _seal_verdicts[next(iter(_seal_verdicts))]
            except (KeyError, StopIteration, RuntimeError):  # another thread got there first
                pass
        _seal_verdicts[key] = verdict
    return verdict


def _cached_seal_signature(seal: ses.Seal) -> bool:
    ok, error = _seal_signature_verdict(seal)
    if error is not None:
        raise ses.SesError.carrying(error)
    return ok


def _seal_signature_check(seal: ses.Seal) -> Check:
    return _crypto_check(
        "seal_signature",
        _cached_seal_signature,
        seal,
        ("制章者签名有效，印章数据完整", "the seal maker's signature is intact"),
        (
            "制章者签名无效：印章数据被改动或不是该制章者证书签发",
            "the seal maker's signature does not verify: the seal was altered or not made with this maker certificate",
        ),
    )


def _maker_check(seal: ses.Seal, now: dt.datetime, trust: TrustSource) -> Check:
    check = Check("maker_certificate", True)
    try:
        maker = seal.maker_certificate()
        alg = algorithm_for_signature_oid(seal.signature_algorithm)
        if maker.public_key.algorithm is not alg:
            raise ses.SesError(
                M(
                    "verifier.maker_certificate_key_does",
                    "maker certificate key does not match the seal's signature algorithm",
                    "制章者证书的密钥与印章的签名算法不符",
                )
            )
    except (ses.SesError, KeyFormatError, CertificateError) as exc:
        check.ok = False
        check.reasons.append(
            (f"制章者证书不可用：{text_of(exc, 'zh')}", f"the seal maker certificate cannot be used: {exc}")
        )
        return check
    at = seal.property.create_date
    _check_certificate(
        maker,
        at,
        now,
        trust,
        ("制章者证书", "seal maker certificate"),
        check,
        later_is_note=True,
        role="seal",
        seal=seal,
    )
    return _finish(
        check,
        (
            f"制章者证书“{_name(maker)}”在制章时间 {_when(at)} 有效且受信任",
            f"the seal maker certificate '{_name(maker)}' was valid and trusted when the seal was made ({_when(at)})",
        ),
    )


def _seal_validity_check(seal: ses.Seal, at: dt.datetime, trust: TrustSource, *, at_label: Msg) -> Check:
    check = Check("seal_validity", True)
    p = seal.property
    if at < p.valid_start:
        check.reasons.append(
            (
                f"{at_label[0]} {_when(at)} 早于印章有效期起始 {_when(p.valid_start)}",
                f"the {at_label[1]} {_when(at)} is before the seal's validity starts ({_when(p.valid_start)})",
            )
        )
    elif at > p.valid_end:
        check.reasons.append(
            (
                f"{at_label[0]} {_when(at)} 晚于印章有效期终止 {_when(p.valid_end)}",
                f"the {at_label[1]} {_when(at)} is after the seal's validity ended ({_when(p.valid_end)})",
            )
        )
    if p.create_date > at:
        check.reasons.append(
            (
                f"印章制作时间 {_when(p.create_date)} 晚于{at_label[0]}",
                f"the seal was made ({_when(p.create_date)}) after the {at_label[1]}",
            )
        )
    record = trust.seal_record(seal)
    if record is not None and record.status in ("revoked", "suspended"):
        word = ("吊销", "revoked") if record.status == "revoked" else ("停用", "suspended")
        reason = f" ({record.reason})" if record.reason else ""
        if record.revoked_at is None or record.revoked_at <= at:
            check.reasons.append(
                (
                    f"本系统记录该印章已于 {_when(record.revoked_at) if record.revoked_at else '?'} {word[0]}{reason}",
                    f"this registry records the seal as {word[1]}{reason} at "
                    f"{_when(record.revoked_at) if record.revoked_at else '?'}",
                )
            )
        else:
            check.notes.append(
                (
                    f"本系统记录该印章于 {_when(record.revoked_at)} {word[0]}{reason}，晚于{at_label[0]}",
                    f"this registry records the seal as {word[1]}{reason} at "
                    f"{_when(record.revoked_at)}, after the {at_label[1]}",
                )
            )
    if record is not None:
        check.notes.append(
            (
                "印章由本系统签发，状态取自本系统登记数据",
                "a seal of this registry: its status comes from the registry's records",
            )
        )
    if check.reasons:
        check.ok = False
    return _finish(
        check,
        (
            f"{at_label[0]}在印章有效期 {_when(p.valid_start)} 至 {_when(p.valid_end)} 之内",
            f"the {at_label[1]} is within the seal's validity ({_when(p.valid_start)} to {_when(p.valid_end)})",
        ),
    )


def _holders_check(seal: ses.Seal, now: dt.datetime, trust: TrustSource) -> Check:
    check = Check("holder_certificates", True)
    if seal.property.cert_list_type != ses.CERT_LIST_CERTIFICATES:
        check.ok = None
        check.reasons.append(
            (
                "印章证书列表只含证书杂凑值，需随签章中的签章人证书一起核验",
                "the seal lists certificate digests only; they are checked against the signer "
                "certificate of each signature",
            )
        )
        return check
    try:
        certs = seal.holder_certs()
    except ses.SesError as exc:
        check.ok = False
        check.reasons.append(
            (f"证书列表无法解析：{text_of(exc, 'zh')}", f"the certificate list cannot be parsed: {exc}")
        )
        return check
    if not certs:
        check.ok = False
        check.reasons.append(("印章证书列表为空", "the seal lists no holder certificate"))
        return check
    usable = 0
    failures: list[Msg] = []
    undecided: list[Msg] = []
    for i, cert in enumerate(certs):
        sub = Check("holder_certificates", True)
        _check_certificate(
            cert,
            now,
            now,
            trust,
            (f"第 {i + 1} 张签章人证书", f"holder certificate {i + 1}"),
            sub,
            later_is_note=False,
            role="holder",
            seal=seal,
        )
        _finish(sub, ("", ""))
        if sub.ok is True:
            usable += 1
        elif sub.ok is None:
            undecided.extend(sub.reasons)
        else:
            failures.extend(sub.reasons)
        check.notes.extend(sub.notes)
    if usable:
        # A seal stays usable while at least one holder certificate is; the others become notes.
        check.notes.extend(failures + undecided)
        check.reasons = [
            (
                f"{usable} / {len(certs)} 张签章人证书当前有效",
                f"{usable} of {len(certs)} holder certificates are valid now",
            )
        ]
        check.ok = True
    else:
        check.reasons = failures + undecided
        check.ok = None if undecided and not failures else False
    return check


def _digest(method: str, data: bytes) -> bytes:
    """:func:`ofd.digest`, with SM3 through OpenSSL (``cryptography``): faster than gmalglib's on
    documents of any size."""
    if method == "sm3":
        h = hashes.Hash(hashes.SM3())
        h.update(data)
        return h.finalize()
    return ofd.digest(method, data)


def _document_check(sig: ses.SesSignature, document: bytes | None, label: Msg | None) -> Check:
    check = Check("document_digest", True)
    if document is None:
        check.ok = None
        check.reasons.append(
            ("未提供原文，无法核对原文杂凑", "no document was given: the document digest was not checked")
        )
        return check
    label = label or ("原文", "the document")
    try:
        alg = algorithm_for_signature_oid(sig.signature_algorithm)
    except KeyFormatError:
        check.ok = False
        check.reasons.append(
            (
                f"不支持的签名算法 {sig.signature_algorithm}",
                f"unsupported signature algorithm {sig.signature_algorithm}",
            )
        )
        return check
    method = "sm3" if alg.value == "sm2" else "sha256"
    if _digest(method, document) == sig.data_hash:
        check.reasons.append(
            (
                f"{label[0]}的 {method.upper()} 杂凑值与签章一致",
                f"the {method.upper()} digest of {label[1]} matches the signature",
            )
        )
    else:
        check.ok = False
        check.reasons.append(
            (
                f"{label[0]}的 {method.upper()} 杂凑值与签章不符：原文被改动或不是所签文件",
                f"the {method.upper()} digest of {label[1]} does not match the signature: it was "
                "altered or is not the signed document",
            )
        )
    return check


def _parts_check(pkg: ofd.Package, entry: ofd.SignatureEntry) -> Check:
    check = Check("document_parts", True)
    for note in entry.problems:
        check.notes.append((note, note))
    if entry.check_method is None:
        check.ok = False
        check.reasons.append(
            (f"不支持的杂凑算法 {entry.check_method_raw!r}", f"unsupported digest method {entry.check_method_raw!r}")
        )
        return check
    if not entry.references:
        check.ok = False
        check.reasons.append(("签章没有保护任何文档内容", "the signature protects no document part"))
        return check
    bad: list[str] = []
    missing: list[str] = []
    for ref in entry.references:
        if not pkg.has(ref.path):
            missing.append(ref.path)
        elif _digest(entry.check_method, pkg.read(ref.path)) != ref.check_value:
            bad.append(ref.path)
    if missing:
        check.reasons.append(
            (
                "被保护的文件缺失：" + "、".join(f"/{p}" for p in missing),
                "protected parts are missing: " + ", ".join(f"/{p}" for p in missing),
            )
        )
    if bad:
        check.reasons.append(
            (
                "以下文件在签章后被改动：" + "、".join(f"/{p}" for p in bad),
                "these parts were changed after signing: " + ", ".join(f"/{p}" for p in bad),
            )
        )
    if missing or bad:
        check.ok = False
        return check
    protected = {r.path for r in entry.references}
    sign_dir = entry.signature_xml_path.rsplit("/", 2)[0] + "/"
    extra = [n for n in pkg.names if n not in protected and not n.startswith(sign_dir) and not n.endswith("/")]
    if extra:
        check.notes.append(
            (
                "以下文件不受此签章保护：" + "、".join(f"/{p}" for p in extra[:20]),
                "these parts are not protected by this signature: " + ", ".join(f"/{p}" for p in extra[:20]),
            )
        )
    method = entry.check_method.upper()
    check.reasons.append(
        (
            f"{len(entry.references)} 个被保护文件的 {method} 杂凑值全部一致",
            f"all {len(entry.references)} protected parts match their {method} digests",
        )
    )
    return check
