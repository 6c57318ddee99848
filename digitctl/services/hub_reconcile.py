"""What a hub operator must look at (`digitctl hub reconcile`) and what the hub exports to
Prometheus (`/metrics`): events parked or waiting with their reason, excess collections (payments
parked as EXCESS_COLLECTION), counters that went silent; received / applied / parked totals and
each counter's lag."""
from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from digitctl.services import hub_daybook, hub_excess
from digitctl.services.access import authorize
from digitctl.services.hub_counters import OPEN_STATUSES, RECONCILE_ACTION, lag_of
from digitctl.services.hub_events import opened_wire
from local_store.models import HubCounter, HubEvent

if TYPE_CHECKING:
    from digitctl.ports import App
    from digitctl.context import RequestContext

EXCESS_CODE = "EXCESS_COLLECTION"
NOT_APPLIED = "SYNC_NOT_APPLIED"
NOT_APPLIED_MESSAGE = ("received but not applied yet (the hub stopped before applying it?): "
                       "digitctl hub apply applies it, as the counter's next push does")
SILENT_AFTER = dt.timedelta(hours=24)


def parked_doc(row: Any) -> dict[str, Any]:
    """A parked or waiting event as `hub reconcile` and the counter's `_status` show it."""
    body = getattr(row, "body", None)
    params = body.get("parkedParams") if isinstance(body, dict) and row.status == "parked" else None
    stored = row.status == "stored"
    return {"counterCode": row.counter_code, "seq": int(row.seq), "eventId": row.event_id,
            "eventType": row.event_type, "tenantId": row.tenant_id, "entityType": row.entity_type,
            "entityId": row.entity_id, "status": row.status,
            "code": NOT_APPLIED if stored else row.reason_code,
            "message": NOT_APPLIED_MESSAGE if stored else row.reason,
            "params": params if isinstance(params, dict) else {}}


def _excess_doc(app: "App", session: Session, row: Any) -> dict[str, Any]:
    """An event parked EXCESS_COLLECTION: what the Parked said (params kept beside the event),
    else what its payment payload says."""
    body = row.body or {}
    said: dict[str, Any] = body["parkedParams"] if isinstance(body.get("parkedParams"), dict) else {}
    payload = opened_wire(app, session, body).get("payload") or {}
    payments = payload.get("Payments")
    payment: dict[str, Any] = payments[0] if isinstance(payments, list) and payments and isinstance(
        payments[0], dict) else payload
    details = payment.get("paymentDetails") or [{}]
    first: dict[str, Any] = details[0] if isinstance(details, list) and details and isinstance(details[0], dict) \
        else {}
    bill: dict[str, Any] = first["bill"] if isinstance(first.get("bill"), dict) else {}
    return {"consumerCode": said.get("consumerCode") or bill.get("consumerCode"),
            "receiptNumber": said.get("receiptNumber") or first.get("receiptNumber"),
            "counterCode": row.counter_code, "amount": said.get("amount") or payment.get("totalAmountPaid"),
            "tenantId": row.tenant_id, "eventId": row.event_id, "seq": int(row.seq), "message": row.reason}


def reconcile(app: "App", ctx: "RequestContext", tenant_id: str | None = None,
              silent_after: dt.timedelta = SILENT_AFTER) -> dict[str, Any]:
    """{"ExcessCollections", "Parked", "IncompleteDayEnds", "SilentCounters"}: all empty means
    every counter's events are at the hub and applied. "Parked" also lists events received and
    not applied yet (status `stored`, code SYNC_NOT_APPLIED): a hub that stopped between storing a
    batch and applying it is not clean."""
    authorize(app, ctx, RECONCILE_ACTION, tenant_id or app.state_tenant or ctx.tenant_id)
    now = ctx.now()
    with app.store.readonly_engine.connect() as conn:
        stmt = select(HubEvent.counter_code, HubEvent.seq, HubEvent.event_id, HubEvent.event_type,
                      HubEvent.tenant_id, HubEvent.entity_type, HubEvent.entity_id, HubEvent.status,
                      HubEvent.reason_code, HubEvent.reason, HubEvent.body).where(
            HubEvent.status.in_((*OPEN_STATUSES, "stored"))).order_by(HubEvent.counter_code, HubEvent.seq)
        counters = select(HubCounter).where(HubCounter.registered_at.is_not(None), HubCounter.revoked_at.is_(None))
        if tenant_id:
            stmt = stmt.where(HubEvent.tenant_id == tenant_id)
            counters = counters.where(HubCounter.tenant_id == tenant_id)
        open_rows = conn.execute(stmt).all()
        silent = [c for c in conn.execute(counters.order_by(HubCounter.code)).all()
                  if now - (c.last_seen or c.registered_at) > silent_after]
        with Session(bind=conn) as session:
            excess = hub_excess.open_excesses(session, tenant_id)
            excess += [_excess_doc(app, session, r) for r in open_rows if r.reason_code == EXCESS_CODE]
    return {"ExcessCollections": excess,
            "Parked": [parked_doc(r) for r in open_rows],
            "IncompleteDayEnds": hub_daybook.incomplete_day_ends(app, now, tenant_id),
            "SilentCounters": [{"counterCode": c.code, "tenantId": c.tenant_id, "name": c.name,
                                "lastSeen": (c.last_seen or c.registered_at).astimezone(dt.timezone.utc).isoformat(),
                                "lag": lag_of(int(c.last_seq or 0), c.audit_head)} for c in silent]}


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def metrics_text(app: "App") -> str:
    """Prometheus text exposition: events received / applied / parked per counter, and lag."""
    with app.store.readonly_engine.connect() as conn:
        by_status = conn.execute(select(HubEvent.counter_code, HubEvent.status, func.count())
                                 .group_by(HubEvent.counter_code, HubEvent.status)).all()
        counters = conn.execute(select(HubCounter.code, HubCounter.last_seq, HubCounter.audit_head)).all()
    received: dict[str, int] = {c.code: 0 for c in counters}
    applied: dict[str, int] = dict.fromkeys(received, 0)
    parked: dict[str, int] = dict.fromkeys(received, 0)
    for code, status, n in by_status:
        received[code] = received.get(code, 0) + int(n)
        if status in ("applied", "recorded"):
            applied[code] = applied.get(code, 0) + int(n)
        elif status in OPEN_STATUSES:
            parked[code] = parked.get(code, 0) + int(n)
    lines: list[str] = []
    for name, help_text, kind, values in (
            ("digit_hub_events_received_total", "Events a counter pushed and the hub stored.", "counter", received),
            ("digit_hub_events_applied_total", "Events applied (or recorded) at the hub.", "counter", applied),
            ("digit_hub_events_parked_total", "Events parked or waiting behind a parked one.", "gauge", parked),
            ("digit_hub_counter_lag", "Events the counter has written that the hub has not received.", "gauge",
             {c.code: lag_of(int(c.last_seq or 0), c.audit_head) for c in counters})):
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
        lines += [f'{name}{{counter="{_label(code)}"}} {value}' for code, value in sorted(values.items())]
    return "\n".join(lines) + "\n"


def store_ok(app: "App") -> bool:
    """Whether the hub's store answers (for /health)."""
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    try:
        with app.store.readonly_engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except SQLAlchemyError:
        return False
