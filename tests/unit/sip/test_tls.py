"""The TLS client context of TLS trunks and the operator's line when a certificate is refused;
the whole path runs against Kamailio in tests/interop/test_tls.py."""

from __future__ import annotations

import ssl
from pathlib import Path

from tests.interop.certs import make_pki
from voxcast.telephony.sip.aio.transport import describe_tls_error, tls_context
from voxcast.telephony.sip.core.dialog import Local


def test_the_default_context_checks_the_certificate_and_its_name() -> None:
    context = tls_context()
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname is True
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2


def test_a_trunk_ca_file_is_the_only_ca_trusted(tmp_path: Path) -> None:
    pki = make_pki(tmp_path, "unit")
    context = tls_context(str(pki.ca))
    assert [dict(c["subject"][0]) for c in context.get_ca_certs()] == [
        {"commonName": "voxcast test CA unit"}
    ]
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname is True


def test_insecure_checks_nothing() -> None:
    context = tls_context(insecure=True)
    assert context.verify_mode == ssl.CERT_NONE
    assert context.check_hostname is False


def test_a_refused_certificate_is_described_with_the_remedy() -> None:
    err = ssl.SSLCertVerificationError(1, "certificate verify failed")
    err.verify_message = "self-signed certificate"
    assert describe_tls_error(err, ("192.0.2.7", 5061)) == (
        "TLS: the certificate of 192.0.2.7:5061 was refused (self-signed certificate); "
        "give the trunk the CA that signed it (--tls-ca FILE) or fix its name"
    )
    refused = ConnectionRefusedError(111, "Connection refused")
    assert describe_tls_error(refused, ("192.0.2.7", 5061)) == (
        "cannot connect to 192.0.2.7:5061: [Errno 111] Connection refused"
    )


def test_via_and_contact_over_tls() -> None:
    local = Local("192.0.2.1", 40000, "TLS")
    assert local.reliable is True
    assert local.via("z9hG4bKx") == "SIP/2.0/TLS 192.0.2.1:40000;branch=z9hG4bKx;rport"
    assert local.contact("1000") == "<sip:1000@192.0.2.1:40000;transport=tls>"
