"""The public JSON API (no login): seal status and verification, described by an OpenAPI document."""
# messages: not yet converted (tests/test_messages.py)
from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import RequestEntityTooLarge

from ..domain.errors import ValidationError
from ..services import status, verify
from . import service_context

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def read_upload(field: str, required: bool) -> bytes | None:
    """The bytes of one multipart file field, within the verifier's size limit (413 beyond it)."""
    storage: FileStorage | None = request.files.get(field)
    if storage is None:
        if required:
            raise ValidationError(f"no file in the form field {field!r} (send multipart/form-data)")
        return None
    limit = service_context().settings.verify_max_bytes
    data = storage.stream.read(limit + 1)
    if len(data) > limit:
        raise RequestEntityTooLarge(f"the {field} is larger than the limit of {limit} bytes")
    if not data:
        if required:
            raise ValidationError(f"the uploaded {field} is empty")
        return None
    return data


@bp.get("/seals/<code>")
def seal(code: str):  # type: ignore[no-untyped-def]
    return jsonify(status.seal_status(service_context(), code))


@bp.post("/verify")
def verify_upload():  # type: ignore[no-untyped-def]
    data = read_upload("file", True)
    document = read_upload("document", False)
    assert data is not None
    report = verify.verify_file(service_context(), data, document=document)
    return jsonify(report.to_json())


@bp.get("/openapi.json")
def openapi():  # type: ignore[no-untyped-def]
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
                    "parameters": [{"name": "esId", "in": "path", "required": True,
                                    "description": "The seal's esID (25 characters)",
                                    "schema": {"type": "string", "pattern": "^[0-9A-Za-z]{25}$"}}],
                    "responses": {
                        "200": {"description": "The seal",
                                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SealStatus"}}}},
                        "400": {"description": "Not a seal code of this registry (wrong length or check character)",
                                "content": {"application/json": {"schema": error}}},
                        "404": {"description": "No such seal", "content": {"application/json": {"schema": error}}},
                    },
                }
            },
            "/api/v1/verify": {
                "post": {
                    "summary": "Verify a seal, an electronic signature or a sealed OFD document",
                    "operationId": "verify",
                    "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                        "type": "object", "required": ["file"],
                        "properties": {
                            "file": {"type": "string", "format": "binary",
                                     "description": ".esl (SESeal), SES_Signature (DER) or .ofd"},
                            "document": {"type": "string", "format": "binary",
                                         "description": "The signed file, for a standalone SES_Signature"}}}}}},
                    "responses": {
                        "200": {"description": "The verdict, with every check (Chinese and English reasons)",
                                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Report"}}}},
                        "400": {"description": "The file cannot be read at all (not DER or ZIP, unsafe package)",
                                "content": {"application/json": {"schema": error}}},
                        "413": {"description": "Upload over the size limit", "content": {"application/json": {"schema": error}}},
                    },
                }
            },
        },
        "components": {"schemas": {
            "Error": {"type": "object", "required": ["error", "message"],
                      "properties": {"error": {"type": ["string", "integer"]}, "message": {"type": "string"}}},
            "SealStatus": {"type": "object", "required": ["es_id", "status", "type", "name", "holder",
                                                          "valid_start", "valid_end"],
                           "properties": {
                               "es_id": {"type": "string"},
                               "status": {"type": "string", "enum": ["active", "suspended", "revoked", "expired"]},
                               "type": {"type": "object", "properties": {
                                   "code": {"type": "string"}, "name_en": {"type": "string"},
                                   "name_zh": {"type": "string"}}},
                               "name": {"type": "string"},
                               "holder": {"type": "object", "properties": {
                                   "enterprise": {"type": "string"}, "uscc": {"type": "string"}}},
                               "algorithm": {"type": "string", "enum": ["sm2", "ecdsa"]},
                               "valid_start": {"type": "string", "format": "date-time"},
                               "valid_end": {"type": "string", "format": "date-time"},
                               "created_at": {"type": "string", "format": "date-time"},
                               "revoked_at": {"type": ["string", "null"], "format": "date-time"},
                               "revocation_reason": {"type": ["string", "null"],
                                                     "description": "RFC 5280 reason name, e.g. keyCompromise"},
                               "suspended_at": {"type": ["string", "null"], "format": "date-time"},
                               "superseded_by": {"type": ["string", "null"], "description": "esID of the renewal"},
                               "certificates": {"type": "array", "items": {"type": "object"}},
                               "checked_at": {"type": "string", "format": "date-time"}}},
            "Check": {"type": "object", "required": ["id", "result"], "properties": {
                "id": {"type": "string", "enum": ["format", "signer_signature", "signer_in_seal", "seal_signature",
                                                  "maker_certificate", "seal_validity", "signer_certificate",
                                                  "holder_certificates", "document_digest", "document_parts"]},
                "name_zh": {"type": "string"}, "name_en": {"type": "string"},
                "result": {"type": "string", "enum": ["pass", "fail", "indeterminate"]},
                "ok": {"type": ["boolean", "null"]},
                "reason_zh": {"type": ["string", "null"]}, "reason_en": {"type": ["string", "null"]},
                "notes_zh": {"type": "array", "items": {"type": "string"}},
                "notes_en": {"type": "array", "items": {"type": "string"}}}},
            "Report": {"type": "object", "required": ["verdict", "valid", "kind", "checked_at"], "properties": {
                "verdict": {"type": "string", "enum": ["valid", "invalid", "indeterminate"]},
                "valid": {"type": "boolean"},
                "kind": {"type": "string", "enum": ["seal", "signature", "ofd"]},
                "checked_at": {"type": "string", "format": "date-time"},
                "seal": {"type": "object", "description": "for kind=seal: the checks of the seal"},
                "signatures": {"type": "array", "items": {"type": "object", "properties": {
                    "location": {"type": ["string", "null"]}, "verdict": {"type": "string"},
                    "signing_time": {"type": ["string", "null"], "format": "date-time"},
                    "checks": {"type": "array", "items": {"$ref": "#/components/schemas/Check"}}}}}}},
        }},
    }
