"""Payments the hub sent down (`digitctl sync pull`, stream `payments`): collection's writer of
payments taken elsewhere (at another counter, or at the hub), so that a clerk finds the receipt a
citizen got at another counter and does not bill them again.

A pulled payment is stored read-only, `origin` set to the counter code that took it (or HUB), its
payer sealed with this store's keys: `receipt search` / `payment show` find it and say where it was
taken, a print of it is a DUPLICATE copy marked so, and this counter's day book, shifts, deposits,
cancels and dishonours leave it alone (payment_lifecycle refuses PAYMENT_TAKEN_ELSEWHERE). A
cancel or dishonour at the hub comes down as its new status. The demands it paid come down with
the `demands` stream. A payment this store took itself (same id, no origin), or whose receipt
number is another payment's here, is never overwritten (counted as skipped)."""
from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, insert, select, tuple_, update

from digitctl.clock import IST
from digitctl.domain.money import to_paise
from digitctl.services.payments import payer_fields
from local_store.models import Payment

if TYPE_CHECKING:
    from digitctl.ports import App
    from local_store.uow import UnitOfWork

TAKEN_AT = "takenAt"        # additionalDetails of a pulled payment: the counter code that took it, or HUB


def _at(ms: Any) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(int(ms) / 1000, dt.timezone.utc) if ms is not None else None


def store(app: "App", uow: "UnitOfWork", items: list[dict[str, Any]], now: dt.datetime, own_code: str | None) -> int:
    """Upsert the pulled payments by id; returns how many were written."""
    docs = [(i["payment"], str(i.get("origin") or "HUB")) for i in items
            if isinstance(i.get("payment"), dict) and (own_code is None or i.get("origin") != own_code)]
    if not docs:
        return 0
    conn = uow.session.connection()
    t = Payment.__table__
    rows = [_values(app, uow, doc, origin, now) for doc, origin in docs]
    ids = [r["id"] for r in rows]
    have = {r.id: r.origin for r in conn.execute(select(t.c.id, t.c.origin).where(t.c.id.in_(ids)))}
    numbers = {(r.tenant_id, r.receipt_number): r.id for r in conn.execute(
        select(t.c.id, t.c.tenant_id, t.c.receipt_number).where(
            tuple_(t.c.tenant_id, t.c.receipt_number).in_([(r["tenant_id"], r["receipt_number"]) for r in rows])))}
    rows = [r for r in rows if have.get(r["id"], "pulled") is not None      # never this store's own payment
            and numbers.get((r["tenant_id"], r["receipt_number"]), r["id"]) == r["id"]]
    fresh = [r for r in rows if r["id"] not in have]
    old = [{**{k: v for k, v in r.items() if k != "created_at"}, "b_id": r["id"]} for r in rows if r["id"] in have]
    if fresh:
        conn.execute(insert(t), fresh)
    if old:
        conn.execute(update(t).where(t.c.id == bindparam("b_id"), t.c.origin.is_not(None)).values(
            {k: bindparam(k) for k in old[0] if k not in ("b_id", "id")}), old)
    for r in rows:
        uow.touch("Payment", r["id"])           # sealed at commit: `audit verify` knows the rows
    uow.session.expire_all()
    return len(rows)


def _values(app: "App", uow: "UnitOfWork", doc: dict[str, Any], origin: str, now: dt.datetime) -> dict[str, Any]:
    tenant = str(doc["tenantId"])
    pd = (doc.get("paymentDetails") or [{}])[0]
    bill = pd.get("bill") or {}

    def sealed(value: Any) -> Any:
        return app.keyring.encrypt(uow, tenant, str(value)) if value not in (None, "") else value

    stored = payer_fields(doc, sealed)
    stored["additionalDetails"] = {**(doc.get("additionalDetails") or {}), TAKEN_AT: origin}
    taken = _at(pd.get("receiptDate") or doc.get("transactionDate")) or now
    inst = _at(doc.get("instrumentDate"))
    return {"id": str(doc["id"]), "tenant_id": tenant, "receipt_number": str(pd["receiptNumber"]),
            "receipt_date": taken, "counter_code": None if origin == "HUB" else origin, "shift_id": None,
            "collector_uuid": str((doc.get("auditDetails") or {}).get("createdBy") or "hub"),
            "bill_id": str(pd.get("billId") or bill.get("id") or ""),
            "business_service": str(pd.get("businessService") or bill.get("businessService")),
            "consumer_code": str(bill.get("consumerCode") or ""), "payment_mode": str(doc["paymentMode"]),
            "total_due_paise": to_paise(doc.get("totalDue") or 0),
            "amount_paid_paise": to_paise(doc.get("totalAmountPaid") or 0),
            "instrument_number": doc.get("instrumentNumber"),
            "instrument_date": inst.astimezone(IST).date() if inst else None,
            "instrument_status": str(doc.get("instrumentStatus") or "APPROVED"),
            "payment_status": str(doc.get("paymentStatus") or "NEW"),
            "cancel_reason": _reason(doc), "remittance_id": None, "payment": stored,
            "created_at": taken, "updated_at": now, "origin": origin}


def _reason(doc: dict[str, Any]) -> str | None:
    extra = doc.get("additionalDetails") or {}
    if doc.get("paymentStatus") == "CANCELLED":
        return extra.get("cancellationReason")
    if doc.get("paymentStatus") == "DISHONOURED":
        return extra.get("dishonourReason")
    return None
