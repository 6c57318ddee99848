"""Issue 16.6, second half: a citizen's user name is their mobile number, and PII never lies in
plain text on disk. The store keeps a citizen's mobile-number user name as a keyed pseudonym
(`bidx:` + the state's blind index of the number); login, OTP and every lookup take the number as
the person types it; display shows the number decrypted and masked by the SecurityPolicy. Tried
through the real CLI (the bytes of the SQLite file and its WAL) and through the services on
SQLite and PostgreSQL (every column of every table)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import MetaData, select, update

from digitctl.bootstrap import build
from digitctl import session
from digitctl.services import otp, quickstart, users
from digitctl.services.store import init_store
from local_store.models import UserAccount

MOBILE = "9812300001"
NAME = "Jaspreet Zorawar Sandhu"
PASSWORD = "Citizen@123"


def _store_bytes(url: str) -> bytes:
    path = Path(url.split("///", 1)[1])
    return b"".join(p.read_bytes() for p in (path, path.with_name(path.name + "-wal")) if p.exists())


def _plain_cells(app, needles: tuple[str, ...]) -> list[str]:
    """Every cell of every table (as text) that holds one of `needles`: works on either dialect."""
    found = []
    meta = MetaData()
    meta.reflect(app.store.engine)
    with app.store.engine.connect() as conn:
        for table in meta.sorted_tables:
            for row in conn.execute(select(table)).mappings():
                for column, value in row.items():
                    cell = json.dumps(value, default=str) if not isinstance(value, str) else value
                    if any(n in cell for n in needles):
                        found.append(f"{table.name}.{column}: {cell[:120]}")
    return found


# -- CLI, the SQLite file's bytes --------------------------------------------------------------------
def test_a_citizen_made_at_the_counter_leaves_no_plain_mobile_or_name_in_the_store_file(cli):
    res = cli.as_("clerk.amritsar", "-o", "json", "user", "create", "--type", "CITIZEN", "--username", MOBILE,
                  "--name", NAME, "--mobile", MOBILE, "--tenant", "pb.amritsar", "--password-stdin",
                  stdin=PASSWORD + "\n")
    assert res.exit_code == 0, res.output
    made = json.loads(res.stdout)["user"][0]
    assert made["userName"] == made["mobileNumber"]           # shown as the mobile it is
    # the citizen logs in with their mobile, as typed
    res = cli.run("-o", "json", "login", "--username", MOBILE, "--password-stdin", stdin=PASSWORD + "\n")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["userName"] == MOBILE
    citizen = cli.token(MOBILE, PASSWORD)
    res = cli.run("-o", "json", "whoami", token=citizen)
    assert res.exit_code == 0 and json.loads(res.stdout)["userName"] == MOBILE, res.output
    # an OTP can be sent to the number
    res = cli.run("-o", "json", "otp", "send", "--mobile", MOBILE, "--tenant", "pb")
    assert res.exit_code == 0, res.output
    # a GRO at the city sees the mobile (and so the user name) masked; the administrator plain
    res = cli.as_("supervisor.amritsar", "-o", "json", "user", "list", "--tenant", "pb.amritsar", "--mobile", MOBILE)
    assert res.exit_code == 0, res.output
    seen = json.loads(res.stdout)["user"][0]
    assert seen["userName"] == seen["mobileNumber"] == "******0001"
    assert MOBILE not in res.stdout and "Jaspreet" not in res.stdout
    res = cli.as_("admin", "-o", "json", "user", "show", MOBILE)
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["user"][0]["userName"] == MOBILE
    res = cli.as_("admin", "-o", "json", "user", "list", "--type", "CITIZEN")
    assert MOBILE in [u["userName"] for u in json.loads(res.stdout)["user"]]
    # a lock and an unlock by name (both audited) find the citizen by the mobile too
    res = cli.as_("admin", "-o", "json", "user", "lock", MOBILE)
    assert res.exit_code == 0, res.output
    assert cli.as_("admin", "-o", "json", "user", "unlock", MOBILE).exit_code == 0
    raw = _store_bytes(cli.store)
    assert MOBILE.encode() not in raw
    assert b"Jaspreet" not in raw and b"Sandhu" not in raw
    # nor does the demo citizen's mobile (their user name) lie anywhere in it
    assert b"9876543210" not in raw


def test_the_audit_log_names_a_citizen_by_pseudonym(cli):
    """What the citizen did is audited under their pseudonym: `audit log` (as stored) holds no
    mobile number, and the pseudonym finds the user again for an administrator."""
    citizen = cli.token("9876543210")
    assert cli.run("-o", "json", "whoami", token=citizen).exit_code == 0
    res = cli.as_("admin", "-o", "json", "audit", "log", "--limit", "500")
    assert res.exit_code == 0, res.output
    assert "9876543210" not in res.stdout
    logins = [e for e in json.loads(res.stdout) if e["operation"] == "/user/oauth/token"]
    named = {e["entityId"] for e in logins}
    res = cli.as_("admin", "-o", "json", "user", "show", "9876543210")
    me = json.loads(res.stdout)["user"][0]
    assert me["uuid"] in named
    pseudonym = next(e for e in json.loads(cli.as_("admin", "-o", "json", "audit", "log", "--entity", me["uuid"]).stdout)
                     if e["operation"] == "/user/users/_createnovalidate")["after"]["userName"]
    assert pseudonym.startswith("bidx:")
    res = cli.as_("admin", "-o", "json", "user", "show", pseudonym)
    assert res.exit_code == 0 and json.loads(res.stdout)["user"][0]["uuid"] == me["uuid"], res.output


# -- services, both dialects -------------------------------------------------------------------------
def _citizen(app, ctx=None):
    return users.create_user(app, ctx or app.context("pb.amritsar"), users.NewUser(
        user_name=MOBILE, name=NAME, type="CITIZEN", tenant_id="pb.amritsar", mobile=MOBILE, password=PASSWORD))


def test_creating_a_citizen_writes_no_plain_mobile_or_name_to_any_table(state_app):
    app = state_app
    made = _citizen(app)
    assert made["userName"] == MOBILE and made["mobileNumber"] == MOBILE     # the SYSTEM administrator
    with app.store.engine.connect() as conn:
        stored = conn.execute(select(UserAccount.user_name).where(UserAccount.uuid == made["uuid"])).scalar_one()
    assert stored.startswith("bidx:") and MOBILE not in stored
    result = session.login(app, app.base_context(), MOBILE, PASSWORD)
    assert result.user_name == stored                # what a session file keeps
    assert session.login(app, app.base_context(), "+91 98123-00001", PASSWORD).user_name == stored
    otp.send(app, app.base_context(), MOBILE, "pb.amritsar")
    assert _plain_cells(app, (MOBILE, "Jaspreet", "Sandhu")) == []


def test_a_citizen_is_found_by_mobile_and_a_second_one_with_it_is_refused(state_app):
    from digitctl.errors import Conflict

    app = state_app
    made = _citizen(app)
    with app.uow(app.base_context(), readonly=True) as uow:
        assert users.find(uow.session, MOBILE).uuid == made["uuid"]
        assert users.find(uow.session, MOBILE, "pb.amritsar").uuid == made["uuid"]
    with pytest.raises(Conflict) as err:
        _citizen(app)
    assert err.value.code == "USER.USER_NAME_ALREADY_EXISTS"
    # nor may an employee take the number as a user name: it would shadow the citizen at login
    with pytest.raises(Conflict):
        users.create_user(app, app.context("pb.amritsar"), users.NewUser(
            user_name=MOBILE, name="X", type="EMPLOYEE", tenant_id="pb.amritsar", mobile=MOBILE,
            roles=[("EMPLOYEE", "pb.amritsar")], password=PASSWORD))


def test_a_store_from_before_keeps_working_and_init_pseudonymizes_its_citizens(state_app):
    """A store written when citizens' user names were kept plain: `digitctl init` (which every
    upgrade runs) replaces them by their pseudonyms, audited and sealed, and the chain verifies."""
    from digitctl.services import audit

    app = state_app
    made = _citizen(app)
    with app.store.engine.begin() as conn:        # as the code before this change wrote it
        conn.execute(update(UserAccount).where(UserAccount.uuid == made["uuid"]).values(user_name=MOBILE))
    # the old name still logs in before the upgrade step has run
    assert session.login(app, app.base_context(), MOBILE, PASSWORD).user_name == MOBILE
    init_store(app, app.context())
    with app.store.engine.connect() as conn:
        stored = conn.execute(select(UserAccount.user_name).where(UserAccount.uuid == made["uuid"])).scalar_one()
    assert stored.startswith("bidx:")
    assert session.login(app, app.base_context(), MOBILE, PASSWORD).user_name == stored
    report = audit.verify(app, app.context())
    assert report.ok, report.problem


def test_a_store_at_0006_is_outdated_until_init_renames_its_citizens(state_app):
    from alembic import command

    from digitctl.errors import InvalidInput
    from digitctl.services import audit
    from digitctl.services.store import require_initialized
    from local_store.migrate import alembic_config, head_revision

    app = state_app
    made = _citizen(app)
    with app.store.engine.begin() as conn:
        conn.execute(update(UserAccount).where(UserAccount.uuid == made["uuid"]).values(user_name=MOBILE))
    command.downgrade(alembic_config(app.store.engine), "0006")      # the later revisions' tables go too
    with pytest.raises(InvalidInput) as err:
        require_initialized(app)
    assert err.value.code == "STORE_OUTDATED"
    info = init_store(app, app.context())
    assert (info.revision_before, info.revision) == ("0006", head_revision())
    assert _plain_cells(app, (MOBILE,)) == []
    with app.store.engine.connect() as conn:
        assert conn.execute(select(UserAccount.user_name).where(
            UserAccount.uuid == made["uuid"])).scalar_one().startswith("bidx:")
    assert audit.verify(app, app.context()).ok


def test_the_saved_session_of_a_citizen_holds_no_mobile(cli):
    res = cli.run("login", "--username", "9876543210", "--password-stdin", stdin=quickstart.DEMO_PASSWORD + "\n")
    assert res.exit_code == 0, res.output
    assert "9876543210" in res.stdout                     # told who they are, as they typed it
    app = build(cli.store)
    try:
        saved = session.session_file(session.session_key(app))
    finally:
        app.close()
    assert b"9876543210" not in saved.read_bytes()
    assert json.loads(saved.read_text())["userName"].startswith("bidx:")


def test_a_citizen_asking_about_themselves_by_mobile_needs_no_user_search(cli):
    citizen = cli.token("9876543210")
    res = cli.run("-o", "json", "access", "check", "--action", "/tl-services/v1/_create", "--tenant", "pb.amritsar",
                  "--user", "9876543210", token=citizen)
    assert res.exit_code == 0, res.output
    # someone else's number still needs /user/_search, which a citizen does not have
    res = cli.run("-o", "json", "access", "check", "--action", "/tl-services/v1/_create", "--tenant", "pb.amritsar",
                  "--user", "9812345670", token=citizen)
    assert res.exit_code == 3 and cli.code(res) == "ACCESS_DENIED", res.output
