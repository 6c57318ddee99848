"""init with a superuser, login/logout/whoami, users, access check, OTP: the real commands."""
from __future__ import annotations

import json
import os
import stat

import pytest
from typer.testing import CliRunner

from digitctl.cli.main import app as cli
from digitctl.resources import bundled

runner = CliRunner()
ADMIN_PW = "Admin@12345"


def run(store: str, *args: str, stdin: str | None = None, token: str | None = None):
    env = {"DIGITCTL_NOW": "2026-11-25T11:00:00+05:30"}
    if token:
        env["DIGIT_TOKEN"] = token
    return runner.invoke(cli, ["--store", store, *args], input=stdin, env=env)


def build_store(url: str) -> None:
    res = run(url, "init", "--state", "pb", "--counter", "C01", "--admin-username", "admin",
              "--admin-password-stdin", stdin=ADMIN_PW + "\n")
    assert res.exit_code == 0, res.output
    assert "superuser admin created" in res.stdout
    # the superuser applies the state's master data once logged in
    login = run(url, "login", "--username", "admin", "--password-stdin", "-o", "json", stdin=ADMIN_PW + "\n")
    assert login.exit_code == 0, login.output
    configs = bundled("configs") / "mdms"
    res = run(url, "mdms", "apply", str(configs / "data" / "pb"), "--master-config", str(configs / "master-config.json"))
    assert res.exit_code == 0, res.output


@pytest.fixture
def store(templated_store) -> str:
    """The superuser's store (built once per test process, copied per test), admin logged in."""
    url = templated_store("cli-identity", build_store)
    login = run(url, "login", "--username", "admin", "--password-stdin", "-o", "json", stdin=ADMIN_PW + "\n")
    assert login.exit_code == 0, login.output
    return url


def test_commands_need_a_login_once_users_exist(store):
    run(store, "logout")
    res = run(store, "tenant", "list", "-o", "json")
    assert res.exit_code == 3
    assert json.loads(res.stdout)["Errors"][0]["code"] == "NOT_LOGGED_IN"


def test_session_file_is_private_and_whoami_reports_roles(store):
    who = json.loads(run(store, "whoami", "-o", "json").stdout)
    assert who["userName"] == "admin"
    assert {"code": "SUPERUSER", "tenantId": "pb"} in who["roles"]
    files = list((__import__("pathlib").Path(os.environ["DIGIT_CONFIG_DIR"]) / "sessions").glob("*.json"))
    assert files and all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)


def test_wrong_password_exits_3_and_says_nothing_about_the_user(store):
    res = run(store, "login", "--username", "admin", "--password-stdin", "-o", "json", stdin="Nope@12345\n")
    assert res.exit_code == 3
    assert json.loads(res.stdout)["Errors"][0]["code"] == "INVALID_CREDENTIALS"


def test_a_piped_password_needs_the_user_name_on_the_command_line(store):
    res = run(store, "login", "--password-stdin", "-o", "json", stdin=ADMIN_PW + "\n")
    assert res.exit_code == 2 and json.loads(res.stdout)["Errors"][0]["code"] == "INVALID_USAGE"


def test_clerk_lifecycle_and_access_check(store):
    res = run(store, "user", "create", "--type", "EMPLOYEE", "--username", "clerk1", "--name", "Harpreet Singh",
              "--mobile", "9814012345", "--role", "TL_CEMP@pb.amritsar", "--role", "EMPLOYEE@pb.amritsar",
              "--tenant", "pb.amritsar", "--department", "DEPT_1", "--designation", "DESIG_1",
              "--password-stdin", stdin="Clerk@12345\n")
    assert res.exit_code == 0, res.output
    shown = json.loads(run(store, "user", "show", "clerk1", "-o", "json").stdout)["Employees"][0]   # HRMS
    assert shown["uuid"] == shown["user"]["uuid"] and shown["assignments"][0]["department"] == "DEPT_1"

    ok = run(store, "access", "check", "--action", "/collection-services/payments/_create",
             "--tenant", "pb.amritsar", "--user", "clerk1")
    assert ok.exit_code == 0 and "ALLOWED" in ok.stdout and "TL_CEMP" in ok.stdout
    no = run(store, "access", "check", "--action", "/collection-services/payments/_create",
             "--tenant", "pb.jalandhar", "--user", "clerk1", "-o", "json")
    assert no.exit_code == 3
    assert json.loads(no.stdout)["allowed"] is False

    token = json.loads(run(store, "login", "--username", "clerk1", "--password-stdin", "-o", "json",
                           stdin="Clerk@12345\n").stdout)
    assert token["userName"] == "clerk1"
    # now logged in as the clerk: DIGIT lets TL_CEMP create users (citizens), but not employees
    # (HRMS's /egov-hrms/employees/_create) and not grant SUPERUSER
    refused = run(store, "user", "create", "--type", "EMPLOYEE", "--username", "x2y", "--name", "X",
                  "--mobile", "9814099999", "--role", "EMPLOYEE@pb.amritsar", "--tenant", "pb.amritsar", "-o", "json")
    assert refused.exit_code == 3
    assert json.loads(refused.stdout)["Errors"][0]["code"] == "ACCESS_DENIED"
    refused = run(store, "user", "create", "--type", "CITIZEN", "--username", "x2y", "--name", "X",
                  "--mobile", "9814099999", "--role", "SUPERUSER@pb", "-o", "json")
    assert refused.exit_code == 3
    assert json.loads(refused.stdout)["Errors"][0]["code"] == "ROLE_ESCALATION"
    citizen = run(store, "user", "create", "--type", "CITIZEN", "--username", "cit9", "--name", "Simran",
                  "--mobile", "9814099998")
    assert citizen.exit_code == 0, citizen.output
    verify = run(store, "audit", "verify", "-o", "json")
    assert verify.exit_code == 3
    assert json.loads(verify.stdout)["Errors"][0]["code"] == "ACCESS_DENIED"


def test_lock_unlock_and_masked_listing(store):
    run(store, "user", "create", "--type", "CITIZEN", "--username", "cit1", "--name", "Simran Kaur",
        "--mobile", "9876543210")
    listed = json.loads(run(store, "user", "list", "--type", "CITIZEN", "-o", "json").stdout)["user"]
    assert [u["userName"] for u in listed] == ["cit1"]
    assert run(store, "user", "lock", "cit1").exit_code == 0
    assert json.loads(run(store, "user", "show", "cit1", "-o", "json").stdout)["user"][0]["accountLocked"]
    assert run(store, "user", "unlock", "cit1").exit_code == 0
    assert not json.loads(run(store, "user", "show", "cit1", "-o", "json").stdout)["user"][0]["accountLocked"]


def test_one_typo_after_an_unlock_does_not_lock_again(store):
    """issue 9.2: `user unlock` resets the failed logins, as DIGIT's unlock does."""
    run(store, "user", "create", "--type", "EMPLOYEE", "--username", "clerk1", "--name", "Harpreet Singh",
        "--mobile", "9814012345", "--role", "TL_CEMP@pb.amritsar", "--tenant", "pb.amritsar",
        "--password-stdin", stdin="Clerk@12345\n")
    codes = [json.loads(run(store, "login", "--username", "clerk1", "--password-stdin", "--print-token", "-o", "json",
                            stdin="Wrong@12345\n").stdout)["Errors"][0]["code"] for _ in range(5)]
    assert codes == ["INVALID_CREDENTIALS"] * 4 + ["ACCOUNT_LOCKED"]
    assert run(store, "user", "unlock", "clerk1").exit_code == 0
    typo = run(store, "login", "--username", "clerk1", "--password-stdin", "--print-token", "-o", "json",
               stdin="Wrong@12345\n")
    assert typo.exit_code == 3 and json.loads(typo.stdout)["Errors"][0]["code"] == "INVALID_CREDENTIALS"
    ok = run(store, "login", "--username", "clerk1", "--password-stdin", "--print-token", stdin="Clerk@12345\n")
    assert ok.exit_code == 0, ok.output


def test_otp_send_refuses_bad_numbers(store):
    res = run(store, "otp", "send", "--mobile", "12345", "--purpose", "register", "-o", "json")
    assert res.exit_code == 2
    assert json.loads(res.stdout)["Errors"][0]["code"] == "INVALID_MOBILE_NUMBER"
    ok = run(store, "otp", "send", "--mobile", "9876543210", "--purpose", "register", "-o", "json")
    assert ok.exit_code == 0 and json.loads(ok.stdout)["validForSeconds"] == 900


def test_a_second_admin_is_refused(store):
    res = run(store, "init", "--admin-username", "admin2", "--admin-password-stdin", "-o", "json", stdin=ADMIN_PW + "\n")
    assert res.exit_code == 2
    assert json.loads(res.stdout)["Errors"][0]["code"] == "ADMIN_EXISTS"


def test_scripts_use_a_printed_token_through_digit_token(store):
    run(store, "logout")
    token = run(store, "login", "--username", "admin", "--password-stdin", "--print-token", stdin=ADMIN_PW + "\n")
    assert token.exit_code == 0
    value = token.stdout.strip()
    assert len(value) > 30 and "{" not in value
    assert run(store, "whoami").exit_code == 3                 # nothing was saved
    who = run(store, "whoami", "-o", "json", token=value)
    assert json.loads(who.stdout)["userName"] == "admin"
    bad = run(store, "whoami", "-o", "json", token=value + "x")
    assert bad.exit_code == 3 and json.loads(bad.stdout)["Errors"][0]["code"] == "INVALID_TOKEN"


def test_logging_in_to_a_copy_of_a_store_leaves_the_original_session(quickstart_url, tmp_path):
    import shutil

    from digitctl.services.quickstart import DEMO_PASSWORD

    original = quickstart_url
    res = run(original, "login", "--username", "clerk.amritsar", "--password-stdin", stdin=DEMO_PASSWORD + "\n")
    assert res.exit_code == 0, res.output
    copy_path = tmp_path / "copy.db"
    shutil.copy(original.split("///", 1)[1], copy_path)
    copy = f"sqlite:///{copy_path}"
    res = run(copy, "login", "--username", "admin", "--password-stdin", stdin=DEMO_PASSWORD + "\n")
    assert res.exit_code == 0, res.output
    assert json.loads(run(original, "-o", "json", "whoami").stdout)["userName"] == "clerk.amritsar"
    assert json.loads(run(copy, "-o", "json", "whoami").stdout)["userName"] == "admin"
    assert run(copy, "logout").exit_code == 0
    assert json.loads(run(original, "-o", "json", "whoami").stdout)["userName"] == "clerk.amritsar"
