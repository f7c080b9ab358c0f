"""Writing a trust list: the exact bytes that are signed and served."""

from __future__ import annotations

import base64
import json
from typing import Any

from .fields import format_time
from .model import (
    Service,
    TrustList,
)
from .parse import (
    parse,
)

# -- writing -----------------------------------------------------------------------------------


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _service_json(s: Service) -> dict[str, Any]:
    c = s.constraints
    return _drop_none(
        {
            "id": s.id,
            "role": s.role.value,
            "alg": s.alg,
            "issuer": s.issuer,
            "cert": _b64(s.cert),
            "sha256": s.sha256,
            "status": s.status.value,
            "status_since": format_time(s.status_since),
            "history": [{"status": h.status.value, "since": format_time(h.since)} for h in s.history],
            "crl": [_drop_none({"url": p.url, "shards": p.shards, "max_age_hours": p.max_age_hours}) for p in s.crl],
            "ocsp": [{"url": p.url} for p in s.ocsp],
            "constraints": None
            if c is None
            else _drop_none(
                {
                    "es_id_prefix": c.es_id_prefix,
                    "seal_types": None if c.seal_types is None else list(c.seal_types),
                    "policy_oids": None if c.policy_oids is None else list(c.policy_oids),
                }
            ),
        }
    )


def to_json(trust_list: TrustList) -> bytes:
    """The bytes to sign and serve (see the module doc); refuses a list :func:`parse` would refuse."""
    s = trust_list.scheme
    doc = _drop_none(
        {
            "format": trust_list.format,
            "scheme": _drop_none(
                {
                    "operator": {
                        "area_code": s.operator.area_code,
                        "name_zh": s.operator.name_zh,
                        "name_en": s.operator.name_en,
                    },
                    "sequence": s.sequence,
                    "issued_at": format_time(s.issued_at),
                    "next_update": format_time(s.next_update),
                    "previous": None
                    if s.previous is None
                    else {"sequence": s.previous.sequence, "sha256": s.previous.sha256, "url": s.previous.url},
                    "signing_keys": [
                        _drop_none(
                            {
                                "kid": k.kid,
                                "alg": k.alg,
                                "spki": _b64(k.spki),
                                "status": k.status.value,
                                "not_before": None if k.not_before is None else format_time(k.not_before),
                            }
                        )
                        for k in s.signing_keys
                    ],
                    "distribution_points": list(s.distribution_points),
                    "policy_url": s.policy_url,
                }
            ),
            "services": [_service_json(x) for x in trust_list.services],
            "status_api": None
            if trust_list.status_api is None
            else _drop_none({"url": trust_list.status_api.url, "signed": trust_list.status_api.signed}),
        }
    )
    data = (json.dumps(doc, sort_keys=True, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    parse(data)
    return data
