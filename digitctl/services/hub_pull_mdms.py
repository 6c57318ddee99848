"""How master data travels down to a counter (`sync pull`, stream `mdms`): the records of the
state and of the counter's tenant (and the cities below it), active or not (a record removed at
the hub travels with isActive false), with the hub's MDMS version and master-config on each page.
A delta names whole masters (the hub's `mdms.records.upserted` event is per master and tenant):
every record of that master at that tenant comes down again."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from local_store.models import MdmsRecord, StoreMeta

if TYPE_CHECKING:
    from digitctl.ports import App

ENTITY = "MdmsMaster"


def of_tenant(tenant: str) -> Any:
    state = tenant.split(".")[0]
    return or_(MdmsRecord.tenant_id == state, MdmsRecord.tenant_id == tenant,
               MdmsRecord.tenant_id.like(f"{tenant}.%"))


def changed(s: Session, events: list[Any]) -> set[int]:
    """Record ids of the masters the events name (`tenant:module.master`)."""
    ids: set[int] = set()
    for ident in {e.entity_id for e in events}:
        tenant, _, code = str(ident).partition(":")
        module, _, master = code.partition(".")
        ids |= set(s.execute(select(MdmsRecord.id).where(
            MdmsRecord.tenant_id == tenant, MdmsRecord.module == module, MdmsRecord.master == master)).scalars())
    return ids


def docs(_app: "App", _uow: Any, _s: Session, rows: list[MdmsRecord]) -> list[dict[str, Any]]:
    return [{"tenantId": r.tenant_id, "module": r.module, "master": r.master, "uniqueKey": r.unique_key,
             "position": r.position, "data": r.data, "isActive": r.is_active, "source": r.source}
            for r in rows]


def page_extras(s: Session) -> dict[str, Any]:
    """The hub's MDMS version and master-config (the counter adopts them with the records)."""
    meta = dict(s.execute(select(StoreMeta.key, StoreMeta.value).where(
        StoreMeta.key.in_(("mdms_version", "mdms_master_config")))).all())
    return {"mdmsVersion": meta.get("mdms_version"), "masterConfig": meta.get("mdms_master_config")}
