"""Users, login, lockout, sessions, OTP and the access check, on real temporary stores with the
bundled state's real role-action masters."""
from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from digitctl.context import RequestContext
from digitctl.errors import Conflict, DigitError, Forbidden, InvalidInput, Unauthenticated
from digitctl.resources import bundled
from digitctl import session
from digitctl.services import auth, idgen, mdms, otp, users
from digitctl.domain.identity import hash_password
from local_store.models import LoginAttempt, OutboxEvent, UserAccount
from tests.helpers import every_row_on_sqlite

PASSWORD = "Counter@123"


def make(app, user_name: str, roles: list[tuple[str, str]], *, type_: str = "EMPLOYEE",
         tenant: str = "pb.amritsar", mobile: str | None = "9876543210", name: str = "Gurpreet Kaur",
         password: str | None = PASSWORD) -> dict:
    return users.create_user(app, app.context(tenant), users.NewUser(
        user_name=user_name, name=name, type=type_, tenant_id=tenant, mobile=mobile, roles=roles,
        password=password))


def ctx_as(app, user_name: str, tenant: str | None = None) -> RequestContext:
    with app.uow(app.base_context(), readonly=True) as uow:
        actor = users.actor_of(uow.session, users.find(uow.session, user_name, tenant))
    return RequestContext(actor=actor, tenant_id=tenant, clock=app.clock)


def count(app, model) -> int:
    with app.store.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(model)).scalar_one()


# -- users -----------------------------------------------------------------------------------------
def test_create_employee_with_roles_and_hrms(state_app):
    app = state_app
    u = users.create_user(app, app.context("pb.amritsar"), users.NewUser(
        user_name="clerk1", name="Harpreet Singh", type="EMPLOYEE", tenant_id="pb.amritsar", mobile="+91 98140 12345",
        roles=[("TL_CEMP", "pb.amritsar"), ("EMPLOYEE", "pb.amritsar")], password=PASSWORD,
        employee=users.EmployeeSpec(department="DEPT_1", designation="DESIG_1")))
    assert u["tenantId"] == "pb.amritsar" and u["type"] == "EMPLOYEE"
    assert {(r["code"], r["tenantId"]) for r in u["roles"]} == {("TL_CEMP", "pb.amritsar"), ("EMPLOYEE", "pb.amritsar")}
    assert u["employee"]["jurisdictions"][0]["boundary"] == "pb.amritsar"
    # the SYSTEM administrator sees plain text; the stored row holds none
    assert u["mobileNumber"] == "9814012345"
    with app.store.engine.connect() as conn:
        row = conn.execute(select(UserAccount)).one()
    assert "9814012345" not in row.mobile_enc and "Harpreet" not in row.name_enc
    assert row.mobile_enc.count("|") == 1


def test_citizens_belong_to_the_state(state_app):
    u = make(state_app, "citizen1", [], type_="CITIZEN", tenant="pb.amritsar", password=None)
    assert u["tenantId"] == "pb"
    assert [r["code"] for r in u["roles"]] == ["CITIZEN"]


@pytest.mark.parametrize("store_backend,changes,code", every_row_on_sqlite([
    ({"roles": [("NO_SUCH_ROLE", "pb.amritsar")]}, "INVALID_ROLE"),
    ({"mobile": "12345"}, "INVALID_MOBILE_NUMBER"),
    ({"tenant": "pb.atlantis"}, "INVALID_TENANTID"),
    ({"user_name": "a b"}, "INVALID_USERNAME"),
    ({"password": "short1A@"[:7]}, "INVALID_PASSWORD"),
    ({"password": "nouppercase1@"}, "INVALID_PASSWORD"),
    ({"password": "NoSpecial123"}, "INVALID_PASSWORD"),
    ({"password": "Has Space1@x"}, "INVALID_PASSWORD"),
    ({"password": "ToolongPassword@12345"}, "INVALID_PASSWORD"),
    ({"roles": []}, "INVALID_ROLE"),
    # on PostgreSQL too: the refusals that come from what the store holds (roles, tenants); the
    # others are rules on the text given (mobile, user name, password policy), whatever the store
], lambda changes, code: code in {"INVALID_ROLE", "INVALID_TENANTID"}), indirect=["store_backend"])
def test_bad_users_are_refused_and_nothing_is_written(state_app, changes, code):
    args: dict[str, Any] = {"user_name": "bad.user", "roles": [("TL_CEMP", "pb.amritsar")], "tenant": "pb.amritsar",
            "mobile": "9876543210", "password": PASSWORD}
    args.update(changes)
    before = count(state_app, OutboxEvent)
    with pytest.raises(InvalidInput) as err:
        make(state_app, args["user_name"], args["roles"], tenant=args["tenant"], mobile=args["mobile"],
             password=args["password"])
    assert err.value.code == code
    assert count(state_app, UserAccount) == 0
    assert count(state_app, OutboxEvent) == before


def test_duplicate_user_name_is_a_conflict(state_app):
    make(state_app, "clerk1", [("TL_CEMP", "pb.amritsar")])
    with pytest.raises(Conflict) as err:
        make(state_app, "clerk1", [("TL_CEMP", "pb.amritsar")])
    assert err.value.code == "USER.USER_NAME_ALREADY_EXISTS"       # DIGIT's DuplicateUserNameErrorHandler


def test_a_user_name_is_unique_across_the_state(state_app):
    """issue 16.8: `admin` at pb.jalandhar shadowed the state's admin; DIGIT's own check is per
    tenant and type, we are stricter: one name, one user, in the whole state."""
    make(state_app, "admin", [("SUPERUSER", "pb")], tenant="pb")
    before = count(state_app, UserAccount)
    for tenant, type_ in (("pb.jalandhar", "EMPLOYEE"), ("pb.amritsar", "EMPLOYEE"), ("pb", "CITIZEN")):
        with pytest.raises(Conflict) as err:
            make(state_app, "admin", [("EMPLOYEE", tenant)] if type_ == "EMPLOYEE" else [], tenant=tenant,
                 type_=type_, mobile="9876500011")
        assert err.value.code == "USER.USER_NAME_ALREADY_EXISTS"
    assert count(state_app, UserAccount) == before


def test_login_does_not_depend_on_the_tenant_tried(state_app):
    make(state_app, "clerk1", [("TL_CEMP", "pb.amritsar")])
    for tenant in (None, "pb", "pb.amritsar", "pb.jalandhar"):
        assert session.login(state_app, state_app.base_context(), "clerk1", PASSWORD, tenant).user_name == "clerk1"


def test_a_name_shadowed_in_an_old_store_still_lets_its_owner_in(state_app):
    """A store written before names were unique may hold `admin` twice: the password decides
    who logs in, whatever tenant is tried; a wrong one counts against both."""
    import uuid

    app = state_app
    make(app, "admin", [("SUPERUSER", "pb")], tenant="pb")
    shadow = str(uuid.uuid4())
    with app.uow(app.base_context()) as uow:
        now = app.clock.now()
        uow.session.add(UserAccount(uuid=shadow, user_name="admin", tenant_id="pb.jalandhar", type="EMPLOYEE",
                                    name_enc="x", active=True, password_hash=hash_password("Shadow@123"),
                                    created_at=now, updated_at=now))
        uow.commit()
    for tenant in (None, "pb.jalandhar", "pb"):
        ok = session.login(app, app.base_context(), "admin", PASSWORD, tenant)
        assert (ok.user_name, ok.tenant_id) == ("admin", "pb")
    with pytest.raises(Unauthenticated):
        session.login(app, app.base_context(), "admin", "Wrong@1234")


def test_grants_respect_the_role_tenant_and_the_user_type(state_app):
    """issue 16.2: a grant only for roles held (or SUPERUSER) at a tenant covering the role's;
    employees only with HRMS's /egov-hrms/employees/_create; SYSTEM users by a state SUPERUSER."""
    app = state_app
    make(app, "clerk1", [("TL_CEMP", "pb.amritsar"), ("CSR", "pb.amritsar")], mobile="9876500031")
    make(app, "cityadmin", [("SUPERUSER", "pb.amritsar")], mobile="9876500032")
    before = count(app, UserAccount)
    clerk, city = ctx_as(app, "clerk1", "pb.amritsar"), ctx_as(app, "cityadmin", "pb.amritsar")

    def new(ctx, type_, roles, tenant="pb.amritsar"):
        return users.create_user(app, ctx, users.NewUser(user_name="mole", name="M", type=type_, tenant_id=tenant,
                                                         mobile="9876500033", roles=roles))

    refused = [
        (clerk, "CITIZEN", [("TL_CEMP", "pb")], "pb.amritsar", "ROLE_ESCALATION"),
        (clerk, "CITIZEN", [("CSR", "pb")], "pb.amritsar", "ROLE_ESCALATION"),
        (clerk, "CITIZEN", [("TL_CEMP", "pb.jalandhar")], "pb.amritsar", "ROLE_ESCALATION"),
        (clerk, "SYSTEM", [("CITIZEN", "pb")], "pb", "ROLE_ESCALATION"),
        (clerk, "EMPLOYEE", [("TL_CEMP", "pb.amritsar")], "pb.amritsar", "ACCESS_DENIED"),
        (city, "EMPLOYEE", [("SUPERUSER", "pb")], "pb.amritsar", "ROLE_ESCALATION"),
        (city, "EMPLOYEE", [("TL_CEMP", "pb.jalandhar")], "pb.amritsar", "ROLE_ESCALATION"),
        (city, "SYSTEM", [("EMPLOYEE", "pb.amritsar")], "pb.amritsar", "ROLE_ESCALATION"),
    ]
    for ctx, type_, roles, tenant, code in refused:
        with pytest.raises(Forbidden) as err:
            new(ctx, type_, roles, tenant)
        assert err.value.code == code, (ctx.actor.user_name, type_, roles)
    assert count(app, UserAccount) == before
    assert users.covers("pb", "pb.amritsar") and not users.covers("pb.amritsar", "pb")
    assert not users.covers("pb.amritsar", "pb.jalandhar") and not users.covers("pb", "pbx.city")
    assert new(city, "EMPLOYEE", [("TL_CEMP", "pb.amritsar")])["userName"] == "mole"


def test_find_by_mobile_uses_the_blind_index(state_app):
    make(state_app, "cit1", [], type_="CITIZEN", mobile="9876500001", password=None)
    make(state_app, "cit2", [], type_="CITIZEN", mobile="9876500002", password=None)
    found = users.list_users(state_app, state_app.context("pb"), "pb", mobile="+91 98765 00002")
    assert [u["userName"] for u in found] == ["cit2"]


def test_bulk_import_is_all_or_nothing(state_app, tmp_path):
    good = tmp_path / "staff.csv"
    good.write_text("type,username,name,mobile,roles,tenant,department,designation\n"
                    "EMPLOYEE,emp1,Amandeep Kaur,9876511111,TL_CEMP@pb.amritsar;EMPLOYEE@pb.amritsar,pb.amritsar,DEPT_1,DESIG_1\n"
                    "EMPLOYEE,emp2,Baljit Singh,9876522222,TL_APPROVER@pb.jalandhar,pb.jalandhar,DEPT_1,DESIG_2\n")
    bad = tmp_path / "bad.csv"
    bad.write_text(good.read_text() + "EMPLOYEE,emp3,Chanan Lal,123,TL_CEMP@pb.amritsar,pb.amritsar,DEPT_1,DESIG_1\n")
    with pytest.raises(InvalidInput) as err:
        users.import_users(state_app, state_app.context(), bad)
    assert err.value.params["record"] == 3 and err.value.code == "INVALID_MOBILE_NUMBER"
    assert count(state_app, UserAccount) == 0
    seen: list[tuple[int, int]] = []
    created = users.import_users(state_app, state_app.context(), good, progress=lambda d, t: seen.append((d, t)))
    assert [u["userName"] for u in created] == ["emp1", "emp2"] and seen == [(1, 2), (2, 2)]
    assert created[1]["employee"]["assignments"][0]["designation"] == "DESIG_2"


def test_bulk_import_takes_digit_column_names_and_refuses_unknown_ones(state_app, tmp_path):
    """userName, mobileNumber, tenantId, emailId as egov-user names them (any case), beside digitctl's own."""
    digit = tmp_path / "digit.csv"
    digit.write_text("type,userName,name,mobileNumber,emailId,roles,tenantId\n"
                     "EMPLOYEE,emp9,Gurdeep Singh,9876533333,g@example.org,TL_CEMP@pb.amritsar,pb.amritsar\n")
    [made] = users.import_users(state_app, state_app.context(), digit)
    assert made["userName"] == "emp9" and made["tenantId"] == "pb.amritsar"
    typo = tmp_path / "typo.csv"
    typo.write_text("type,userName,name,mobileNo,tenantId\nEMPLOYEE,emp10,A B,9876544444,pb.amritsar\n")
    with pytest.raises(InvalidInput) as err:
        users.import_users(state_app, state_app.context(), typo)
    assert err.value.code == "INVALID_CSV_COLUMN" and err.value.params == {"column": "mobileNo"}
    assert "mobileNumber" in err.value.message


# -- login, lockout, sessions -------------------------------------------------------------------------
def test_login_lockout_and_unlock_after_an_hour(state_app, frozen_clock):
    app = state_app
    make(app, "clerk1", [("TL_CEMP", "pb.amritsar")])
    ok = session.login(app, app.base_context(), "clerk1", PASSWORD)
    assert ok.user_name == "clerk1" and ("TL_CEMP", "pb.amritsar") in ok.roles
    for i in range(4):
        with pytest.raises(Unauthenticated) as err:
            session.login(app, app.base_context(), "clerk1", "Wrong@1234")
        assert err.value.code == "INVALID_CREDENTIALS"
    with pytest.raises(Forbidden) as locked:
        session.login(app, app.base_context(), "clerk1", "Wrong@1234")      # the fifth failure locks
    assert locked.value.code == "ACCOUNT_LOCKED"
    # the clock is at 25/11/2026 11:00 IST: people read the end of the lockout in IST, JSON in epoch ms
    assert "locked until 25/11/2026 12:00 IST" in locked.value.message, locked.value.message
    assert locked.value.params["lockedUntil"] == 1795588200000
    with pytest.raises(Forbidden) as locked:
        session.login(app, app.base_context(), "clerk1", PASSWORD)         # even the right password
    assert locked.value.code == "ACCOUNT_LOCKED" and "until 25/11/2026 12:00 IST" in locked.value.message
    frozen_clock.advance(minutes=61)
    assert session.login(app, app.base_context(), "clerk1", PASSWORD).user_name == "clerk1"


def test_failures_older_than_thirty_minutes_do_not_count(state_app, frozen_clock):
    app = state_app
    make(app, "clerk1", [("TL_CEMP", "pb.amritsar")])
    for _ in range(4):
        with pytest.raises(Unauthenticated):
            session.login(app, app.base_context(), "clerk1", "Wrong@1234")
    frozen_clock.advance(minutes=31)
    with pytest.raises(Unauthenticated):
        session.login(app, app.base_context(), "clerk1", "Wrong@1234")
    assert session.login(app, app.base_context(), "clerk1", PASSWORD)
    assert count(app, LoginAttempt) == 6


def _fail(app, user_name: str, times: int, code: str = "INVALID_CREDENTIALS") -> None:
    for _ in range(times):
        with pytest.raises(DigitError) as err:
            session.login(app, app.base_context(), user_name, "Wrong@1234")
        assert err.value.code == code


def test_a_successful_login_resets_the_failed_attempts(state_app, frozen_clock):
    """DIGIT's CustomAuthenticationProvider: a good password resets the failures (issue 9.2):
    4 bad + 1 good + 1 bad used to lock the account."""
    app = state_app
    make(app, "clerk1", [("TL_CEMP", "pb.amritsar")])
    _fail(app, "clerk1", 4)
    frozen_clock.advance(minutes=1)
    assert session.login(app, app.base_context(), "clerk1", PASSWORD).user_name == "clerk1"
    frozen_clock.advance(minutes=1)
    _fail(app, "clerk1", 4)                              # four fresh failures: not locked yet
    assert session.login(app, app.base_context(), "clerk1", PASSWORD)
    frozen_clock.advance(minutes=1)
    _fail(app, "clerk1", 4)
    _fail(app, "clerk1", 1, "ACCOUNT_LOCKED")            # the fifth since the last good login locks
    assert count(app, LoginAttempt) == 15                # the failures are kept, they just stop counting


def test_an_unlock_resets_the_failed_attempts(state_app, frozen_clock):
    """DIGIT's UserService.updateWithoutOtpValidation: unlocking resets the failures, so one typo
    after an administrator's unlock does not lock the account again (issue 9.2)."""
    app = state_app
    make(app, "clerk1", [("TL_CEMP", "pb.amritsar")])
    _fail(app, "clerk1", 4)
    _fail(app, "clerk1", 1, "ACCOUNT_LOCKED")
    frozen_clock.advance(minutes=5)
    users.set_locked(app, app.context(), "clerk1", False)
    frozen_clock.advance(minutes=1)
    _fail(app, "clerk1", 4)                               # a typo (four) after the unlock
    assert session.login(app, app.base_context(), "clerk1", PASSWORD).user_name == "clerk1"


def test_unknown_user_and_wrong_password_look_the_same(state_app):
    make(state_app, "clerk1", [("TL_CEMP", "pb.amritsar")])
    with pytest.raises(Unauthenticated) as a:
        session.login(state_app, state_app.base_context(), "nobody", PASSWORD)
    with pytest.raises(Unauthenticated) as b:
        session.login(state_app, state_app.base_context(), "clerk1", "Wrong@1234")
    assert (a.value.code, a.value.message) == (b.value.code, b.value.message)


def test_sessions_expire_and_locked_accounts_lose_them(state_app, frozen_clock):
    app = state_app
    make(app, "clerk1", [("TL_CEMP", "pb.amritsar")])
    token = session.login(app, app.base_context(), "clerk1", PASSWORD).token
    assert session.actor_for_token(app, app.base_context(), token).user_name == "clerk1"
    users.set_locked(app, app.context(), "clerk1", True)
    with pytest.raises(Unauthenticated):
        session.actor_for_token(app, app.base_context(), token)
    users.set_locked(app, app.context(), "clerk1", False)
    with pytest.raises(Unauthenticated) as err:       # the lock ended the session for good (16.9)
        session.actor_for_token(app, app.base_context(), token)
    assert err.value.code == "INVALID_TOKEN"
    token = session.login(app, app.base_context(), "clerk1", PASSWORD).token
    assert session.actor_for_token(app, app.base_context(), token).user_name == "clerk1"
    frozen_clock.advance(hours=12, minutes=1)
    with pytest.raises(Unauthenticated) as err:
        session.actor_for_token(app, app.base_context(), token)
    assert err.value.code == "SESSION_EXPIRED"


def test_a_password_reset_ends_every_session_of_the_user(state_app):
    app = state_app
    make(app, "clerk1", [("TL_CEMP", "pb.amritsar")])
    tokens = [session.login(app, app.base_context(), "clerk1", PASSWORD).token for _ in range(2)]
    auth.set_password(app, app.context(), "clerk1", "Newpass@123")
    for token in tokens:
        with pytest.raises(Unauthenticated) as err:
            session.actor_for_token(app, app.base_context(), token)
        assert err.value.code == "INVALID_TOKEN"
    assert session.login(app, app.base_context(), "clerk1", "Newpass@123")


# -- access control ---------------------------------------------------------------------------------
def test_roles_count_only_at_their_tenant_or_its_state(state_app):
    app = state_app
    make(app, "clerk1", [("TL_CEMP", "pb.amritsar")])
    make(app, "boss", [("SUPERUSER", "pb")], mobile="9876500009")
    authorizer = app.authorizer
    clerk = ctx_as(app, "clerk1").actor
    assert authorizer.decide(clerk, "/collection-services/payments/_create", "pb.amritsar").allowed
    refused = authorizer.decide(clerk, "/collection-services/payments/_create", "pb.jalandhar")
    assert not refused.allowed and "TL_CEMP" in refused.roles_that_would_grant
    boss = ctx_as(app, "boss").actor
    assert authorizer.decide(boss, "/collection-services/payments/_create", "pb.jalandhar").allowed  # state role
    # digitctl's own operations are SUPERUSER's
    assert authorizer.decide(boss, "/digitctl/audit/_verify", "pb").allowed
    assert not authorizer.decide(clerk, "/digitctl/audit/_verify", "pb.amritsar").allowed


def test_access_check_asks_for_the_right_to_search_users_before_looking_one_up(state_app):
    """issue 16.10: a citizen asking about a user got USER_NOT_FOUND or the user's roles."""
    from digitctl.services import access_check

    app = state_app
    make(app, "clerk1", [("TL_CEMP", "pb.amritsar")])
    make(app, "citizen1", [], type_="CITIZEN", password=None, mobile="9876500077")
    citizen = ctx_as(app, "citizen1", "pb.amritsar")
    refusals = []
    for who in ("clerk1", "nobody"):
        with pytest.raises(Forbidden) as err:
            access_check.check(app, citizen, "/collection-services/payments/_create", "pb.amritsar", who)
        refusals.append((err.value.code, err.value.message, err.value.params))
    assert refusals[0] == refusals[1] and refusals[0][0] == "ACCESS_DENIED"
    actor, decision = access_check.check(app, app.context(), "/collection-services/payments/_create", "pb.amritsar",
                                   "clerk1")
    assert actor.user_name == "clerk1" and decision.allowed


def test_param_templates_match(state_app):
    app = state_app
    make(app, "boss", [("SUPERUSER", "pb")])
    from digitctl.services.access import _template

    assert _template("/boundarys/{code}").match("/boundarys/SUN04")
    assert not _template("/boundarys/{code}").match("/boundarys/SUN04/extra")


def test_wrong_role_is_refused_for_each_building_block_even_from_python(state_app, reference):
    app = state_app
    make(app, "citizen1", [], type_="CITIZEN", password=None, mobile="9876500077")
    ctx = ctx_as(app, "citizen1", "pb.amritsar")
    before = count(app, OutboxEvent)
    from digitctl.services import audit, crypto, mdms_schema

    attempts = {
        "mdms apply": lambda: mdms.apply(app, ctx, [reference / "mdms" / "data" / "pb" / "common-masters"]),
        "mdms schema apply": lambda: mdms_schema.apply_schemas(app, ctx, [reference / "mdms-v2-schemas" / "common-masters.Department.json"], tenant_id="pb"),
        "user create": lambda: users.create_user(app, ctx, users.NewUser(
            user_name="xx1", name="X", type="EMPLOYEE", tenant_id="pb.amritsar", mobile="9876500066",
            roles=[("SUPERUSER", "pb")])),
        "user list": lambda: users.list_users(app, ctx, "pb.amritsar"),
        "keys rotate": lambda: crypto.rotate_key(app, ctx, "pb"),
        "audit verify": lambda: audit.verify(app, ctx),
        "mdms search": lambda: mdms.search(app, ctx, "pb.amritsar", "BillingService"),
    }
    for name, call in attempts.items():
        with pytest.raises(Forbidden) as err:
            call()
        assert err.value.code == "ACCESS_DENIED", name
    assert count(app, OutboxEvent) == before       # nothing written by any refusal
    # what a citizen may do, it may
    assert idgen.generate(app, ctx, "receipt.id", "pb.amritsar")


def test_anonymous_actor_must_log_in(state_app):
    from digitctl.context import ANONYMOUS_ACTOR

    ctx = RequestContext(actor=ANONYMOUS_ACTOR, tenant_id="pb", clock=state_app.clock)
    with pytest.raises(Unauthenticated) as err:
        mdms.search(state_app, ctx, "pb", "BillingService")
    assert err.value.code == "NOT_LOGGED_IN" and err.value.exit_code == 3


# -- OTP ------------------------------------------------------------------------------------------------
def _sent_otp(app) -> str:
    with app.uow(app.base_context(), readonly=True) as uow:
        ev = uow.session.execute(select(OutboxEvent).where(OutboxEvent.event_type == "notification.sms")
                                 .order_by(OutboxEvent.seq.desc()).limit(1)).scalar_one()
        text = app.keyring.decrypt(uow.session, ev.payload["message"])
        assert ev.payload["templateCode"] == "sms.register.otp.msg"
        assert "9876543210" not in str(ev.payload)
    assert text.startswith("Dear Citizen, Your OTP to complete your DIGIT Registration is ")
    return text.split(" is ")[1][:6]


def test_otp_register_flow_expiry_and_attempts(state_app, frozen_clock):
    app = state_app
    sent = otp.send(app, app.base_context(), "9876543210", "pb.amritsar", "register")
    assert sent["validForSeconds"] == 900
    code = _sent_otp(app)
    assert len(code) == 6 and code.isdigit()
    wrong = "000000" if code != "000000" else "111111"
    with pytest.raises(InvalidInput) as err:
        otp.verify(app, app.base_context(), "9876543210", wrong, "pb", "register")
    assert err.value.code == "OTP_INVALID" and err.value.params["triesLeft"] == 4
    assert otp.verify(app, app.base_context(), "+91 98765 43210", code, "pb", "register")["isValidated"]
    with pytest.raises(DigitError) as used:                    # used once
        otp.verify(app, app.base_context(), "9876543210", code, "pb", "register")
    assert used.value.code == "OTP_NOT_FOUND"

    otp.send(app, app.base_context(), "9876543210", "pb", "register")
    code = _sent_otp(app)
    frozen_clock.advance(seconds=901)
    with pytest.raises(InvalidInput) as err:
        otp.verify(app, app.base_context(), "9876543210", code, "pb", "register")
    assert err.value.code == "OTP_EXPIRED"

    otp.send(app, app.base_context(), "9876543210", "pb", "register")
    code = _sent_otp(app)
    for _ in range(5):
        with pytest.raises(InvalidInput):
            otp.verify(app, app.base_context(), "9876543210", wrong, "pb", "register")
    with pytest.raises(InvalidInput) as err:
        otp.verify(app, app.base_context(), "9876543210", code, "pb", "register")
    assert err.value.code == "OTP_ATTEMPTS_EXCEEDED"


def test_otp_purposes_check_registration(state_app):
    with pytest.raises(DigitError) as err:
        otp.send(state_app, state_app.base_context(), "9876543210", "pb", "login")
    assert err.value.code == "USER_NOT_FOUND"
    make(state_app, "cit", [], type_="CITIZEN", password=None)
    with pytest.raises(Conflict) as err:
        otp.send(state_app, state_app.base_context(), "9876543210", "pb", "register")
    assert err.value.code == "USER_ALREADY_EXISTS"


# -- PII at rest ------------------------------------------------------------------------------------------
def test_raw_store_file_holds_no_plain_pii(tmp_path, frozen_clock):
    from digitctl.bootstrap import build
    from digitctl.services.store import init_store

    app = build(f"sqlite:///{tmp_path / 'pii.db'}", clock=frozen_clock)
    init_store(app, app.context(), "pb", "C01")
    configs = bundled("configs") / "mdms"
    mdms.apply(app, app.context("pb"), [configs / "data" / "pb"], master_config=configs / "master-config.json")
    make(app, "gks", [("TL_CEMP", "pb.amritsar")], name="Gurpreet Kaur Sandhu", mobile="9876543210")
    users.update_user(app, app.context(), "gks", email="gurpreet.sandhu@example.in")
    users.show_user(app, app.context(), "gks", plain=True)
    app.store.dispose()
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("pii.db*"))
    for secret in ("Gurpreet Kaur Sandhu", "Gurpreet", "Sandhu", "9876543210", "gurpreet.sandhu@example.in"):
        assert secret.encode() not in raw, secret
    assert b"gks" in raw        # the scan does see the file's text (the user name is not PII here)
