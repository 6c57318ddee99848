"""How users travel down to a counter (`sync pull`, stream `users`): the account with its roles,
password hash and lock, personal fields opened for the trip (sealed again with the counter's keys
on arrival, services.users_pulled). Only accounts of the counter's own tenant (or a city below
it) are ever selected (hub_pull), so no counter receives another tenant's people."""
from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from local_store.models import UserAccount, UserRole

if TYPE_CHECKING:
    from digitctl.ports import App


def _open(app: "App", uow: Any, value: str | None) -> str | None:
    return app.keyring.decrypt(uow, value) if value else None


def _ms(value: dt.datetime | None) -> int | None:
    return int(value.timestamp() * 1000) if value is not None else None


def user_docs(app: "App", uow: Any, s: Session, rows: list[UserAccount]) -> list[dict[str, Any]]:
    if not rows:
        return []
    roles: dict[str, list[dict[str, str]]] = {}
    for r in s.execute(select(UserRole).where(UserRole.user_uuid.in_([u.uuid for u in rows]))
                       .order_by(UserRole.code, UserRole.tenant_id)).scalars():
        roles.setdefault(r.user_uuid, []).append({"code": r.code, "tenantId": r.tenant_id})
    return [{"uuid": u.uuid, "userName": u.user_name, "tenantId": u.tenant_id, "type": u.type,
             "name": _open(app, uow, u.name_enc), "mobileNumber": _open(app, uow, u.mobile_enc),
             "emailId": _open(app, uow, u.email_enc), "gender": u.gender, "locale": u.locale, "active": u.active,
             "passwordHash": u.password_hash, "passwordChangedAt": _ms(u.password_changed_at),
             "lockedUntil": _ms(u.locked_until), "lockedByAdmin": u.locked_by_admin,
             "createdTime": _ms(u.created_at), "roles": roles.get(u.uuid, [])}
            for u in rows]
