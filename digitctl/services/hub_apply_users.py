"""The hub applies a counter's users (see hub_apply). The PII arrives opened in the event (the
counter's wire opens it, sync/PROTOCOL.md) and is sealed here with the hub's keys; it is never
logged nor put in a refusal.

- user.created: the user with the counter's uuid, through the users service's own checks
  (users.validate, users.create_in: a user name the state has already is parked
  USER.USER_NAME_ALREADY_EXISTS). A citizen's user name is its mobile number (the counter keeps a
  keyed pseudonym of it, which means nothing at the hub). No password travels with it: the user
  logs in where the password was set until a password change (below) carries its hash.
- user.updated: the hub's user (by uuid) takes the name, mobile, e-mail, active flag and roles
  the counter left.
- user.locked / unlocked by an administrator: the lock, the sessions ended as a lock ends them.
  A lock from failed logins at a counter (operation /user/oauth/token) is that counter's own
  throttle: recorded only.
- user.password.changed: the event carries the new password's HASH (never the password): the
  hub's user takes it, and that user's sessions at the hub end, as a password change ends them
  where it was made; the users stream then brings the hash to the state's other counters. A
  change older than the password the hub holds (changed at the hub or another counter since) is
  recorded only. An event from before hashes travelled (no hash) is recorded only.
"""
from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete

from digitctl.domain.events import Event
from digitctl.domain.identity import EmployeeSpec, NewUser
from digitctl.domain.sync_events import Parked, ReceivedEvent
from digitctl.services import users
from digitctl.services.hub_apply_common import APPLIED, E_EVENT_MALFORMED, RECORDED, authorize_event, opened
from local_store.models import UserAccount, UserRole

if TYPE_CHECKING:
    from digitctl.ports import App
    from digitctl.context import RequestContext
    from local_store.uow import UnitOfWork

LOGIN_ACTION = "/user/oauth/token"
ADMIN_PASSWORD_ACTION = "/user/users/_updatenovalidate"


def _user(ev: ReceivedEvent) -> dict[str, Any]:
    doc = ev.payload.get("user")
    if not isinstance(doc, dict) or not doc.get("uuid"):
        raise Parked(E_EVENT_MALFORMED, f"{ev.event_type} without its user", {"eventId": ev.event_id})
    return doc


def _hub_user(uow: "UnitOfWork", doc: dict[str, Any]) -> UserAccount:
    row = uow.session.get(UserAccount, str(doc["uuid"]))
    if row is None:
        raise Parked("USER_NOT_FOUND", f"the hub has no user {doc['uuid']}", {"uuid": doc["uuid"]})
    return row


def user_created(app: "App", uow: "UnitOfWork", ctx: "RequestContext", ev: ReceivedEvent) -> str:
    doc = _user(ev)
    if uow.session.get(UserAccount, str(doc["uuid"])) is not None:
        return APPLIED
    kind = str(doc.get("type") or "")
    mobile = opened(app, uow, doc.get("mobileNumber"))
    name = str(doc.get("userName") or "")
    if kind.upper() == "CITIZEN" and mobile and name.startswith(users.PSEUDONYM_PREFIX):
        name = mobile
    emp = doc.get("employee") if isinstance(doc.get("employee"), dict) else None
    assignment = next((a for a in (emp or {}).get("assignments") or [] if a.get("isCurrentAssignment")), None)
    spec = NewUser(
        user_name=name, name=opened(app, uow, doc.get("name")) or "", type=kind, tenant_id=doc.get("tenantId"),
        mobile=mobile, email=opened(app, uow, doc.get("emailId")), gender=doc.get("gender"),
        locale=str(doc.get("locale") or "en_IN"),
        roles=[(str(r["code"]), str(r["tenantId"])) for r in doc.get("roles") or [] if isinstance(r, dict)],
        uuid=str(doc["uuid"]),
        employee=EmployeeSpec(department=str(assignment.get("department")),
                              designation=str(assignment.get("designation")), code=emp.get("code"),
                              jurisdictions=[str(j["boundary"]) for j in emp.get("jurisdictions") or []
                                             if isinstance(j, dict) and j.get("boundary")],
                              employee_type=str(emp.get("employeeType") or "PERMANENT"))
        if emp is not None and assignment is not None else None)
    spec = users.validate(app, spec, uow.meta("state_tenant"))
    users.create_in(uow, app, spec)
    return APPLIED


def user_updated(app: "App", uow: "UnitOfWork", ctx: "RequestContext", ev: ReceivedEvent) -> str:
    doc = _user(ev)
    row = _hub_user(uow, doc)
    s, ring, tenant = uow.session, app.keyring, row.tenant_id
    name, mobile, email = (opened(app, uow, doc.get(k)) for k in ("name", "mobileNumber", "emailId"))
    if name:
        row.name_enc = ring.encrypt(uow, tenant, name)
    row.mobile_enc = ring.encrypt(uow, tenant, mobile) if mobile else None
    row.mobile_bidx = ring.blind_index(tenant, mobile, "mobile") if mobile else None
    row.email_enc = ring.encrypt(uow, tenant, email) if email else None
    if isinstance(doc.get("active"), bool):
        row.active = doc["active"]
    wanted = {(str(r["code"]), str(r["tenantId"])) for r in doc.get("roles") or [] if isinstance(r, dict)}
    held = set(users.roles_of(s, row.uuid))
    for code, t in sorted(held - wanted):
        s.execute(delete(UserRole).where(UserRole.user_uuid == row.uuid, UserRole.code == code,
                                         UserRole.tenant_id == t))
    for code, t in sorted(wanted - held):
        s.add(UserRole(user_uuid=row.uuid, code=code, tenant_id=t))
    row.updated_at = ctx.now()
    s.flush()
    after = users.user_json(s, row, app, decrypt=False)
    uow.record(Event(ev.event_type, tenant, "User", row.uuid, str(ev.audit.get("operation")), {"user": after},
                     before=None, after=after))
    return APPLIED


def user_locked(app: "App", uow: "UnitOfWork", ctx: "RequestContext", ev: ReceivedEvent) -> str:
    if ev.audit.get("operation") == LOGIN_ACTION:
        return RECORDED
    doc = _user(ev)
    row = _hub_user(uow, doc)
    locked = ev.event_type == "user.locked"
    if row.locked_by_admin == locked:
        return APPLIED
    now = ctx.now()
    row.locked_by_admin = locked
    if not locked:
        row.locked_until = now
    row.updated_at = now
    after: dict[str, Any] = {"locked": locked}
    if locked:
        after["sessionsRevoked"] = users.revoke_sessions(uow.session, row.uuid, now)
    uow.session.flush()
    uow.record(Event(ev.event_type, row.tenant_id, "User", row.uuid, str(ev.audit.get("operation")),
                     {"user": {"uuid": row.uuid, "userName": row.user_name, "accountLocked": locked}},
                     before={"locked": not locked}, after=after))
    return APPLIED


def password_changed(app: "App", uow: "UnitOfWork", ctx: "RequestContext", ev: ReceivedEvent) -> str:
    doc = _user(ev)
    hashed, at = doc.get("passwordHash"), doc.get("passwordChangedAt")
    if not isinstance(hashed, str) or not hashed or not isinstance(at, int):
        return RECORDED                 # pushed before hashes travelled: nothing to apply
    row = _hub_user(uow, doc)
    if row.password_hash == hashed:
        return APPLIED
    changed = dt.datetime.fromtimestamp(at / 1000, dt.timezone.utc)
    if row.password_changed_at is not None and row.password_changed_at > changed:
        return RECORDED                 # the hub holds a newer password than this change
    if ctx.actor.uuid != row.uuid:      # an administrator set it for the user, as auth.set_password checks
        authorize_event(app, ctx, ev, ADMIN_PASSWORD_ACTION, row.tenant_id)
        users.check_manage(ctx, uow.session, row)
    now = ctx.now()
    row.password_hash, row.password_changed_at, row.updated_at = hashed, changed, now
    revoked = users.revoke_sessions(uow.session, row.uuid, now)
    uow.session.flush()
    uow.record(Event(ev.event_type, row.tenant_id, "User", row.uuid, str(ev.audit.get("operation")),
                     {"user": {"uuid": row.uuid, "userName": row.user_name}},
                     before=None, after={"password": "changed", "sessionsRevoked": revoked,
                                         "counterCode": ev.counter_code}))
    return APPLIED
