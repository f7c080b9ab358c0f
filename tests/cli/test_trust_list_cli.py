"""``registry trust-list``: publish, show, show --json and show --fingerprints (what another region
pins), checked against the files served and against OpenSSL's reading of the keys."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path

from registry.domain import trust_list as tl
from tests.support.cli import Cli, last_line


def trust_dir(tmp_path: Path) -> Path:
    return tmp_path / "instance" / "publish" / "trust"


def test_init_makes_the_keys_and_publishes_the_first_list_once(cli: Cli, tmp_path: Path) -> None:
    first = cli("init").stdout
    assert len(re.findall(r"^list-signing key (ES256|SM2-SM3)\s+new\s+[0-9a-f]{64}$", first, re.M)) == 2
    assert "published trust/list.jws sequence 1" in first
    again = cli("init").stdout
    assert "list-signing key" not in again and "trust list up to date" in again
    assert json.loads((trust_dir(tmp_path) / "list.json").read_bytes())["scheme"]["sequence"] == 1


def test_fingerprints_are_one_line_per_current_key_the_sha256_of_its_spki(ready: Cli, tmp_path: Path) -> None:
    out = ready("trust-list", "show", "--fingerprints").stdout
    lines = out.splitlines()
    assert [line.split()[0] for line in lines] == ["ES256", "SM2-SM3"]
    assert all(re.fullmatch(r"(ES256|SM2-SM3) [0-9a-f]{64}", line) for line in lines)
    doc = json.loads((trust_dir(tmp_path) / "list.json").read_bytes())
    from_list = {
        k["alg"]: hashlib.sha256(base64.b64decode(k["spki"])).hexdigest()
        for k in doc["scheme"]["signing_keys"]
        if k["status"] == "current"
    }
    assert dict(line.split() for line in lines) == from_list


def test_publish_prints_the_number_last_and_show_json_prints_the_exact_bytes(ready: Cli, tmp_path: Path) -> None:
    published = ready("trust-list", "publish")
    assert last_line(published) == "2"
    assert re.match(
        r"trust list 2 sha256 [0-9a-f]{64} next update \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\n2\n$", published.stdout
    )
    shown = ready("trust-list", "show", "--json")
    assert shown.stdout_bytes == (trust_dir(tmp_path) / "list.json").read_bytes()
    assert tl.parse(shown.stdout_bytes).scheme.sequence == 2
    old = ready("trust-list", "show", "--json", "--sequence", "1")
    assert old.stdout_bytes == (trust_dir(tmp_path) / "lists" / "1.json").read_bytes()
    text = ready("trust-list", "show").stdout
    assert text.startswith("trust list 2 of 440300 深圳市市场监督管理局")
    assert "  previous     1 sha256 " in text and "services: 6" in text
    assert re.search(r"sm2-seal-maker\s+seal-maker\s+SM2\s+granted\s+since \S+\s+esID 440300\*", text)


def test_refusals_are_one_line_and_exit_2(cli: Cli, ready: Cli) -> None:
    both = ready("trust-list", "show", "--json", "--fingerprints", ok=False)
    assert both.exit_code == 2 and both.stderr.startswith("registry: error: --json and --fingerprints")
    missing = ready("trust-list", "show", "--sequence", "9", ok=False)
    assert missing.exit_code == 2 and missing.stderr.strip() == "registry: error: there is no trust list number 9"
    assert ready("trust-list", "show", "--fingerprints", "--sequence", "1", ok=False).exit_code == 2


def test_a_planned_rollover_announces_then_switches_the_pins(ready: Cli, tmp_path: Path) -> None:
    before = ready("trust-list", "show", "--fingerprints").stdout.splitlines()
    later = ready("trust-list", "announce-keys", "--not-before", "2099-01-01T00:00:00Z")
    announced = re.findall(r"^next (ES256|SM2-SM3) ([0-9a-f]{64}) from 2099-01-01T00:00:00Z$", later.stdout, re.M)
    assert [alg for alg, _ in announced] == ["ES256", "SM2-SM3"]
    doc = json.loads((trust_dir(tmp_path) / "list.json").read_bytes())
    statuses = sorted((k["alg"], k["status"]) for k in doc["scheme"]["signing_keys"])
    assert statuses == [("ES256", "current"), ("ES256", "next"), ("SM2-SM3", "current"), ("SM2-SM3", "next")]
    early = ready("trust-list", "roll-over", ok=False)
    assert early.exit_code == 2 and "no announced key is due" in early.stderr
    again = ready("trust-list", "announce-keys", ok=False)
    assert again.exit_code == 2 and "is announced already" in again.stderr
    assert ready("trust-list", "show", "--fingerprints").stdout.splitlines() == before


def test_rolling_over_makes_the_announced_keys_the_pins(ready: Cli, tmp_path: Path) -> None:
    announced = re.findall(r"^next (\S+) ([0-9a-f]{64})", ready("trust-list", "announce-keys").stdout, re.M)
    rolled = ready("trust-list", "roll-over").stdout
    assert "signed with the new keys" in rolled
    after = [tuple(line.split()) for line in ready("trust-list", "show", "--fingerprints").stdout.splitlines()]
    assert after == announced
    doc = json.loads((trust_dir(tmp_path) / "list.json").read_bytes())
    assert sorted(k["status"] for k in doc["scheme"]["signing_keys"]) == ["current", "current", "retired", "retired"]
    signed_by = sorted(
        json.loads(base64.urlsafe_b64decode(s["protected"] + "=="))["kid"]
        for s in json.loads((trust_dir(tmp_path) / "list.jws").read_bytes())["signatures"]
    )
    assert signed_by == sorted(f"sha256:{h}" for _, h in announced)


def test_a_list_number_out_of_range_is_a_usage_error(ready: Cli) -> None:
    huge = ready("trust-list", "show", "--sequence", str(10**30), ok=False)
    assert huge.exit_code == 2 and "Invalid value for '--sequence'" in huge.stderr
