"""`voxcast admin scripts` as real processes: import (new and replacing), check and list, and
refusals that name the node and field with exit status 2 (docs/ai.md)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import SQLITE_ONLY
from tests.integration.server import Cli
from voxcast.services import scripts

#: each process start costs about a second; the storage under it is tested on both backends
#: by the contract tests


@SQLITE_ONLY
def test_import_prints_the_id_the_api_lists_and_a_replacement_is_a_new_revision(
    db_url: str, tmp_path: Path
) -> None:
    cli = Cli.fresh(db_url, tmp_path / "var")
    account = str(
        json.loads(cli.run("admin", "create-account", "--name", "a", "--json").stdout)["accountId"]
    )
    file = tmp_path / "reminder.json"
    file.write_text(json.dumps(scripts.example_document()))
    first = cli.run("admin", "scripts", "import", str(file), "--account-id", account)
    assert first.stdout.strip() == "1"
    second = cli.run(
        "admin", "scripts", "import", "--example", "payment_reminder", "--account-id", account
    )
    assert second.stdout.strip() == "2"
    again = cli.run(
        "admin", "scripts", "import", str(file), "--account-id", account, "--script-id", "1"
    )
    assert again.stdout.strip() == "1 revision 2"
    listed = cli.run("admin", "scripts", "list", "--account-id", account, "--json").stdout
    rows = [json.loads(line) for line in listed.splitlines()]
    assert [(r["dialogFlowId"], r["name"], r["revision"]) for r in rows] == [
        (1, "Payment reminder", 2),
        (2, "Payment reminder", 1),
    ]


@SQLITE_ONLY
def test_a_broken_script_is_refused_with_every_problem_and_nothing_is_stored(
    db_url: str, tmp_path: Path
) -> None:
    cli = Cli.fresh(db_url, tmp_path / "var")
    account = str(
        json.loads(cli.run("admin", "create-account", "--name", "a", "--json").stdout)["accountId"]
    )
    document = scripts.example_document()
    del document["nodes"]["identify"]["prompt"]
    document["nodes"]["ask_date"]["noMatch"] = [{"type": "goto", "node": "nowhere"}]
    file = tmp_path / "broken.json"
    file.write_text(json.dumps(document))
    checked = cli.run("admin", "scripts", "check", str(file), check=False)
    expected = [
        "nodes.identify.prompt: is missing",
        'nodes.ask_date.noMatch[0].node: node "nowhere" does not exist',
    ]
    assert (checked.returncode, checked.stderr.splitlines()) == (2, expected)
    refused = cli.run("admin", "scripts", "import", str(file), "--account-id", account, check=False)
    assert (refused.returncode, refused.stderr.splitlines()) == (2, expected)
    unknown = cli.run(
        "admin",
        "scripts",
        "import",
        "--example",
        "payment_reminder",
        "--account-id",
        "999",
        check=False,
    )
    assert unknown.returncode == 2
    assert "account 999 does not exist" in unknown.stderr
    listed = cli.run("admin", "scripts", "list", "--account-id", account, "--json")
    assert listed.stdout == ""
