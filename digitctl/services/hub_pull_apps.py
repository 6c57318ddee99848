"""How applications travel down to a counter (`sync pull`, stream `applications`): each
application of the counter's tenant with its workflow as the hub has it (the current state, the
process instances in order, the assignees), so the counter's inbox shows the state's truth. The
applicant travels opened for the trip. A delta names applications by the hub's `Application`
and `ProcessInstance` events (both carry the application number)."""
from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from local_store.models import Application, WfAssignee, WfCurrent, WfProcessInstance

if TYPE_CHECKING:
    from digitctl.ports import App

ENTITIES = ("Application", "ProcessInstance")
PII = ("applicant_name_enc", "applicant_mobile_enc")


def plain(row: Any, table: Any) -> dict[str, Any]:
    """A row's columns as JSON can carry them (instants and days as ISO text)."""
    out: dict[str, Any] = {}
    for col in table.columns:
        value = getattr(row, col.key)
        out[col.key] = value.isoformat() if isinstance(value, (dt.datetime, dt.date)) else value
    return out


def changed(_s: Session, events: list[Any]) -> set[str]:
    return {str(e.entity_id) for e in events}


def docs(app: "App", uow: Any, s: Session, rows: list[Application]) -> list[dict[str, Any]]:
    if not rows:
        return []
    keys = [(r.tenant_id, r.application_no) for r in rows]
    cur = {(w.tenant_id, w.business_id): w for w in s.execute(select(WfCurrent).where(
        tuple_(WfCurrent.tenant_id, WfCurrent.business_id).in_(keys))).scalars()}
    pis: dict[tuple[str, str], list[Any]] = {}
    for p in s.execute(select(WfProcessInstance).where(
            tuple_(WfProcessInstance.tenant_id, WfProcessInstance.business_id).in_(keys))
            .order_by(WfProcessInstance.seq_no)).scalars():
        pis.setdefault((p.tenant_id, p.business_id), []).append(p)
    who: dict[tuple[str, str], list[str]] = {}
    for a in s.execute(select(WfAssignee).where(tuple_(WfAssignee.tenant_id, WfAssignee.business_id).in_(keys))
                       .order_by(WfAssignee.user_uuid)).scalars():
        who.setdefault((a.tenant_id, a.business_id), []).append(a.user_uuid)
    out = []
    for r in rows:
        doc = plain(r, Application.__table__)
        for col in PII:
            doc[col] = app.keyring.decrypt(uow, doc[col]) if doc[col] else None
        key = (r.tenant_id, r.application_no)
        w = cur.get(key)
        out.append({"application": doc, "current": plain(w, WfCurrent.__table__) if w is not None else None,
                    "processInstances": [plain(p, WfProcessInstance.__table__) for p in pis.get(key, [])],
                    "assignees": who.get(key, [])})
    return out
