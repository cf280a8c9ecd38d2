"""Regenerate migration 0001 from the models (allowed only until the first release ships).

Usage: .venv/bin/python scripts/regen-initial-migration.py
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine

ROOT = Path(__file__).resolve().parent.parent
VERSIONS = ROOT / "src/voxcast/storage/migrations/versions"

for old in VERSIONS.glob("0001_*.py"):
    old.unlink()
with tempfile.TemporaryDirectory() as tmp:
    engine = create_engine(f"sqlite:///{tmp}/gen.db")
    with engine.begin() as conn:
        cfg = Config()
        cfg.set_main_option("script_location", str(ROOT / "src/voxcast/storage/migrations"))
        cfg.attributes["connection"] = conn
        command.revision(cfg, message="initial schema", autogenerate=True, rev_id="0001")
new = next(VERSIONS.glob("0001_*.py"))
text = new.read_text()
text = "\n".join(line for line in text.splitlines() if not line.startswith("Create Date")) + "\n"
new.write_text(text)
subprocess.run([str(ROOT / ".venv/bin/ruff"), "format", str(new)], check=True)
subprocess.run([str(ROOT / ".venv/bin/ruff"), "check", "--fix", str(new)], check=False)
