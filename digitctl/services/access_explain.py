"""`access show ROLE` (what a role may do) and `access why --user U --tenant T` (what a user may
do there, role by role), read from the state's role-action masters as egov-accesscontrol does
(`/access/v1/actions/mdms/_get` gives the actions of roles)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from digitctl.domain.tenancy import state_of
from digitctl.errors import InvalidInput
from digitctl.services.access import RESERVED_ROLE, RoleActionAuthorizer, authorize

if TYPE_CHECKING:
    from digitctl.ports import App
    from digitctl.context import RequestContext

ACTIONS_URL = "/access/v1/actions/mdms/_get"


def _authorizer(app: "App") -> RoleActionAuthorizer:
    authorizer = app.authorizer
    assert isinstance(authorizer, RoleActionAuthorizer)
    return authorizer


def actions_of(app: "App", tenant_id: str, role: str) -> list[dict[str, str]]:
    """The actions (id, url) the role-action masters give `role`, by URL."""
    idx = _authorizer(app)._index(tenant_id)
    url_of = {aid: url for url, ids in idx.exact.items() for aid in ids}
    return sorted(({"id": aid, "url": url_of.get(aid, "?")} for aid, roles in idx.roles_by_action.items()
                   if role in roles), key=lambda a: (a["url"], a["id"]))


def show_role(app: "App", ctx: "RequestContext", role: str, tenant_id: str | None = None) -> dict[str, Any]:
    """What `role` may do: its actions at the state (role-actions are read there)."""
    state = state_of(tenant_id or ctx.tenant_id or app.state_tenant or "")
    if not state:
        raise InvalidInput("INVALID_TENANTID", "a tenant is needed (--tenant pb)")
    authorize(app, ctx, ACTIONS_URL, state)
    code = role.strip().upper()
    roles = app.mdms.master(state, "ACCESSCONTROL-ROLES", "roles")
    known = {r.get("code"): r for r in roles if isinstance(r, dict)}
    if known and code not in known:
        raise InvalidInput("INVALID_ROLE", f"no role {code!r} in ACCESSCONTROL-ROLES at {state}", {"role": code})
    doc = {"role": code, "name": (known.get(code) or {}).get("name"), "tenantId": state,
           "actions": actions_of(app, state, code)}
    if code == RESERVED_ROLE:
        doc["note"] = f"{RESERVED_ROLE} also holds every URL that is not a DIGIT action (digitctl's own)"
    return doc


def why(app: "App", ctx: "RequestContext", tenant_id: str, user: str | None = None) -> dict[str, Any]:
    """What `user` (default: the caller) may do at `tenant_id`: the roles that count there (the
    tenant's own, the state's, and any '*'), each with its actions; asking about someone else
    needs /user/_search, as `access check --user` does."""
    from digitctl.services import users

    if not tenant_id:
        raise InvalidInput("INVALID_TENANTID", "a tenant is needed (--tenant pb.amritsar)")
    actor = ctx.actor
    if user is not None and user not in (actor.user_name, actor.uuid) and not users.names_self(app, actor, user):
        authorize(app, ctx, "/user/_search", tenant_id)
        actor = users.searchable_actor(app, ctx, user)
    state = state_of(tenant_id)
    counted = [(r.code, r.tenant_id) for r in actor.roles if r.tenant_id in (tenant_id, state, "*")]
    elsewhere = [f"{r.code}@{r.tenant_id}" for r in actor.roles if (r.code, r.tenant_id) not in counted]
    return {"userName": user or actor.user_name, "tenantId": tenant_id,
            "roles": [{"code": c, "tenantId": t, "actions": actions_of(app, tenant_id, c)} for c, t in counted],
            "rolesElsewhere": elsewhere}
