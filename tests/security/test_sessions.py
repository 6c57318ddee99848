"""Issue 16.9: a session ends when it should. A password reset and a lock end every session of the
user (a stolen token dies with them); `logout` revokes the token it used, DIGIT_TOKEN included."""
from __future__ import annotations

PW = "Reset@1234"


def test_a_password_reset_ends_every_session_of_the_user(cli):
    stolen = cli.token("clerk.amritsar")
    assert cli.run("whoami", token=stolen).exit_code == 0
    res = cli.as_("admin", "user", "passwd", "clerk.amritsar", "--password-stdin", stdin=PW + "\n")
    assert res.exit_code == 0, res.output
    res = cli.run("whoami", "-o", "json", token=stolen)
    assert res.exit_code == 3 and cli.code(res) == "INVALID_TOKEN"
    # the clerk logs in again with the new password
    fresh = cli.run("login", "--username", "clerk.amritsar", "--password-stdin", "--print-token", stdin=PW + "\n")
    assert fresh.exit_code == 0 and cli.run("whoami", token=fresh.stdout.strip()).exit_code == 0


def test_a_lock_ends_every_session_and_an_unlock_does_not_revive_them(cli):
    stolen = cli.token("clerk.amritsar")
    assert cli.as_("admin", "user", "lock", "clerk.amritsar").exit_code == 0
    assert cli.as_("admin", "user", "unlock", "clerk.amritsar").exit_code == 0
    res = cli.run("whoami", "-o", "json", token=stolen)
    assert res.exit_code == 3 and cli.code(res) == "INVALID_TOKEN"


def test_a_lockout_by_failed_logins_ends_the_sessions(cli):
    stolen = cli.token("clerk.amritsar")
    for _ in range(5):
        cli.run("login", "--username", "clerk.amritsar", "--password-stdin", "--print-token", stdin="Wrong@1234\n")
    # an hour later the lock has run out, the 12-hour token has not
    res = cli.run("whoami", "-o", "json", token=stolen, now="2026-11-25T12:30:00+05:30")
    assert res.exit_code == 3 and cli.code(res) == "INVALID_TOKEN"


def test_logout_with_digit_token_revokes_that_token(cli):
    token = cli.token("clerk.amritsar")
    res = cli.run("logout", "-o", "json", token=token)
    assert res.exit_code == 0, res.output
    res = cli.run("whoami", "-o", "json", token=token)
    assert res.exit_code == 3 and cli.code(res) == "INVALID_TOKEN"


def test_logout_with_digit_token_leaves_the_saved_session_alone(cli):
    """The saved session is another session: deleting its file without revoking its token left a
    live token behind; logout touches only the session it used."""
    from digitctl.services import quickstart

    res = cli.run("login", "--username", "admin", "--password-stdin", stdin=quickstart.DEMO_PASSWORD + "\n")
    assert res.exit_code == 0, res.output
    script = cli.token("clerk.amritsar")
    assert cli.run("logout", token=script).exit_code == 0
    who = cli.run("whoami", "-o", "json")                  # the saved admin session still works
    assert who.exit_code == 0 and '"admin"' in who.stdout
    assert cli.run("logout").exit_code == 0                # and its own logout ends it
    res = cli.run("whoami", "-o", "json")
    assert res.exit_code == 3 and cli.code(res) == "NOT_LOGGED_IN"
