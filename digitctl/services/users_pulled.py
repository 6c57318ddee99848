"""Users the hub sent down (`digitctl sync pull`, stream `users`): the identity tables' writer of
pulled accounts, so employees enrolled or changed at the state log in at this counter offline.
An account is upserted by its uuid with its password hash, lock and active flag; its roles are
replaced by the hub's; personal fields are sealed with this store's keys and the mobile
blind-indexed. An account locked or deactivated at the hub, or whose password changed there (at
the hub or at another counter), ends its sessions here too. An account
changed here that the hub has not acknowledged yet, or whose user name is another account's here,
is left as it is (counted as skipped)."""
from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, delete, insert, select, update

from local_store.models import SessionToken, UserAccount, UserRole

if TYPE_CHECKING:
    from digitctl.ports import App
    from local_store.uow import UnitOfWork


def _at(ms: Any) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(int(ms) / 1000, dt.timezone.utc) if ms is not None else None


def store(app: "App", uow: "UnitOfWork", items: list[dict[str, Any]], now: dt.datetime, held: set[str]) -> int:
    """Upsert the pulled accounts (uuids in `held` skipped); returns how many were written."""
    conn = uow.session.connection()
    t = UserAccount.__table__
    docs = [d for d in items if str(d["uuid"]) not in held]
    if not docs:
        return 0
    uuids = [str(d["uuid"]) for d in docs]
    hashes = dict(conn.execute(select(t.c.uuid, t.c.password_hash).where(t.c.uuid.in_(uuids))).all())
    have = set(hashes)
    names = {(r.user_name, r.tenant_id): r.uuid for r in conn.execute(select(t.c.uuid, t.c.user_name, t.c.tenant_id)
             .where(t.c.user_name.in_([str(d["userName"]) for d in docs])))}
    docs = [d for d in docs if names.get((str(d["userName"]), str(d["tenantId"])), str(d["uuid"])) == str(d["uuid"])]
    rows = [_values(app, uow, d, now) for d in docs]
    fresh = [r for r in rows if r["uuid"] not in have]
    old = [{**{k: v for k, v in r.items() if k != "created_at"}, "b_uuid": r["uuid"]} for r in rows if r["uuid"] in have]
    if fresh:
        conn.execute(insert(t), fresh)
    if old:
        conn.execute(update(t).where(t.c.uuid == bindparam("b_uuid")).values(
            {k: bindparam(k) for k in old[0] if k not in ("b_uuid", "uuid")}), old)
    written = [str(d["uuid"]) for d in docs]
    for uuid in written:
        uow.touch("User", uuid)                 # sealed at commit: `audit verify` knows the rows
    conn.execute(delete(UserRole.__table__).where(UserRole.__table__.c.user_uuid.in_(written)))
    roles = [{"user_uuid": str(d["uuid"]), "code": str(r["code"]), "tenant_id": str(r["tenantId"])}
             for d in docs for r in d.get("roles") or []]
    if roles:
        conn.execute(insert(UserRole.__table__), roles)
    # a password changed elsewhere ends the sessions opened here under the old one, as a local change does
    shut = [r["uuid"] for r in rows if not r["active"] or (r["locked_until"] and r["locked_until"] > now)
            or r["locked_by_admin"] or (r["uuid"] in have and hashes[r["uuid"]] != r["password_hash"])]
    if shut:
        s = SessionToken.__table__
        conn.execute(update(s).where(s.c.user_uuid.in_(shut), s.c.revoked_at.is_(None)).values(revoked_at=now))
    uow.session.expire_all()
    return len(docs)


def _sealed(app: "App", uow: "UnitOfWork", tenant: str, value: Any) -> str | None:
    return app.keyring.encrypt(uow, tenant, str(value)) if value not in (None, "") else None


def _values(app: "App", uow: "UnitOfWork", d: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    tenant = str(d["tenantId"])
    mobile = d.get("mobileNumber")
    return {"uuid": str(d["uuid"]), "user_name": str(d["userName"]), "tenant_id": tenant, "type": str(d["type"]),
            "name_enc": _sealed(app, uow, tenant, d.get("name")) or _sealed(app, uow, tenant, d["userName"]),
            "mobile_enc": _sealed(app, uow, tenant, mobile),
            "mobile_bidx": app.keyring.blind_index(tenant, str(mobile), "mobile") if mobile else None,
            "email_enc": _sealed(app, uow, tenant, d.get("emailId")), "gender": d.get("gender"),
            "locale": d.get("locale"), "active": bool(d.get("active", True)), "password_hash": d.get("passwordHash"),
            "password_changed_at": _at(d.get("passwordChangedAt")), "locked_until": _at(d.get("lockedUntil")),
            "locked_by_admin": bool(d.get("lockedByAdmin")), "created_at": _at(d.get("createdTime")) or now,
            "updated_at": now}
