"""Answering-machine detection on the test set in tests/data/amd (spoken greetings and human
answers from espeak-ng through a phone line, plus synthetic cadences): each file fed to the
call listener as 20 ms G.711 payloads, as a SIP call feeds it.

Prints the accuracy, a confusion table (truth by verdict; NOTSURE counts as wrong), the
MACHINE greetings whose beep was found, and the ratio against always answering MACHINE (the
majority baseline measured on the same set).
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from tests.data.amd import greetings, judge  # noqa: E402

from voxcast.domain.amd import Verdict  # noqa: E402


def main() -> int:
    started = time.process_time()
    judged = [judge(name, truth, audio) for name, truth, audio in greetings()]
    cpu = time.process_time() - started
    total = len(judged)
    right = sum(j.right for j in judged)
    table = Counter((j.truth, j.verdict) for j in judged)
    verdicts = list(Verdict)
    print("amd: truth \\ verdict " + " ".join(f"{v.value:>8}" for v in verdicts))
    for truth in (Verdict.HUMAN, Verdict.MACHINE):
        row = " ".join(f"{table[(truth, v)]:>8}" for v in verdicts)
        print(f"amd: {truth.value:>15} {row}")
    for j in judged:
        if not j.right:
            cause = j.result.cause if j.result is not None else "-"
            print(f"amd: wrong: {j.name} ({j.truth.value}) -> {j.verdict.value} {cause}")
    machines = [j for j in judged if j.truth is Verdict.MACHINE and j.right]
    beeps = sum(1 for j in machines if j.greeting_over and j.greeting_over.how == "beep")
    print(f"amd: beep found on {beeps} of {len(machines)} greetings judged MACHINE")
    majority = max(sum(j.truth is t for j in judged) for t in (Verdict.HUMAN, Verdict.MACHINE))
    accuracy, baseline = right / total, majority / total
    print(
        f"amd: accuracy {accuracy:.3f} ({right}/{total}) vs majority baseline {baseline:.3f}: "
        f"ratio {accuracy / baseline:.2f}; {cpu / total * 1000:.0f} ms CPU per greeting"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
