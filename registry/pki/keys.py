"""Public and private keys for SM2 (GM/T 0003, curve sm2p256v1) and ECDSA P-256, behind one interface.

* SM2 signs with SM3 and the GM/T 0009 default user ID ``1234567812345678``; signatures are the
  GB/T 35276 DER ``SEQUENCE { r INTEGER, s INTEGER }``. The C library ``gmalglib`` does the curve
  arithmetic (nonce from the OS CSPRNG); ``cryptography`` cannot load SM2 keys.
* ECDSA P-256 with SHA-256 goes through ``cryptography``.
* Private keys serialise as PKCS#8 (``-----BEGIN PRIVATE KEY-----``) with ``id-ecPublicKey`` and the
  curve OID, which OpenSSL 3 reads for both curves. At rest they are wrapped with AES-256-GCM under a
  key-encryption key (see :func:`encrypt_private_key`).
"""

from __future__ import annotations

import enum
import hashlib
import os
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from gmalglib.sm2 import SM2 as _SM2

from ..messages import Localized, M
from . import _libcrypto, der, oids

SM2_DEFAULT_UID = b"1234567812345678"  # GM/T 0009 §10 default user identity


class KeyFormatError(Localized, ValueError):
    """A key, signature or key file is malformed or of an unsupported kind; the message says which."""


class Algorithm(str, enum.Enum):
    SM2 = "sm2"
    ECDSA = "ecdsa"

    @property
    def curve_oid(self) -> str:
        return oids.SM2_CURVE if self is Algorithm.SM2 else oids.P256

    @property
    def signature_oid(self) -> str:
        return oids.SM2_WITH_SM3 if self is Algorithm.SM2 else oids.ECDSA_WITH_SHA256

    @property
    def label(self) -> str:
        return "SM2/SM3" if self is Algorithm.SM2 else "ECDSA P-256/SHA-256"

    @classmethod
    def parse(cls, text: str) -> Algorithm:
        try:
            return cls(text.strip().lower())
        except ValueError:
            raise KeyFormatError(
                M(
                    "key.unknown_algorithm_use_sm2",
                    "unknown algorithm {text}: use sm2 or ecdsa",
                    "未知算法 {text}：请使用 sm2 或 ecdsa",
                ),
                text=f"{text!r}",
            ) from None


_CURVE_TO_ALG = {oids.SM2_CURVE: Algorithm.SM2, oids.P256: Algorithm.ECDSA}
_CURVE_NAMES = {
    "1.3.132.0.34": "secp384r1",
    "1.3.132.0.35": "secp521r1",
    "1.3.132.0.10": "secp256k1",
    "1.2.840.10045.3.1.1": "prime192v1",
    "1.3.132.0.33": "secp224r1",
    "1.3.36.3.3.2.8.1.1.7": "brainpoolP256r1",
}
_KEY_ALG_NAMES = {
    "1.2.840.113549.1.1.1": "RSA",
    "1.3.101.112": "Ed25519",
    "1.3.101.113": "Ed448",
    "1.2.840.10040.4.1": "DSA",
}


def _curve_label(oid: str) -> str:
    return f"{_CURVE_NAMES[oid]} ({oid})" if oid in _CURVE_NAMES else oid


_SIG_TO_ALG = {oids.SM2_WITH_SM3: Algorithm.SM2, oids.ECDSA_WITH_SHA256: Algorithm.ECDSA}


def algorithm_for_signature_oid(oid: str) -> Algorithm:
    try:
        return _SIG_TO_ALG[oid]
    except KeyError:
        raise KeyFormatError(
            M("key.unsupported_signature_algorithm", "unsupported signature algorithm {oid}", "不支持的签名算法 {oid}"),
            oid=oid,
        ) from None


def _algid(alg: Algorithm) -> bytes:
    return der.seq(der.oid(oids.EC_PUBLIC_KEY), der.oid(alg.curve_oid))


def signature_algorithm_identifier(alg: Algorithm) -> bytes:
    """AlgorithmIdentifier for a signature: RFC 5758 §3.2 (and GM/T 0015) omit the parameters."""
    return der.seq(der.oid(alg.signature_oid))


def sig_to_der(raw: bytes) -> bytes:
    """r‖s (64 bytes) → DER SEQUENCE { r, s } (GB/T 35276 §7.3)."""
    return der.seq(der.integer(int.from_bytes(raw[:32], "big")), der.integer(int.from_bytes(raw[32:], "big")))


def sig_from_der(sig: bytes) -> tuple[int, int]:
    try:
        node = der.parse(sig)
        if not node.is_universal(16):
            raise der.DERError(M("key.signature_sequence", "signature is not a SEQUENCE", "签名不是 SEQUENCE"))
        parts = node.children()
        if len(parts) != 2:
            raise der.DERError(
                M(
                    "key.signature_sequence_hold_exactly",
                    "signature SEQUENCE must hold exactly r and s",
                    "签名 SEQUENCE 必须恰好包含 r 和 s",
                )
            )
        r, s = parts[0].as_int(), parts[1].as_int()
    except der.DERError as exc:
        raise KeyFormatError(
            M("key.malformed_signature_value", "malformed signature value: {exc}", "签名值格式错误：{exc}"), exc=exc
        ) from None
    if r <= 0 or s <= 0 or r.bit_length() > 256 or s.bit_length() > 256:
        raise KeyFormatError(M("key.signature_r_s_out", "signature r or s out of range", "签名值 r 或 s 超出范围"))
    if sig != der.seq(der.integer(r), der.integer(s)):  # DER only: no second encoding of (r, s)
        raise KeyFormatError(
            M("key.signature_value_der_encoded", "signature value is not DER-encoded", "签名值不是 DER 编码")
        )
    return r, s


@dataclass(frozen=True)
class PublicKey:
    """An uncompressed EC point on the SM2 or P-256 curve."""

    algorithm: Algorithm
    point: bytes
    # gmalglib's SM2 (untyped, hence Any) for an SM2 key; cryptography's EllipticCurvePublicKey for P-256
    _verifier: Any = field(default=None, compare=False, repr=False)
    # libcrypto SM2 verify, made on first use (False: libcrypto is not usable here)
    _fast: _libcrypto._VerifyFn | Literal[False] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if len(self.point) != 65 or self.point[0] != 4:
            raise KeyFormatError(
                M(
                    "key.public_key_uncompressed_point",
                    "public key must be an uncompressed point (65 bytes, 0x04 prefix)",
                    "公钥必须为非压缩点（65 字节，前缀 0x04）",
                )
            )
        if self.algorithm is Algorithm.SM2:
            if not _SM2.is_pk_valid(self.point):
                raise KeyFormatError(
                    M(
                        "key.public_key_point_sm2",
                        "public key is not a point on the SM2 curve",
                        "公钥不是 SM2 曲线上的点",
                    )
                )
            object.__setattr__(self, "_verifier", _SM2(pk=self.point, uid=SM2_DEFAULT_UID))
        else:
            try:
                pk = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), self.point)
            except ValueError:
                raise KeyFormatError(
                    M(
                        "key.public_key_point_p",
                        "public key is not a point on the P-256 curve",
                        "公钥不是 P-256 曲线上的点",
                    )
                ) from None
            object.__setattr__(self, "_verifier", pk)

    # -- encodings ---------------------------------------------------------------------------

    def spki(self) -> bytes:
        """SubjectPublicKeyInfo DER (RFC 5480 §2; GM/T 0015 uses id-ecPublicKey + sm2 curve)."""
        return der.seq(_algid(self.algorithm), der.bit_string(self.point))

    def pem(self) -> str:
        return der.der_to_pem(self.spki(), "PUBLIC KEY")

    def key_identifier(self) -> bytes:
        """RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING value."""
        return hashlib.sha1(self.point).digest()

    def fingerprint(self) -> str:
        return hashlib.sha256(self.spki()).hexdigest()

    @classmethod
    def from_spki(cls, spki_der: bytes) -> PublicKey:
        try:
            node = der.parse(spki_der)
            alg_node, key_node = node.children()
            alg_parts = alg_node.children()
            alg_oid = alg_parts[0].as_oid()
            if alg_oid != oids.EC_PUBLIC_KEY:
                raise KeyFormatError(
                    M(
                        "key.public_key_algorithm_ec",
                        "public key algorithm {get} ({alg_oid}) is not an EC key (expected SM2 or P-256)",
                        "公钥算法 {get}（{alg_oid}）不是 EC 密钥（应为 SM2 或 P-256）",
                    ),
                    get=_KEY_ALG_NAMES.get(alg_oid, "unknown"),
                    alg_oid=alg_oid,
                )
            if len(alg_parts) != 2:
                raise KeyFormatError(
                    M(
                        "key.ec_public_key_name",
                        "EC public key must name exactly one curve (SM2 or P-256)",
                        "EC 公钥必须恰好指明一条曲线（SM2 或 P-256）",
                    )
                )
            if not alg_parts[1].is_universal(der.OID):
                raise KeyFormatError(
                    M(
                        "key.explicit_curve_parameters_are",
                        "explicit curve parameters are not accepted; use a named curve",
                        "不接受显式曲线参数；请使用命名曲线",
                    )
                )
            curve = alg_parts[1].as_oid()
            point = key_node.as_bit_string()
        except (der.DERError, ValueError, IndexError) as exc:
            if isinstance(exc, KeyFormatError):
                raise
            raise KeyFormatError(
                M("key.malformed_public_key", "malformed public key: {exc}", "公钥格式错误：{exc}"), exc=exc
            ) from None
        alg = _CURVE_TO_ALG.get(curve)
        if alg is None:
            raise KeyFormatError(
                M(
                    "key.unsupported_curve_only_sm2",
                    "unsupported curve {curve_label}: only SM2 ({sm2_curve}) and P-256 ({p256}) are accepted",
                    "不支持的曲线 {curve_label}：只接受 SM2（{sm2_curve}）和 P-256（{p256}）",
                ),
                curve_label=_curve_label(curve),
                sm2_curve=oids.SM2_CURVE,
                p256=oids.P256,
            )
        return cls(alg, point)

    @classmethod
    def from_pem(cls, text: str | bytes) -> PublicKey:
        try:
            return cls.from_spki(der.pem_to_der(text, "PUBLIC KEY"))
        except der.DERError as exc:
            raise KeyFormatError(
                M("key.pem_public_key", "not a PEM public key: {exc}", "不是 PEM 公钥：{exc}"), exc=exc
            ) from None

    # -- verification ------------------------------------------------------------------------

    def verify(self, data: bytes, signature: bytes, *, sm2_uid: bytes = SM2_DEFAULT_UID) -> bool:
        """Verify a DER signature over ``data``. SM2 uses SM3 with ``sm2_uid`` (GM/T 0009 default
        ``1234567812345678``; pass ``b""`` for signatures made by OpenSSL 3.x without ``distid``)."""
        try:
            r, s = sig_from_der(signature)
        except KeyFormatError:
            return False
        if self.algorithm is Algorithm.SM2:
            verifier = self._verifier if sm2_uid == SM2_DEFAULT_UID else _SM2(pk=self.point, uid=sm2_uid)
            e = sm2_digest(verifier.get_entity_info(), data)
            fast = self._fast
            if fast is None:
                fast = _libcrypto.sm2_verifier(self.point) or False
                object.__setattr__(self, "_fast", fast)
            if fast:
                return bool(fast(e, signature))
            raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
            return bool(verifier.verify_digest(e, raw))
        try:
            self._verifier.verify(signature, data, ec.ECDSA(hashes.SHA256()))
            return True
        except InvalidSignature:
            return False


def sm2_digest(z: bytes, data: bytes) -> bytes:
    """GM/T 0003.2 §6.1: e = SM3(Z_A ‖ M), Z_A = SM3(ENTL ‖ ID ‖ a ‖ b ‖ x_G ‖ y_G ‖ x_A ‖ y_A).

    Z_A comes from gmalglib (``get_entity_info``, computed once per key and user ID); the message
    hash uses OpenSSL's SM3 through ``cryptography``, about twice as fast on a seal-sized message."""
    h = hashes.Hash(hashes.SM3())
    h.update(z)
    h.update(data)
    return h.finalize()


class Signer(Protocol):
    """Anything that can sign a TBS structure: a software key here, an HSM session elsewhere."""

    @property
    def algorithm(self) -> Algorithm: ...

    @property
    def public_key(self) -> PublicKey: ...

    def sign(self, data: bytes) -> bytes:
        """DER signature over ``data`` (the signer hashes: SM3 with Z for SM2, SHA-256 for ECDSA)."""
        ...


class PrivateKey:
    """A software private key implementing :class:`Signer`."""

    __slots__ = ("algorithm", "_scalar", "public_key", "_impl")

    def __init__(self, algorithm: Algorithm, scalar: bytes) -> None:
        if len(scalar) != 32:
            raise KeyFormatError(M("key.private_key_bytes", "private key must be 32 bytes", "私钥必须为 32 字节"))
        self.algorithm = algorithm
        self._scalar = scalar
        if algorithm is Algorithm.SM2:
            if not _SM2.is_sk_valid(scalar):
                raise KeyFormatError(
                    M("key.private_key_out_range", "private key is out of range for SM2", "私钥超出 SM2 的范围")
                )
            self._impl = _SM2(sk=scalar, uid=SM2_DEFAULT_UID)
            self.public_key = PublicKey(algorithm, _SM2.get_pk(scalar))
        else:
            try:
                self._impl = ec.derive_private_key(int.from_bytes(scalar, "big"), ec.SECP256R1())
            except ValueError:
                raise KeyFormatError(
                    M("key.private_key_out_range_2", "private key is out of range for P-256", "私钥超出 P-256 的范围")
                ) from None
            point = self._impl.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
            self.public_key = PublicKey(algorithm, point)

    def __repr__(self) -> str:  # never show the scalar
        return f"<PrivateKey {self.algorithm.value} {self.public_key.fingerprint()[:16]}>"

    @classmethod
    def generate(cls, algorithm: Algorithm) -> PrivateKey:
        if algorithm is Algorithm.SM2:
            sk, _pk = _SM2().generate_keypair()
            return cls(algorithm, sk)
        key = ec.generate_private_key(ec.SECP256R1())
        return cls(algorithm, key.private_numbers().private_value.to_bytes(32, "big"))

    def sign(self, data: bytes) -> bytes:
        if self.algorithm is Algorithm.SM2:
            e = sm2_digest(self._impl.get_entity_info(), data)
            return sig_to_der(self._impl.sign_digest(e))
        return self._impl.sign(data, ec.ECDSA(hashes.SHA256()))

    # -- serialisation -----------------------------------------------------------------------

    def pkcs8(self) -> bytes:
        """RFC 5958 OneAsymmetricKey v1 wrapping an RFC 5915 ECPrivateKey."""
        ec_priv = der.seq(
            der.integer(1), der.octet_string(self._scalar), der.explicit(1, der.bit_string(self.public_key.point))
        )
        return der.seq(der.integer(0), _algid(self.algorithm), der.octet_string(ec_priv))

    def pem(self) -> str:
        return der.der_to_pem(self.pkcs8(), "PRIVATE KEY")

    @classmethod
    def from_der(cls, data: bytes) -> PrivateKey:
        """PKCS#8 or SEC1 ``ECPrivateKey`` with a named curve (SM2 or P-256)."""
        try:
            node = der.parse(data)
            parts = node.children()
            if len(parts) >= 3 and parts[1].is_universal(16):  # PKCS#8
                alg_parts = parts[1].children()
                alg_oid = alg_parts[0].as_oid()
                if alg_oid != oids.EC_PUBLIC_KEY:
                    raise KeyFormatError(
                        M(
                            "key.private_key_algorithm_ec",
                            "private key algorithm {get} ({alg_oid}) is not EC",
                            "私钥算法 {get}（{alg_oid}）不是 EC",
                        ),
                        get=_KEY_ALG_NAMES.get(alg_oid, "unknown"),
                        alg_oid=alg_oid,
                    )
                if len(alg_parts) != 2 or not alg_parts[1].is_universal(der.OID):
                    raise KeyFormatError(
                        M(
                            "key.explicit_curve_parameters_are",
                            "explicit curve parameters are not accepted; use a named curve",
                            "不接受显式曲线参数；请使用命名曲线",
                        )
                    )
                curve = alg_parts[1].as_oid()
                inner = der.parse(parts[2].as_bytes()).children()
                scalar = inner[1].as_bytes()
            else:  # SEC1 ECPrivateKey { version, privateKey, [0] parameters, [1] publicKey }
                scalar = parts[1].as_bytes()
                curve = ""
                for p in parts[2:]:
                    if p.is_context(0):
                        curve = p.children()[0].as_oid()
                if not curve:
                    raise KeyFormatError(
                        M("key.ec_private_key_does", "EC private key does not name its curve", "EC 私钥未指明其曲线")
                    )
        except (der.DERError, IndexError) as exc:
            raise KeyFormatError(
                M("key.malformed_private_key", "malformed private key: {exc}", "私钥格式错误：{exc}"), exc=exc
            ) from None
        alg = _CURVE_TO_ALG.get(curve)
        if alg is None:
            raise KeyFormatError(
                M(
                    "key.unsupported_curve_only_sm2_2",
                    "unsupported curve {curve_label}: only SM2 and P-256 keys are accepted",
                    "不支持的曲线 {curve_label}：只接受 SM2 和 P-256 密钥",
                ),
                curve_label=_curve_label(curve),
            )
        return cls(alg, scalar.rjust(32, b"\x00"))

    @classmethod
    def from_pem(cls, text: str | bytes) -> PrivateKey:
        if isinstance(text, bytes):
            text = text.decode("ascii", "replace")
        if "ENCRYPTED PRIVATE KEY" in text:
            raise KeyFormatError(
                M(
                    "key.encrypted_pem_keys_are",
                    "encrypted PEM keys are not supported here; decrypt it first (openssl pkey -in "
                    "key.pem -out plain.pem)",
                    "此处不支持加密的 PEM 密钥；请先解密（openssl pkey -in key.pem -out plain.pem）",
                )
            )
        for label in ("PRIVATE KEY", "EC PRIVATE KEY", "SM2 PRIVATE KEY"):
            if f"BEGIN {label}-----" in text:
                try:
                    return cls.from_der(der.pem_to_der(text, label))
                except der.DERError as exc:
                    raise KeyFormatError(
                        M(
                            "key.valid_pem_private_key",
                            "not a valid PEM private key: {exc}",
                            "不是有效的 PEM 私钥：{exc}",
                        ),
                        exc=exc,
                    ) from None
        raise KeyFormatError(M("key.no_pem_private_key", "no PEM private key found", "未找到 PEM 私钥"))


# ----------------------------------------------------------------------------------------------
# Encryption at rest

_MAGIC = b"RGK1"


def encrypt_private_key(key: PrivateKey, kek: bytes, kek_id: str) -> bytes:
    """Wrap ``key`` (PKCS#8) with AES-256-GCM under ``kek``; the KEK id and algorithm are bound as
    associated data so a blob cannot be replayed under another key id."""
    if len(kek) != 32:
        raise ValueError("key-encryption key must be 32 bytes")
    kid = kek_id.encode()
    if len(kid) > 255:
        raise ValueError("key-encryption key id too long")
    nonce = os.urandom(12)
    aad = _MAGIC + bytes((len(kid),)) + kid
    return aad + nonce + AESGCM(kek).encrypt(nonce, key.pkcs8(), aad)


def encrypted_key_id(blob: bytes) -> str:
    if not blob.startswith(_MAGIC) or len(blob) < 5 or len(blob) < 5 + blob[4] + 12 + 16:
        raise KeyFormatError(M("key.encrypted_registry_key", "not an encrypted registry key", "不是本系统加密的密钥"))
    try:
        return blob[5 : 5 + blob[4]].decode()
    except UnicodeDecodeError:
        raise KeyFormatError(
            M(
                "key.encrypted_registry_key_key",
                "not an encrypted registry key: key id is not UTF-8",
                "不是本系统加密的密钥：密钥标识不是 UTF-8",
            )
        ) from None


def decrypt_private_key(blob: bytes, keks: dict[str, bytes]) -> PrivateKey:
    """Unwrap a blob made by :func:`encrypt_private_key` using the KEK its header names."""
    from cryptography.exceptions import InvalidTag

    kid = encrypted_key_id(blob)
    try:
        kek = keks[kid]
    except KeyError:
        raise KeyFormatError(
            M(
                "key.key_encryption_key_configured",
                "key-encryption key {kid} is not configured",
                "未配置密钥加密密钥 {kid}",
            ),
            kid=f"{kid!r}",
        ) from None
    aad_len = 5 + blob[4]
    aad, nonce, ct = blob[:aad_len], blob[aad_len : aad_len + 12], blob[aad_len + 12 :]
    try:
        return PrivateKey.from_der(AESGCM(kek).decrypt(nonce, ct, aad))
    except InvalidTag:
        raise KeyFormatError(
            M(
                "key.encrypted_key_does_open",
                "encrypted key does not open under key-encryption key {kid} (wrong key or tampered blob)",
                "加密密钥无法用密钥加密密钥 {kid} 打开（密钥错误或数据被篡改）",
            ),
            kid=f"{kid!r}",
        ) from None


_SECRET_MAGIC = b"RGS1"


def wrap_secret(secret: bytes, kek: bytes, kek_id: str, purpose: str) -> bytes:
    """AES-256-GCM wrap of a small secret (e.g. a TOTP seed) under ``kek``; the KEK id and the
    ``purpose`` (e.g. ``totp:rita``) are bound as associated data, so a blob copied to another row
    or purpose does not open."""
    kid = kek_id.encode()
    if len(kek) != 32 or len(kid) > 255:
        raise ValueError("key-encryption key must be 32 bytes with an id of at most 255 bytes")
    nonce = os.urandom(12)
    header = _SECRET_MAGIC + bytes((len(kid),)) + kid
    return header + nonce + AESGCM(kek).encrypt(nonce, secret, header + purpose.encode())


def unwrap_secret(blob: bytes, keks: dict[str, bytes], purpose: str) -> bytes:
    from cryptography.exceptions import InvalidTag

    if not blob.startswith(_SECRET_MAGIC) or len(blob) < 5 or len(blob) < 5 + blob[4] + 12 + 16:
        raise KeyFormatError(M("key.wrapped_registry_secret", "not a wrapped registry secret", "不是本系统封装的秘密"))
    kid = blob[5 : 5 + blob[4]].decode("utf-8", "replace")
    kek = keks.get(kid)
    if kek is None:
        raise KeyFormatError(
            M(
                "key.key_encryption_key_configured",
                "key-encryption key {kid} is not configured",
                "未配置密钥加密密钥 {kid}",
            ),
            kid=f"{kid!r}",
        )
    header = blob[: 5 + blob[4]]
    nonce, ct = blob[len(header) : len(header) + 12], blob[len(header) + 12 :]
    try:
        return AESGCM(kek).decrypt(nonce, ct, header + purpose.encode())
    except InvalidTag:
        raise KeyFormatError(
            M(
                "key.wrapped_secret_does_open",
                "wrapped secret does not open under key-encryption key {kid} (wrong key, wrong "
                "purpose or tampered blob)",
                "封装的秘密无法用密钥加密密钥 {kid} 打开（密钥错误、用途不符或数据被篡改）",
            ),
            kid=f"{kid!r}",
        ) from None
