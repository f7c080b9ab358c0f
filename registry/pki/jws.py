"""JWS General JSON Serialization (RFC 7515 §7.2.1) over exact payload bytes, with several signatures.

What the trust lists are signed with (mutual-recognition.md §2.1): one payload, one signature per
list-signing key, so that a GM-only verifier checks the SM2 one and an international one the ES256
one. The document is::

    {"payload": BASE64URL(payload),
     "signatures": [{"protected": BASE64URL(UTF8(header)), "signature": BASE64URL(value)}, ...]}

* Each protected header is ``{"alg": ..., "kid": ...}`` and nothing else; ``kid`` is
  ``"sha256:" + hex SHA-256 of the key's SubjectPublicKeyInfo DER`` (:func:`kid_for`), the same
  64 lowercase hex digits an operator pins (:func:`spki_fingerprint`).
* ``ES256`` (RFC 7518 §3.4): ECDSA P-256 with SHA-256, the value is raw ``r || s`` (64 bytes).
  It is signed through the project's :class:`~registry.pki.keys.Signer` (a software key or an
  HSM session, which a JOSE library cannot take) and **verified with jwcrypto**; the tests check the
  documents with jwcrypto and with node's ``jose`` package as well.
* ``SM2-SM3`` (a private, collision-resistant name, RFC 7515 §4.1.1): SM2 with SM3 and the GM/T 0009
  default user ID ``1234567812345678`` over the same ASCII JWS signing input
  ``BASE64URL(protected) || '.' || BASE64URL(payload)``, through the project's SM2 signer. The
  value is encoded like ES256: raw ``r || s``, 32 bytes each, big-endian (not the DER
  ``SEQUENCE { r, s }`` of GB/T 35276). ``openssl dgst -sm3 -sigopt distid:1234567812345678`` checks
  it once converted to DER.

Reading (:func:`verify`) is strict; the whole document is refused (:class:`JwsError`, with a
code) when it is larger than ``max_size``, not UTF-8 JSON, nested deeper than the format needs, has
a key twice in any object, is not the general serialization (flattened or compact forms, top-level
or per-signature members other than the ones above, an unprotected ``header``), has a base64url
part that is padded or not canonical, a protected header that is not a JSON object (or nests
deeper than an array or object in it), lacks
``alg`` or ``kid``, has ``alg`` ``none``, any ``crit``, a malformed ``kid``, or the same ``kid``
twice. Other header parameters are ignored (RFC 7515 §4): keys are found by ``kid`` among the ones
the caller pins, never from ``jwk``, ``x5c`` or a URL in the header.
Each signature is then judged on its own and reported (:class:`SignatureResult`): an algorithm we
do not implement, a key not among the ones given, an algorithm that is not the key's, a value of
the wrong length or one that does not verify. :func:`verify` returns the payload only if at least
one signature verifies under a given key, and otherwise raises with every signature's reason.
Pure: no clock, no I/O.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass

from jwcrypto.common import JWException
from jwcrypto.jwk import JWK
from jwcrypto.jws import JWS

from ..messages import Localized, M, Message
from .keys import Algorithm, KeyFormatError, PublicKey, Signer, sig_from_der, sig_to_der
from .strict_json import DuplicateKey, nesting_depth, no_duplicate_keys

__all__ = [
    "ES256",
    "SM2_SM3",
    "ALGORITHMS",
    "MAX_SIZE",
    "JwsError",
    "SignatureResult",
    "VerifiedJws",
    "alg_for",
    "kid_for",
    "spki_fingerprint",
    "normalize_fingerprint",
    "signing_input",
    "sign",
    "verify",
    "unverified_payload",
]

ES256 = "ES256"
SM2_SM3 = "SM2-SM3"
ALGORITHMS = (ES256, SM2_SM3)
_ALG_OF = {Algorithm.ECDSA: ES256, Algorithm.SM2: SM2_SM3}

#: Largest JWS document read (bytes): a trust list of a few hundred certificates is well below.
MAX_SIZE = 8 * 1024 * 1024
#: document → signatures[] → signature object (→ an unprotected header, refused with its own
#: message); the protected header is decoded separately and may hold an array (``crit``).
_MAX_DEPTH = 4
_MAX_HEADER_DEPTH = 2
_MAX_HEADER = 4096
_MAX_SIGNATURES = 16
_KID = re.compile(r"^sha256:[0-9a-f]{64}$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_B64URL = re.compile(r"^[A-Za-z0-9_-]*$")


class JwsError(Localized, ValueError):
    """The JWS document is malformed, or none of its signatures verifies; the message says which.

    ``signatures`` holds each signature's result when the document could be read."""

    signatures: tuple[SignatureResult, ...] = ()


@dataclass(frozen=True)
class SignatureResult:
    """One signature of the document: its header's ``alg`` and ``kid``, and whether it verified
    under the key of that kid (``reason`` says why not)."""

    index: int
    alg: str
    kid: str
    verified: bool
    reason: Message | None = None


@dataclass(frozen=True)
class VerifiedJws:
    """The exact payload bytes and the kids whose signatures verified (in document order)."""

    payload: bytes
    verified_kids: tuple[str, ...]
    signatures: tuple[SignatureResult, ...]


# -- key identities --------------------------------------------------------------------------


def spki_fingerprint(spki_der: bytes) -> str:
    """SHA-256 of a SubjectPublicKeyInfo DER, 64 lowercase hex digits: what another region pins."""
    return hashlib.sha256(spki_der).hexdigest()


def kid_for(key: PublicKey) -> str:
    """The ``kid`` of a key's signatures: ``"sha256:" +`` :func:`spki_fingerprint` of its SPKI."""
    return "sha256:" + spki_fingerprint(key.spki())


def alg_for(key: PublicKey) -> str:
    """The JWS ``alg`` a key signs with: ``ES256`` for P-256, ``SM2-SM3`` for SM2."""
    return _ALG_OF[key.algorithm]


def normalize_fingerprint(text: str) -> str:
    """A fingerprint as typed or read back (upper case, grouped with spaces or colons, with or
    without ``sha256:``) → 64 lowercase hex digits; anything else is refused."""
    value = (text or "").strip().lower()
    if value.startswith("sha256:"):
        value = value[len("sha256:") :]
    value = re.sub(r"[\s:]", "", value)
    if not _HEX64.match(value):
        raise JwsError(
            M(
                "jws.bad_fingerprint",
                "a key fingerprint is 64 hexadecimal digits (the SHA-256 of the SubjectPublicKeyInfo), got {value}",
                "密钥指纹应为 64 位十六进制数字（SubjectPublicKeyInfo 的 SHA-256），现为 {value}",
            ),
            value=repr((text or "")[:80]),
        )
    return value


# -- encoding --------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


_PART = {
    "payload": M("jws.part.payload", "payload", "载荷（payload）"),
    "protected": M("jws.part.protected", "protected header", "受保护头部（protected）"),
    "signature": M("jws.part.signature", "signature", "签名值（signature）"),
}


def _unb64(text: str, what: str, index: int | None = None) -> bytes:
    """Strict base64url (RFC 7515 §2): the URL-safe alphabet, no padding, no other encoding of
    the same bytes."""
    data = b""
    ok = bool(_B64URL.match(text)) and len(text) % 4 != 1
    if ok:
        try:
            data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        except (binascii.Error, ValueError):
            ok = False
    if not ok or _b64(data) != text:
        raise JwsError(
            M(
                "jws.not_base64url",
                "the JWS {what}{where} is not unpadded base64url",
                "JWS 的{what}{where}不是无填充的 base64url 编码",
            ),
            what=_PART[what],
            where=_where(index),
        )
    return data


def _where(index: int | None) -> str:
    return "" if index is None else f" #{index + 1}"


def signing_input(protected_b64: str, payload_b64: str) -> bytes:
    """The JWS Signing Input (RFC 7515 §5.1 step 8): ``ASCII(protected '.' payload)``."""
    return f"{protected_b64}.{payload_b64}".encode("ascii")


def _raw(der_signature: bytes) -> bytes:
    r, s = sig_from_der(der_signature)
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


# -- signing ---------------------------------------------------------------------------------


def sign(payload: bytes, signers: Iterable[Signer]) -> bytes:
    """The JWS General JSON document (UTF-8 bytes, keys sorted, no spaces) carrying one signature
    per signer over ``payload``, in the order given."""
    payload_b64 = _b64(payload)
    signatures = []
    seen: set[str] = set()
    for signer in signers:
        key = signer.public_key
        kid = kid_for(key)
        if kid in seen:
            raise JwsError(
                M("jws.signer_twice", "the key {kid} is given twice to sign", "密钥 {kid} 被重复用于签名"), kid=kid
            )
        seen.add(kid)
        header = json.dumps({"alg": alg_for(key), "kid": kid}, sort_keys=True, separators=(",", ":"))
        protected_b64 = _b64(header.encode("ascii"))
        value = _raw(signer.sign(signing_input(protected_b64, payload_b64)))
        signatures.append({"protected": protected_b64, "signature": _b64(value)})
    if not signatures:
        raise JwsError(M("jws.no_signer", "no key given to sign with", "未提供签名密钥"))
    doc = {"payload": payload_b64, "signatures": signatures}
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode("ascii")


# -- reading ---------------------------------------------------------------------------------

_MALFORMED = M(
    "jws.malformed",
    "not a JWS in the general JSON serialization (an object with payload and signatures)",
    "不是通用 JSON 序列化的 JWS（应为含 payload 与 signatures 的对象）",
)


def _json(data: bytes | str, limit: int, what: Message) -> object:
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError:
        raise JwsError(
            M("jws.not_json", "the JWS {what} is not UTF-8 JSON", "JWS 的{what}不是 UTF-8 JSON"), what=what
        ) from None
    if nesting_depth(text, limit) > limit:
        raise JwsError(
            M("jws.too_deep", "the JWS {what} is nested too deeply", "JWS 的{what}嵌套过深"),
            what=what,
        )
    try:
        return json.loads(text, object_pairs_hook=no_duplicate_keys)
    except DuplicateKey as exc:
        raise JwsError(
            M("jws.duplicate_key", "the JWS {what} has the key {key} twice", "JWS 的{what}中键 {key} 出现了两次"),
            what=what,
            key=repr(exc.key[:40]),
        ) from None
    except (json.JSONDecodeError, RecursionError, ValueError):
        raise JwsError(
            M("jws.not_json", "the JWS {what} is not UTF-8 JSON", "JWS 的{what}不是 UTF-8 JSON"), what=what
        ) from None


_DOCUMENT = M("jws.part.document", "document", "文档")


@dataclass(frozen=True)
class _Entry:
    index: int
    alg: str
    kid: str
    protected_b64: str
    signature: bytes


def _parse(jws: bytes, max_size: int) -> tuple[str, bytes, list[_Entry]]:
    if len(jws) > max_size:
        raise JwsError(
            M(
                "jws.too_large",
                "the JWS document is larger than {limit} bytes",
                "JWS 文档超过 {limit} 字节",
            ),
            limit=max_size,
        )
    doc = _json(jws, _MAX_DEPTH, _DOCUMENT)
    if not isinstance(doc, dict) or set(doc) != {"payload", "signatures"}:
        raise JwsError(_MALFORMED)
    payload_b64, sigs = doc["payload"], doc["signatures"]
    if not isinstance(payload_b64, str) or not isinstance(sigs, list) or not sigs:
        raise JwsError(_MALFORMED)
    if len(sigs) > _MAX_SIGNATURES:
        raise JwsError(
            M(
                "jws.too_many_signatures",
                "the JWS carries more than {limit} signatures",
                "JWS 包含超过 {limit} 个签名",
            ),
            limit=_MAX_SIGNATURES,
        )
    payload = _unb64(payload_b64, "payload")
    entries: list[_Entry] = []
    kids: set[str] = set()
    for index, sig in enumerate(sigs):
        if not isinstance(sig, dict) or set(sig) != {"protected", "signature"}:
            raise JwsError(
                M(
                    "jws.signature_members",
                    "JWS signature #{n} must have exactly the members protected and signature (no unprotected header)",
                    "JWS 第 {n} 个签名必须恰好包含 protected 与 signature 两项（不接受未受保护的 header）",
                ),
                n=index + 1,
            )
        protected_b64, value_b64 = sig["protected"], sig["signature"]
        if not isinstance(protected_b64, str) or not isinstance(value_b64, str) or len(protected_b64) > _MAX_HEADER:
            raise JwsError(_MALFORMED)
        header = _json(_unb64(protected_b64, "protected", index), _MAX_HEADER_DEPTH, _PART["protected"])
        if not isinstance(header, dict):
            raise JwsError(
                M(
                    "jws.header_not_object",
                    "the protected header of JWS signature #{n} is not a JSON object",
                    "JWS 第 {n} 个签名的受保护头部不是 JSON 对象",
                ),
                n=index + 1,
            )
        if "crit" in header:
            raise JwsError(
                M(
                    "jws.crit",
                    "JWS signature #{n} lists critical header parameters (crit), which are not supported",
                    "JWS 第 {n} 个签名声明了关键头部参数（crit），不予支持",
                ),
                n=index + 1,
            )
        alg, kid = header.get("alg"), header.get("kid")
        if not isinstance(alg, str) or not alg:
            raise JwsError(
                M("jws.no_alg", "JWS signature #{n} names no algorithm (alg)", "JWS 第 {n} 个签名未指明算法（alg）"),
                n=index + 1,
            )
        if alg.lower() == "none":
            raise JwsError(
                M(
                    "jws.alg_none",
                    "JWS signature #{n} has algorithm none (unsigned), which is refused",
                    "JWS 第 {n} 个签名的算法为 none（未签名），不予接受",
                ),
                n=index + 1,
            )
        if not isinstance(kid, str) or not _KID.match(kid):
            raise JwsError(
                M(
                    "jws.bad_kid",
                    "JWS signature #{n} has no key id (kid) of the form sha256:<64 lowercase hex digits>",
                    "JWS 第 {n} 个签名缺少形如 sha256:<64 位小写十六进制> 的密钥标识（kid）",
                ),
                n=index + 1,
            )
        if kid in kids:
            raise JwsError(
                M(
                    "jws.kid_twice",
                    "the JWS carries two signatures by the key {kid}",
                    "JWS 包含同一密钥 {kid} 的两个签名",
                ),
                kid=kid,
            )
        kids.add(kid)
        entries.append(_Entry(index, alg, kid, protected_b64, _unb64(value_b64, "signature", index)))
    return payload_b64, payload, entries


_UNSUPPORTED_ALG = M(
    "jws.unsupported_alg",
    "algorithm {alg} is not supported (ES256 or SM2-SM3)",
    "不支持算法 {alg}（应为 ES256 或 SM2-SM3）",
)
_UNKNOWN_KEY = M("jws.unknown_key", "signed by a key that is not trusted here", "签名密钥不在此处信任的密钥之中")
_WRONG_ALG = M(
    "jws.alg_not_key",
    "algorithm {alg} is not the algorithm of the key {kid} ({key_alg})",
    "算法 {alg} 与密钥 {kid} 的算法（{key_alg}）不符",
)
_BAD_LENGTH = M(
    "jws.signature_length",
    "the signature value is {n} bytes, not 64 (r || s)",
    "签名值为 {n} 字节，而非 64 字节（r || s）",
)
_BAD_SIGNATURE = M("jws.signature_invalid", "the signature does not verify", "签名验证未通过")


def _es256_verifies(key: PublicKey, payload_b64: str, entry: _Entry) -> bool:
    """ES256 through jwcrypto (the JOSE side: signing input, base64url, raw r || s, the curve)."""
    flattened = json.dumps(
        {"protected": entry.protected_b64, "payload": payload_b64, "signature": _b64(entry.signature)}
    )
    try:
        JWS().deserialize(flattened, key=JWK.from_pem(key.pem().encode("ascii")), alg=ES256)
    except (JWException, ValueError, TypeError):
        return False
    return True


def _judge(entry: _Entry, key: PublicKey | None, payload_b64: str) -> SignatureResult:
    def refused(reason: Message, **params: object) -> SignatureResult:
        return SignatureResult(entry.index, entry.alg, entry.kid, False, _bound(reason, params))

    if entry.alg not in ALGORITHMS:
        return refused(_UNSUPPORTED_ALG, alg=repr(entry.alg[:40]))
    if key is None:
        return refused(_UNKNOWN_KEY)
    if alg_for(key) != entry.alg:
        return refused(_WRONG_ALG, alg=entry.alg, kid=entry.kid, key_alg=alg_for(key))
    if len(entry.signature) != 64:
        return refused(_BAD_LENGTH, n=len(entry.signature))
    if entry.alg == ES256:
        ok = _es256_verifies(key, payload_b64, entry)
    else:
        try:
            der_value = sig_to_der(entry.signature)
            ok = key.verify(signing_input(entry.protected_b64, payload_b64), der_value)
        except KeyFormatError:
            ok = False
    if not ok:
        return refused(_BAD_SIGNATURE)
    return SignatureResult(entry.index, entry.alg, entry.kid, True)


def _bound(message: Message, params: dict[str, object]) -> Message:
    """A field-free message that says ``message`` with ``params`` filled in, in each language."""
    return Message(message.code, message.format("en", **params), message.format("zh", **params))


def unverified_payload(jws: bytes, *, max_size: int = MAX_SIZE) -> bytes:
    """The payload of a strictly well-formed document, **before** any signature is checked: for a
    caller that finds the candidate keys inside the payload (a trust list names its own signing
    keys) and then calls :func:`verify`, whose verdict alone counts."""
    return _parse(jws, max_size)[1]


def verify(jws: bytes, keys: Iterable[PublicKey], *, max_size: int = MAX_SIZE) -> VerifiedJws:
    """Read a JWS general JSON document strictly and check each signature against ``keys`` (found
    by their kid). The payload is returned only if at least one signature verifies."""
    payload_b64, payload, entries = _parse(jws, max_size)
    by_kid = {kid_for(k): k for k in keys}
    results = tuple(_judge(e, by_kid.get(e.kid), payload_b64) for e in entries)
    verified = tuple(r.kid for r in results if r.verified)
    if not verified:
        error = JwsError(
            M(
                "jws.not_verified",
                "no signature of the JWS verifies under a trusted key: {reasons}",
                "JWS 的签名均未能以受信任的密钥验证通过：{reasons}",
            ),
            reasons=[_Reason(r) for r in results],
        )
        error.signatures = results
        raise error
    return VerifiedJws(payload, verified, results)


class _Reason:
    """One signature's outcome as a bilingual value: ``#1 ES256 sha256:ab12…: reason``."""

    def __init__(self, result: SignatureResult) -> None:
        self.result = result

    def label(self, lang: str) -> str:
        r = self.result
        reason = r.reason.label(lang) if r.reason else ""
        return f"#{r.index + 1} {r.alg[:20]} {r.kid[:19]}…: {reason}"
