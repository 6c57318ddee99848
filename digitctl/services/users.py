"""Users and employees as DIGIT's egov-user and egov-hrms keep them: CITIZEN users belong to the
state tenant, EMPLOYEE users to a city with HRMS assignments and jurisdictions; roles carry their
own tenantId. Name, mobile and e-mail are stored encrypted, the mobile also as a blind index.

A citizen's user name is their mobile number (DIGIT's citizens log in with it), so the store does
not keep it as it is: a CITIZEN user name that is a mobile number is stored as a pseudonym,
`bidx:` + the first 24 hex digits of the state's blind index of the number (keyed by the master
key; `:` is not allowed in a chosen user name, so no one can pick a pseudonym as a name). Audit
records, outbox events and the actor of every later act carry the pseudonym; the number itself
lies only encrypted in `mobile_enc`. Lookups (`find`, login, `user show 98...`) take the name as
the person types it and try its pseudonym too; display shows the number, masked as the
SecurityPolicy says for `mobileNumber`."""
from __future__ import annotations

import csv
import datetime as dt
import json
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select, update

from digitctl.context import Actor, Role
from digitctl.domain import safetext
from digitctl.domain.events import Event
from digitctl.domain.identity import (USER_TYPES, USERNAME_RE, PasswordPolicy, hash_password,
                                      normalize_mobile, valid_mobile)
from digitctl.domain.tenancy import state_of
from digitctl.errors import Conflict, Forbidden, InvalidInput, NotFound
from digitctl.services.access import authorize
from local_store.models import (Employee, EmployeeAssignment, EmployeeJurisdiction, SessionToken,
                                UserAccount, UserRole)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from digitctl.bootstrap import App
    from digitctl.context import RequestContext
    from local_store.uow import UnitOfWork

CREATE_ACTION = "/user/users/_createnovalidate"
CREATE_EMPLOYEE_ACTION = "/egov-hrms/employees/_create"
SEARCH_ACTION = "/user/_search"
UPDATE_ACTION = "/user/users/_updatenovalidate"
BUILTIN_ROLES = {"SUPERUSER"}   # init creates the first superuser before any master data exists
PSEUDONYM_PREFIX = "bidx:"      # never in a chosen user name (USERNAME_RE has no ':')
PSEUDONYM_HEX = 24              # 96 bits of the blind index: no two numbers of a state collide
PSEUDONYMIZE_ACTION = "/digitctl/user/_pseudonymize"
_PHONE_TYPED = re.compile(r"\+?[0-9][0-9 ()-]{8,}")


@dataclass
class EmployeeSpec:
    department: str
    designation: str
    code: str | None = None
    from_date: dt.date | None = None
    jurisdictions: list[str] = field(default_factory=list)
    employee_type: str = "PERMANENT"


@dataclass
class NewUser:
    user_name: str
    name: str
    type: str
    tenant_id: str | None = None
    mobile: str | None = None
    email: str | None = None
    gender: str | None = None
    locale: str = "en_IN"
    roles: list[tuple[str, str]] = field(default_factory=list)   # (code, tenantId)
    password: str | None = None
    employee: EmployeeSpec | None = None


def parse_role(text: str, default_tenant: str) -> tuple[str, str]:
    """'TL_CEMP@pb.amritsar' -> ('TL_CEMP', 'pb.amritsar'); 'CITIZEN' -> ('CITIZEN', default)."""
    code, _, tenant = text.partition("@")
    if not code.strip():
        raise InvalidInput("INVALID_ROLE", f"role {text!r} has no code", {"role": text})
    return code.strip().upper(), (tenant.strip() or default_tenant)


# -- a citizen's user name ------------------------------------------------------------------------
def typed_mobile(text: str | None) -> str | None:
    """The mobile number a user name is, as a person types it ('9876543210', '+91 98765-43210'),
    or None when it is not one."""
    t = (text or "").strip()
    if not _PHONE_TYPED.fullmatch(t):
        return None
    m = normalize_mobile(t)
    return m if valid_mobile(m) else None


def pseudonym(app: "App", tenant_id: str, mobile: str) -> str:
    """What the store keeps for a citizen whose user name is `mobile`, in `tenant_id`'s state."""
    return PSEUDONYM_PREFIX + app.keyring.blind_index(state_of(tenant_id), mobile, "mobile")[:PSEUDONYM_HEX]


def stored_user_name(app: "App", user_type: str, tenant_id: str, user_name: str) -> str:
    """The user name as the store keeps it: a citizen's mobile-number name becomes its pseudonym."""
    m = typed_mobile(user_name) if (user_type or "").upper() == "CITIZEN" else None
    return pseudonym(app, tenant_id, m) if m else user_name


def _app_of(s: "Session") -> "App | None":
    from digitctl.bootstrap import APP_INFO

    return s.info.get(APP_INFO)


def _citizen_states(s: "Session") -> list[str]:
    return sorted({state_of(t) for t in s.execute(
        select(UserAccount.tenant_id).where(UserAccount.type == "CITIZEN").distinct()).scalars()})


def names_for(s: "Session", who: str, state: str | None = None, app: "App | None" = None) -> list[str]:
    """The stored user names `who` (as typed) may stand for: itself and, when it is a mobile
    number, the citizen pseudonym of it in `state` (or in every state the store has citizens of).
    Needs the App (from the session a unit of work opened, or given) for the keys."""
    names = [who]
    m = typed_mobile(who)
    app = app or _app_of(s)
    if m is not None and app is not None:
        states = [state_of(state)] if state else _citizen_states(s)
        names += [n for n in (pseudonym(app, st, m) for st in states) if n not in names]
    return names


def names_self(app: "App", actor: Actor, who: str) -> bool:
    """Does `who` (as typed) name the actor: a citizen asking about themselves by mobile number?"""
    if not actor.user_name.startswith(PSEUDONYM_PREFIX) or typed_mobile(who) is None:
        return False
    with app.uow(app.base_context(), readonly=True) as uow:
        return actor.user_name in names_for(uow.session, who)


def own_user_name(app: "App", s: "Session", row: UserAccount) -> str:
    """The user name as its owner knows it: the mobile number behind a citizen's pseudonym (for
    the user themselves, or a caller that then masks it), else the stored name."""
    if row.type == "CITIZEN" and row.user_name.startswith(PSEUDONYM_PREFIX) and row.mobile_enc:
        mobile = app.keyring.decrypt(s, row.mobile_enc)
        if _name_is_mobile(app, row, mobile):
            return mobile
    return row.user_name


def shown_name(s: "Session", row: Any, viewer_uuid: str | None = None, app: "App | None" = None) -> str | None:
    """How a list naming a user (workflow assigner and assignees, inbox, application) shows them:
    a citizen's pseudonym as their mobile number masked by the User SecurityPolicy's pattern for
    mobileNumber (plain to the citizen themselves; no plain disclosure to anyone else, so nothing
    to audit); any other name as it is. `row` has uuid, user_name, type, tenant_id, mobile_enc."""
    if row is None:
        return None
    app = app or _app_of(s)
    if app is None or not str(row.user_name).startswith(PSEUDONYM_PREFIX):
        name: str | None = row.user_name
        return name
    mobile = own_user_name(app, s, row)
    if mobile == row.user_name or row.uuid == viewer_uuid:
        return mobile
    from digitctl.services import masking

    masker = masking.masker_for(app, row.tenant_id)
    pattern = {a.get("name"): a.get("patternId") for a in masker.policy_for("User").get("attributes") or []}
    return masker.mask(mobile, pattern.get("mobileNumber") or masking.MOBILE)


def pseudonymize_citizens(uow: "UnitOfWork", app: "App") -> int:
    """Citizens whose user name still lies in plain text (a store written before pseudonyms):
    each name becomes its pseudonym, in one audited change per user (the record names only the
    pseudonym; the user's row is sealed as it now stands). `digitctl init`, which every upgrade
    runs, calls this. Audit records written before keep what they hold: a signed chain is not
    rewritten. Returns how many were renamed."""
    s = uow.session
    n = 0
    rows = s.execute(select(UserAccount).where(UserAccount.type == "CITIZEN",
                                               ~UserAccount.user_name.startswith(PSEUDONYM_PREFIX))).scalars().all()
    for row in rows:
        m = typed_mobile(row.user_name)
        if m is None:
            continue                       # a chosen name, not a number: kept as it is
        new = pseudonym(app, row.tenant_id, m)
        taken = s.execute(select(UserAccount.uuid).where(UserAccount.user_name == new,
                                                         UserAccount.tenant_id == row.tenant_id)).first()
        if taken is not None:
            continue                       # '09876543210' beside '9876543210': left for an administrator
        row.user_name = new
        row.updated_at = uow.ctx.now()
        uow.record(Event("user.pseudonymized", row.tenant_id, "User", row.uuid, PSEUDONYMIZE_ACTION,
                         {"user": {"uuid": row.uuid, "userName": new}}, before=None, after={"userName": new}))
        n += 1
    s.flush()
    return n


# -- validation --------------------------------------------------------------------------------
def _known_tenants(app: "App", state: str) -> set[str]:
    return {t["code"] for t in app.mdms.master(state, "tenant", "tenants") if isinstance(t, dict) and "code" in t}


def _known_roles(app: "App", state: str) -> set[str]:
    return {r["code"] for r in app.mdms.master(state, "ACCESSCONTROL-ROLES", "roles")
            if isinstance(r, dict) and isinstance(r.get("code"), str)}


def validate(app: "App", spec: NewUser, store_state: str | None,
             policy: PasswordPolicy = PasswordPolicy()) -> NewUser:
    spec.type = spec.type.upper()
    if spec.type not in USER_TYPES:
        raise InvalidInput("INVALID_USER_TYPE", f"type must be one of {', '.join(USER_TYPES)}", {"type": spec.type})
    if not USERNAME_RE.match(spec.user_name or ""):
        raise InvalidInput("INVALID_USERNAME", "user name must be 3-64 letters, digits or . _ @ -",
                           {"userName": spec.user_name})
    if not (spec.name or "").strip():
        raise InvalidInput("INVALID_NAME", "a name is required", {"userName": spec.user_name})
    safetext.check_text(spec.name.strip(), "name", max_length=safetext.NAME_MAX)
    state = state_of(spec.tenant_id) if spec.tenant_id else store_state
    if not state:
        raise InvalidInput("INVALID_TENANTID", "a tenant is needed (--tenant, or init the store with --state)")
    if spec.type == "CITIZEN":
        spec.tenant_id = state            # citizens belong to the state tenant
    spec.tenant_id = spec.tenant_id or state
    tenants = _known_tenants(app, state)
    allowed = tenants or {state}
    for t in [spec.tenant_id, *(t for _, t in spec.roles),
              *((spec.employee.jurisdictions if spec.employee else []))]:
        if t not in allowed:
            raise InvalidInput("INVALID_TENANTID", f"tenant {t!r} is not in the tenant.tenants master",
                               {"tenantId": t})
    if spec.mobile is not None:
        spec.mobile = normalize_mobile(spec.mobile)
        if not valid_mobile(spec.mobile):
            raise InvalidInput("INVALID_MOBILE_NUMBER", "a mobile number is 10 digits starting with 6-9",
                               {"userName": spec.user_name})
    elif spec.type == "CITIZEN":
        raise InvalidInput("INVALID_MOBILE_NUMBER", "a citizen needs a mobile number", {"userName": spec.user_name})
    if spec.email is not None and "@" not in spec.email:
        raise InvalidInput("INVALID_EMAIL", "an e-mail address needs an @", {"userName": spec.user_name})
    if not spec.roles:
        spec.roles = [("CITIZEN", state)] if spec.type == "CITIZEN" else []
    if not spec.roles:
        raise InvalidInput("INVALID_ROLE", "give at least one role (--role CODE@TENANT)", {"userName": spec.user_name})
    known = _known_roles(app, state)
    for code, _t in spec.roles:
        if code in BUILTIN_ROLES:
            continue
        if not known:
            raise InvalidInput("ROLES_MASTER_MISSING",
                               "ACCESSCONTROL-ROLES is not loaded; apply the state's MDMS first", {"role": code})
        if code not in known:
            raise InvalidInput("INVALID_ROLE", f"role {code!r} is not in ACCESSCONTROL-ROLES", {"role": code})
    if spec.password is not None:
        problems = policy.problems(spec.password)
        if problems:
            raise InvalidInput("INVALID_PASSWORD", "the password must " + ", ".join(problems),
                               {"userName": spec.user_name})
    if spec.type == "EMPLOYEE" and spec.employee is not None and not spec.employee.jurisdictions:
        spec.employee.jurisdictions = [spec.tenant_id]
    return spec


# -- create ------------------------------------------------------------------------------------
def create_in(uow: "UnitOfWork", app: "App", spec: NewUser) -> UserAccount:
    """Insert a validated user (and employee) inside the caller's unit of work."""
    s = uow.session
    now = uow.ctx.now()
    tenant = spec.tenant_id or ""
    state = state_of(tenant)
    # a citizen's mobile-number user name is kept as its pseudonym (see the module's doc)
    user_name = stored_user_name(app, spec.type, tenant, spec.user_name)
    # one name, one user in the whole state (DIGIT checks per tenant and type; we are stricter:
    # `admin` at a city would shadow the state's admin at login, an employee named after a
    # citizen's mobile number the citizen)
    taken = {n for n in (*names_for(s, spec.user_name, state, app), user_name)}
    if any(holders_of(s, n, state) for n in taken):
        raise Conflict("USER.USER_NAME_ALREADY_EXISTS",
                       f"user name {spec.user_name!r} is already taken in state {state}",
                       {"userName": spec.user_name, "tenantId": spec.tenant_id})
    ring = app.keyring
    row = UserAccount(
        uuid=str(uuid.uuid4()), user_name=user_name, tenant_id=tenant, type=spec.type,
        name_enc=ring.encrypt(s, tenant, spec.name.strip()),
        mobile_enc=ring.encrypt(s, tenant, spec.mobile) if spec.mobile else None,
        mobile_bidx=ring.blind_index(tenant, spec.mobile, "mobile") if spec.mobile else None,
        email_enc=ring.encrypt(s, tenant, spec.email) if spec.email else None,
        gender=spec.gender, locale=spec.locale, active=True,
        password_hash=hash_password(spec.password) if spec.password else None,
        password_changed_at=now if spec.password else None, created_at=now, updated_at=now)
    s.add(row)
    s.flush()
    for code, t in dict.fromkeys(spec.roles):
        s.add(UserRole(user_uuid=row.uuid, code=code, tenant_id=t))
    if spec.type == "EMPLOYEE" and spec.employee is not None:
        e = spec.employee
        s.add(Employee(user_uuid=row.uuid, code=e.code or spec.user_name, tenant_id=tenant,
                       employee_type=e.employee_type, date_of_appointment=e.from_date))
        s.flush()
        s.add(EmployeeAssignment(user_uuid=row.uuid, department=e.department, designation=e.designation,
                                 from_date=e.from_date or now.date(), is_current=True))
        for j in e.jurisdictions:
            s.add(EmployeeJurisdiction(user_uuid=row.uuid, boundary=j, tenant_id=j))
    s.flush()
    doc = user_json(s, row, app, decrypt=False)
    uow.record(Event("user.created", tenant, "User", row.uuid,
                     CREATE_EMPLOYEE_ACTION if spec.employee else CREATE_ACTION,
                     {"user": doc}, before=None, after=doc))
    return row


def covers(granter_tenant: str, tenant: str) -> bool:
    """A role held at `granter_tenant` reaches `tenant`: the same tenant, or the state of a city
    ('*' is the local SYSTEM administrator's). A city never covers the state or another city."""
    return granter_tenant in ("*", tenant) or ("." not in granter_tenant and tenant.startswith(granter_tenant + "."))


def _is_system_administrator(ctx: "RequestContext") -> bool:
    from digitctl.context import SYSTEM_ACTOR

    return ctx.actor.uuid == SYSTEM_ACTOR.uuid and ctx.actor.type == "SYSTEM"


def check_grant(ctx: "RequestContext", roles: list[tuple[str, str]]) -> None:
    """No escalation. Besides CITIZEN, a role may be granted (or taken away) only by someone who
    holds that role, or SUPERUSER, at the role's tenant or at a tenant covering it: a state role
    covers its cities, a city role neither the state nor another city. (DIGIT grants
    /user/users/_createnovalidate to counter roles and checks no more; we are stricter.)"""
    if _is_system_administrator(ctx):
        return
    held = [(r.code, r.tenant_id) for r in ctx.actor.roles]
    extra = sorted({f"{code}@{t}" for code, t in roles if code != "CITIZEN" and not any(
        hc in (code, "SUPERUSER") and covers(ht, t) for hc, ht in held)})
    if extra:
        raise Forbidden("ROLE_ESCALATION", f"{ctx.actor.user_name} cannot grant roles they do not hold there: "
                        f"{', '.join(extra)}", {"roles": extra})


def check_manage(ctx: "RequestContext", s: "Session", row: UserAccount) -> None:
    """Changing someone's password, lock or roles is as good as holding their roles: it needs the
    right to grant every role they hold (check_grant), so a city administrator cannot take over
    a state administrator at their city."""
    if ctx.actor.uuid != row.uuid:
        check_grant(ctx, roles_of(s, row.uuid))


def authorize_create(app: "App", ctx: "RequestContext", spec: NewUser, request_tenant: str | None) -> None:
    """Who may create this user: an employee needs DIGIT's HRMS action /egov-hrms/employees/_create
    at the employee's tenant (in pb's role-actions only SUPERUSER has it), with or without an
    HRMS record; a citizen the counter's /user/users/_createnovalidate; a SYSTEM user only a
    SUPERUSER of the state. Then every role granted must pass check_grant."""
    tenant = spec.tenant_id or request_tenant
    if spec.type == "SYSTEM" and not _is_system_administrator(ctx):
        state = state_of(tenant or "")
        if not any(r.code == "SUPERUSER" and r.tenant_id in (state, "*") for r in ctx.actor.roles):
            raise Forbidden("ROLE_ESCALATION", f"only a SUPERUSER of {state} creates SYSTEM users",
                            {"type": "SYSTEM", "roles": [f"SUPERUSER@{state}"]})
    if spec.type == "EMPLOYEE":
        authorize(app, ctx, CREATE_EMPLOYEE_ACTION, tenant)
    else:
        authorize(app, ctx, CREATE_ACTION, request_tenant or tenant)
    check_grant(ctx, spec.roles)


def create_user(app: "App", ctx: "RequestContext", spec: NewUser) -> dict[str, Any]:
    """The request's tenant (the counter's city) is what is authorized for a citizen, who is
    then kept at the state tenant; an employee is authorized at the employee's tenant."""
    with app.uow(ctx) as uow:
        request_tenant = spec.tenant_id or ctx.tenant_id
        spec = validate(app, spec, uow.meta("state_tenant"))
        authorize_create(app, ctx, spec, request_tenant)
        row = create_in(uow, app, spec)
        out = present(app, uow, row)
        uow.commit()
    return out


# -- read ----------------------------------------------------------------------------------------
def roles_of(s: "Session", user_uuid: str) -> list[tuple[str, str]]:
    return [(r.code, r.tenant_id) for r in s.execute(
        select(UserRole).where(UserRole.user_uuid == user_uuid).order_by(UserRole.id)).scalars()]


def user_json(s: "Session", row: UserAccount, app: "App", *, decrypt: bool) -> dict[str, Any]:
    """DIGIT's User object. With decrypt=False the PII fields carry their ciphertext (what goes
    into the outbox and the audit trail); with True, plain text (for masking to work on)."""
    ring = app.keyring

    def val(v: str | None) -> str | None:
        return ring.decrypt(s, v) if (decrypt and v) else v

    doc: dict[str, Any] = {
        "uuid": row.uuid, "userName": row.user_name, "name": val(row.name_enc),
        "mobileNumber": val(row.mobile_enc), "emailId": val(row.email_enc), "gender": row.gender,
        "type": row.type, "tenantId": row.tenant_id, "active": row.active, "locale": row.locale,
        "accountLocked": is_locked(row, None),
        "roles": [{"code": c, "name": c, "tenantId": t} for c, t in roles_of(s, row.uuid)],
    }
    emp = s.get(Employee, row.uuid)
    if emp is not None:
        doc["employee"] = {
            "code": emp.code, "employeeStatus": emp.employee_status, "employeeType": emp.employee_type,
            "tenantId": emp.tenant_id,
            "dateOfAppointment": emp.date_of_appointment.isoformat() if emp.date_of_appointment else None,
            "assignments": [{"id": str(a.id), "department": a.department, "designation": a.designation,
                             "fromDate": a.from_date.isoformat(), "toDate": a.to_date.isoformat() if a.to_date else None,
                             "isCurrentAssignment": a.is_current}
                            for a in s.execute(select(EmployeeAssignment).where(
                                EmployeeAssignment.user_uuid == row.uuid)).scalars()],
            "jurisdictions": [{"id": str(j.id), "hierarchy": j.hierarchy, "boundaryType": j.boundary_type, "boundary": j.boundary,
                               "tenantId": j.tenant_id}
                              for j in s.execute(select(EmployeeJurisdiction).where(
                                  EmployeeJurisdiction.user_uuid == row.uuid)).scalars()],
        }
    return doc


def has_users(app: "App") -> bool:
    """Whether the store holds any user yet (before the first, init and the first MDMS apply
    run as the local SYSTEM administrator)."""
    with app.store.readonly_engine.connect() as conn:
        return conn.execute(select(UserAccount.uuid).limit(1)).first() is not None


def revoke_sessions(s: "Session", user_uuid: str, now: dt.datetime) -> int:
    """End every live session of a user (a password reset, a lock): a stolen token dies with
    them, and an unlock does not bring them back. DIGIT removes the user's tokens on a lock
    (UserService.removeTokensByUser). Returns how many were ended."""
    done = s.execute(update(SessionToken).where(SessionToken.user_uuid == user_uuid,
                                                SessionToken.revoked_at.is_(None)).values(revoked_at=now))
    return int(getattr(done, "rowcount", 0) or 0)


def _epoch_ms_of_date(text: str | None) -> int | None:
    """An ISO date as HRMS keeps dates: epoch ms of that day's start in India."""
    from digitctl.clock import IST

    if not text:
        return None
    return int(dt.datetime.combine(dt.date.fromisoformat(text), dt.time(), IST).timestamp() * 1000)


def employee_json(doc: dict[str, Any]) -> dict[str, Any]:
    """egov-hrms's Employee for a user doc that has an HRMS record (as `user_json` / `present`
    give it, PII already masked): tenantId, uuid, code, isActive, the egov-user `user`, and
    assignments / jurisdictions with dates as epoch ms; the lists digitctl does not keep
    (service history, education, tests, documents, (de/re)activation) are empty."""
    emp = doc["employee"]
    return {
        "uuid": doc["uuid"], "code": emp["code"], "tenantId": emp.get("tenantId") or doc["tenantId"],
        "employeeStatus": emp["employeeStatus"], "employeeType": emp["employeeType"],
        "dateOfAppointment": _epoch_ms_of_date(emp.get("dateOfAppointment")), "isActive": doc["active"],
        "user": {k: v for k, v in doc.items() if k != "employee"},
        "assignments": [{"id": a.get("id"), "position": None, "department": a["department"],
                         "designation": a["designation"], "fromDate": _epoch_ms_of_date(a["fromDate"]),
                         "toDate": _epoch_ms_of_date(a.get("toDate")), "govtOrderNumber": None,
                         "reportingTo": None, "isHOD": False, "isCurrentAssignment": a["isCurrentAssignment"]}
                        for a in emp["assignments"]],
        "jurisdictions": [{"id": j.get("id"), "hierarchy": j["hierarchy"], "boundaryType": j["boundaryType"],
                           "boundary": j["boundary"], "tenantId": j["tenantId"]} for j in emp["jurisdictions"]],
        "serviceHistory": [], "education": [], "tests": [], "deactivationDetails": [],
        "reactivationDetails": [], "documents": [],
    }


def is_locked(row: UserAccount, now: dt.datetime | None) -> bool:
    if row.locked_by_admin:
        return True
    return bool(row.locked_until and now is not None and row.locked_until > now)


def present(app: "App", uow: "UnitOfWork", row: UserAccount, *, plain: bool = False,
            masker: Any = None) -> dict[str, Any]:
    """The user as the acting person may see it, by DataSecurity's SecurityPolicy: masked
    where the actor's roles say MASKED, plain where the policy allows (each plain disclosure to
    someone else is audited by the masking service); the user always sees their own."""
    from digitctl.services import masking

    doc = user_json(uow.session, row, app, decrypt=True)
    doc["accountLocked"] = is_locked(row, uow.ctx.now())
    name_is_mobile = _name_is_mobile(app, row, doc.get("mobileNumber"))
    if uow.ctx.actor.uuid == row.uuid:
        if name_is_mobile:
            doc["userName"] = doc["mobileNumber"]
        return doc
    shown = masking.present(app, uow, uow.ctx, "User", doc, plain=plain, masker=masker)
    if name_is_mobile:
        shown["userName"] = shown.get("mobileNumber")     # a citizen's user name is their mobile: shown as it is
    return shown


def _name_is_mobile(app: "App", row: UserAccount, mobile: str | None) -> bool:
    """Is the citizen's user name their (current) mobile number, kept plain or as its pseudonym?"""
    return row.type == "CITIZEN" and bool(mobile) and (
        row.user_name == mobile or row.user_name == pseudonym(app, row.tenant_id, str(mobile)))


def _at(tenant_id: str) -> Any:
    """Users visible at a tenant: a city's own and the state's (citizens); a state's, all."""
    if "." in tenant_id:
        return UserAccount.tenant_id.in_([tenant_id, state_of(tenant_id)])
    return (UserAccount.tenant_id == tenant_id) | UserAccount.tenant_id.like(tenant_id + ".%")


def holders_of(s: "Session", who: str, state: str | None = None) -> list[UserAccount]:
    """The user a uuid names, or every holder of a user name (in `state` when given). Names are
    unique in a state since create_in checks it; a store written before may hold one twice."""
    row = s.get(UserAccount, who)
    if row is not None:
        return [row]
    q = select(UserAccount).where(UserAccount.user_name.in_(names_for(s, who, state))).order_by(UserAccount.tenant_id)
    if state:
        q = q.where(_at(state))
    return list(s.execute(q).scalars())


def find(s: "Session", who: str, tenant_id: str | None = None) -> UserAccount:
    """By uuid, or by user name as typed (a citizen's mobile number finds its pseudonym; with the
    tenant when the name exists at several)."""
    row = s.get(UserAccount, who)
    if row is not None:
        return row
    q = select(UserAccount).where(UserAccount.user_name.in_(names_for(s, who, tenant_id)))
    if tenant_id:
        q = q.where(_at(tenant_id))
    rows = list(s.execute(q).scalars())
    if not rows:
        raise NotFound("USER_NOT_FOUND", f"no user {who!r}" + (f" at {tenant_id}" if tenant_id else ""),
                       {"userName": who})
    if len(rows) > 1:
        raise InvalidInput("AMBIGUOUS_USERNAME", f"{who!r} exists at {', '.join(r.tenant_id for r in rows)}; "
                           "pass --tenant", {"userName": who})
    return rows[0]


def list_users(app: "App", ctx: "RequestContext", tenant_id: str | None = None, user_type: str | None = None,
               role: str | None = None, mobile: str | None = None) -> list[dict[str, Any]]:
    with app.uow(ctx) as uow:
        authorize(app, ctx, SEARCH_ACTION, tenant_id or uow.meta("state_tenant"))
        q = select(UserAccount).order_by(UserAccount.tenant_id, UserAccount.user_name)
        if tenant_id:
            q = q.where(_at(tenant_id))
        if user_type:
            q = q.where(UserAccount.type == user_type.upper())
        if mobile:
            state = state_of(tenant_id) if tenant_id else (uow.meta("state_tenant") or "")
            q = q.where(UserAccount.mobile_bidx == app.keyring.blind_index(state, normalize_mobile(mobile), "mobile"))
        if role:
            q = q.where(UserAccount.uuid.in_(select(UserRole.user_uuid).where(UserRole.code == role.upper())))
        from digitctl.services.masking import masker_for

        masker = masker_for(app, tenant_id or uow.meta("state_tenant") or "")
        out = [present(app, uow, row, masker=masker) for row in uow.session.execute(q).scalars()]
        uow.commit()        # masking may have audited plain disclosures
    return out


def show_user(app: "App", ctx: "RequestContext", who: str, tenant_id: str | None = None,
              plain: bool = False) -> dict[str, Any]:
    with app.uow(ctx) as uow:
        row = find(uow.session, who, tenant_id)
        authorize(app, ctx, SEARCH_ACTION, row.tenant_id)
        out = present(app, uow, row, plain=plain)
        uow.commit()
    return out


def set_locked(app: "App", ctx: "RequestContext", who: str, locked: bool, tenant_id: str | None = None) -> dict[str, Any]:
    with app.uow(ctx) as uow:
        row = find(uow.session, who, tenant_id)
        authorize(app, ctx, UPDATE_ACTION, row.tenant_id)
        check_manage(ctx, uow.session, row)
        before = {"locked": is_locked(row, ctx.now())}
        row.locked_by_admin = locked
        if not locked and before["locked"]:
            # the lock ends now: failed logins before this instant no longer count towards the
            # next lock (DIGIT's unlock resets them, UserService.updateWithoutOtpValidation)
            row.locked_until = ctx.now()
        row.updated_at = ctx.now()
        after: dict[str, Any] = {"locked": locked}
        if locked:
            after["sessionsRevoked"] = revoke_sessions(uow.session, row.uuid, ctx.now())
        uow.record(Event("user.locked" if locked else "user.unlocked", row.tenant_id, "User", row.uuid,
                         UPDATE_ACTION, {"user": {"uuid": row.uuid, "userName": row.user_name,
                                                  "accountLocked": locked}},
                         before=before, after=after))
        out = present(app, uow, row)
        uow.commit()
    return out


def update_user(app: "App", ctx: "RequestContext", who: str, *, tenant_id: str | None = None,
                name: str | None = None, mobile: str | None = None, email: str | None = None,
                add_roles: list[tuple[str, str]] | None = None, remove_roles: list[tuple[str, str]] | None = None,
                active: bool | None = None) -> dict[str, Any]:
    with app.uow(ctx) as uow:
        s = uow.session
        row = find(s, who, tenant_id)
        authorize(app, ctx, UPDATE_ACTION, row.tenant_id)
        check_manage(ctx, s, row)
        before = user_json(s, row, app, decrypt=False)
        ring = app.keyring
        state = state_of(row.tenant_id)
        if name is not None:
            if not name.strip():
                raise InvalidInput("INVALID_NAME", "a name is required")
            safetext.check_text(name.strip(), "name", max_length=safetext.NAME_MAX)
            row.name_enc = ring.encrypt(s, row.tenant_id, name.strip())
        if mobile is not None:
            m = normalize_mobile(mobile)
            if not valid_mobile(m):
                raise InvalidInput("INVALID_MOBILE_NUMBER", "a mobile number is 10 digits starting with 6-9")
            row.mobile_enc, row.mobile_bidx = ring.encrypt(s, row.tenant_id, m), ring.blind_index(row.tenant_id, m, "mobile")
        if email is not None:
            if "@" not in email:
                raise InvalidInput("INVALID_EMAIL", "an e-mail address needs an @")
            row.email_enc = ring.encrypt(s, row.tenant_id, email)
        if remove_roles:
            check_grant(ctx, remove_roles)         # taking a role away needs the right to grant it
        if add_roles:
            check_grant(ctx, add_roles)
            known = _known_roles(app, state)
            have = set(roles_of(s, row.uuid))
            for code, t in add_roles:
                if code not in BUILTIN_ROLES and code not in known:
                    raise InvalidInput("INVALID_ROLE", f"role {code!r} is not in ACCESSCONTROL-ROLES", {"role": code})
                if (code, t) not in have:
                    s.add(UserRole(user_uuid=row.uuid, code=code, tenant_id=t))
        for code, t in remove_roles or []:
            s.execute(delete(UserRole).where(UserRole.user_uuid == row.uuid, UserRole.code == code,
                                             UserRole.tenant_id == t))
        if active is not None:
            row.active = active
        row.updated_at = ctx.now()
        s.flush()
        if not roles_of(s, row.uuid):
            raise InvalidInput("INVALID_ROLE", "a user must keep at least one role", {"userName": row.user_name})
        after = user_json(s, row, app, decrypt=False)
        uow.record(Event("user.updated", row.tenant_id, "User", row.uuid, UPDATE_ACTION, {"user": after},
                         before=before, after=after))
        out = present(app, uow, row)
        uow.commit()
    return out


def actor_by_name(app: "App", who: str) -> Actor:
    """The Actor (uuid, roles) behind a user name or uuid; the caller authorizes the lookup."""
    with app.uow(app.base_context(), readonly=True) as uow:
        return actor_of(uow.session, find(uow.session, who))


def searchable_actor(app: "App", ctx: "RequestContext", who: str) -> Actor:
    """The Actor behind `who` for a caller who may search users (checked by the caller BEFORE
    this lookup). A user at a tenant where the caller may not search users is USER_NOT_FOUND,
    word for word as one that does not exist: the answer says nothing about them."""
    with app.uow(app.base_context(), readonly=True) as uow:
        row = find(uow.session, who)
        try:
            authorize(app, ctx, SEARCH_ACTION, row.tenant_id)
        except Forbidden:
            raise NotFound("USER_NOT_FOUND", f"no user {who!r}", {"userName": who}) from None
        return actor_of(uow.session, row)


def uuids_of(app: "App", names: list[str]) -> list[str]:
    """User names (or uuids) to uuids, e.g. for workflow assignees; unknown → USER_NOT_FOUND."""
    if not names:
        return []
    with app.uow(app.base_context(), readonly=True) as uow:
        return [find(uow.session, n).uuid for n in names]


def actor_of(s: "Session", row: UserAccount) -> Actor:
    return Actor(uuid=row.uuid, user_name=row.user_name, type=row.type,
                 roles=tuple(Role(c, t) for c, t in roles_of(s, row.uuid)))


# -- bulk ------------------------------------------------------------------------------------------
def read_bulk(path: Path, default_tenant: str) -> list[NewUser]:
    """CSV (type,username,name,mobile,email,gender,tenant,roles,department,designation,jurisdictions,password;
    lists separated by ';') or DIGIT JSON: {"Employees": [...]} as HRMS takes it, or {"users"/"user": [...]}."""
    if not path.is_file():
        raise InvalidInput("FILE_NOT_FOUND", f"no such file: {path}", {"file": str(path)})
    if path.suffix.lower() == ".csv":
        out: list[NewUser] = []
        with path.open(newline="", encoding="utf-8-sig") as fh:
            for i, r in enumerate(csv.DictReader(fh), start=2):
                tenant = (r.get("tenant") or default_tenant).strip()
                emp = None
                if (r.get("type") or "").upper() == "EMPLOYEE" and r.get("department"):
                    emp = EmployeeSpec(department=r["department"].strip(), designation=(r.get("designation") or "").strip(),
                                       jurisdictions=[j.strip() for j in (r.get("jurisdictions") or "").split(";") if j.strip()])
                out.append(NewUser(user_name=(r.get("username") or "").strip(), name=(r.get("name") or "").strip(),
                                   type=(r.get("type") or "CITIZEN").strip(), tenant_id=tenant,
                                   mobile=(r.get("mobile") or "").strip() or None,
                                   email=(r.get("email") or "").strip() or None,
                                   gender=(r.get("gender") or "").strip() or None,
                                   roles=[parse_role(x, tenant) for x in (r.get("roles") or "").split(";") if x.strip()],
                                   password=(r.get("password") or None), employee=emp))
        return out
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as err:
        raise InvalidInput("INVALID_JSON", f"{path}: {err}", {"file": str(path)}) from None
    items: list[NewUser] = []
    for e in doc.get("Employees") or []:
        u = e.get("user") or {}
        tenant = e.get("tenantId") or u.get("tenantId") or default_tenant
        a = (e.get("assignments") or [{}])[0]
        items.append(NewUser(
            user_name=u.get("userName") or e.get("code") or "", name=u.get("name") or "", type="EMPLOYEE",
            tenant_id=tenant, mobile=u.get("mobileNumber"), email=u.get("emailId"), gender=u.get("gender"),
            roles=[(r["code"], r.get("tenantId") or tenant) for r in u.get("roles") or []],
            password=u.get("password"),
            employee=EmployeeSpec(department=a.get("department") or "", designation=a.get("designation") or "",
                                  code=e.get("code"), employee_type=e.get("employeeType") or "PERMANENT",
                                  jurisdictions=[j.get("boundary") for j in e.get("jurisdictions") or [] if j.get("boundary")])))
    for u in doc.get("users") or doc.get("user") or []:
        tenant = u.get("tenantId") or default_tenant
        items.append(NewUser(user_name=u.get("userName") or "", name=u.get("name") or "", type=u.get("type") or "CITIZEN",
                             tenant_id=tenant, mobile=u.get("mobileNumber"), email=u.get("emailId"),
                             gender=u.get("gender"), password=u.get("password"),
                             roles=[(r["code"], r.get("tenantId") or tenant) for r in u.get("roles") or []]))
    if not items:
        raise InvalidInput("INVALID_JSON", f"{path} has no Employees or users", {"file": str(path)})
    return items


def import_users(app: "App", ctx: "RequestContext", path: Path) -> list[dict[str, Any]]:
    """All or nothing: one refused row refuses the file, naming the row."""
    with app.uow(ctx) as uow:
        specs = read_bulk(path, uow.meta("state_tenant") or "")
        created = []
        for n, spec in enumerate(specs, start=1):
            try:
                request_tenant = spec.tenant_id
                spec = validate(app, spec, uow.meta("state_tenant"))
                authorize_create(app, ctx, spec, request_tenant)
                created.append(create_in(uow, app, spec))
            except InvalidInput as err:
                raise type(err)(err.code, f"record {n} ({spec.user_name or '?'}): {err.message}; nothing imported",
                                {**err.params, "record": n}) from None
        out = [present(app, uow, row) for row in created]
        uow.commit()
    return out
