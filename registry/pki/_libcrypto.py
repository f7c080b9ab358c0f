"""SM2 signature verification through the system's OpenSSL 3 ``libcrypto``, when it is there.

Why: verifying is the verifier's hot path (two SM2 verifications per SES signature, more for
chains). OpenSSL's SM2 verify runs about 3,400/s on a CI-like core, gmalglib's about 1,400–2,000/s
(``scripts/bench_verify.py`` prints both). ``cryptography`` links its own OpenSSL but cannot load SM2
keys, so this module talks to the system library (Debian's ``libssl3``, which the ``openssl``
package the project installs depends on) with :mod:`ctypes`.

Only verification happens here, over a digest we compute ourselves (e = SM3(Z ‖ M), see
:func:`registry.pki.keys.sm2_digest`): no private key ever crosses into this code, and the SM2 user
ID is already inside Z. ``EVP_PKEY_verify`` on an SM2 key in OpenSSL 3 checks a DER ``SEQUENCE{r, s}``
against that digest.

The backend proves itself on load with a known-good and a known-bad signature; if the library is
missing, is not OpenSSL 3, lacks SM2, or fails that check, :func:`sm2_verifier` returns ``None`` and
callers use gmalglib. ``REGISTRY_SM2_VERIFY=gmalglib`` forces the fallback (tests compare the two).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading
from typing import Callable

_VerifyFn = Callable[[bytes, bytes], bool]

_lock = threading.Lock()
_loaded = False
_lib: ctypes.CDLL | None = None


def _open() -> ctypes.CDLL | None:
    names = ["libcrypto.so.3"]
    found = ctypes.util.find_library("crypto")
    if found and found not in names:
        names.append(found)
    for name in names:
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        try:
            version = lib.OpenSSL_version_num
        except AttributeError:
            continue
        version.restype = ctypes.c_ulong
        version.argtypes = []
        if version() < 0x30000000:
            continue
        lib.d2i_PUBKEY.restype = ctypes.c_void_p
        lib.d2i_PUBKEY.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_char_p), ctypes.c_long]
        lib.EVP_PKEY_free.restype = None
        lib.EVP_PKEY_free.argtypes = [ctypes.c_void_p]
        lib.EVP_PKEY_CTX_new.restype = ctypes.c_void_p
        lib.EVP_PKEY_CTX_new.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        lib.EVP_PKEY_CTX_free.restype = None
        lib.EVP_PKEY_CTX_free.argtypes = [ctypes.c_void_p]
        lib.EVP_PKEY_verify_init.restype = ctypes.c_int
        lib.EVP_PKEY_verify_init.argtypes = [ctypes.c_void_p]
        lib.EVP_PKEY_verify.restype = ctypes.c_int
        lib.EVP_PKEY_verify.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t,
                                        ctypes.c_char_p, ctypes.c_size_t]
        lib.EVP_PKEY_is_a.restype = ctypes.c_int
        lib.EVP_PKEY_is_a.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        lib.ERR_clear_error.restype = None
        lib.ERR_clear_error.argtypes = []
        return lib
    return None


class _Key:
    """An ``EVP_PKEY`` for one SM2 public key, freed with the object."""

    __slots__ = ("_pkey", "__weakref__")

    def __init__(self, lib: ctypes.CDLL, spki: bytes) -> None:
        buf = ctypes.c_char_p(spki)
        pkey = lib.d2i_PUBKEY(None, ctypes.byref(buf), len(spki))
        if not pkey:
            lib.ERR_clear_error()
            raise ValueError("libcrypto could not load the SM2 public key")
        if lib.EVP_PKEY_is_a(pkey, b"SM2") != 1:
            lib.EVP_PKEY_free(pkey)
            raise ValueError("libcrypto did not load the key as an SM2 key")
        self._pkey = pkey

    def verify(self, digest: bytes, signature: bytes) -> bool:
        lib = _lib
        assert lib is not None
        ctx = lib.EVP_PKEY_CTX_new(self._pkey, None)
        if not ctx:
            raise MemoryError("EVP_PKEY_CTX_new failed")
        try:
            if lib.EVP_PKEY_verify_init(ctx) != 1:
                lib.ERR_clear_error()
                raise RuntimeError("EVP_PKEY_verify_init failed for an SM2 key")
            ok = lib.EVP_PKEY_verify(ctx, signature, len(signature), digest, len(digest))
            if ok != 1:
                lib.ERR_clear_error()  # a bad signature leaves an error on the thread's queue
            return ok == 1
        finally:
            lib.EVP_PKEY_CTX_free(ctx)

    def __del__(self) -> None:
        lib = _lib
        if lib is not None and getattr(self, "_pkey", None):
            lib.EVP_PKEY_free(self._pkey)
            self._pkey = None


def _self_test(lib: ctypes.CDLL) -> bool:
    # Made at load time with gmalglib (an independent implementation) so no vector can go stale.
    from gmalglib.sm2 import SM2

    sk, pk = SM2().generate_keypair()
    signer = SM2(sk=sk, uid=b"1234567812345678")
    digest = os.urandom(32)
    raw = signer.sign_digest(digest)
    r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
    sig = _der_sig(r, s)
    spki = _SPKI_PREFIX + pk
    key = _Key(lib, spki)
    bad = bytes([digest[0] ^ 1]) + digest[1:]
    return key.verify(digest, sig) and not key.verify(bad, sig)


_SPKI_PREFIX = bytes.fromhex("3059301306072a8648ce3d020106082a811ccf5501822d034200")


def _der_int(v: int) -> bytes:
    b = v.to_bytes((v.bit_length() + 8) // 8, "big")
    return b"\x02" + bytes((len(b),)) + b


def _der_sig(r: int, s: int) -> bytes:
    body = _der_int(r) + _der_int(s)
    return b"\x30" + bytes((len(body),)) + body


def _library() -> ctypes.CDLL | None:
    global _loaded, _lib
    if _loaded:
        return _lib
    with _lock:
        if not _loaded:
            lib = None
            if os.environ.get("REGISTRY_SM2_VERIFY", "").strip().lower() != "gmalglib":
                lib = _open()
                if lib is not None:
                    _lib = lib  # _Key.verify reads the module global
                    try:
                        if not _self_test(lib):
                            lib = None
                    except (ValueError, RuntimeError, OSError, AttributeError):
                        lib = None
            _lib = lib
            _loaded = True
    return _lib


def backend_name() -> str:
    """``openssl`` when libcrypto verifies SM2 here, else ``gmalglib``."""
    return "openssl" if _library() is not None else "gmalglib"


def sm2_verifier(point: bytes) -> _VerifyFn | None:
    """A ``verify(digest, der_signature) -> bool`` for the SM2 public key ``point`` (65 bytes,
    uncompressed), or ``None`` when libcrypto is not usable here."""
    lib = _library()
    if lib is None:
        return None
    try:
        key = _Key(lib, _SPKI_PREFIX + point)
    except ValueError:
        return None
    return key.verify
