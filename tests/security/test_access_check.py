"""Issue 16.10: `access check --user` told a citizen who exists and which roles they hold (the
permission to ask was checked after the user was looked up). Now the caller's permission
(/user/_search at the tenant) is checked first, and a refused caller learns nothing."""
from __future__ import annotations

import json


ACTION = "/collection-services/payments/_create"


def ask(cli, caller: str, user: str, tenant: str = "pb.amritsar"):
    return cli.as_(caller, "access", "check", "--action", ACTION, "--tenant", tenant, "--user", user, "-o", "json")


def test_a_citizen_learns_nothing_about_other_users(cli):
    known = ask(cli, "9876543210", "clerk.amritsar")
    unknown = ask(cli, "9876543210", "no.such.user")
    assert known.exit_code == unknown.exit_code == 3
    assert cli.code(known) == cli.code(unknown) == "ACCESS_DENIED"
    assert known.stdout == unknown.stdout                       # the same answer, word for word
    for secret in ("clerk.amritsar", "TL_CEMP", "UC_EMP", "Harpreet"):
        assert secret not in known.stdout


def test_a_clerk_cannot_look_up_users_of_another_city(cli):
    known = ask(cli, "clerk.amritsar", "clerk.jalandhar", tenant="pb.jalandhar")
    unknown = ask(cli, "clerk.amritsar", "no.such.user", tenant="pb.jalandhar")
    assert cli.code(known) == cli.code(unknown) == "ACCESS_DENIED"
    assert known.stdout == unknown.stdout and "TL_CEMP@pb.jalandhar" not in known.stdout


def test_who_may_search_users_still_gets_the_answer(cli):
    res = ask(cli, "admin", "clerk.amritsar")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["allowed"] is True
    missing = ask(cli, "admin", "no.such.user")
    assert missing.exit_code == 2 and cli.code(missing) == "USER_NOT_FOUND"


def test_anyone_may_check_themselves(cli):
    res = ask(cli, "9876543210", "9876543210")
    assert res.exit_code == 3 and json.loads(res.stdout)["allowed"] is False    # a decision, not a refusal


def test_a_clerk_asking_at_home_about_another_citys_clerk_learns_nothing(cli):
    """Allowed to search users at pb.amritsar (EMPLOYEE), not at pb.jalandhar: that city's clerk
    is as unknown as a user who does not exist."""
    known = ask(cli, "clerk.amritsar", "clerk.jalandhar")
    unknown = ask(cli, "clerk.amritsar", "nosuchuser")
    assert cli.code(known) == cli.code(unknown) == "USER_NOT_FOUND"
    assert known.stdout.replace("clerk.jalandhar", "X") == unknown.stdout.replace("nosuchuser", "X")
    assert "TL_CEMP" not in known.stdout
