"""The holder-certificate profile (registry.pki.profiles): what it carries and what it refuses."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

import pytest

from registry.pki import profiles, x509
from registry.pki.keys import Algorithm, PrivateKey

USCC = "91440300MA5F12342Q"
START = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
PUBLICATION = profiles.HolderPublication(
    issuer_key_id=b"\x01" * 20,
    crl_urls=("http://crl.example/issuing.crl", "http://crl.example/issuing-3.crl"),
    delta_crl_url="http://crl.example/issuing-delta.crl",
    ocsp_url="http://ocsp.example/",
    ca_issuers_url="http://ca.example/issuing.cer",
    policy_oid="1.2.156.1.2.3",
)
ISSUER = PrivateKey.generate(Algorithm.SM2)
HOLDER = PrivateKey.generate(Algorithm.SM2).public_key


def _args(**kw: Any) -> dict[str, Any]:
    args: dict[str, Any] = dict(
        serial=x509.random_serial(),
        issuer_subject_der=x509.Name.build(C="CN", O="测试签发机构", CN="Issuing CA").der(),
        signature_alg=Algorithm.SM2,
        signer=ISSUER,
        publication=PUBLICATION,
        organization="深圳市示例科技有限公司",
        common_name="深圳市示例科技有限公司财务专用章",
        uscc=USCC,
        public_key=HOLDER,
        not_before=START,
        not_after=START + dt.timedelta(days=365),
    )
    args.update(kw)
    return args


def test_holder_certificate_carries_the_profile() -> None:
    args = _args()
    cert = x509.Certificate.from_der(profiles.holder_certificate(**args))
    assert cert.serial == args["serial"]
    assert (cert.not_before, cert.not_after) == (args["not_before"], args["not_after"])
    assert not cert.is_ca
    assert cert.key_usage == {"digitalSignature", "nonRepudiation"}
    assert cert.subject_key_id == HOLDER.key_identifier()
    assert cert.authority_key_id == PUBLICATION.issuer_key_id
    assert cert.crl_urls == PUBLICATION.crl_urls
    assert cert.verify_signature(ISSUER.public_key)


@pytest.mark.parametrize(
    ("kw", "code"),
    [
        (dict(serial=0), "profile.serial"),
        (dict(serial=1 << 159), "profile.serial"),
        (dict(organization=" "), "profile.subject_empty"),
        (dict(uscc="91440300MA5F12342X"), "profile.uscc"),
        (dict(not_after=START), "profile.validity"),
        (dict(not_before=START.replace(tzinfo=None)), "profile.validity"),
        (dict(publication=replace(PUBLICATION, delta_crl_url="")), "profile.crl_urls"),
    ],
)
def test_holder_certificate_refuses_what_does_not_fit(kw: dict[str, Any], code: str) -> None:
    with pytest.raises(profiles.ProfileError) as info:
        profiles.holder_certificate(**_args(**kw))
    assert info.value.code == code
    assert info.value.text("zh") != info.value.text("en")
