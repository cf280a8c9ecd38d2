"""The operations surface with real processes: `/metrics` of a running `voxcast serve` counts a
sandbox campaign exactly, its JSON log names each call's voiceId, and `voxcast worker
--metrics-port` serves the operations endpoints (/readyz under a database outage: test_readyz)."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests import ports
from tests.integration.receiver import Receiver
from tests.integration.server import VOXCAST, Cli, serving
from voxcast.client import AsyncVoxcastClient

#: one callee per sandbox outcome (docs/sandbox.md: the last digit decides)
NUMBERS = [f"86130000001{digit}" for digit in "0123456789"]
#: the result label each of them ends with: 0-3 and 9 are answered, 8 is a network failure
OUTCOMES = {
    "answered": 5,
    "no_answer": 1,
    "busy": 1,
    "rejected": 1,
    "not_found": 1,
    "failed": 1,
    "error": 0,
    "lost": 0,
}
#: pushes the receiver refuses (HTTP 500) before it takes them; each is retried and delivered
REFUSED = 3


def scrape(base: str) -> dict[str, float]:
    """Every sample of /metrics as `name{label="value",...}` -> value."""
    answer = httpx.get(f"{base}/metrics", timeout=10)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            out[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return out


def outcome(result: str) -> str:
    return f'voxcast_call_outcomes_total{{result="{result}"}}'


async def test_metrics_count_a_campaign_and_json_logs_name_each_call(
    db_url: str, tmp_path: Path
) -> None:
    cli = Cli.fresh(db_url, tmp_path / "var")
    cli.extra_env = {"VOXCAST_LOG_FORMAT": "json", "VOXCAST_PUSH_RETRY_SECONDS": "0.2"}
    creds = cli.create_account(balance="50")
    rates = tmp_path / "rates.csv"
    rates.write_text("prefix,rate,description\n86,0.0150,China\n")
    cli.run("admin", "rates", "import", str(rates))
    async with Receiver(fail_first=REFUSED) as receiver:
        cli.run("admin", "set-push-url", "--app-id", str(creds["appId"]), "--url", receiver.url)
        with serving(cli, "--sandbox-speed", "40", "--log-level", "debug") as base:
            before = await asyncio.to_thread(scrape, base)
            async with AsyncVoxcastClient(
                base, str(creds["apiKey"]), str(creds["apiSecret"])
            ) as client:
                sent = await client.send_group_call(
                    appId=creds["appId"],
                    taskName="metrics",
                    source=3,
                    text="Hello, this is a short reminder.",
                    lan="EN",
                    loopCount=1,
                    maxCalls=30,
                    maxRingingTime=20,
                    numberInfoList=[{"calleeNumber": n} for n in NUMBERS],
                )
                assert sent.code == "0", sent
            after = before
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                after = await asyncio.to_thread(scrape, base)
                delivered = after["voxcast_pushes_delivered_total"]
                ended = sum(after[outcome(r)] for r in OUTCOMES)
                # the backlog gauge is read from the database: the last delivery's row may be
                # committed a moment after its counter went up
                drained = after["voxcast_push_backlog"] == 0
                if delivered >= len(NUMBERS) and ended >= len(NUMBERS) and drained:
                    break
                await asyncio.sleep(0.2)
            log_file = cli.data_dir / f"serve-{base.rsplit(':', 1)[1]}.log"
        pushes = {p.json()["callee"]: p.json() for p in receiver.received}

    def grew(name: str) -> float:
        return after[name] - before.get(name, 0.0)

    assert grew("voxcast_call_setups_total") == len(NUMBERS)
    assert {r: grew(outcome(r)) for r in OUTCOMES} == OUTCOMES
    assert after["voxcast_calls_in_progress"] == 0
    assert grew("voxcast_pushes_delivered_total") == len(NUMBERS)
    assert grew("voxcast_push_failures_total") == REFUSED
    assert after["voxcast_push_backlog"] == 0
    assert grew("voxcast_db_query_seconds_count") > 0
    assert grew("voxcast_claim_seconds_count") > 0  # every claim transaction timed
    assert after["voxcast_db_query_seconds_sum"] > before.get("voxcast_db_query_seconds_sum", 0)
    # every line of the process is one JSON object, uvicorn's own included
    lines = [json.loads(line) for line in log_file.read_text().splitlines() if line.strip()]
    assert lines and all({"time", "level", "logger", "message"} <= set(r) for r in lines)
    ended_lines = {
        r["message"].split()[2].rstrip(":"): r
        for r in lines
        if r["logger"] == "voxcast.dialer" and r["message"].startswith("call to ")
    }
    assert sorted(pushes) == sorted(NUMBERS)
    assert {c: r.get("voiceId") for c, r in ended_lines.items()} == {
        c: p["voiceId"] for c, p in pushes.items()
    }
    # lines about no call carry no voiceId
    assert all("voiceId" not in r for r in lines if r["logger"].startswith("uvicorn"))


def _ready(base: str) -> tuple[int, dict[str, object], float]:
    started = time.monotonic()
    answer = httpx.get(f"{base}/readyz", timeout=10)
    return answer.status_code, answer.json(), time.monotonic() - started


def start_worker(cli: Cli) -> tuple[subprocess.Popen[bytes], str]:
    """`voxcast worker --metrics-port` on a free port, once its /metrics answers; another port
    when that one was taken meanwhile (as `serving` does)."""
    cli.data_dir.mkdir(parents=True, exist_ok=True)
    for attempt in range(3):
        port = ports.free_port(socket.SOCK_STREAM)
        log = cli.data_dir / f"worker-{port}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [VOXCAST, "worker", "--metrics-port", str(port), "--log-level", "warning"],
                env=cli.env(),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while proc.poll() is None:
            assert time.monotonic() < deadline, log.read_text()
            try:
                # ours (a process that took the port meanwhile would have no such metric)
                if "voxcast_call_setups_total" in httpx.get(f"{base}/metrics", timeout=1).text:
                    return proc, base
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        text = log.read_text()
        assert "address already in use" in text.lower() and attempt < 2, text
    raise AssertionError("unreachable")


def test_worker_serves_metrics_health_and_readiness_on_its_port(
    db_url: str, tmp_path: Path
) -> None:
    cli = Cli.fresh(db_url, tmp_path / "var")
    proc, base = start_worker(cli)
    try:
        alive = httpx.get(f"{base}/healthz", timeout=10)
        assert (alive.status_code, alive.json()) == (200, {"status": "ok"})
        status, body, _ = _ready(base)
        assert (status, body["status"], body["failed"]) == (200, "ready", {})
        found = scrape(base)
        assert found["voxcast_calls_in_progress"] == 0
        assert found["voxcast_call_setups_total"] == 0
        assert found["voxcast_db_query_seconds_count"] > 0  # its dialer's ticks
        # only the operations endpoints: no API on a worker
        assert httpx.get(f"{base}/v3/getBalance", timeout=5).status_code == 404
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
    logs = (cli.data_dir / f"worker-{base.rsplit(':', 1)[1]}.log").read_text()
    assert code == 0, logs
    assert "Traceback" not in logs


def test_a_worker_whose_metrics_port_is_taken_stops_with_one_line(
    db_url: str, tmp_path: Path
) -> None:
    cli = Cli.fresh(db_url, tmp_path / "var")
    cli.data_dir.mkdir(parents=True)
    with socket.create_server((ports.HOST, 0)) as held:
        port = held.getsockname()[1]
        done = subprocess.run(
            [VOXCAST, "worker", "--metrics-port", str(port), "--log-level", "warning"],
            env=cli.env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 1
    assert (
        done.stderr.strip()
        .splitlines()[-1]
        .startswith(
            f"voxcast worker: --metrics-port {port} on 127.0.0.1: [Errno 98] Address already in use"
        )
    )
    assert "Traceback" not in done.stderr
