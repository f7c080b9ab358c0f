"""Reading a trust list: every part checked, each refusal naming its field."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence

from ...pki.keys import KeyFormatError, PublicKey
from ...pki.x509 import Certificate, CertificateError
from ..errors import M, Message
from .fields import _check_url, _Obj, _read_json
from .model import (
    _AREA,
    _KEY_ALGS,
    _KID,
    _MAX_AGE_HOURS,
    _MAX_SEQUENCE,
    _OID,
    _PREFIX,
    _SEAL_TYPE,
    _SERVICE_ID,
    _SHARDS,
    _TYPE_NAMES,
    _WRONG_TYPE,
    FORMAT,
    SERVICE_ALGS,
    Constraints,
    CrlPoint,
    HistoryEntry,
    KeyStatus,
    OcspPoint,
    Operator,
    Previous,
    Scheme,
    Service,
    ServiceRole,
    ServiceStatus,
    SigningKey,
    StatusApi,
    TrustList,
    _error,
)


def _operator(o: _Obj) -> Operator:
    area = o.text("area_code", max_len=20)
    if not _AREA.match(area):
        raise _error(
            M(
                "trust_list.area_code",
                "{field} is {value}, not a 6-digit area code",
                "{field} 为 {value}，不是 6 位地区代码",
            ),
            field=o.at("area_code"),
            value=repr(area[:20]),
        )
    op = Operator(area, o.text("name_zh", max_len=200), o.text("name_en", max_len=200))
    o.done()
    return op


def _signing_key(o: _Obj) -> SigningKey:
    kid = o.text("kid", max_len=80)
    if not _KID.match(kid):
        raise _error(
            M(
                "trust_list.bad_kid",
                "{field} must be sha256: and 64 lowercase hexadecimal digits",
                "{field} 应为 sha256: 加 64 位小写十六进制数字",
            ),
            field=o.at("kid"),
        )
    alg = o.choice("alg", _KEY_ALGS)
    spki = o.b64("spki")
    try:
        key = PublicKey.from_spki(spki)
    except KeyFormatError as exc:
        raise _error(
            M("trust_list.bad_spki", "{field} is not a public key: {exc}", "{field} 不是公钥：{exc}"),
            field=o.at("spki"),
            exc=exc,
        ) from None
    if key.spki() != spki:
        raise _error(
            M(
                "trust_list.spki_not_der",
                "{field} is not in the DER encoding of a SubjectPublicKeyInfo",
                "{field} 不是 SubjectPublicKeyInfo 的 DER 编码",
            ),
            field=o.at("spki"),
        )
    expected = "sha256:" + hashlib.sha256(spki).hexdigest()
    if kid != expected:
        raise _error(
            M(
                "trust_list.kid_mismatch",
                "{field} is {kid}, but the key's SubjectPublicKeyInfo hashes to {expected}",
                "{field} 为 {kid}，但该密钥的 SubjectPublicKeyInfo 的哈希值为 {expected}",
            ),
            field=o.at("kid"),
            kid=kid,
            expected=expected,
        )
    if key.algorithm is not _KEY_ALGS[alg]:
        raise _error(
            M(
                "trust_list.key_alg",
                "{field} is {alg}, but the key is {actual}",
                "{field} 为 {alg}，但该密钥为 {actual}",
            ),
            field=o.at("alg"),
            alg=alg,
            actual=key.algorithm.label,
        )
    sk = SigningKey(kid, alg, spki, o.enum("status", KeyStatus), o.time("not_before", required=False))
    o.done()
    return sk


def _unique(values: Iterable[tuple[str, str]]) -> None:
    seen: set[str] = set()
    for value, path in values:
        if value in seen:
            raise _error(
                M("trust_list.listed_twice", "{field}: {value} is listed twice", "{field}：{value} 重复列出"),
                field=path,
                value=value,
            )
        seen.add(value)


def _scheme(o: _Obj) -> Scheme:
    operator_obj = o.obj("operator")
    assert operator_obj is not None
    operator = _operator(operator_obj)
    sequence = o.integer("sequence", 1, _MAX_SEQUENCE)
    issued_at, next_update = o.time("issued_at"), o.time("next_update")
    if next_update <= issued_at:
        raise _error(
            M(
                "trust_list.next_update_not_after",
                "{field} must be after scheme.issued_at",
                "{field} 必须晚于 scheme.issued_at",
            ),
            field=o.at("next_update"),
        )
    prev_obj = o.obj("previous", required=False)
    previous = None
    if prev_obj is not None:
        previous = Previous(
            prev_obj.integer("sequence", 1, _MAX_SEQUENCE), prev_obj.hex64("sha256"), prev_obj.url("url")
        )
        prev_obj.done()
        if previous.sequence != sequence - 1:
            raise _error(
                M(
                    "trust_list.previous_sequence",
                    "{field} is {value}, not {expected} (the list's sequence less one)",
                    "{field} 为 {value}，应为 {expected}（本列表序号减一）",
                ),
                field=prev_obj.at("sequence"),
                value=previous.sequence,
                expected=sequence - 1,
            )
    elif sequence > 1:
        raise _error(
            M(
                "trust_list.previous_missing",
                "{field} is missing: only list 1 has no previous list",
                "缺少 {field}：只有第 1 版列表没有上一版",
            ),
            field=o.at("previous"),
        )
    keys = tuple(_signing_key(_Obj(item, path)) for item, path in o.items("signing_keys", max_items=64))
    _unique((k.kid, f"{o.at('signing_keys')}[{i}].kid") for i, k in enumerate(keys))
    if not any(k.status is KeyStatus.CURRENT for k in keys):
        raise _error(
            M(
                "trust_list.no_current_key",
                "{field} lists no current key",
                "{field} 中没有状态为 current 的密钥",
            ),
            field=o.at("signing_keys"),
        )
    points = []
    for item, path in o.items("distribution_points", required=False, max_items=64):
        if not isinstance(item, str):
            raise _error(_WRONG_TYPE, field=path, expected=_TYPE_NAMES["string"])
        _check_url(item, path)
        points.append(item)
    scheme = Scheme(
        operator, sequence, issued_at, next_update, keys, previous, tuple(points), o.url("policy_url", required=False)
    )
    o.done()
    return scheme


def _strings(o: _Obj, key: str, pattern: re.Pattern[str], what: Message) -> tuple[str, ...] | None:
    if o.get(key, required=False) is None:
        return None
    out = []
    for item, path in o.items(key, max_items=1000):
        if not isinstance(item, str) or not pattern.match(item):
            raise _error(
                M("trust_list.not_a", "{field} is not {what}", "{field} 不是{what}"),
                field=path,
                what=what,
            )
        out.append(item)
    _unique((v, f"{o.at(key)}[{i}]") for i, v in enumerate(out))
    return tuple(out)


def _constraints(o: _Obj) -> Constraints:
    prefix = o.text("es_id_prefix", required=False, max_len=20)
    if prefix is not None and not _PREFIX.match(prefix):
        raise _error(
            M(
                "trust_list.es_id_prefix",
                "{field} must be 2 to 6 digits (the start of an esID's area code)",
                "{field} 应为 2 至 6 位数字（esID 地区代码的开头）",
            ),
            field=o.at("es_id_prefix"),
        )
    c = Constraints(
        prefix,
        _strings(
            o, "seal_types", _SEAL_TYPE, M("trust_list.what.seal_type", "a 2-digit seal type", "2 位印章类型代码")
        ),
        _strings(o, "policy_oids", _OID, M("trust_list.what.oid", "a dotted OID", "点分形式的 OID")),
    )
    o.done()
    return c


def _crl(o: _Obj) -> CrlPoint:
    url = o.url("url")
    point = CrlPoint(url, o.integer("max_age_hours", 1, _MAX_AGE_HOURS), o.integer("shards", 1, 1024, required=False))
    o.done()
    found = _SHARDS.findall(url)
    if point.shards is None and found or point.shards is not None and found != [str(point.shards - 1)]:
        raise _error(
            M(
                "trust_list.shards",
                "{field}: a CRL in n shards has a URL with {{0..n-1}} once, and only then",
                "{field}：分为 n 片的 CRL 的网址中须恰有一处 {{0..n-1}}，其他 CRL 则不得有",
            ),
            field=o.path,
        )
    return point


def _history(o: _Obj) -> HistoryEntry:
    h = HistoryEntry(o.enum("status", ServiceStatus), o.time("since"))
    o.done()
    return h


def _service(o: _Obj) -> tuple[Service, Certificate]:
    service_id = o.text("id", max_len=80)
    if not _SERVICE_ID.match(service_id):
        raise _error(
            M(
                "trust_list.service_id",
                "{field} must be lowercase letters, digits, '.', '_' or '-' (at most 64)",
                "{field} 只能由小写字母、数字、“.”、“_”或“-”组成（至多 64 个）",
            ),
            field=o.at("id"),
        )
    role = o.enum("role", ServiceRole)
    alg = o.choice("alg", SERVICE_ALGS)
    issuer = o.text("issuer", required=False, max_len=80)
    cert_der = o.b64("cert")
    try:
        cert = Certificate.from_der(cert_der)
        if cert.der != cert_der:
            raise _error(
                M(
                    "trust_list.cert_trailing",
                    "{field} has bytes after the certificate",
                    "{field} 在证书之后还有多余字节",
                ),
                field=o.at("cert"),
            )
        key_alg = cert.public_key.algorithm
    except CertificateError as exc:
        raise _error(
            M("trust_list.bad_cert", "{field} is not a certificate: {exc}", "{field} 不是证书：{exc}"),
            field=o.at("cert"),
            exc=exc,
        ) from None
    sha256 = o.hex64("sha256")
    expected = hashlib.sha256(cert_der).hexdigest()
    if sha256 != expected:
        raise _error(
            M(
                "trust_list.cert_sha256",
                "{field} is {value}, but the certificate hashes to {expected}",
                "{field} 为 {value}，但证书的哈希值为 {expected}",
            ),
            field=o.at("sha256"),
            value=sha256,
            expected=expected,
        )
    if key_alg is not SERVICE_ALGS[alg]:
        raise _error(
            M(
                "trust_list.cert_alg",
                "{field} is {alg}, but the certificate's key is {actual}",
                "{field} 为 {alg}，但证书的密钥为 {actual}",
            ),
            field=o.at("alg"),
            alg=alg,
            actual=key_alg.label,
        )
    status, since = o.enum("status", ServiceStatus), o.time("status_since")
    history = tuple(_history(_Obj(item, path)) for item, path in o.items("history", required=False, max_items=1000))
    if any(b.since < a.since for a, b in zip(history, history[1:], strict=False)):
        raise _error(
            M("trust_list.history_order", "{field} is not in time order", "{field} 未按时间顺序排列"),
            field=o.at("history"),
        )
    if history and (history[-1].status, history[-1].since) != (status, since):
        raise _error(
            M(
                "trust_list.history_last",
                "{field} must end with the current status and status_since",
                "{field} 的最后一项须为当前的 status 与 status_since",
            ),
            field=o.at("history"),
        )
    crl = tuple(_crl(_Obj(item, path)) for item, path in o.items("crl", required=False, max_items=64))
    ocsp = []
    for item, path in o.items("ocsp", required=False, max_items=16):
        point = _Obj(item, path)
        ocsp.append(OcspPoint(point.url("url")))
        point.done()
    constraints_obj = o.obj("constraints", required=False)
    constraints = _constraints(constraints_obj) if constraints_obj is not None else None
    if role is ServiceRole.SEAL_MAKER and (constraints is None or constraints.es_id_prefix is None):
        raise _error(
            M(
                "trust_list.maker_unscoped",
                "{field}: a seal maker must be scoped by constraints.es_id_prefix",
                "{field}：制章者必须以 constraints.es_id_prefix 限定范围",
            ),
            field=o.path,
        )
    o.done()
    service = Service(
        service_id, role, alg, cert_der, sha256, status, since, issuer, history, crl, tuple(ocsp), constraints
    )
    return service, cert


def _check_issuers(services: Sequence[tuple[Service, Certificate]]) -> None:
    by_id = {s.id: (s, c) for s, c in services}
    for i, (service, cert) in enumerate(services):
        path = f"services[{i}].issuer"
        if service.role is ServiceRole.ROOT:
            if service.issuer is not None:
                raise _error(
                    M("trust_list.root_issuer", "{field}: a root has no issuer", "{field}：根证书没有签发者"),
                    field=path,
                )
            if cert.issuer_der != cert.subject_der:
                raise _error(
                    M(
                        "trust_list.root_not_self_issued",
                        "{field}: a root's certificate must be self-issued",
                        "{field}：根证书必须是自签发的",
                    ),
                    field=f"services[{i}].cert",
                )
            continue
        if service.issuer is None:
            continue
        found = by_id.get(service.issuer)
        if found is None:
            raise _error(
                M(
                    "trust_list.issuer_unknown",
                    "{field} names {value}, which is not a service of this list",
                    "{field} 指向 {value}，但本列表中没有该服务",
                ),
                field=path,
                value=service.issuer,
            )
        issuer, issuer_cert = found
        if issuer.role not in (ServiceRole.ROOT, ServiceRole.ISSUING_CA) or issuer.id == service.id:
            raise _error(
                M(
                    "trust_list.issuer_not_ca",
                    "{field} names {value}, which is not another root or issuing CA of this list",
                    "{field} 指向 {value}，但它不是本列表中另一个根 CA 或签发 CA",
                ),
                field=path,
                value=service.issuer,
            )
        if cert.issuer_der != issuer_cert.subject_der:
            raise _error(
                M(
                    "trust_list.issuer_name",
                    "{field}: the certificate's issuer is not the subject of {value}'s certificate",
                    "{field}：证书的签发者不是 {value} 证书的主体",
                ),
                field=path,
                value=service.issuer,
            )


def parse(data: bytes) -> TrustList:
    """The trust list in ``data`` (the exact bytes that were signed), fully checked."""
    top = _Obj(_read_json(data), "")
    fmt = top.text("format", max_len=80)
    if fmt != FORMAT:
        raise _error(
            M("trust_list.format", "format is {value}, not {format}", "format 为 {value}，不是 {format}"),
            value=repr(fmt[:40]),
            format=FORMAT,
        )
    scheme_obj = top.obj("scheme")
    assert scheme_obj is not None
    scheme = _scheme(scheme_obj)
    services = [_service(_Obj(item, path)) for item, path in top.items("services")]
    _unique((s.id, f"services[{i}].id") for i, (s, _c) in enumerate(services))
    _check_issuers(services)
    api_obj = top.obj("status_api", required=False)
    status_api = None
    if api_obj is not None:
        url = api_obj.url("url")
        if "{esID}" not in url:
            raise _error(
                M(
                    "trust_list.status_api_url",
                    "{field} must hold {{esID}} where the seal's esID goes",
                    "{field} 中须以 {{esID}} 标出印章 esID 的位置",
                ),
                field=api_obj.at("url"),
            )
        status_api = StatusApi(url, api_obj.flag("signed"))
        api_obj.done()
    top.done()
    return TrustList(scheme, tuple(s for s, _c in services), status_api)
