"""Master data the hub sent down (`digitctl sync pull`, stream `mdms`): MDMS's writer of pulled
records, so this counter bills and checks with the state's masters. Records are upserted by their
identity (tenant, module, master, unique key) with the hub's position and active flag; the hub's
MDMS version and master-config are adopted with them (a payment then records the hub's version it
was taken under), and the MDMS cache is dropped after the commit (the caller does)."""
from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, insert, select, tuple_, update

from digitctl.domain.canonical import content_hash
from digitctl.services.mdms_reader import MASTER_CONFIG, MDMS_VERSION
from local_store.models import MdmsRecord

if TYPE_CHECKING:
    from local_store.uow import UnitOfWork


def store(uow: "UnitOfWork", page: dict[str, Any], now: dt.datetime) -> int:
    """Upsert the page's records; adopt the hub's version and master-config. Rows written."""
    items = page.get("items") or []
    conn = uow.session.connection()
    t = MdmsRecord.__table__
    keys = [(str(i["tenantId"]), str(i["module"]), str(i["master"]), str(i["uniqueKey"])) for i in items]
    have: dict[tuple[str, str, str, str], Any] = {}
    for lo in range(0, len(keys), 300):
        chunk = keys[lo:lo + 300]
        have.update({(r.tenant_id, r.module, r.master, r.unique_key): (r.id, r.data_hash, r.is_active, r.position)
                     for r in conn.execute(select(t.c.id, t.c.tenant_id, t.c.module, t.c.master, t.c.unique_key,
                                                  t.c.data_hash, t.c.is_active, t.c.position).where(
                         tuple_(t.c.tenant_id, t.c.module, t.c.master, t.c.unique_key).in_(chunk)))})
    fresh, old = [], []
    for key, item in zip(keys, items):
        h = content_hash(item["data"])
        active, pos = bool(item.get("isActive", True)), int(item.get("position") or 0)
        held = have.get(key)
        if held is None:
            fresh.append({"tenant_id": key[0], "module": key[1], "master": key[2], "unique_key": key[3],
                          "position": pos, "data": item["data"], "data_hash": h,
                          "source": str(item.get("source") or "hub"), "is_active": active,
                          "created_at": now, "updated_at": now})
        elif (held[1], held[2], held[3]) != (h, active, pos):
            old.append({"b_id": held[0], "data": item["data"], "data_hash": h, "is_active": active,
                        "position": pos, "updated_at": now})
    if fresh:
        conn.execute(insert(t), fresh)
    if old:
        conn.execute(update(t).where(t.c.id == bindparam("b_id")).values(
            data=bindparam("data"), data_hash=bindparam("data_hash"), is_active=bindparam("is_active"),
            position=bindparam("position"), updated_at=bindparam("updated_at")), old)
    if page.get("mdmsVersion") and page["mdmsVersion"] != uow.meta(MDMS_VERSION):
        uow.set_meta(MDMS_VERSION, str(page["mdmsVersion"]))
    if page.get("masterConfig") and page["masterConfig"] != uow.meta(MASTER_CONFIG):
        uow.set_meta(MASTER_CONFIG, str(page["masterConfig"]))
    return len(fresh) + len(old)
