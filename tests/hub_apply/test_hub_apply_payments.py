"""The hub applies a counter's payments (SQLite and PostgreSQL): what a supervisor sees at the
hub after the push (the receipt by its number, the bill PAID, the demand collected, the day book
adding up to the counter's), twice applied changing nothing, cancel and dishonour, and every
reason a payment is parked."""
from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select

from digitctl.domain.sync_events import Parked
from digitctl.services import billing, collection, hub_apply, reports
from local_store.models import AuditRecord, Bill, DemandDetail, OutboxEvent, Payment, Shift
from tests.helpers import AMRITSAR, ctx_as, demand
from tests.hub_apply.conftest import apply_all

TODAY = dt.date(2026, 11, 25)
CHEQUE = dict(instrument_number="123456", instrument_date=TODAY - dt.timedelta(days=3), bank="Punjab National Bank",
              branch="Hall Bazar", ifsc="PUNB0012300")


def bill_for(app: Any, consumer: str) -> dict[str, Any]:
    billing.create_demands(app, ctx_as(app, "clerk.amritsar"), [demand(consumer)])
    return billing.fetch_bill(app, ctx_as(app, "clerk.amritsar"), AMRITSAR, consumer_code=consumer)[0]


def pay(app: Any, ctx: Any, bill: dict[str, Any], amount: str, mode: str = "CASH", **kw: Any) -> str:
    doc = collection.pay(app, ctx, tenant_id=AMRITSAR, bill_id=bill["id"], mode=mode, amount=amount, **kw)
    return str(doc["paymentDetails"][0]["receiptNumber"])


def state(app: Any) -> dict[str, Any]:
    """What a supervisor would look at: payments, bills, collections, and the store's row counts."""
    with app.store.engine.connect() as conn:
        return {
            "payments": sorted(conn.execute(select(Payment.receipt_number, Payment.payment_status,
                                                   Payment.amount_paid_paise, Payment.counter_code)).all()),
            "bills": sorted(conn.execute(select(Bill.bill_number, Bill.status)).all()),
            "collected": conn.execute(select(func.coalesce(func.sum(DemandDetail.collection_amount_paise), 0)))
            .scalar_one(),
            "outbox": conn.execute(select(func.count()).select_from(OutboxEvent)).scalar_one(),
            "audit": conn.execute(select(func.count()).select_from(AuditRecord)).scalar_one(),
        }


def totals(book: dict[str, Any]) -> tuple[Any, ...]:
    return (book["grandTotal"], book["totalsByMode"], book["receiptRange"]["issued"],
            book["reconciliation"]["registerCash"])


def test_a_cash_payment_stands_at_the_hub_as_the_counter_took_it(counter, hub, wire, clerk):
    bill = bill_for(counter, "TL-CC-1")
    receipt = pay(counter, clerk, bill, "1250", payer_name="Simran Kaur", mobile="9876543210")
    outcomes = apply_all(hub, wire.take())
    assert [o for o in outcomes if isinstance(o, Parked)] == []
    assert outcomes.count("applied") >= 4          # shift, demand, bill, payment

    supervisor = ctx_as(hub, "supervisor.amritsar")
    shown = collection.get_payment(hub, supervisor, AMRITSAR, receipt)
    assert shown["totalAmountPaid"] == "1250.00" and shown["paymentMode"] == "CASH"
    assert shown["additionalDetails"]["counterCode"] == "C01"
    at_counter = state(counter)
    at_hub = state(hub)
    assert at_hub["payments"] == at_counter["payments"]
    assert ("PAID" in {s for _, s in at_hub["bills"]}) and at_hub["collected"] == at_counter["collected"] == 125000
    # the payer is sealed with the hub's keys, and opens to what the clerk typed
    with hub.uow(hub.base_context(), readonly=True) as uow:
        row = uow.session.execute(select(Payment).where(Payment.receipt_number == receipt)).scalar_one()
        assert row.payment["payerName"].count("|") == 1
        assert hub.keyring.decrypt(uow, row.payment["payerName"]) == "Simran Kaur"
    book_hub = reports.daybook(hub, supervisor, tenant_id=AMRITSAR, day=TODAY)
    book_counter = reports.daybook(counter, ctx_as(counter, "supervisor.amritsar"), tenant_id=AMRITSAR, day=TODAY)
    assert totals(book_hub) == totals(book_counter)

    # applying the same events again changes nothing (a crash before the ingest marked them)
    again = apply_all(hub, wire.all())
    assert all(o in ("applied", "recorded") for o in again)
    assert state(hub) == at_hub

