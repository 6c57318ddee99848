"""A tenant that does not exist is INVALID_TENANTID (exit 2), not ACCESS_DENIED: a typo in
--tenant is not a missing role, whoever asks (issue 14: `bill fetch --tenant pb.nowhere` as admin)."""
from __future__ import annotations

import json
from typing import Any

from typer.testing import CliRunner

from digitctl.cli.main import app as cli
from digitctl.services.quickstart import DEMO_PASSWORD

runner = CliRunner()


def run(store: str, *args: str, stdin: str | None = None) -> Any:
    return runner.invoke(cli, ["--store", store, *args], input=stdin, env={"DIGITCTL_NOW": "2026-11-25T11:00:00+05:30"})


def login(store: str, user: str) -> None:
    run(store, "logout")
    assert run(store, "login", "--username", user, "--password-stdin", stdin=DEMO_PASSWORD + "\n").exit_code == 0


COMMANDS = {
    "admin": [["bill", "fetch", "--tenant", "pb.nowhere", "--mobile", "9876543210"],
              ["demand", "list", "--tenant", "pb.nowhere"], ["user", "list", "--tenant", "pb.nowhere"],
              ["report", "daybook", "--tenant", "pb.nowhere"], ["inbox", "--tenant", "pb.nowhere"]],
    "clerk.amritsar": [["bill", "fetch", "--tenant", "pb.nowhere", "--mobile", "9876543210"],
                       ["pay", "--bill", "X", "--tenant", "pb.nowhere", "--mode", "CASH", "--amount", "1"],
                       ["payment", "show", "X", "--tenant", "pb.nowhere"],
                       ["receipt", "print", "X", "--tenant", "pb.nowhere"]],
}


def test_an_unknown_tenant_is_invalid_tenantid_for_everyone(quickstart_url: str):
    for user, commands in COMMANDS.items():
        login(quickstart_url, user)
        for command in commands:
            res = run(quickstart_url, "-o", "json", *command)
            assert res.exit_code == 2, (user, command, res.output)
            err = json.loads(res.stdout)["Errors"][0]
            assert err["code"] == "INVALID_TENANTID" and "pb.nowhere" in err["message"], (user, command, err)
    # a real tenant the user holds no role at is still ACCESS_DENIED
    res = run(quickstart_url, "-o", "json", "bill", "fetch", "--tenant", "pb.jalandhar", "--mobile", "9876543210")
    assert res.exit_code == 3 and json.loads(res.stdout)["Errors"][0]["code"] == "ACCESS_DENIED", res.output
