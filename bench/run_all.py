"""Runs every benchmark in this folder, one process each, and prints their ratio lines."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
BENCHES = [
    "intake.py",
    "sheet.py",
    "dialer.py",
    "push.py",
    "tts.py",
    "decode.py",
    "sip_load.py",
    "sip_cpu.py",
    "sip_task.py",
    "bridge.py",
    "api.py",
    "amd.py",
    "ai.py",
    "cluster.py",
    "console.py",
]


def main() -> int:
    failed = 0
    for name in BENCHES:
        path = HERE / name
        if not path.exists():
            print(f"{name}: missing")
            failed += 1
            continue
        started = time.monotonic()
        proc = subprocess.run([sys.executable, str(path)], check=False, cwd=HERE.parent)
        print(f"  ({name} took {time.monotonic() - started:.1f} s, exit {proc.returncode})")
        failed += proc.returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
