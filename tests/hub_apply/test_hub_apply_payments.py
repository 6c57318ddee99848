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
from digitctl.services import audit, billing, collection, hub_apply, reports
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
    assert outcomes.count("applied") >= 3          # shift, demand, payment (bills are derived: recorded)

    supervisor = ctx_as(hub, "supervisor.amritsar")
    shown = collection.get_payment(hub, supervisor, AMRITSAR, receipt)
    assert shown["totalAmountPaid"] == "1250.00" and shown["paymentMode"] == "CASH"
    assert shown["additionalDetails"]["counterCode"] == "C01"
    at_counter = state(counter)
    at_hub = state(hub)
    assert at_hub["payments"] == at_counter["payments"]
    assert dict(at_hub["bills"])[bill["billNumber"]] == "PAID"            # the bill the clerk paid
    assert at_hub["collected"] == at_counter["collected"] == 125000
    # the payer is sealed with the hub's keys, and opens to what the clerk typed
    with hub.uow(hub.base_context(), readonly=True) as uow:
        row = uow.session.execute(select(Payment).where(Payment.receipt_number == receipt)).scalar_one()
        assert row.payment["payerName"].count("|") == 1
        assert hub.keyring.decrypt(uow, row.payment["payerName"]) == "Simran Kaur"
    book_hub = reports.daybook(hub, supervisor, tenant_id=AMRITSAR, day=TODAY)
    book_counter = reports.daybook(counter, ctx_as(counter, "supervisor.amritsar"), tenant_id=AMRITSAR, day=TODAY)
    assert totals(book_hub) == totals(book_counter)
    report = audit.verify(hub, hub.context())              # the hub's chain and the rows' seals hold
    assert report.ok, report.summary()

    # applying the same events again changes nothing (a crash before the ingest marked them)
    again = apply_all(hub, wire.all())
    assert all(o in ("applied", "recorded") for o in again)
    assert state(hub) == at_hub



def test_cancel_and_dishonour_at_the_counter_reverse_the_hub_too(counter, hub, wire, clerk):
    cash = pay(counter, clerk, bill_for(counter, "TL-CC-1"), "1250")
    cheque = pay(counter, clerk, bill_for(counter, "TL-CC-2"), "1250", mode="CHEQUE", **CHEQUE)
    supervisor = ctx_as(counter, "supervisor.amritsar")
    collection.cancel(counter, supervisor, AMRITSAR, cash, "ERRORRECEIPT", comment="wrong amount")
    collection.dishonour(counter, supervisor, AMRITSAR, cheque, "CHEQUEBOUNCE")
    outcomes = apply_all(hub, wire.take())
    assert [o for o in outcomes if isinstance(o, Parked)] == []
    at_hub = state(hub)
    assert at_hub["payments"] == state(counter)["payments"]
    assert {r: s for r, s, _, _ in at_hub["payments"]} == {cash: "CANCELLED", cheque: "DISHONOURED"}
    assert at_hub["collected"] == 0                       # both demands owed again at the hub
    shown = collection.get_payment(hub, ctx_as(hub, "supervisor.amritsar"), AMRITSAR, cash)
    assert shown["additionalDetails"]["cancellationReason"] == "ERRORRECEIPT"
    assert shown["additionalDetails"]["cancelledBy"] == "supervisor.amritsar"
    assert apply_all(hub, wire.all()) and state(hub) == at_hub


def test_a_closed_shift_stands_at_the_hub_and_the_day_books_agree(counter, hub, wire, clerk):
    from digitctl.services import shifts

    pay(counter, clerk, bill_for(counter, "TL-CC-1"), "1250")
    pay(counter, clerk, bill_for(counter, "TL-CC-2"), "1250", mode="CHEQUE", **CHEQUE)
    shifts.close_shift(counter, clerk, "500x4,100x2")
    assert not [o for o in apply_all(hub, wire.take()) if isinstance(o, Parked)]
    with hub.store.engine.connect() as conn:
        shift = conn.execute(select(Shift)).one()
    assert shift.status == "CLOSED" and shift.counted_cash_paise == 220000 and shift.counter_code == "C01"
    sup = "supervisor.amritsar"
    book_hub = reports.daybook(hub, ctx_as(hub, sup), tenant_id=AMRITSAR, day=TODAY)
    book_counter = reports.daybook(counter, ctx_as(counter, sup), tenant_id=AMRITSAR, day=TODAY)
    assert totals(book_hub) == totals(book_counter)
    assert book_hub["reconciliation"] == {**book_counter["reconciliation"]}
    assert book_hub["shifts"] == book_counter["shifts"]
    # the clerk takes the drawer to the bank: deposited at the hub too
    slip = collection.remit(counter, clerk, AMRITSAR, bank="Punjab National Bank")
    assert not [o for o in apply_all(hub, wire.take()) if isinstance(o, Parked)]
    assert {s for _, s, _, _ in state(hub)["payments"]} == {"DEPOSITED"}
    assert state(hub)["payments"] == state(counter)["payments"]
    with hub.store.engine.connect() as conn:
        from local_store.models import Remittance

        assert conn.execute(select(Remittance.slip_number)).scalar_one() == slip["slipNumber"]


# -- parked ------------------------------------------------------------------------------------
def only_payment(events: list[Any]) -> list[Any]:
    return [e for e in events if e.event_type == "collection.payment.created"]


def test_a_payment_for_a_demand_the_hub_lacks_is_parked(counter, hub, wire, clerk):
    receipt = pay(counter, clerk, bill_for(counter, "TL-CC-1"), "1250")
    [ev] = only_payment(wire.take())
    with pytest.raises(Parked) as err:
        hub_apply.apply_event(hub, ev)
    assert err.value.code == "BILLING_DEMAND_NOT_FOUND"
    assert err.value.params["receiptNumber"] == receipt
    assert state(hub)["payments"] == []
    assert f"Payment:{AMRITSAR}:{receipt}" in hub_apply.entity_keys(ev)
    assert f"Demand:{AMRITSAR}:TL:TL-CC-1" in hub_apply.entity_keys(ev)


# a payment the hub's demand no longer owes (another counter was first): tests/pull/test_excess.py


def test_an_actor_the_hub_does_not_know_or_allow_is_parked(counter, hub, wire, clerk):
    from dataclasses import replace

    pay(counter, clerk, bill_for(counter, "TL-CC-1"), "1250")
    events = wire.take()
    apply_all(hub, [e for e in events if e.event_type != "collection.payment.created"])
    [ev] = only_payment(events)
    stranger = replace(ev, audit={**ev.audit, "actorUuid": "9c1b0c55-0000-4000-8000-000000000000",
                                  "actorName": "nobody.amritsar"})
    with pytest.raises(Parked) as err:
        hub_apply.apply_event(hub, stranger)
    assert err.value.code == "SYNC_ACTOR_UNKNOWN"
    # a citizen the hub knows, whose roles there do not take payments at a counter
    citizen = ctx_as(hub, "9876500002").actor
    denied = replace(ev, audit={**ev.audit, "actorUuid": citizen.uuid, "actorName": citizen.user_name})
    with pytest.raises(Parked) as err:
        hub_apply.apply_event(hub, denied)
    assert err.value.code == "ACCESS_DENIED"
    with pytest.raises(Parked) as err:
        hub_apply.apply_event(hub, ev, counter_tenant="pb.jalandhar")
    assert err.value.code == "SYNC_TENANT_NOT_ENROLLED"
    assert state(hub)["payments"] == []
    assert hub_apply.apply_event(hub, ev, counter_tenant="pb") == "applied"        # a city of the state


def test_a_cancel_of_a_payment_the_hub_lacks_is_parked(counter, hub, wire, clerk):
    receipt = pay(counter, clerk, bill_for(counter, "TL-CC-1"), "1250")
    collection.cancel(counter, ctx_as(counter, "supervisor.amritsar"), AMRITSAR, receipt, "ERRORRECEIPT")
    [cancel] = [e for e in wire.take() if e.event_type == "collection.payment.cancelled"]
    with pytest.raises(Parked) as err:
        hub_apply.apply_event(hub, cancel)
    assert err.value.code == "PAYMENT_NOT_FOUND"
    assert f"Payment:{AMRITSAR}:{receipt}" in hub_apply.entity_keys(cancel)


def test_a_payment_applied_before_its_clerk_left_reapplies_as_a_no_op(counter, hub, wire, clerk):
    from digitctl.services import users

    pay(counter, clerk, bill_for(counter, "TL-CC-1"), "1250")
    events = wire.take()
    assert not [o for o in apply_all(hub, events) if isinstance(o, Parked)]
    users.update_user(hub, ctx_as(hub, "admin"), "clerk.amritsar", active=False)
    before = state(hub)
    [payment] = only_payment(events)
    assert hub_apply.apply_event(hub, payment) == "applied"
    assert state(hub) == before
    assert audit.verify(hub, hub.context()).ok
