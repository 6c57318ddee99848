"""The state's day end at the hub (issue 12): `hub daybook --tenant T --date D` is the
consolidated collection register across counters (the day book of the hub's store, which holds
every counter's payments once applied) with, per counter, its own total and whether its day end
is complete at the hub: every shift of the day closed there and nothing of the counter's still
unapplied (stored, parked, waiting) or not yet received (lag). A day end never silently misses a
counter: one that is not complete says what it waits for. `incomplete_day_ends` feeds `hub
reconcile`'s IncompleteDayEnds (yesterday, IST)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, or_, select

from digitctl.clock import IST
from digitctl.services import reports
from digitctl.services.access import authorize
from digitctl.services.hub_counters import RECONCILE_ACTION, lag_of
from local_store.models import HubCounter, HubEvent, Payment, Shift

if TYPE_CHECKING:
    from digitctl.ports import App
    from digitctl.context import RequestContext

UNAPPLIED = ("stored", "parked", "waiting")


def _of_tenant(column: Any, tenant: str) -> Any:
    return or_(column == tenant, column.like(f"{tenant}.%"))


def _counters_of_day(conn: Any, tenant: str, start: dt.datetime, end: dt.datetime) -> list[str]:
    paid = conn.execute(select(Payment.counter_code).where(
        Payment.tenant_id == tenant, Payment.receipt_date >= start, Payment.receipt_date < end).distinct()).scalars()
    shifts = conn.execute(select(Shift.counter_code).where(
        Shift.tenant_id == tenant, Shift.opened_at < end,
        or_(Shift.closed_at.is_(None), Shift.closed_at >= start)).distinct()).scalars()
    enrolled = conn.execute(select(HubCounter.code).where(
        HubCounter.tenant_id == tenant, HubCounter.registered_at < end,
        HubCounter.revoked_at.is_(None))).scalars()
    return sorted({c for c in [*paid, *shifts, *enrolled] if c})


def day_end(conn: Any, code: str, tenant: str, start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    """{"status": complete | waiting | shiftOpen | local, "waitingFor": N, "openShifts": N, "message"}."""
    counter = conn.execute(select(HubCounter.last_seq, HubCounter.audit_head).where(HubCounter.code == code)).first()
    open_shifts = int(conn.execute(select(func.count()).select_from(Shift).where(
        Shift.counter_code == code, Shift.tenant_id == tenant, Shift.opened_at < end,
        Shift.status != "CLOSED")).scalar_one())
    if counter is None:            # the hub's own desk (or a code it never enrolled): nothing travels
        status = "shiftOpen" if open_shifts else "complete"
        return {"status": status, "waitingFor": 0, "openShifts": open_shifts,
                "message": "a shift is still open" if open_shifts else "complete"}
    unapplied = int(conn.execute(select(func.count()).select_from(HubEvent).where(
        HubEvent.counter_code == code, HubEvent.status.in_(UNAPPLIED))).scalar_one())
    waiting = unapplied + lag_of(int(counter.last_seq or 0), counter.audit_head)
    if waiting:
        return {"status": "waiting", "waitingFor": waiting, "openShifts": open_shifts,
                "message": f"waiting for {waiting} events"}
    if open_shifts:
        return {"status": "shiftOpen", "waitingFor": 0, "openShifts": open_shifts,
                "message": f"{open_shifts} shift(s) not closed at the counter (or not yet pushed)"}
    return {"status": "complete", "waitingFor": 0, "openShifts": 0, "message": "complete"}


def daybook(app: "App", ctx: "RequestContext", tenant_id: str, day: dt.date | str | None) -> dict[str, Any]:
    """{"DayBook": the consolidated register, "Counters": [{counterCode, grandTotal, issued, dayEnd}],
    "sumOfCounters", "addsUp"}."""
    authorize(app, ctx, RECONCILE_ACTION, app.state_tenant or tenant_id)
    book = reports.daybook(app, ctx, tenant_id=tenant_id, day=day)
    the_day = dt.date.fromisoformat(book["date"])
    start, end = reports.day_bounds(the_day)
    with app.store.readonly_engine.connect() as conn:
        codes = _counters_of_day(conn, tenant_id, start, end)
        ends = {c: day_end(conn, c, tenant_id, start, end) for c in codes}
    lines = []
    total = Decimal(0)
    for code in codes:
        own = reports.daybook(app, ctx, tenant_id=tenant_id, day=the_day, counter=code)
        total += Decimal(own["grandTotal"]["amount"])
        lines.append({"counterCode": code, "grandTotal": own["grandTotal"]["amount"],
                      "receipts": own["grandTotal"]["count"], "issued": own["receiptRange"]["issued"],
                      "dayEnd": ends[code]})
    return {"DayBook": book, "Counters": lines, "sumOfCounters": total,
            "addsUp": total == Decimal(book["grandTotal"]["amount"]),
            "complete": all(c["dayEnd"]["status"] == "complete" for c in lines)}


def incomplete_day_ends(app: "App", now: dt.datetime, tenant_id: str | None) -> list[dict[str, Any]]:
    """Counters whose yesterday (IST) is not complete at the hub, with what each waits for."""
    yesterday = (now.astimezone(IST) - dt.timedelta(days=1)).date()
    start, end = reports.day_bounds(yesterday)
    out = []
    with app.store.readonly_engine.connect() as conn:
        tenants = [tenant_id] if tenant_id else sorted(set(conn.execute(select(HubCounter.tenant_id).where(
            HubCounter.registered_at.is_not(None), HubCounter.revoked_at.is_(None))).scalars()))
        for tenant in tenants:
            for code in _counters_of_day(conn, tenant, start, end):
                state = day_end(conn, code, tenant, start, end)
                if state["status"] != "complete":
                    out.append({"counterCode": code, "tenantId": tenant, "date": yesterday.isoformat(), **state,
                                "whatToDo": "push from the counter (digitctl sync push) and close its shifts; "
                                            "release parked events (hub reconcile, hub release)"})
    return out
