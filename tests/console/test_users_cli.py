"""`voxcast admin create-user`: the password from standard input or a file (never an
argument), roles and their account rules, and a stored argon2 hash that signs in."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from tests.integration.server import Cli
from voxcast.clock import SystemClock
from voxcast.config import Settings
from voxcast.runtime import open_runtime
from voxcast.services import console_users
from voxcast.storage.console import ConsoleUser


async def test_create_user_reads_the_password_from_stdin_or_a_file_and_stores_only_a_hash(
    db_url: str, tmp_path: Path
) -> None:
    cli = Cli.fresh(db_url, tmp_path / "var")
    account = cli.create_account(name="acme")
    owner = cli.run(
        "admin",
        "create-user",
        "acme-owner",
        "--role",
        "owner",
        "--account-id",
        str(account["accountId"]),
        stdin="s3cret-passphrase\n",
    )
    assert "acme-owner (owner of account" in owner.stdout
    secret = tmp_path / "pw.txt"
    secret.write_text("another-passphrase\n")
    cli.run("admin", "create-user", "root", "--role", "admin", "--password-file", str(secret))
    # refused: no --password option, an owner without an account, an admin with one, a
    # short password, a taken name
    assert (
        cli.run(
            "admin",
            "create-user",
            "x-user",
            "--role",
            "admin",
            "--password",
            "p",
            check=False,
        ).returncode
        == 2
    )
    for args, stdin, message in (
        (["nobody", "--role", "owner"], "long-enough-pw\n", "needs an account"),
        (["root2", "--role", "admin", "--account-id", "1"], "long-enough-pw\n", "no account"),
        (["shorty", "--role", "admin"], "short\n", "8-1024 characters"),
        (["root", "--role", "admin"], "long-enough-pw\n", "already exists"),
    ):
        out = cli.run("admin", "create-user", *args, stdin=stdin, check=False)
        assert out.returncode == 2 and message in out.stderr + out.stdout, (args, out)

    settings = Settings()
    settings.database_url, settings.data_dir, settings.secret_key = (
        db_url,
        cli.data_dir,
        cli.secret_key,
    )
    rt = await open_runtime(settings, SystemClock())
    try:
        async with rt.sessions.begin() as session:
            hashes = (await session.scalars(select(ConsoleUser.password_hash))).all()
            assert len(hashes) == 2 and all(h.startswith("$argon2id$") for h in hashes)
            good = await console_users.verify_login(session, "acme-owner", "s3cret-passphrase")
            assert good is not None and good.account_id == account["accountId"]
            assert await console_users.verify_login(session, "root", "another-passphrase")
            assert await console_users.verify_login(session, "root", "s3cret-passphrase") is None
            assert await console_users.verify_login(session, "ghost", "whatever-pw") is None
    finally:
        await rt.close()
