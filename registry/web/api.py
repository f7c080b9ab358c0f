"""The public JSON API (no login): seal status and verification, described by an OpenAPI document.

The document says exactly what the server takes (``tests/security/test_api_schema.py`` runs
schemathesis with every check against it): a seal code matching :data:`ES_ID_PATTERN` is answered
200 or 404 (a code whose check character is wrong cannot be a seal: 404, saying so); anything else
in the path is 400.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, jsonify

from ..domain.errors import M, NotFound, ValidationError
from ..domain.esid import validate_esid
from ..services import status, verify
from .context import service_context
from .uploads import read_upload

bp = Blueprint("api", __name__, url_prefix="/api/v1")

#: An esID as the API takes it (registry.domain.esid): 12 digits (area, type, year) and 13 Crockford
#: base32 characters, either case; no spaces.
ES_ID_PATTERN = "^[0-9]{12}[0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{13}$"
_ES_ID = re.compile(ES_ID_PATTERN)


@bp.get("/seals/<code>")
def seal(code: str) -> Response:
    if not _ES_ID.match(code):
        raise ValidationError(
            M(
                "api.seal_code",
                "{code} is not a seal code of this registry: expected 25 characters "
                "(12 digits: area, type, year; 13 base32 characters), no spaces",
                "“{code}”不是本系统的印章编码：应为 25 位（12 位数字：地区、类型、年份；13 位字母数字），不含空格",
            ),
            code=code[:40],
        )
    try:
        validate_esid(code)
    except ValidationError as exc:  # well-formed, but its check character is wrong: no seal has it
        raise NotFound(exc.message, **exc.params) if exc.message is not None else exc from None
    return jsonify(status.seal_status(service_context(), code))


@bp.post("/verify")
def verify_upload() -> Response:
    data = read_upload("file", True)
    document = read_upload("document", False)
    assert data is not None
    report = verify.verify_file(service_context(), data, document=document)
    return jsonify(report.to_json())


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(openapi_document(service_context().settings.base_url))


def openapi_document(base_url: str) -> dict[str, Any]:
    error = {"$ref": "#/components/schemas/Error"}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "电子印章登记系统公共接口 / Seal registry public API",
            "version": "1.0.0",
            "description": "Seal status and verification of electronic seals (GB/T 38540 SESeal), "
            "electronic signatures (SES_Signature) and sealed OFD documents. No login. "
            "CRLs are under /crl/, OCSP under /ocsp.",
        },
        "servers": [{"url": base_url}],
        "paths": {
            "/api/v1/seals/{esId}": {
                "get": {
                    "summary": "Status of one seal",
                    "operationId": "getSealStatus",
                    "parameters": [
                        {
                            "name": "esId",
                            "in": "path",
                            "required": True,
                            "description": "The seal's esID: 25 characters, 12 digits (area, seal type, "
                            "year) then 13 Crockford base32 characters (the last a check "
                            "character); either case",
                            "schema": {"type": "string", "minLength": 25, "maxLength": 25, "pattern": ES_ID_PATTERN},
                        }
                    ],
                    "responses": {
                        "200": {
                            "description": "The seal: ours, or an admitted peer's answered from its data",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SealStatus"}}},
                        },
                        "400": {
                            "description": "Not a seal code of this registry (does not match the pattern)",
                            "content": {"application/json": {"schema": error}},
                        },
                        "404": {
                            "description": "No such seal here, and its area code is no admitted peer's "
                            "(also a code whose check character is wrong)",
                            "content": {"application/json": {"schema": error}},
                        },
                        "405": {
                            "description": "Method not allowed (the Allow header lists GET)",
                            "content": {"application/json": {"schema": error}},
                        },
                    },
                }
            },
            "/api/v1/verify": {
                "post": {
                    "summary": "Verify a seal, an electronic signature or a sealed OFD document",
                    "operationId": "verify",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "multipart/form-data": {
                                "schema": {
                                    "type": "object",
                                    "required": ["file"],
                                    "properties": {
                                        "file": {
                                            "type": "string",
                                            "format": "binary",
                                            "description": ".esl (SESeal), SES_Signature (DER) or .ofd",
                                        },
                                        "document": {
                                            "type": "string",
                                            "format": "binary",
                                            "description": "The signed file, for a standalone SES_Signature",
                                        },
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "The verdict, with every check (Chinese and English reasons)",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Report"}}},
                        },
                        "400": {
                            "description": "The file cannot be read at all (not DER or ZIP, unsafe package)",
                            "content": {"application/json": {"schema": error}},
                        },
                        "413": {
                            "description": "Upload over the size limit",
                            "content": {"application/json": {"schema": error}},
                        },
                        "405": {
                            "description": "Method not allowed (the Allow header lists POST)",
                            "content": {"application/json": {"schema": error}},
                        },
                    },
                }
            },
        },
        "components": {
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error", "message"],
                    "properties": {
                        "error": {"type": ["string", "integer"]},
                        "message": {"type": "string"},
                        "code": {"type": "string", "description": "the message's code, e.g. esid.format"},
                        "message_zh": {"type": "string"},
                    },
                },
                "SealStatus": {
                    "description": "One of our own seals (source own), or a seal of an admitted peer's area "
                    "answered from the peer's data (source peer)",
                    "oneOf": [
                        {"$ref": "#/components/schemas/OwnSealStatus"},
                        {"$ref": "#/components/schemas/PeerSealStatus"},
                    ],
                },
                "Authority": {
                    "type": "object",
                    "description": "The registry whose data the answer comes from",
                    "properties": {
                        "area_code": {"type": "string"},
                        "name_zh": {"type": ["string", "null"]},
                        "name_en": {"type": ["string", "null"]},
                        "peer": {"type": "string", "description": "our name for the peer (source peer)"},
                        "state": {"type": "string", "enum": ["active", "suspended", "withdrawn"]},
                    },
                },
                "OwnSealStatus": {
                    "type": "object",
                    "required": ["es_id", "source", "status", "type", "name", "holder", "valid_start", "valid_end"],
                    "properties": {
                        "es_id": {"type": "string"},
                        "source": {"const": "own"},
                        "authority": {"$ref": "#/components/schemas/Authority"},
                        "status": {"type": "string", "enum": ["active", "suspended", "revoked", "expired"]},
                        "type": {
                            "type": "object",
                            "properties": {
                                "code": {"type": "string"},
                                "name_en": {"type": "string"},
                                "name_zh": {"type": "string"},
                            },
                        },
                        "name": {"type": "string"},
                        "holder": {
                            "type": "object",
                            "properties": {"enterprise": {"type": "string"}, "uscc": {"type": "string"}},
                        },
                        "algorithm": {"type": "string", "enum": ["sm2", "ecdsa"]},
                        "valid_start": {"type": "string", "format": "date-time"},
                        "valid_end": {"type": "string", "format": "date-time"},
                        "created_at": {"type": "string", "format": "date-time"},
                        "revoked_at": {"type": ["string", "null"], "format": "date-time"},
                        "revocation_reason": {
                            "type": ["string", "null"],
                            "description": "RFC 5280 reason name, e.g. keyCompromise",
                        },
                        "suspended_at": {"type": ["string", "null"], "format": "date-time"},
                        "superseded_by": {"type": ["string", "null"], "description": "esID of the renewal"},
                        "certificates": {"type": "array", "items": {"type": "object"}},
                        "checked_at": {"type": "string", "format": "date-time"},
                    },
                },
                "PeerSealStatus": {
                    "type": "object",
                    "description": "Decided from the peer's CRLs as we hold them (a certificate on them is "
                    "revoked whatever the peer says); what the peer's own status API said is informative only. "
                    "unknown: the peer is suspended or withdrawn here, its list expired, it did not answer, "
                    "or a CRL is missing or past its nextUpdate (see reasons)",
                    "required": ["es_id", "source", "status", "authority", "reasons", "checked_at"],
                    "properties": {
                        "es_id": {"type": "string"},
                        "source": {"const": "peer"},
                        "status": {"type": "string", "enum": ["active", "suspended", "revoked", "expired", "unknown"]},
                        "authority": {"$ref": "#/components/schemas/Authority"},
                        "list": {
                            "type": ["object", "null"],
                            "description": "the peer's trust list in force",
                            "properties": {
                                "sequence": {"type": "integer"},
                                "sha256": {"type": "string"},
                                "issued_at": {"type": "string", "format": "date-time"},
                                "next_update": {"type": "string", "format": "date-time"},
                                "fetched_at": {"type": "string", "format": "date-time"},
                            },
                        },
                        "status_url": {"type": ["string", "null"], "description": "the peer's own status URL"},
                        "peer_said": {"type": ["object", "null"], "description": "what the peer answered"},
                        "crl_says": {
                            "type": "array",
                            "description": "each certificate the peer named, as its CRL says: good, hold, revoked "
                            "or unknown, with the CRL (url, number, thisUpdate, nextUpdate)",
                            "items": {"type": "object"},
                        },
                        "reasons": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "code": {"type": "string"},
                                    "zh": {"type": "string"},
                                    "en": {"type": "string"},
                                },
                            },
                        },
                        "revoked_at": {"type": ["string", "null"], "format": "date-time"},
                        "revocation_reason": {"type": ["string", "null"]},
                        "suspended_at": {"type": ["string", "null"], "format": "date-time"},
                        "certificates": {"type": "array", "items": {"type": "object"}},
                        "checked_at": {"type": "string", "format": "date-time"},
                    },
                },
                "Check": {
                    "type": "object",
                    "required": ["id", "result"],
                    "properties": {
                        "id": {
                            "type": "string",
                            "enum": [
                                "format",
                                "signer_signature",
                                "signer_in_seal",
                                "seal_signature",
                                "maker_certificate",
                                "seal_validity",
                                "signer_certificate",
                                "holder_certificates",
                                "document_digest",
                                "document_parts",
                            ],
                        },
                        "name_zh": {"type": "string"},
                        "name_en": {"type": "string"},
                        "result": {"type": "string", "enum": ["pass", "fail", "indeterminate"]},
                        "ok": {"type": ["boolean", "null"]},
                        "reason_zh": {"type": ["string", "null"]},
                        "reason_en": {"type": ["string", "null"]},
                        "notes_zh": {"type": "array", "items": {"type": "string"}},
                        "notes_en": {"type": "array", "items": {"type": "string"}},
                    },
                },
                "Report": {
                    "type": "object",
                    "required": ["verdict", "valid", "kind", "checked_at"],
                    "properties": {
                        "verdict": {"type": "string", "enum": ["valid", "invalid", "indeterminate"]},
                        "valid": {"type": "boolean"},
                        "kind": {"type": "string", "enum": ["seal", "signature", "ofd"]},
                        "checked_at": {"type": "string", "format": "date-time"},
                        "seal": {"type": "object", "description": "for kind=seal: the checks of the seal"},
                        "signatures": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "location": {"type": ["string", "null"]},
                                    "verdict": {"type": "string"},
                                    "signing_time": {"type": ["string", "null"], "format": "date-time"},
                                    "checks": {"type": "array", "items": {"$ref": "#/components/schemas/Check"}},
                                },
                            },
                        },
                    },
                },
            }
        },
    }
