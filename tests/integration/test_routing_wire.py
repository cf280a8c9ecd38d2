"""Paths as Java clients put them on the wire, through the real `voxcast serve` (uvicorn): a
double slash and a trailing slash on a POST are served in place with HTTP 200, never 307/404."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.helpers import signed_headers
from tests.integration.server import running_server
from voxcast.clock import SystemClock


def test_double_and_trailing_slash_posts_over_http_answer_200_in_place(
    db_url: str, tmp_path: Path
) -> None:
    with running_server(db_url, tmp_path / "var") as (base, creds):
        ts = int(SystemClock().now().timestamp())
        headers = signed_headers(creds.api_key, creds.api_secret, ts)
        with httpx.Client(base_url=base, timeout=10, follow_redirects=False) as http:
            answers = [
                http.post(f"{base}{path}", headers=headers, json={})
                for path in ("//getBalance", "/v3//getBalance", "/v3/getBalance/", "/v3/nothing")
            ]
    assert [a.status_code for a in answers] == [200, 200, 200, 200]
    assert [a.json()["status"] for a in answers] == ["0", "0", "0", "-24"]
    assert answers[0].json()["balance"] == "100.000000"
