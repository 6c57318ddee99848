"""Applications the hub sent down (`digitctl sync pull`, stream `applications`): the writer of
pulled applications and their workflow rows (application, wf_current, wf_process_instance,
wf_assignee), so this counter's inbox shows the state's truth. The hub's history replaces the
counter's for that application: a transition the hub parked (STATE_CHANGED) stays visible in
`sync status` and is marked in the inbox. An application with a change here the hub has not
acknowledged yet is left as it is; the applicant is sealed with this store's keys."""
from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import DateTime, Date, delete, insert, select

from local_store.models import Application, WfAssignee, WfCurrent, WfProcessInstance
from local_store.types import UTCDateTime

if TYPE_CHECKING:
    from digitctl.ports import App
    from local_store.uow import UnitOfWork


def _typed(table: Any, doc: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for col in table.columns:
        value = doc.get(col.key)
        if isinstance(value, str) and isinstance(col.type, (UTCDateTime, DateTime)):
            value = dt.datetime.fromisoformat(value)
        elif isinstance(value, str) and isinstance(col.type, Date):
            value = dt.date.fromisoformat(value)
        out[col.key] = value
    return out


def store(app: "App", uow: "UnitOfWork", items: list[dict[str, Any]], held: set[str]) -> int:
    conn = uow.session.connection()
    written = 0
    for item in items:
        doc = dict(item["application"])
        tenant, number = str(doc["tenant_id"]), str(doc["application_no"])
        if number in held:
            continue
        mobile = doc.get("applicant_mobile_enc")
        doc["applicant_mobile_bidx"] = app.keyring.blind_index(tenant, str(mobile), "mobile") if mobile else None
        for col in ("applicant_name_enc", "applicant_mobile_enc"):
            doc[col] = app.keyring.encrypt(uow, tenant, str(doc[col])) if doc.get(col) else None
        doc["applicant_name_enc"] = doc["applicant_name_enc"] or ""
        a, c, p, w = (Application.__table__, WfCurrent.__table__, WfProcessInstance.__table__,
                      WfAssignee.__table__)
        for t, where in ((w, (w.c.tenant_id == tenant) & (w.c.business_id == number)),
                         (c, (c.c.tenant_id == tenant) & (c.c.business_id == number)),
                         (p, (p.c.tenant_id == tenant) & (p.c.business_id == number)),
                         (a, a.c.application_no == number)):
            conn.execute(delete(t).where(where))
        conn.execute(insert(a).values(_typed(a, doc)))
        if item.get("processInstances"):
            conn.execute(insert(p), [_typed(p, pi) for pi in item["processInstances"]])
        if item.get("current"):
            conn.execute(insert(c).values(_typed(c, item["current"])))
        if item.get("assignees"):
            conn.execute(insert(w), [{"tenant_id": tenant, "business_id": number, "user_uuid": u}
                                     for u in item["assignees"]])
        written += 1
    uow.session.expire_all()
    return written


def unacked(uow: "UnitOfWork", acked: int) -> set[str]:
    """Application numbers this counter changed that the hub has not acknowledged yet."""
    from local_store.models import OutboxEvent

    return set(uow.session.execute(select(OutboxEvent.entity_id).where(
        OutboxEvent.entity_type.in_(("Application", "ProcessInstance")), OutboxEvent.counter_seq.is_not(None),
        OutboxEvent.counter_seq > acked)).scalars())
