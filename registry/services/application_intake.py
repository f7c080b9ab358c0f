"""Applications made by an enterprise in the portal: the standard set or a single seal, each with
the holder's CSR and a drawn or uploaded picture; checked first (every problem at once), then
submitted for the staff's dual-control review (:mod:`registry.services.applications`). Only the
legal representative applies."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from ..db.models import Enterprise
from ..domain.errors import Conflict, M, NotFound, ValidationError
from ..domain.seal_types import SealType
from ..domain.states import LicenceStatus
from ..messages import Localized
from . import applications
from .context import ServiceContext
from .core import issuance, pictures
from .core.seals import SealFiles as SealFiles
from .portal_access import Principal, require_legal_representative

MAX_CSR_BYTES = 64 * 1024


# ------------------------------------------------------------------------------------------------
# Applying


@dataclass(frozen=True)
class ApplyItem:
    """One seal to apply for: its type, the holder's PKCS#10 request, and an uploaded PNG (None: the
    standard picture drawn from the licence data, as previewed)."""

    seal_type: str
    csr: bytes
    picture_png: bytes | None = None


@dataclass(frozen=True)
class _Problem:
    """One refused item in the summary message: ``02: why`` in either language."""

    code: str
    error: BaseException

    def label(self, lang: str) -> str:
        why = self.error.text(lang) if isinstance(self.error, Localized) else str(self.error)
        return f"{self.code}: {why}"


class ApplicationRefused(ValidationError):
    """One or more items were refused; ``problems`` maps each refused item's type code to why (a
    coded, bilingual error: show it with ``error.text(lang)``)."""

    def __init__(self, problems: dict[str, Localized]) -> None:
        super().__init__(
            M("portal.apply_refused", "nothing was submitted: {problems}", "申请均未提交：{problems}"),
            problems=[_Problem(code, why) for code, why in problems.items()],
        )
        self.problems = problems


@functools.lru_cache(maxsize=64)
def _drawn(seal_font: str | None, name: str, legal_representative: str, code: str, uscc: str) -> bytes:
    # ~0.1 s a picture; the apply page asks for the same few again and again. Bounded, per process,
    # and derived only from its arguments, so nothing another worker needs is held here.
    return pictures.draw_picture(seal_font, name, legal_representative, SealType(code), uscc)


_NO_LICENCE = M("portal.no_licence", "no licence on record for this enterprise", "没有本企业的执照记录")
CSR_TOO_LARGE = M("portal.csr_too_large", "the certificate request is larger than {kb} KB", "证书请求大于 {kb} KB")


def _licence(ctx: ServiceContext, principal: Principal) -> tuple[str, str, str]:
    with ctx.reader() as s:
        ent = s.get(Enterprise, principal.enterprise_id)
        if ent is None:
            raise NotFound(_NO_LICENCE)
        return ent.name, ent.legal_representative, ent.status.value


def preview_picture(ctx: ServiceContext, principal: Principal, seal_type: str) -> bytes:
    """The picture a seal of this type would carry if no PNG is uploaded, drawn from the licence
    data on record now (so what the legal representative sees is what is issued)."""
    require_legal_representative(principal, "apply for seals")
    st = SealType.parse(seal_type)
    name, rep, _status = _licence(ctx, principal)
    return _drawn(ctx.settings.seal_font, name, rep, st.code, principal.uscc)


def picture_problems(ctx: ServiceContext, principal: Principal) -> dict[str, Localized]:
    """For each seal type whose standard picture cannot be drawn from this enterprise's licence
    (e.g. a name too long for the ring, a legal representative's name that is not 2 to 4
    characters), why: the apply form says so in that seal's block and asks for an uploaded PNG."""
    require_legal_representative(principal, "apply for seals")
    name, rep, _status = _licence(ctx, principal)
    return {
        st.code: ValidationError(pictures.CANNOT_DRAW, why=why)
        for st, why in pictures.licence_picture_problems(ctx.settings.seal_font, name, rep, principal.uscc).items()
    }


_SAME_KEY = M(
    "portal.same_key",
    "this certificate request carries the same key as the one for {others}: use one key per seal",
    "此证书请求的密钥与{others}的相同：每枚印章须使用各自的密钥",
)


def check_application(
    ctx: ServiceContext, principal: Principal, items: list[ApplyItem]
) -> tuple[dict[str, Localized], list[SealType]]:
    """Every problem of every item, in one pass (nothing is written): a missing or oversized CSR,
    one that does not carry the USCC or fails proof of possession, a picture that is not an
    acceptable PNG, a standard picture that cannot be drawn, and two seals with the same key (one
    key per seal). Returns the problems by type code and the parsed types."""
    require_legal_representative(principal, "apply for seals")
    if not items:
        raise ValidationError(M("portal.nothing_chosen", "choose at least one seal to apply for", "请至少选择一种印章"))
    name, rep, status = _licence(ctx, principal)
    if status != LicenceStatus.ACTIVE.value:
        raise Conflict(
            M(
                "portal.licence_not_active",
                "the licence of {uscc} is {status}: no new applications",
                "{uscc} 的执照状态为“{status}”，不能提出新的申请",
            ),
            uscc=principal.uscc,
            status=LicenceStatus(status),
        )
    problems: dict[str, Localized] = {}
    types: list[SealType] = []
    keys: dict[str, list[str]] = {}
    for item in items:
        try:
            st = SealType.parse(item.seal_type)
        except ValidationError as exc:
            problems[str(item.seal_type)[:8]] = exc
            continue
        if st in types:
            problems[st.code] = ValidationError(
                M("portal.type_twice", "seal type {code} is asked for twice", "印章类型 {code} 申请了两次"),
                code=st.code,
            )
            continue
        types.append(st)
        try:
            if not item.csr:
                raise ValidationError(
                    M(
                        "portal.csr_needed",
                        "a certificate request (CSR) is needed for this seal",
                        "此印章需要上传证书请求（CSR）",
                    )
                )
            if len(item.csr) > MAX_CSR_BYTES:
                raise ValidationError(CSR_TOO_LARGE, kb=MAX_CSR_BYTES // 1024)
            pub, _csr_der, _none = issuance.resolve_key(
                issuance.IssueRequest(
                    uscc=principal.uscc,
                    seal_type=st.code,
                    key=issuance.KeyMaterial(csr=item.csr),
                    operator="",
                    approver="",
                    channel="portal",
                    require_uscc_in_csr=True,
                ),
                principal.uscc,
            )
            keys.setdefault(pub.fingerprint(), []).append(st.code)
        except ValidationError as exc:
            problems[st.code] = exc
        try:  # the picture is checked too, whatever became of the CSR: every problem at once
            if item.picture_png is not None:
                pictures.check_picture(ctx, item.picture_png)
            else:
                _drawn(ctx.settings.seal_font, name, rep, st.code, principal.uscc)
        except ValidationError as exc:
            if st.code in problems:
                problems[st.code] = ValidationError(
                    M("portal.two_problems", "{first}; also {second}", "{first}；另外，{second}"),
                    first=problems[st.code],
                    second=exc,
                )
            else:
                problems[st.code] = exc
    for codes in keys.values():
        if len(codes) > 1:
            by_code = {t.code: t for t in types}
            for code in codes:
                others = [by_code[c].named for c in codes if c != code]
                problems.setdefault(code, ValidationError(_SAME_KEY, others=others))
    return problems, types


def apply(ctx: ServiceContext, principal: Principal, items: list[ApplyItem]) -> list[int]:
    """Submit one application per item, all or nothing (the standard set of four goes in one
    transaction). Each CSR must carry the enterprise's USCC and verify under its own key (proof of
    possession), and each seal has its own key; each uploaded picture must be a real PNG within the
    size limit; a drawn picture must be drawable (every character in the seal font). Every item is
    checked before anything is written, and all the problems are reported at once
    (:class:`ApplicationRefused`, see :func:`check_application`)."""
    problems, types = check_application(ctx, principal, items)
    if problems:
        raise ApplicationRefused(problems)
    app_items = [
        applications.Item(t.code, issuance.KeyMaterial(csr=i.csr), i.picture_png)
        for t, i in zip(types, items, strict=True)
    ]
    try:
        return applications.submit_many(ctx, principal.actor, uscc=principal.uscc, items=app_items, channel="portal")
    except applications.ItemRefused as exc:
        raise ApplicationRefused({exc.seal_type: exc}) from None
