"""The attacker's seat: a demo store (the bundled state, quickstart's users: admin SUPERUSER@pb,
clerk.amritsar, clerk.jalandhar, the citizen 9876543210, ...) driven only through the real
commands (Typer's CliRunner), each user by the token `login --print-token` gives them."""
from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

NOW = "2026-11-25T11:00:00+05:30"
CITIZEN = "9876543210"


class Cli:
    def __init__(self, store: str) -> None:
        self.store = store
        self.runner = CliRunner()
        self.tokens: dict[str, str] = {}

    def run(self, *args: str, token: str | None = None, stdin: str | None = None, now: str = NOW) -> Any:
        from digitctl.cli.main import app as cli

        env = {"DIGITCTL_NOW": now, "DIGIT_TOKEN": token, "DIGIT_TENANT": None, "DIGIT_STORE": None}
        return self.runner.invoke(cli, ["--store", self.store, *args], input=stdin, env=env)

    def as_(self, user: str, *args: str, **kw: Any) -> Any:
        """Run a command as `user` (logged in once, by token)."""
        return self.run(*args, token=self.token(user), **kw)

    @staticmethod
    def code(res: Any) -> str:
        """The DIGIT error code of a refused `-o json` command."""
        return str(json.loads(res.stdout)["Errors"][0]["code"])

    def token(self, user: str, password: str | None = None) -> str:
        if user not in self.tokens:
            from digitctl.services import quickstart

            res = self.run("login", "--username", user, "--password-stdin", "--print-token",
                           stdin=(password or quickstart.DEMO_PASSWORD) + "\n")
            assert res.exit_code == 0, res.output
            self.tokens[user] = res.stdout.strip()
        return self.tokens[user]


@pytest.fixture
def cli(demo_users_url: str) -> Cli:
    return Cli(demo_users_url)
