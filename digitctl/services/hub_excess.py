"""Excess collections at the hub (issue 12): two counters offline took the same dues.

Both payments stand (the money was taken). The hub applies what its demand still owes; the rest of
a payment is its excess: carried as advance (a credit on the business service's ADVANCE tax head,
as DIGIT's billing does for a payment above the bill when BusinessService.isAdvanceAllowed) where
the business service allows it, else held for a refund decision. Either way one row per excess
payment in `hub_excess_collection` (this module is its one writer), listed by `hub reconcile`
(ExcessCollections) until an operator resolves it, and told to the counter that took it
(its `_status` answer, so `digitctl sync status` after a pull shows it).
"""
from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from digitctl.domain.money import from_paise
from local_store.models import HubExcessCollection

if TYPE_CHECKING:
    from local_store.uow import UnitOfWork

ADVANCE = "ADVANCE"
REFUND = "REFUND_DECISION"
WHAT_TO_DO = {
    ADVANCE: "carried as advance on the consumer code (adjusted against its next demand): refund it only if "
             "the citizen asks",
    REFUND: "the business service takes no advance: decide a refund to the payer (or adjust by hand), "
            "then mark it resolved",
}


def record(uow: "UnitOfWork", *, payment_id: str, tenant_id: str, counter_code: str, receipt_number: str,
           business_service: str, consumer_code: str, amount_paise: int, disposition: str,
           event_id: str | None, now: dt.datetime) -> None:
    """The excess of one payment (idempotent: a payment has at most one row)."""
    if uow.session.get(HubExcessCollection, payment_id) is not None:
        return
    uow.session.add(HubExcessCollection(
        payment_id=payment_id, tenant_id=tenant_id, counter_code=counter_code, receipt_number=receipt_number,
        business_service=business_service, consumer_code=consumer_code, amount_paise=amount_paise,
        disposition=disposition, event_id=event_id, created_at=now))
    uow.session.flush()


def doc(row: Any) -> dict[str, Any]:
    """An excess collection as `hub reconcile` and a counter's `_status` show it."""
    return {"consumerCode": row.consumer_code, "receiptNumber": row.receipt_number,
            "counterCode": row.counter_code, "amount": str(from_paise(int(row.amount_paise))),
            "tenantId": row.tenant_id, "businessService": row.business_service, "paymentId": row.payment_id,
            "disposition": row.disposition, "whatToDo": WHAT_TO_DO.get(row.disposition, ""),
            "eventId": row.event_id}


def open_excesses(session: Session, tenant_id: str | None = None,
                  counter_code: str | None = None) -> list[dict[str, Any]]:
    """Excess collections not yet resolved, by counter and receipt."""
    stmt = select(HubExcessCollection).where(HubExcessCollection.resolved_at.is_(None))
    if tenant_id:
        stmt = stmt.where(HubExcessCollection.tenant_id == tenant_id)
    if counter_code:
        stmt = stmt.where(HubExcessCollection.counter_code == counter_code)
    rows = session.execute(stmt.order_by(HubExcessCollection.counter_code,
                                         HubExcessCollection.receipt_number)).scalars()
    return [doc(r) for r in rows]


RESOLVE_ACTION = "/digitctl/hub/excess/_resolve"
DECISIONS = ("REFUNDED", "ADJUSTED", "KEPT_AS_ADVANCE")


def resolve(app: Any, ctx: Any, receipt_number: str, decision: str, note: str | None = None,
            tenant_id: str | None = None) -> dict[str, Any]:
    """Record the operator's decision on one excess collection (refunded, adjusted by hand, kept
    as advance): it leaves `hub reconcile`. Audited; a second decision is refused."""
    from digitctl.domain.events import Event
    from digitctl.errors import Conflict, InvalidInput, NotFound
    from digitctl.services.access import authorize

    if decision not in DECISIONS:
        raise InvalidInput("INVALID_DECISION", f"decision must be one of {', '.join(DECISIONS)}",
                           {"decision": decision})
    authorize(app, ctx, RESOLVE_ACTION, app.state_tenant or tenant_id)
    with app.uow(ctx) as uow:
        stmt = select(HubExcessCollection).where(HubExcessCollection.receipt_number == receipt_number)
        if tenant_id:
            stmt = stmt.where(HubExcessCollection.tenant_id == tenant_id)
        rows = list(uow.session.execute(stmt.with_for_update()).scalars())
        if not rows:
            raise NotFound("EXCESS_COLLECTION_NOT_FOUND", f"no excess collection for receipt {receipt_number}",
                           {"receiptNumber": receipt_number})
        if len(rows) > 1:
            raise InvalidInput("TENANT_REQUIRED", f"receipt {receipt_number} is at several tenants: give --tenant",
                               {"receiptNumber": receipt_number})
        row = rows[0]
        if row.resolved_at is not None:
            raise Conflict("EXCESS_COLLECTION_RESOLVED", f"receipt {receipt_number} was resolved already "
                           f"({row.resolution})", {"receiptNumber": receipt_number})
        row.resolved_at = ctx.now()
        row.resolution = f"{decision}: {note}" if note else decision
        after = {**doc(row), "resolution": row.resolution, "resolvedBy": ctx.actor.user_name}
        uow.record(Event("hub.excess.resolved", row.tenant_id, "HubExcessCollection", row.payment_id,
                         RESOLVE_ACTION, {"ExcessCollection": after}, before={"resolution": None}, after=after))
        uow.commit()
    return after
