"""How workflow definitions travel down to a counter (`sync pull`, stream `workflow`): every
version of every BusinessService of the state and of the counter's tenant, with which version is
current. A delta names a business service (`tenant:code`, the hub's
`workflow.businessservice.upserted` event): all its versions come down again."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from local_store.models import WfBusinessService

if TYPE_CHECKING:
    from digitctl.ports import App

ENTITY = "BusinessService"


def of_tenant(tenant: str) -> Any:
    state = tenant.split(".")[0]
    t = WfBusinessService.tenant_id
    return or_(t == state, t == tenant, t.like(f"{tenant}.%"))


def changed(s: Session, events: list[Any]) -> set[int]:
    ids: set[int] = set()
    for ident in {e.entity_id for e in events}:
        tenant, _, code = str(ident).partition(":")
        ids |= set(s.execute(select(WfBusinessService.id).where(
            WfBusinessService.tenant_id == tenant, WfBusinessService.code == code)).scalars())
    return ids


def docs(_app: "App", _uow: Any, _s: Session, rows: list[WfBusinessService]) -> list[dict[str, Any]]:
    return [{"tenantId": r.tenant_id, "businessService": r.code, "business": r.business, "version": r.version,
             "slaMs": r.sla_ms, "definition": r.definition, "definitionHash": r.definition_hash,
             "isCurrent": r.is_current, "createdTime": int(r.created_at.timestamp() * 1000)} for r in rows]
