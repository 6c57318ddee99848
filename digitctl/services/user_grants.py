"""Who may grant, take away or manage which roles: no escalation (see check_grant), and who may
create which kind of user. The rule on plain data is `digitctl.domain.identity.ungranted`."""
from __future__ import annotations

from typing import TYPE_CHECKING

from digitctl.domain.identity import NewUser, ungranted
from digitctl.domain.tenancy import state_of
from digitctl.errors import Forbidden
from digitctl.services.access import authorize
from digitctl.services.user_lookup import roles_of

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from digitctl.ports import App
    from digitctl.context import RequestContext
    from local_store.models import UserAccount

CREATE_ACTION = "/user/users/_createnovalidate"
CREATE_EMPLOYEE_ACTION = "/egov-hrms/employees/_create"


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
    extra = ungranted([(r.code, r.tenant_id) for r in ctx.actor.roles], roles)
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
