"""`voxcast admin dnc import/export/audit` with the real command: any spelling is stored in
E.164, every refused row is reported with its line and reason, and the import is audited."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from tests.integration.server import Cli


def test_import_reports_each_refused_row_and_imports_the_rest(db_url: str, tmp_path: Path) -> None:
    cli = Cli.fresh(db_url, tmp_path / "var")
    creds = cli.create_account()
    account = str(creds["accountId"])
    extract = tmp_path / "registry.csv"
    extract.write_text(
        "phone,name\n"
        "+86 130 0000 0001,Ann\n"
        "12ab,bad\n"
        "0086-130-0000-0002,Bo\n"
        ",no number\n"
        "8613000000001,Ann again\n"
        "(202) 555-0100,US\n"
    )
    report = tmp_path / "refused.csv"
    out = cli.run(
        "admin", "dnc", "import", str(extract), "--account-id", account, "--errors", str(report)
    )
    summary = " ".join(out.stdout.split())
    assert "2 numbers added" in summary and "3 rows refused" in summary, summary
    assert "line 3: '12ab'" in out.stderr and "line 5" in out.stderr, out.stderr
    # a national spelling needs --region: without one it is refused, not guessed
    assert "line 7: '(202) 555-0100'" in out.stderr, out.stderr
    refused = list(csv.reader(report.open()))
    assert [row[0] for row in refused] == ["line", "3", "5", "7"]

    exported = cli.run("admin", "dnc", "export", "--account-id", account).stdout
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert sorted(r["number"] for r in rows) == ["+8613000000001", "+8613000000002"]
    assert {(r["appId"], r["source"]) for r in rows} == {("", "import")}
    # an app's list, national spellings read in the given country
    us = tmp_path / "us.csv"
    us.write_text("(202) 555-0100\n202.555.0101\n")
    cli.run(
        "admin", "dnc", "import", str(us), "--account-id", account,
        "--app-id", str(creds["appId"]), "--region", "US",
    )  # fmt: skip
    app_rows = cli.run(
        "admin", "dnc", "export", "--account-id", account, "--app-id", str(creds["appId"])
    ).stdout
    assert sorted(r["number"] for r in csv.DictReader(io.StringIO(app_rows))) == [
        "+12025550100",
        "+12025550101",
    ]
    trail = list(
        csv.DictReader(
            io.StringIO(cli.run("admin", "dnc", "audit", "--account-id", account).stdout)
        )
    )
    assert len(trail) == 4 and {t["source"] for t in trail} == {"import"}
    assert all(t["action"] == "add" and t["actor"].startswith("cli") for t in trail)


def test_import_into_an_unknown_account_fails(db_url: str, tmp_path: Path) -> None:
    cli = Cli.fresh(db_url, tmp_path / "var")
    cli.create_account()
    extract = tmp_path / "x.csv"
    extract.write_text("8613000000001\n")
    out = cli.run("admin", "dnc", "import", str(extract), "--account-id", "999", check=False)
    assert out.returncode == 2 and "account 999 does not exist" in out.stderr
