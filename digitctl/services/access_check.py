"""`digitctl access check [--user U]`: the access decision for the caller or for a named user.

It joins the access rule (services.access) with the user lookup (services.users), so it lives
apart from both: access is the check every service passes through, and the user services
authorize through it, so access itself must not import them (no import circle)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from digitctl.services.access import Decision, RoleActionAuthorizer, authorize
from digitctl.services.user_lookup import names_self, searchable_actor

if TYPE_CHECKING:
    from digitctl.context import Actor, RequestContext
    from digitctl.ports import App


def check(app: "App", ctx: "RequestContext", action_url: str, tenant_id: str,
          user: str | None = None) -> "tuple[Actor, Decision]":
    """The decision for the caller, or for `user` (a name or uuid). Asking about someone else
    needs /user/_search at the tenant, checked BEFORE the user is looked up, so that a caller who
    may not ask learns nothing, not even whether the user exists; a user at a tenant where the
    caller may not search users is USER_NOT_FOUND."""
    authorizer = app.authorizer
    assert isinstance(authorizer, RoleActionAuthorizer)
    actor = ctx.actor
    if user is not None and user not in (actor.user_name, actor.uuid) and not names_self(app, actor, user):
        authorize(app, ctx, "/user/_search", tenant_id)
        actor = searchable_actor(app, ctx, user)
    return actor, authorizer.decide(actor, action_url, tenant_id)
