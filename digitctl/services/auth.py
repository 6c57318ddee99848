"""Passwords: a user (or an administrator for them) sets a new one. Logging in, sessions and who
is acting live in digitctl.session."""
from __future__ import annotations

from typing import TYPE_CHECKING

from digitctl.domain.events import Event
from digitctl.domain.identity import PasswordPolicy, hash_password
from digitctl.errors import InvalidInput
from digitctl.services.users import check_manage, find, revoke_sessions

if TYPE_CHECKING:
    from digitctl.ports import App
    from digitctl.context import RequestContext

PASSWORD_ACTION = "/user/password/nologin/_update"


def set_password(app: "App", ctx: "RequestContext", who: str, password: str, tenant_id: str | None = None,
                 policy: PasswordPolicy = PasswordPolicy()) -> None:
    from digitctl.services.access import authorize

    problems = policy.problems(password)
    if problems:
        raise InvalidInput("INVALID_PASSWORD", "the password must " + ", ".join(problems))
    with app.uow(ctx) as uow:
        row = find(uow.session, who, tenant_id)
        if ctx.actor.uuid != row.uuid:
            authorize(app, ctx, "/user/users/_updatenovalidate", row.tenant_id)
            check_manage(ctx, uow.session, row)
        row.password_hash = hash_password(password)
        row.password_changed_at = ctx.now()
        # whoever held a session under the old password (a stolen token too) logs in again
        revoked = revoke_sessions(uow.session, row.uuid, ctx.now())
        # the new HASH (never the password) travels to the hub, which applies it and brings it to
        # the state's other counters (users stream); the audit record says only "changed"
        uow.record(Event("user.password.changed", row.tenant_id, "User", row.uuid, PASSWORD_ACTION,
                         {"user": {"uuid": row.uuid, "userName": row.user_name, "passwordHash": row.password_hash,
                                   "passwordChangedAt": int(row.password_changed_at.timestamp() * 1000)}},
                         after={"password": "changed", "sessionsRevoked": revoked}))
        uow.commit()
