"""`access show ROLE` and `access why --user U --tenant T` on the quickstart store."""
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


def js(res: Any) -> Any:
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_access_show_lists_what_a_role_may_do(quickstart_url: str):
    login(quickstart_url, "admin")
    doc = js(run(quickstart_url, "-o", "json", "access", "show", "UC_EMP"))
    urls = {a["url"] for a in doc["actions"]}
    assert doc["role"] == "UC_EMP" and doc["tenantId"] == "pb"
    assert "/collection-services/payments/_create" in urls and "/user/_search" not in urls
    bad = run(quickstart_url, "-o", "json", "access", "show", "NOPE")
    assert bad.exit_code == 2 and json.loads(bad.stdout)["Errors"][0]["code"] == "INVALID_ROLE"


def test_access_why_explains_a_users_roles_at_a_tenant(quickstart_url: str):
    login(quickstart_url, "admin")
    here = js(run(quickstart_url, "-o", "json", "access", "why", "--user", "clerk.amritsar", "--tenant", "pb.amritsar"))
    roles = {r["code"]: {a["url"] for a in r["actions"]} for r in here["roles"]}
    assert "UC_EMP" in roles and "/collection-services/payments/_create" in roles["UC_EMP"]
    there = js(run(quickstart_url, "-o", "json", "access", "why", "--user", "clerk.amritsar",
                   "--tenant", "pb.jalandhar"))
    assert there["roles"] == [] and "UC_EMP@pb.amritsar" in there["rolesElsewhere"]
    # a clerk searches users at their city only: the state's administrator is not found (as access check)
    login(quickstart_url, "clerk.amritsar")
    other = run(quickstart_url, "-o", "json", "access", "why", "--user", "admin", "--tenant", "pb.amritsar")
    assert other.exit_code == 2 and json.loads(other.stdout)["Errors"][0]["code"] == "USER_NOT_FOUND", other.output
    mine = js(run(quickstart_url, "-o", "json", "access", "why", "--tenant", "pb.amritsar"))
    assert mine["userName"] == "clerk.amritsar" and mine["roles"]
