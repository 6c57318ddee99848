"""Issue 16.2 (and 16.8): who may create which user with which roles, tried as a counter clerk
and as a city administrator through `digitctl user create|update`.

A grant is allowed only for a role the granter holds (or SUPERUSER) at the role's tenant or at a
tenant covering it (a state role covers its cities; a city role covers neither the state nor
another city); a SYSTEM user only by a state SUPERUSER; an employee only with DIGIT's HRMS
action /egov-hrms/employees/_create (in pb's role-actions: SUPERUSER)."""
from __future__ import annotations

import json

import pytest

PW = "Newuser@123"


def create(cli, who: str, user_name: str, *args: str):
    return cli.as_(who, "user", "create", "--username", user_name, "--name", "Test User", "--mobile", "9812300000",
                   "--password-stdin", "-o", "json", *args, stdin=PW + "\n")


def exists(cli, user_name: str) -> bool:
    res = cli.as_("admin", "user", "show", user_name, "-o", "json")
    assert res.exit_code in (0, 2), res.output
    return res.exit_code == 0


@pytest.fixture
def city_admin(cli) -> str:
    """A city administrator: SUPERUSER at pb.amritsar only (the state's admin may grant that)."""
    res = create(cli, "admin", "cityadmin.amritsar", "--type", "EMPLOYEE", "--tenant", "pb.amritsar",
                 "--role", "SUPERUSER@pb.amritsar", "--role", "EMPLOYEE@pb.amritsar")
    assert res.exit_code == 0, res.output
    cli.token("cityadmin.amritsar", PW)
    return "cityadmin.amritsar"


@pytest.mark.parametrize("args,code", [
    (["--type", "CITIZEN", "--role", "TL_CEMP@pb"], "ROLE_ESCALATION"),            # a state-wide grant
    (["--type", "CITIZEN", "--role", "CSR@pb"], "ROLE_ESCALATION"),
    (["--type", "CITIZEN", "--role", "TL_CEMP@pb.jalandhar"], "ROLE_ESCALATION"),  # another city
    (["--type", "SYSTEM", "--tenant", "pb", "--role", "CITIZEN@pb"], "ROLE_ESCALATION"),
    (["--type", "EMPLOYEE", "--tenant", "pb.amritsar", "--role", "TL_CEMP@pb.amritsar"], "ACCESS_DENIED"),
])
def test_a_clerk_grants_nothing_beyond_a_citizen(cli, args, code):
    res = create(cli, "clerk.amritsar", "mole1", *args)
    assert res.exit_code == 3, res.output
    assert cli.code(res) == code
    assert not exists(cli, "mole1")
    login = cli.run("login", "--username", "mole1", "--password-stdin", "--print-token", "-o", "json", stdin=PW + "\n")
    assert login.exit_code == 3


def test_a_clerk_still_registers_citizens(cli):
    res = create(cli, "clerk.amritsar", "9812300000", "--type", "CITIZEN")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["user"][0]["roles"] == [{"code": "CITIZEN", "name": "CITIZEN", "tenantId": "pb"}]


@pytest.mark.parametrize("args", [
    ["--type", "EMPLOYEE", "--tenant", "pb.amritsar", "--role", "SUPERUSER@pb"],
    ["--type", "EMPLOYEE", "--tenant", "pb.amritsar", "--role", "TL_CEMP@pb"],
    ["--type", "EMPLOYEE", "--tenant", "pb.amritsar", "--role", "TL_CEMP@pb.jalandhar"],
    ["--type", "SYSTEM", "--tenant", "pb", "--role", "SUPERUSER@pb.amritsar"],
])
def test_a_city_administrator_grants_only_at_the_city(cli, city_admin, args):
    res = create(cli, city_admin, "mole2", *args)
    assert res.exit_code == 3, res.output
    assert cli.code(res) == "ROLE_ESCALATION"
    assert not exists(cli, "mole2")


def test_a_city_administrator_manages_the_citys_staff(cli, city_admin):
    res = create(cli, city_admin, "clerk2.amritsar", "--type", "EMPLOYEE", "--tenant", "pb.amritsar",
                 "--role", "TL_CEMP@pb.amritsar", "--role", "EMPLOYEE@pb.amritsar")
    assert res.exit_code == 0, res.output
    up = cli.as_(city_admin, "user", "update", "clerk2.amritsar", "--add-role", "SUPERUSER@pb", "-o", "json")
    assert up.exit_code == 3 and cli.code(up) == "ROLE_ESCALATION"
    up = cli.as_(city_admin, "user", "update", "clerk2.amritsar", "--add-role", "UC_EMP@pb.jalandhar", "-o", "json")
    assert up.exit_code == 3 and cli.code(up) == "ROLE_ESCALATION"
    up = cli.as_(city_admin, "user", "update", "clerk2.amritsar", "--add-role", "UC_EMP@pb.amritsar", "-o", "json")
    assert up.exit_code == 0, up.output


def test_a_city_administrator_cannot_take_over_a_state_administrator(cli, city_admin):
    """A state administrator whose home is the city: resetting their password, locking them or
    stripping their roles is as good as holding SUPERUSER@pb."""
    res = create(cli, "admin", "admin2", "--type", "EMPLOYEE", "--tenant", "pb.amritsar",
                 "--role", "SUPERUSER@pb", "--role", "EMPLOYEE@pb.amritsar")
    assert res.exit_code == 0, res.output
    token = cli.token("admin2", PW)
    for args in (["user", "passwd", "admin2", "--password-stdin"], ["user", "lock", "admin2"],
                 ["user", "update", "admin2", "--remove-role", "SUPERUSER@pb"],
                 ["user", "update", "admin2", "--name", "Mole"]):
        res = cli.as_(city_admin, *args, "-o", "json", stdin="Taken@1234\n")
        assert res.exit_code == 3 and cli.code(res) == "ROLE_ESCALATION", args
    assert cli.run("whoami", token=token).exit_code == 0              # still in, still SUPERUSER@pb
    # the city's own staff the city administrator does manage
    assert cli.as_(city_admin, "user", "lock", "clerk.amritsar").exit_code == 0


def test_the_state_administrator_may_make_system_users_and_state_wide_grants(cli):
    res = create(cli, "admin", "relay", "--type", "SYSTEM", "--tenant", "pb", "--role", "EMPLOYEE@pb")
    assert res.exit_code == 0, res.output
    res = create(cli, "admin", "roving.clerk", "--type", "EMPLOYEE", "--tenant", "pb.amritsar",
                 "--role", "TL_CEMP@pb.jalandhar", "--role", "EMPLOYEE@pb")
    assert res.exit_code == 0, res.output


# -- 16.8: nobody shadows a user name ----------------------------------------------------------------
def test_nobody_takes_the_admins_name_at_a_city(cli, city_admin):
    res = create(cli, city_admin, "admin", "--type", "EMPLOYEE", "--tenant", "pb.amritsar",
                 "--role", "EMPLOYEE@pb.amritsar")
    assert res.exit_code == 2 and cli.code(res) == "USER.USER_NAME_ALREADY_EXISTS"
    from digitctl.services import quickstart

    for tenant in ("pb.jalandhar", "pb.amritsar", "pb"):        # whatever tenant the admin tries
        res = cli.run("login", "--username", "admin", "--tenant", tenant, "--password-stdin", "--print-token",
                      stdin=quickstart.DEMO_PASSWORD + "\n")
        assert res.exit_code == 0, res.output
