"""Workflow definitions the hub sent down (`digitctl sync pull`, stream `workflow`): the workflow
tables' writer of pulled BusinessService versions, so an application at this counter moves by the
state's current definition. Each (tenant, code, version) is upserted as the hub has it, and the
hub's current version becomes the current one here."""
from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, bindparam, insert, select, update

from local_store.models import WfBusinessService

if TYPE_CHECKING:
    from local_store.uow import UnitOfWork


def _at(ms: Any, now: dt.datetime) -> dt.datetime:
    return dt.datetime.fromtimestamp(int(ms) / 1000, dt.timezone.utc) if ms is not None else now


def store(uow: "UnitOfWork", items: list[dict[str, Any]], now: dt.datetime) -> int:
    conn = uow.session.connection()
    t = WfBusinessService.__table__
    written = 0
    for item in items:
        tenant, code, version = str(item["tenantId"]), str(item["businessService"]), int(item["version"])
        row = conn.execute(select(t.c.id, t.c.definition_hash, t.c.is_current).where(
            t.c.tenant_id == tenant, t.c.code == code, t.c.version == version)).first()
        current = bool(item.get("isCurrent"))
        if current:          # one current version per (tenant, code): the hub's
            conn.execute(update(t).where(t.c.tenant_id == tenant, t.c.code == code, t.c.version != version,
                                         t.c.is_current.is_(True)).values(is_current=False))
        if row is None:
            conn.execute(insert(t).values(tenant_id=tenant, code=code, business=item.get("business"), version=version,
                                          sla_ms=item.get("slaMs"), definition=item["definition"],
                                          definition_hash=str(item["definitionHash"]), is_current=current,
                                          created_at=_at(item.get("createdTime"), now)))
            written += 1
        elif (row.definition_hash, row.is_current) != (item["definitionHash"], current):
            conn.execute(update(t).where(and_(t.c.id == bindparam("b_id"))).values(
                definition=bindparam("definition"), definition_hash=bindparam("h"), is_current=bindparam("cur"),
                sla_ms=bindparam("sla")), [{"b_id": row.id, "definition": item["definition"],
                                            "h": str(item["definitionHash"]), "cur": current,
                                            "sla": item.get("slaMs")}])
            written += 1
    uow.session.expire_all()
    return written
