"""Records what the vendor's Java SDK sends, as replay fixtures: runs Capture.java once per call
against a local server that keeps the raw request, and writes `<call>.http` beside this folder.

    python -m tests.contract.sdk_replay.capture.capture SDK_CLASSES call [call ...]

SDK_CLASSES is the vendor SDK (itniotech/buka-java-sdk, commit c91b6ae) compiled with
`javac -d SDK_CLASSES $(find src/main -name '*.java')`. Needs a JDK (java, javac) on PATH.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

HERE = Path(__file__).parent
FIXTURES = HERE.parent
#: set by the transport at replay time (the body's length changes when placeholders are filled)
DROPPED = {"host", "content-length"}
PLACEHOLDERS = {"sign": "{{Sign}}", "timestamp": "{{Timestamp}}", "api-key": "{{Api-Key}}"}


def _serve_once(server: socket.socket, out: list[bytes]) -> None:
    conn, _ = server.accept()
    with conn:
        data = b""
        while b"\r\n\r\n" not in data:
            data += conn.recv(65536)
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        while len(body) < length:
            body += conn.recv(65536)
        out.append(head + b"\r\n\r\n" + body)
        answer = b'{"status":"0","reason":"success","data":null}'
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
            + f"Content-Length: {len(answer)}\r\n\r\n".encode()
            + answer
        )


def fixture_text(raw: bytes) -> bytes:
    """The raw request as a fixture: request line and the SDK's own headers (one a line, `\\n`
    line ends), Sign/Timestamp/Api-Key as placeholders, a blank line, the body byte for byte."""
    head, _, body = raw.partition(b"\r\n\r\n")
    request_line, *header_lines = head.decode("latin-1").split("\r\n")
    kept = [request_line]
    for line in header_lines:
        name, _, value = line.partition(":")
        key = name.strip().lower()
        if key in DROPPED:
            continue
        kept.append(f"{name}: {PLACEHOLDERS.get(key, value.strip())}")
    return ("\n".join(kept) + "\n\n").encode("latin-1") + body


def capture(sdk_classes: Path, calls: list[str]) -> None:
    from tests.unit.audio.audiofiles import encode

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        subprocess.run(
            ["javac", "-nowarn", "-cp", str(sdk_classes), "-d", tmp, str(HERE / "Capture.java")],
            check=True,
        )
        audio = work / "test.mp3"
        audio.write_bytes(encode("mp3", 0.3))
        for call in calls:
            server = socket.create_server(("127.0.0.1", 0))
            port = server.getsockname()[1]
            got: list[bytes] = []
            thread = threading.Thread(target=_serve_once, args=(server, got), daemon=True)
            thread.start()
            subprocess.run(
                [
                    "java",
                    # a stock JVM drops the SDK's `origin` header and rewrites its `connection`
                    # (restricted headers of HttpURLConnection); the fixtures keep every header
                    # the SDK sets, as a JVM started with this flag sends them
                    "-Dsun.net.http.allowRestrictedHeaders=true",
                    "-cp",
                    f"{sdk_classes}:{tmp}",
                    "Capture",
                    call,
                    f"http://127.0.0.1:{port}/v3/",
                    str(audio),
                ],
                check=True,
                stdout=subprocess.DEVNULL,
                timeout=60,
            )
            thread.join(10)
            server.close()
            (FIXTURES / f"{call}.http").write_bytes(fixture_text(got[0]))
            print(f"{call}.http")


if __name__ == "__main__":
    capture(Path(sys.argv[1]), sys.argv[2:])
