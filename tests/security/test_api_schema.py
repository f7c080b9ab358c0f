"""Issue 11 item 25: the public API conforms to its OpenAPI document (schemathesis, every check).

The schemathesis command line runs against the app served on loopback (a fresh database holding an
active seal), the way the assessment ran it: no server errors and no conformance failures.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from registry.services.context import ServiceContext
from registry.web import create_app

st = pytest.importorskip("schemathesis")
CONFIG = Path(__file__).with_name("schemathesis.toml")


@pytest.fixture
def served(ctx: ServiceContext):  # type: ignore[no-untyped-def]
    from tests.support.seals import issue_with_algorithm as issue

    issue(ctx, "sm2")
    app = create_app({"TESTING": False}, ctx=ctx)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()


def test_the_api_conforms_to_its_openapi_document(served: str, tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "st"
    env = dict(os.environ, SCHEMATHESIS_HOOKS="", NO_COLOR="1")
    result = subprocess.run(
        [
            str(exe),
            "--config-file",
            str(CONFIG),
            "run",
            f"{served}/api/v1/openapi.json",
            "--url",
            served,
            "--checks",
            "all",
            "--max-examples",
            os.environ.get("REGISTRY_SCHEMATHESIS_EXAMPLES", "150"),
            "--seed",
            "11",
            "--workers",
            "1",
            "--max-failures",
            "20",
            "--report-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout[-12000:] + result.stderr[-3000:]


def test_a_405_names_the_allowed_methods(ctx: ServiceContext) -> None:
    c = create_app({"TESTING": True}, ctx=ctx).test_client()
    r = c.open("/api/v1/seals/4403000220262K7QW3M9XB1DF", method="TRACE")
    assert r.status_code == 405 and set(r.headers["Allow"].split(", ")) >= {"GET"}
    r = c.put("/api/v1/verify")
    assert r.status_code == 405 and "POST" in r.headers["Allow"] and r.is_json
    r = c.get("/admin/crls/publish")
    assert r.status_code == 405 and "POST" in r.headers["Allow"]


def test_a_seal_code_with_a_wrong_check_character_is_404_and_a_malformed_one_400(ctx: ServiceContext) -> None:
    from registry.domain.esid import luhn32_check

    c = create_app({"TESTING": True}, ctx=ctx).test_client()
    body = "440300022026" + "2K7QW3M9XB1D"
    wrong = body + ("0" if luhn32_check(body) != "0" else "1")
    r = c.get(f"/api/v1/seals/{wrong}")
    assert r.status_code == 404 and r.json["code"] == "esid.check_character"
    assert c.get(f"/api/v1/seals/{body + luhn32_check(body)}").status_code == 404
    for bad in (" " + wrong[1:], "y" + wrong[1:], wrong[:-1]):
        r = c.get(f"/api/v1/seals/{bad}")
        assert r.status_code == 400 and r.json["code"] == "api.seal_code" and "message_zh" in r.json
