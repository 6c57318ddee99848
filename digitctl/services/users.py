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

import datetime as dt
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select, update

from digitctl.domain import safetext
from digitctl.domain.events import Event
# EmployeeSpec, NewUser, parse_role and covers live in the domain; re-exported here as `users.X`
from digitctl.domain.identity import (USER_TYPES, USERNAME_RE, EmployeeSpec, NewUser, PasswordPolicy,  # noqa: F401
                                      covers, hash_password, normalize_mobile, parse_role, valid_mobile)
from digitctl.domain.tenancy import state_of
from digitctl.errors import Conflict, InvalidInput
from digitctl.services.access import authorize
from digitctl.services.user_bulk import read_bulk
# the user services are split by seam; `users.X` keeps naming every one of them
from digitctl.services.user_grants import (CREATE_ACTION, CREATE_EMPLOYEE_ACTION, authorize_create,  # noqa: F401
                                           check_grant, check_manage)
from digitctl.services.user_json import employee_json, is_locked, present, user_json  # noqa: F401
from digitctl.services.user_lookup import (PSEUDONYM_HEX, PSEUDONYM_PREFIX, PSEUDONYMIZE_ACTION,  # noqa: F401
                                           SEARCH_ACTION, actor_by_name, actor_of, at_tenant, find, holders_of,
                                           names_for, names_self, own_user_name, pseudonym, pseudonymize_citizens,
                                           roles_of, searchable_actor, shown_name, stored_user_name, typed_mobile,
                                           uuids_of)
from local_store.models import (Employee, EmployeeAssignment, EmployeeJurisdiction, SessionToken,
                                UserAccount, UserRole)

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy.orm import Session

    from digitctl.ports import App
    from digitctl.context import RequestContext
    from local_store.uow import UnitOfWork

UPDATE_ACTION = "/user/users/_updatenovalidate"
BUILTIN_ROLES = {"SUPERUSER"}   # init creates the first superuser before any master data exists


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
        uuid=spec.uuid or str(uuid.uuid4()), user_name=user_name, tenant_id=tenant, type=spec.type,
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


def list_users(app: "App", ctx: "RequestContext", tenant_id: str | None = None, user_type: str | None = None,
               role: str | None = None, mobile: str | None = None) -> list[dict[str, Any]]:
    with app.uow(ctx) as uow:
        authorize(app, ctx, SEARCH_ACTION, tenant_id or uow.meta("state_tenant"))
        q = select(UserAccount).order_by(UserAccount.tenant_id, UserAccount.user_name)
        if tenant_id:
            q = q.where(at_tenant(tenant_id))
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


def import_users(app: "App", ctx: "RequestContext", path: Path,
                 progress: "Callable[[int, int], None] | None" = None) -> list[dict[str, Any]]:
    """All or nothing: one refused row refuses the file, naming the row. `progress(done, total)`
    after each record (a front door draws a bar)."""
    with app.uow(ctx) as uow:
        specs = read_bulk(path, uow.meta("state_tenant") or "")
        created = []
        for n, spec in enumerate(specs, start=1):
            try:
                request_tenant = spec.tenant_id
                spec = validate(app, spec, uow.meta("state_tenant"))
                authorize_create(app, ctx, spec, request_tenant)
                created.append(create_in(uow, app, spec))
                if progress is not None:
                    progress(n, len(specs))
            except InvalidInput as err:
                raise type(err)(err.code, f"record {n} ({spec.user_name or '?'}): {err.message}; nothing imported",
                                {**err.params, "record": n}) from None
        out = [present(app, uow, row) for row in created]
        uow.commit()
    return out
