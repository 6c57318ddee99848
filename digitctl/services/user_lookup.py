"""Finding users as a person names them, and a citizen's user name. A citizen's user name is their
mobile number (DIGIT's citizens log in with it), so the store keeps it as a pseudonym, `bidx:` + the
first 24 hex digits of the state's blind index of the number (see `digitctl.services.users`).
Lookups (`find`, login, `user show 98...`) take the name as the person types it and try its
pseudonym too; display shows the number, masked as the SecurityPolicy says for `mobileNumber`."""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from digitctl.context import Actor, Role
from digitctl.domain.events import Event
from digitctl.domain.identity import normalize_mobile, valid_mobile
from digitctl.domain.tenancy import state_of
from digitctl.errors import Forbidden, InvalidInput, NotFound
from digitctl.services.access import authorize
from local_store.models import UserAccount, UserRole

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from digitctl.ports import App
    from digitctl.context import RequestContext
    from local_store.uow import UnitOfWork

SEARCH_ACTION = "/user/_search"
PSEUDONYM_PREFIX = "bidx:"      # never in a chosen user name (USERNAME_RE has no ':')
PSEUDONYM_HEX = 24              # 96 bits of the blind index: no two numbers of a state collide
PSEUDONYMIZE_ACTION = "/digitctl/user/_pseudonymize"
_PHONE_TYPED = re.compile(r"\+?[0-9][0-9 ()-]{8,}")


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
    from digitctl.ports import APP_INFO

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
        if name_is_mobile(app, row, mobile):
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


def roles_of(s: "Session", user_uuid: str) -> list[tuple[str, str]]:
    return [(r.code, r.tenant_id) for r in s.execute(
        select(UserRole).where(UserRole.user_uuid == user_uuid).order_by(UserRole.id)).scalars()]


def name_is_mobile(app: "App", row: UserAccount, mobile: str | None) -> bool:
    """Is the citizen's user name their (current) mobile number, kept plain or as its pseudonym?"""
    return row.type == "CITIZEN" and bool(mobile) and (
        row.user_name == mobile or row.user_name == pseudonym(app, row.tenant_id, str(mobile)))


def at_tenant(tenant_id: str) -> Any:
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
        q = q.where(at_tenant(state))
    return list(s.execute(q).scalars())


def find(s: "Session", who: str, tenant_id: str | None = None) -> UserAccount:
    """By uuid, or by user name as typed (a citizen's mobile number finds its pseudonym; with the
    tenant when the name exists at several)."""
    row = s.get(UserAccount, who)
    if row is not None:
        return row
    q = select(UserAccount).where(UserAccount.user_name.in_(names_for(s, who, tenant_id)))
    if tenant_id:
        q = q.where(at_tenant(tenant_id))
    rows = list(s.execute(q).scalars())
    if not rows:
        raise NotFound("USER_NOT_FOUND", f"no user {who!r}" + (f" at {tenant_id}" if tenant_id else ""),
                       {"userName": who})
    if len(rows) > 1:
        raise InvalidInput("AMBIGUOUS_USERNAME", f"{who!r} exists at {', '.join(r.tenant_id for r in rows)}; "
                           "pass --tenant", {"userName": who})
    return rows[0]


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
