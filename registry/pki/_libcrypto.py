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

Keys in steady use (a registry's seal-maker key signs every seal; an enterprise signs many
documents) get a table of multiples of their point, as OpenSSL keeps for a curve's generator: once
a key has been used :data:`_TABLE_AFTER` times, each time within :data:`_TABLES_MAX` SM2
verifications of the last (so it would not lose its table before its next use; a key met now and
then never pays for one), the GM/T 0003.2 §7.1 check is done here with
OpenSSL's curve arithmetic — r, s in [1, n-1], t = (r + s) mod n ≠ 0, (x1, y1) = [s]G + [t]P_A with
both multiplications from tables (a few doublings instead of 256), valid iff (e + x1) mod n = r —
at about 40 % of ``EVP_PKEY_verify``'s instructions. Only canonical DER signatures are decided
there; anything else, and any failure of the arithmetic, goes to ``EVP_PKEY_verify``, as for a key without a table. At
most :data:`_TABLES_MAX` keys hold a table (about 80 KB each); the least recently used gives its
table up and has to earn it again. This path proves itself on load against ``EVP_PKEY_verify``.
"""

from __future__ import annotations

import collections
import ctypes
import ctypes.util
import os
import threading
import weakref
from collections.abc import Callable

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
        lib.EVP_PKEY_verify.argtypes = [
            ctypes.c_void_p,
            ctypes.c_char_p,
            ctypes.c_size_t,
            ctypes.c_char_p,
            ctypes.c_size_t,
        ]
        lib.EVP_PKEY_is_a.restype = ctypes.c_int
        lib.EVP_PKEY_is_a.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        lib.ERR_clear_error.restype = None
        lib.ERR_clear_error.argtypes = []
        return lib
    return None


# ----------------------------------------------------------------------------------------------
# Tables of multiples (EC_GROUP_precompute_mult) for the generator and for keys in steady use

_TABLE_AFTER = 4  # verifications in a row with one key, each within _TABLES_MAX of the last
_TABLES_MAX = 128  # keys holding a table at once (about 80 KB each)
# GM/T 0003.5 / GB/T 32918.5: the order n of the SM2 curve's base point G
_N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123

_P = ctypes.c_void_p
_CURVE_FUNCTIONS: dict[str, tuple[object, list[object]]] = {
    "OBJ_txt2nid": (ctypes.c_int, [ctypes.c_char_p]),
    "EC_GROUP_new_by_curve_name": (_P, [ctypes.c_int]),
    "EC_GROUP_free": (None, [_P]),
    "EC_GROUP_precompute_mult": (ctypes.c_int, [_P, _P]),
    "EC_GROUP_set_generator": (ctypes.c_int, [_P, _P, _P, _P]),
    "EC_GROUP_get0_order": (_P, [_P]),
    "EC_GROUP_get0_cofactor": (_P, [_P]),
    "EC_GROUP_get0_generator": (_P, [_P]),
    "EC_POINT_new": (_P, [_P]),
    "EC_POINT_free": (None, [_P]),
    "EC_POINT_oct2point": (ctypes.c_int, [_P, _P, ctypes.c_char_p, ctypes.c_size_t, _P]),
    "EC_POINT_mul": (ctypes.c_int, [_P, _P, _P, _P, _P, _P]),
    "EC_POINT_add": (ctypes.c_int, [_P, _P, _P, _P, _P]),
    "EC_POINT_get_affine_coordinates": (ctypes.c_int, [_P, _P, _P, _P, _P]),
    "BN_new": (_P, []),
    "BN_free": (None, [_P]),
    "BN_bin2bn": (_P, [ctypes.c_char_p, ctypes.c_int, _P]),
    "BN_bn2binpad": (ctypes.c_int, [_P, ctypes.c_char_p, ctypes.c_int]),
    "BN_CTX_new": (_P, []),
    "BN_CTX_free": (None, [_P]),
}


class _Table:
    """A copy of the SM2 group whose generator is one public key P_A, with OpenSSL's table of
    multiples of it: [t]P_A then costs what [s]G costs. Freed with the object (a thread still
    multiplying with it holds a reference)."""

    __slots__ = ("group", "point", "__weakref__")

    def __init__(self, curve: _Curve, point: bytes) -> None:
        lib = curve.lib
        self.group = lib.EC_GROUP_new_by_curve_name(curve.nid)
        if not self.group:
            raise MemoryError("EC_GROUP_new_by_curve_name failed")
        pt = lib.EC_POINT_new(self.group)
        try:
            # oct2point refuses a point that is not on the curve
            if (
                not pt
                or lib.EC_POINT_oct2point(self.group, pt, point, len(point), None) != 1
                or lib.EC_GROUP_set_generator(
                    self.group, pt, lib.EC_GROUP_get0_order(curve.group), lib.EC_GROUP_get0_cofactor(curve.group)
                )
                != 1
                or lib.EC_GROUP_precompute_mult(self.group, None) != 1
            ):
                lib.ERR_clear_error()
                raise ValueError("libcrypto could not make a table for the SM2 public key")
        finally:
            if pt:
                lib.EC_POINT_free(pt)  # set_generator keeps a copy
        self.point = lib.EC_GROUP_get0_generator(self.group)

    def __del__(self) -> None:
        lib = _lib
        if lib is not None and getattr(self, "group", None):
            lib.EC_GROUP_free(self.group)
            self.group = None


class _Scratch:
    """One thread's working objects for :meth:`_Curve.verify`."""

    def __init__(self, curve: _Curve) -> None:
        lib = curve.lib
        self.lib = lib
        self.ctx = lib.BN_CTX_new()
        self.points = [lib.EC_POINT_new(curve.group) for _ in range(3)]
        self.bns = [lib.BN_new() for _ in range(4)]  # s, t, x1, and 0
        self.x = ctypes.create_string_buffer(32)
        if not self.ctx or not all(self.points) or not all(self.bns):
            raise MemoryError("libcrypto could not allocate")

    def __del__(self) -> None:
        lib = getattr(self, "lib", None)
        if lib is None:
            return
        for pt in getattr(self, "points", ()):
            if pt:
                lib.EC_POINT_free(pt)
        for bn in getattr(self, "bns", ()):
            if bn:
                lib.BN_free(bn)
        if getattr(self, "ctx", None):
            lib.BN_CTX_free(self.ctx)


def _der_rs(sig: bytes) -> tuple[int, int] | None:
    """(r, s) of a canonical DER ``SEQUENCE { r, s }`` of positive INTEGERs of at most 33 octets
    (what OpenSSL's d2i/i2d round trip accepts, within that size), else None."""
    n = len(sig)
    if n < 8 or n > 72 or sig[0] != 0x30 or sig[1] != n - 2 or sig[2] != 0x02:
        return None
    lr = sig[3]
    p = 4 + lr
    if lr < 1 or lr > 33 or p + 2 > n or sig[p] != 0x02:
        return None
    ls = sig[p + 1]
    if ls < 1 or ls > 33 or p + 2 + ls != n:
        return None
    for pos, length in ((4, lr), (p + 2, ls)):
        if sig[pos] & 0x80 or (length > 1 and sig[pos] == 0 and not sig[pos + 1] & 0x80):
            return None  # negative, or not the shortest encoding
    return int.from_bytes(sig[4:p], "big"), int.from_bytes(sig[p + 2 :], "big")


class _Curve:
    """The SM2 group with a table for G, and the keys that hold tables of their own."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        for name, (restype, argtypes) in _CURVE_FUNCTIONS.items():
            fn = getattr(lib, name)  # AttributeError: a libcrypto without the deprecated EC API
            fn.restype = restype
            fn.argtypes = argtypes
        self.lib = lib
        self.nid = lib.OBJ_txt2nid(b"SM2")
        self.group = lib.EC_GROUP_new_by_curve_name(self.nid) if self.nid > 0 else None
        if not self.group or lib.EC_GROUP_precompute_mult(self.group, None) != 1:
            raise ValueError("libcrypto has no SM2 group")
        order = ctypes.create_string_buffer(32)
        if (
            lib.BN_bn2binpad(lib.EC_GROUP_get0_order(self.group), order, 32) != 32
            or int.from_bytes(order.raw, "big") != _N
        ):
            raise ValueError("libcrypto's SM2 group has an unexpected order")
        self.generator = lib.EC_GROUP_get0_generator(self.group)
        self.local = threading.local()
        self.keys: collections.OrderedDict[int, weakref.ref[_Key]] = collections.OrderedDict()
        self.tick = 0
        self.lock = threading.Lock()
        os.register_at_fork(after_in_child=self._after_fork)

    def _after_fork(self) -> None:
        # a lock held by another thread at fork would never be released in the child
        self.lock = threading.Lock()
        self.local = threading.local()

    def table_for(self, key: _Key) -> _Table | None:
        """Give ``key`` a table (its verifications so far show it in steady use); the least
        recently used key past :data:`_TABLES_MAX` gives its table up."""
        try:
            table = _Table(self, key.point)
        except (ValueError, MemoryError):
            return None
        with self.lock:
            key.table = table
            self.keys[id(key)] = weakref.ref(key)
            while len(self.keys) > _TABLES_MAX:
                _, ref = self.keys.popitem(last=False)
                old = ref()
                if old is not None:
                    old.table, old.uses = None, 0
        return table

    def touch(self, key: _Key) -> None:
        with self.lock:
            try:
                self.keys.move_to_end(id(key))
            except KeyError:  # given up meanwhile
                pass

    def verify(self, table: _Table, digest: bytes, signature: bytes) -> bool | None:
        """GM/T 0003.2 §7.1 B1–B7 for ``e`` = ``digest``; None when this path does not decide
        (not canonical DER, or the arithmetic failed): the caller asks EVP_PKEY_verify."""
        rs = _der_rs(signature)
        if rs is None:
            return None
        r, s = rs
        if not (0 < r < _N and 0 < s < _N):  # B1, B2
            return False
        t = (r + s) % _N  # B5
        if t == 0:
            return False
        sc = getattr(self.local, "scratch", None)
        if sc is None:
            try:
                sc = self.local.scratch = _Scratch(self)
            except MemoryError:
                return None  # EVP_PKEY_verify decides
        lib, ctx = self.lib, sc.ctx
        a, b, total = sc.points
        bn_s, bn_t, bn_x, zero = sc.bns
        # B6: [s]G and [t]P_A each from its table (one point with scalar 0 alongside keeps OpenSSL
        # on its table path: a lone scalar takes the constant-time ladder), then their sum.
        if (
            not lib.BN_bin2bn(s.to_bytes(32, "big"), 32, bn_s)
            or not lib.BN_bin2bn(t.to_bytes(32, "big"), 32, bn_t)
            or lib.EC_POINT_mul(self.group, a, bn_s, self.generator, zero, ctx) != 1
            or lib.EC_POINT_mul(table.group, b, bn_t, table.point, zero, ctx) != 1
            or lib.EC_POINT_add(self.group, total, a, b, ctx) != 1
            or lib.EC_POINT_get_affine_coordinates(self.group, total, bn_x, None, ctx) != 1  # fails at infinity
            or lib.BN_bn2binpad(bn_x, sc.x, 32) != 32
        ):
            lib.ERR_clear_error()
            return None
        # B7: R = (e + x1) mod n, valid iff R = r
        return (int.from_bytes(digest, "big") + int.from_bytes(sc.x.raw, "big")) % _N == r


_curve: _Curve | None = None


class _Key:
    """An ``EVP_PKEY`` for one SM2 public key, freed with the object; after :data:`_TABLE_AFTER`
    verifications also a :class:`_Table` of its point."""

    __slots__ = ("_pkey", "point", "uses", "last", "table", "__weakref__")
    table: _Table | None

    def __init__(self, lib: ctypes.CDLL, point: bytes) -> None:
        self.point, self.uses, self.last, self.table = point, 0, 0, None
        spki = _SPKI_PREFIX + point
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
        curve = _curve
        if curve is not None:
            table = self.table
            curve.tick += 1  # SM2 verifications so far (a lost increment between threads is harmless)
            if table is None:
                if curve.tick - self.last > _TABLES_MAX:
                    self.uses = 0  # too long since the last one: the streak starts again
                self.last = curve.tick
                self.uses += 1
                if self.uses >= _TABLE_AFTER:
                    table = curve.table_for(self)
            else:
                curve.touch(self)
            if table is not None:
                ok = curve.verify(table, digest, signature)
                if ok is not None:
                    return ok
        return self.verify_evp(digest, signature)

    def verify_evp(self, digest: bytes, signature: bytes) -> bool:
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
        # the pool's entry for this key is a dead weak reference now, dropped when it is evicted
        # (not removed here: a finalizer may run in the middle of the pool's own changes)
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
    key = _Key(lib, pk)
    bad = bytes([digest[0] ^ 1]) + digest[1:]
    return key.verify_evp(digest, sig) and not key.verify_evp(bad, sig)


def _curve_self_test(curve: _Curve) -> bool:
    """The table path decides as EVP_PKEY_verify does, on a good signature and on bad ones."""
    from gmalglib.sm2 import SM2

    sk, pk = SM2().generate_keypair()
    signer = SM2(sk=sk, uid=b"1234567812345678")
    key = _Key(curve.lib, pk)
    table = _Table(curve, pk)
    for _ in range(2):
        digest = os.urandom(32)
        raw = signer.sign_digest(digest)
        r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
        cases = [
            (digest, _der_sig(r, s)),
            (bytes([digest[0] ^ 1]) + digest[1:], _der_sig(r, s)),
            (digest, _der_sig(r, (s + 1) % _N or 1)),
            (digest, _der_sig(_N - r, s)),
        ]
        for d, sig in cases:
            if curve.verify(table, d, sig) is not key.verify_evp(d, sig):
                return False
    return curve.verify(table, digest, _der_sig(r, s)) is True


_SPKI_PREFIX = bytes.fromhex("3059301306072a8648ce3d020106082a811ccf5501822d034200")


def _der_int(v: int) -> bytes:
    b = v.to_bytes((v.bit_length() + 8) // 8, "big")
    return b"\x02" + bytes((len(b),)) + b


def _der_sig(r: int, s: int) -> bytes:
    body = _der_int(r) + _der_int(s)
    return b"\x30" + bytes((len(body),)) + body


def _library() -> ctypes.CDLL | None:
    global _loaded, _lib, _curve
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
                if lib is not None:
                    try:
                        curve = _Curve(lib)
                        _curve = curve if _curve_self_test(curve) else None
                    except (ValueError, RuntimeError, OSError, AttributeError, MemoryError):
                        _curve = None
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
        key = _Key(lib, point)
    except ValueError:
        return None
    return key.verify
