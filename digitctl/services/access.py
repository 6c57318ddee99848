"""The single access check every service operation passes through.

Each operation names the DIGIT action URL it corresponds to. Until the identity issue lands
role-action evaluation, the only actor is the store's local SYSTEM administrator, who holds
SUPERUSER for every tenant; the check still runs (and records which URL was asked) so that
the real policy slots in without touching any service."""
from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from digitctl.errors import Forbidden

if TYPE_CHECKING:
    from digitctl.bootstrap import App
    from digitctl.context import RequestContext


class Authorizer(Protocol):
    def authorize(self, ctx: "RequestContext", action_url: str, tenant_id: str | None) -> None: ...


class SuperuserOnly:
    """Allows an actor holding SUPERUSER for '*' or the tenant; refuses everyone else."""

    def authorize(self, ctx: "RequestContext", action_url: str, tenant_id: str | None) -> None:
        for role in ctx.actor.roles:
            if role.code == "SUPERUSER" and role.tenant_id in ("*", tenant_id,
                                                               (tenant_id or "").split(".")[0]):
                return
        raise Forbidden("ACCESS_DENIED",
                        f"{ctx.actor.user_name} is not authorized for {action_url} at {tenant_id}",
                        {"action": action_url, "tenantId": tenant_id})


def default_authorizer(app: "App") -> Authorizer:
    return SuperuserOnly()


def authorize(app: "App", ctx: "RequestContext", action_url: str, tenant_id: str | None) -> None:
    app.authorizer.authorize(ctx, action_url, tenant_id)
