"""Reading sealed OFD documents (GB/T 33190 packages) safely: the signature parts and what they protect.

An OFD file is a ZIP package. ``OFD.xml`` names each document's root and its ``Signatures.xml``; that
lists each signature's ``Signature.xml``, which carries ``SignedInfo`` (method, time, the seal, and
``References``: a digest of every protected part) and points at ``SignedValue.dat``, the
``SES_Signature`` whose ``dataHash`` is the SM3 digest of ``Signature.xml`` itself (ofdrw
``SESV4Container``; domain.md §1.3).

Hostile input is the normal case here (anyone may upload a file to the public verifier):

* ZIP: limits on the number of entries, on each entry's and the total uncompressed size, and on the
  compression ratio, enforced while inflating (declared sizes are not trusted); encrypted entries,
  absolute or ``..`` names and duplicate names are refused.
* XML: no DTD at all (a ``<!DOCTYPE`` or entity declaration is refused before anything is expanded),
  and a size cap per part.

Every problem is an :class:`OfdError` naming the part. Pure: bytes in, objects out; no I/O, no clock.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import posixpath
import re
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import NoReturn
from xml.etree import ElementTree
from xml.parsers import expat

from gmalglib.sm3 import SM3 as _SM3

from ..messages import Localized, M

__all__ = [
    "OfdError",
    "Limits",
    "Package",
    "Reference",
    "SignatureEntry",
    "open_package",
    "signatures",
    "parse_xml",
    "digest",
    "is_zip",
]

OFD_NS = "http://www.ofdspec.org/2016"


class OfdError(Localized, ValueError):
    """An OFD package or one of its parts is malformed, unsafe or over a limit."""


@dataclass(frozen=True)
class Limits:
    """Caps for untrusted packages. Defaults suit invoices, contracts and licences (a few MB)."""

    max_entries: int = 2_000
    max_entry_bytes: int = 32 * 1024 * 1024
    max_total_bytes: int = 128 * 1024 * 1024
    max_ratio: int = 200  # uncompressed / compressed, checked for entries over 1 MiB
    max_xml_bytes: int = 8 * 1024 * 1024


_RATIO_FLOOR = 1024 * 1024


def is_zip(data: bytes) -> bool:
    return data[:4] == b"PK\x03\x04"


class Package:
    """The parts of an OFD ZIP, inflated under :class:`Limits`. Names are package paths without a
    leading slash (``Doc_0/Signs/Sign_0/Signature.xml``)."""

    def __init__(self, parts: dict[str, bytes]) -> None:
        self._parts = parts

    @property
    def names(self) -> list[str]:
        return list(self._parts)

    def has(self, name: str) -> bool:
        return name in self._parts

    def read(self, name: str, what: str = "part") -> bytes:
        try:
            return self._parts[name]
        except KeyError:
            raise OfdError(
                M("ofd.missing_from_package", "{what} /{name} is missing from the package", "包中缺少{what} /{name}"),
                what=what,
                name=name,
            ) from None


def _check_name(name: str) -> str:
    if "\\" in name or name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        raise OfdError(
            M(
                "ofd.package_entry_has_absolute",
                "package entry {name} has an absolute or Windows path",
                "包内条目 {name} 使用绝对路径或 Windows 路径",
            ),
            name=f"{name!r}",
        )
    if any(p == ".." for p in name.split("/")):
        raise OfdError(
            M(
                "ofd.package_entry_climbs_out",
                "package entry {name} climbs out of the package with '..'",
                "包内条目 {name} 用“..”跳出了包",
            ),
            name=f"{name!r}",
        )
    if "\x00" in name:
        raise OfdError(
            M(
                "ofd.package_entry_contains_nul",
                "package entry {name} contains a NUL character",
                "包内条目 {name} 含有 NUL 字符",
            ),
            name=f"{name!r}",
        )
    return name


def open_package(data: bytes, limits: Limits = Limits()) -> Package:
    """Inflate an OFD (ZIP) package under ``limits``; :class:`OfdError` for anything unsafe."""
    if not is_zip(data):
        raise OfdError(
            M(
                "ofd.ofd_document_it_zip",
                "not an OFD document: it is not a ZIP package (no PK\\x03\\x04 signature)",
                "不是 OFD 文档：不是 ZIP 包（没有 PK\\x03\\x04 签名）",
            )
        )
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError, NotImplementedError) as exc:
        raise OfdError(
            M(
                "ofd.ofd_package_readable_zip",
                "OFD package is not a readable ZIP file: {exc}",
                "OFD 包不是可读的 ZIP 文件：{exc}",
            ),
            exc=exc,
        ) from None
    if len(infos) > limits.max_entries:
        raise OfdError(
            M(
                "ofd.ofd_package_has_entries",
                "OFD package has {n_infos} entries, more than the limit of {max_entries}",
                "OFD 包有 {n_infos} 个条目，超过上限 {max_entries}",
            ),
            n_infos=len(infos),
            max_entries=limits.max_entries,
        )
    parts: dict[str, bytes] = {}
    total = 0
    for info in infos:
        name = _check_name(info.filename)
        if info.is_dir():
            continue
        if name in parts:
            raise OfdError(
                M("ofd.package_entry_appears_twice", "package entry {name} appears twice", "包内条目 {name} 出现两次"),
                name=f"{name!r}",
            )
        if info.flag_bits & 0x1:
            raise OfdError(
                M("ofd.package_entry_encrypted", "package entry {name} is encrypted", "包内条目 {name} 已加密"),
                name=f"{name!r}",
            )
        if info.file_size > limits.max_entry_bytes:
            raise OfdError(
                M(
                    "ofd.package_entry_declares_bytes",
                    "package entry {name} declares {file_size} bytes, more than the limit of {max_entry_bytes}",
                    "包内条目 {name} 声明 {file_size} 字节，超过上限 {max_entry_bytes}",
                ),
                name=f"{name!r}",
                file_size=info.file_size,
                max_entry_bytes=limits.max_entry_bytes,
            )
        body = _inflate(zf, info, name, limits, limits.max_total_bytes - total)
        total += len(body)
        parts[name] = body
    return Package(parts)


def _inflate(zf: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, limits: Limits, room: int) -> bytes:
    cap = min(limits.max_entry_bytes, room)
    out = bytearray()
    try:
        with zf.open(info) as fh:
            while True:
                chunk = fh.read(65536)
                if not chunk:
                    break
                out += chunk
                if len(out) > cap:
                    if cap == room and room < limits.max_entry_bytes:
                        raise OfdError(
                            M(
                                "ofd.ofd_package_inflates_more",
                                "OFD package inflates to more than the limit of {max_total_bytes} bytes "
                                "(at entry {name})",
                                "OFD 包解压后超过上限 {max_total_bytes} 字节（在条目 {name} 处）",
                            ),
                            max_total_bytes=limits.max_total_bytes,
                            name=f"{name!r}",
                        )
                    raise OfdError(
                        M(
                            "ofd.package_entry_inflates_more",
                            "package entry {name} inflates to more than the limit of {max_entry_bytes} bytes",
                            "包内条目 {name} 解压后超过上限 {max_entry_bytes} 字节",
                        ),
                        name=f"{name!r}",
                        max_entry_bytes=limits.max_entry_bytes,
                    )
                if len(out) > _RATIO_FLOOR and len(out) > limits.max_ratio * max(info.compress_size, 1):
                    raise OfdError(
                        M(
                            "ofd.package_entry_expands_more",
                            "package entry {name} expands more than {max_ratio} times (a ZIP bomb?)",
                            "包内条目 {name} 膨胀超过 {max_ratio} 倍（ZIP 炸弹？）",
                        ),
                        name=f"{name!r}",
                        max_ratio=limits.max_ratio,
                    )
    except OfdError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError, RuntimeError) as exc:
        raise OfdError(
            M(
                "ofd.package_entry_cannot_read",
                "package entry {name} cannot be read: {exc}",
                "无法读取包内条目 {name}：{exc}",
            ),
            name=f"{name!r}",
            exc=exc,
        ) from None
    return bytes(out)


# ----------------------------------------------------------------------------------------------
# XML without DTDs


def parse_xml(data: bytes, what: str, limits: Limits = Limits()) -> ElementTree.Element:
    """Parse an XML part with no DTD allowed (so no entity is ever declared or expanded)."""
    if len(data) > limits.max_xml_bytes:
        raise OfdError(
            M(
                "ofd.bytes_more_than_xml",
                "{what} is {n_data} bytes, more than the XML limit of {max_xml_bytes}",
                "{what} 有 {n_data} 字节，超过 XML 上限 {max_xml_bytes}",
            ),
            what=what,
            n_data=len(data),
            max_xml_bytes=limits.max_xml_bytes,
        )

    def refuse(*_args: object) -> NoReturn:
        raise OfdError(
            M(
                "ofd.contains_dtd_entity_declaration",
                "{what} contains a DTD or entity declaration, which is not allowed",
                "{what} 含有 DTD 或实体声明，不允许",
            ),
            what=what,
        )

    builder = ElementTree.TreeBuilder()

    def name(tag: str) -> str:
        return "{" + tag if "}" in tag else tag

    def start(tag: str, attrs: dict[str, str]) -> None:
        builder.start(name(tag), {name(k): v for k, v in attrs.items()})

    parser = expat.ParserCreate(namespace_separator="}")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.UnparsedEntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse
    parser.StartElementHandler = start
    parser.EndElementHandler = lambda tag: builder.end(name(tag))
    parser.CharacterDataHandler = builder.data
    try:
        parser.Parse(data, True)
        return builder.close()
    except OfdError:
        raise
    except (expat.ExpatError, ValueError, UnicodeError, LookupError, AssertionError) as exc:
        raise OfdError(
            M("ofd.well_formed_xml", "{what} is not well-formed XML: {exc}", "{what} 不是格式正确的 XML：{exc}"),
            what=what,
            exc=exc,
        ) from None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(el: ElementTree.Element, name: str) -> Iterator[ElementTree.Element]:
    return (c for c in el if _local(c.tag) == name)


def _child(el: ElementTree.Element, name: str) -> ElementTree.Element | None:
    return next(_children(el, name), None)


def _text(el: ElementTree.Element | None) -> str:
    return (el.text or "").strip() if el is not None else ""


def resolve(loc: str, base: str) -> str:
    """An OFD ``ST_Loc``: absolute from the package root when it starts with '/', else relative to
    the directory of ``base`` (the part that names it). Returns a package path without leading '/'."""
    loc = loc.strip()
    if not loc:
        raise OfdError(
            M("ofd.empty_location_named", "an empty location is named in /{base}", "/{base} 中指定了空位置"), base=base
        )
    path = loc.lstrip("/") if loc.startswith("/") else posixpath.join(posixpath.dirname(base), loc)
    norm = posixpath.normpath(path)
    if norm.startswith("..") or norm.startswith("/"):
        raise OfdError(
            M(
                "ofd.location_points_outside_package",
                "location {loc} in /{base} points outside the package",
                "/{base} 中的位置 {loc} 指向包外",
            ),
            loc=f"{loc!r}",
            base=base,
        )
    return norm


# ----------------------------------------------------------------------------------------------
# Signatures


_CHECK_METHODS = {
    "SM3": "sm3",
    "1.2.156.10197.1.401": "sm3",
    "SHA256": "sha256",
    "SHA-256": "sha256",
    "2.16.840.1.101.3.4.2.1": "sha256",
    "SHA1": "sha1",
    "SHA-1": "sha1",
    "1.3.14.3.2.26": "sha1",
    "MD5": "md5",
    "1.2.840.113549.2.5": "md5",
}


def digest(method: str, data: bytes) -> bytes:
    if method == "sm3":
        h = _SM3()
        h.update(data)
        return h.digest()
    return hashlib.new(method, data).digest()


@dataclass(frozen=True)
class Reference:
    """One ``<Reference FileRef=...><CheckValue>`` of ``SignedInfo``."""

    file_ref: str  # as written
    path: str  # resolved package path
    check_value: bytes


@dataclass(frozen=True)
class SignatureEntry:
    """One signature of one document: where it lives and what its ``Signature.xml`` says."""

    doc_index: int
    sign_id: str
    sign_type: str  # Seal (电子签章) or Sign (数字签名)
    signature_xml_path: str
    signature_xml: bytes = field(repr=False)
    signed_value_path: str
    check_method: str | None  # normalised: sm3 / sha256 / sha1 / md5; None if unsupported
    check_method_raw: str
    references: tuple[Reference, ...]
    signature_method: str
    signature_date_time: str
    seal_path: str | None
    problems: tuple[str, ...]  # non-fatal oddities found while reading


def signatures(pkg: Package, limits: Limits = Limits()) -> list[SignatureEntry]:
    """Every signature of every document in the package, in document and list order."""
    root = parse_xml(pkg.read("OFD.xml", "the package entry point"), "/OFD.xml", limits)
    if _local(root.tag) != "OFD":
        raise OfdError(
            M(
                "ofd.ofd_xml_has_root",
                "/OFD.xml has root element <{local}>, expected <ofd:OFD>",
                "/OFD.xml 的根元素为 <{local}>，应为 <ofd:OFD>",
            ),
            local=_local(root.tag),
        )
    out: list[SignatureEntry] = []
    bodies = list(_children(root, "DocBody"))
    if not bodies:
        raise OfdError(M("ofd.ofd_xml_has_no", "/OFD.xml has no DocBody", "/OFD.xml 没有 DocBody"))
    for doc_index, body in enumerate(bodies):
        sigs_loc = _text(_child(body, "Signatures"))
        if not sigs_loc:
            continue
        sigs_path = resolve(sigs_loc, "OFD.xml")
        sigs = parse_xml(pkg.read(sigs_path, "signature list"), f"/{sigs_path}", limits)
        for entry in _children(sigs, "Signature"):
            base_loc = entry.get("BaseLoc", "")
            sign_id = entry.get("ID", "")
            sign_type = entry.get("Type", "Seal") or "Seal"
            xml_path = resolve(base_loc, sigs_path)
            out.append(_signature(pkg, doc_index, sign_id, sign_type, xml_path, limits))
    return out


def _signature(
    pkg: Package, doc_index: int, sign_id: str, sign_type: str, xml_path: str, limits: Limits
) -> SignatureEntry:
    xml = pkg.read(xml_path, f"signature {sign_id or '?'} description")
    root = parse_xml(xml, f"/{xml_path}", limits)
    problems: list[str] = []
    info = _child(root, "SignedInfo")
    if info is None:
        raise OfdError(
            M("ofd.has_no_signedinfo", "/{xml_path} has no SignedInfo", "/{xml_path} 没有 SignedInfo"),
            xml_path=xml_path,
        )
    value_loc = _text(_child(root, "SignedValue"))
    if not value_loc:
        raise OfdError(
            M("ofd.names_no_signedvalue", "/{xml_path} names no SignedValue", "/{xml_path} 未指定 SignedValue"),
            xml_path=xml_path,
        )
    refs_el = _child(info, "References")
    refs: list[Reference] = []
    method_raw = ""
    if refs_el is None:
        problems.append("SignedInfo has no References: the signature protects no document part")
    else:
        method_raw = (refs_el.get("CheckMethod") or "MD5").strip()  # GB/T 33190 default is MD5
        for ref in _children(refs_el, "Reference"):
            file_ref = ref.get("FileRef", "")
            raw_value = _text(_child(ref, "CheckValue"))
            try:
                value = base64.b64decode(raw_value, validate=True)
            except (binascii.Error, ValueError):
                raise OfdError(
                    M(
                        "ofd.checkvalue_base64",
                        "/{xml_path}: the CheckValue of {file_ref} is not base64",
                        "/{xml_path}：{file_ref} 的 CheckValue 不是 base64",
                    ),
                    xml_path=xml_path,
                    file_ref=f"{file_ref!r}",
                ) from None
            refs.append(Reference(file_ref, resolve(file_ref, xml_path), value))
    seal_el = _child(info, "Seal")
    seal_loc = _text(_child(seal_el, "BaseLoc")) if seal_el is not None else ""
    return SignatureEntry(
        doc_index=doc_index,
        sign_id=sign_id,
        sign_type=sign_type,
        signature_xml_path=xml_path,
        signature_xml=xml,
        signed_value_path=resolve(value_loc, xml_path),
        check_method=_CHECK_METHODS.get(method_raw.upper().replace(" ", "")) or _CHECK_METHODS.get(method_raw),
        check_method_raw=method_raw,
        references=tuple(refs),
        signature_method=_text(_child(info, "SignatureMethod")),
        signature_date_time=_text(_child(info, "SignatureDateTime")),
        seal_path=resolve(seal_loc, xml_path) if seal_loc else None,
        problems=tuple(problems),
    )
