"""Push signatures: the HMAC rule, `verify`, and the Python and openssl snippets in
docs/webhooks.md, which must accept exactly what the sender signs."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from voxcast.webhooks import signing

DOC = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"
BODY = b'{"voiceId":"26030209000000000001","type":1,"callee":"8613000000000"}'
NOW = 1_772_442_000


def doc_block(language: str) -> str:
    blocks = re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), flags=re.S)
    assert blocks, f"docs/webhooks.md has no {language} block"
    return str(blocks[-1])


def test_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    expected = hmac.new(b"k", b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert signing.signature("k", 1700000000, BODY) == "sha256=" + expected


def test_headers_carry_the_timestamp_and_the_signature() -> None:
    assert signing.headers("k", NOW, BODY) == {
        "X-Voxcast-Timestamp": str(NOW),
        "X-Voxcast-Signature": signing.signature("k", NOW, BODY),
    }


def test_verify_accepts_a_fresh_signature() -> None:
    sig = signing.signature("k", NOW, BODY)
    assert signing.verify("k", str(NOW), BODY, sig, NOW + 299)
    assert signing.verify("k", str(NOW), BODY, sig + "\r\n", NOW)


@pytest.mark.parametrize(
    ("secret", "timestamp", "body", "now"),
    [
        ("wrong", str(NOW), BODY, NOW),
        ("k", str(NOW), BODY + b" ", NOW),
        ("k", str(NOW + 1), BODY, NOW),
        ("k", str(NOW), BODY, NOW + 301),
        ("k", str(NOW), BODY, NOW - 301),
        ("k", "not-a-number", BODY, NOW),
        ("k", "", BODY, NOW),
    ],
)
def test_verify_rejects_wrong_secret_tampering_and_stale_or_bad_timestamps(
    secret: str, timestamp: str, body: bytes, now: int
) -> None:
    sig = signing.signature("k", NOW, BODY)
    assert not signing.verify(secret, timestamp, body, sig, now)


def test_verify_rejects_a_malformed_signature_header() -> None:
    assert not signing.verify("k", str(NOW), BODY, "", NOW)
    assert not signing.verify("k", str(NOW), BODY, "md5=00", NOW)


def test_python_snippet_in_the_docs_verifies_what_voxcast_signs() -> None:
    namespace: dict[str, object] = {}
    exec(compile(doc_block("python"), str(DOC), "exec"), namespace)
    verify = namespace["verify"]
    assert callable(verify)
    check: Callable[..., bool] = verify
    stamp = int(time.time())
    headers = signing.headers("s3cret", stamp, BODY)
    ts, sig = headers["X-Voxcast-Timestamp"], headers["X-Voxcast-Signature"]
    assert check("s3cret", ts, BODY, sig)
    assert not check("wrong", ts, BODY, sig)
    assert not check("s3cret", ts, BODY + b"x", sig)
    assert not check("s3cret", "x", BODY, sig)
    old = signing.headers("s3cret", stamp - 3600, BODY)
    assert not check("s3cret", old["X-Voxcast-Timestamp"], BODY, old["X-Voxcast-Signature"])


def test_openssl_snippet_in_the_docs_computes_the_same_signature(tmp_path: Path) -> None:
    (tmp_path / "body.json").write_bytes(BODY)
    out = subprocess.run(
        ["bash", "-c", doc_block("sh")],
        cwd=tmp_path,
        env={
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "TIMESTAMP": str(NOW),
            "SECRET": "s3cret",
        },
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == signing.signature("s3cret", NOW, BODY)
