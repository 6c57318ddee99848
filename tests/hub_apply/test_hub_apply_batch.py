"""The batch path (hub_apply.apply_events): payments in one Core transaction leave the hub as the
one-by-one path does (payments, bills, collections, day book, an intact audit chain with the
rows' seals), twice applied changing nothing; what it cannot take falls back and parks, and the
events behind a parked one wait (SYNC_WAITING)."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from digitctl.domain.sync_events import Parked
from digitctl.services import audit, billing, collection, hub_apply, reports
from local_store.models import Payment
from tests.helpers import AMRITSAR, ctx_as
from tests.hub_apply.test_hub_apply_payments import CHEQUE, TODAY, bill_for, pay, state, totals


def codes(outcomes: list[Any]) -> list[str]:
    return [o.code if isinstance(o, Parked) else o for o in outcomes]


def test_a_batch_of_payments_lands_as_the_counter_took_them(counter, hub, wire, clerk, monkeypatch):
    from digitctl.services import hub_apply_batch, hub_apply_one

    one_by_one: list[str] = []
    real = hub_apply_one.apply_event

    def spy(app: Any, ev: Any, **kw: Any) -> str:
        one_by_one.append(ev.event_type)
        return real(app, ev, **kw)

    monkeypatch.setattr(hub_apply_one, "apply_event", spy)
    assert hub_apply_batch.single is hub_apply_one          # the batch's one-by-one path, spied on
    receipts = [pay(counter, clerk, bill_for(counter, f"TL-CC-{i}"), "1250") for i in range(4)]
    cheque = pay(counter, clerk, bill_for(counter, "TL-CC-Q"), "1250", mode="CHEQUE", **CHEQUE)
    collection.cancel(counter, ctx_as(counter, "supervisor.amritsar"), AMRITSAR, receipts[0], "ERRORRECEIPT")
    outcomes = hub_apply.apply_events(hub, wire.take())
    assert not [o for o in outcomes if isinstance(o, Parked)]
    assert "collection.payment.created" not in one_by_one          # the payments went the Core way
    at_hub, at_counter = state(hub), state(counter)
    assert at_hub["payments"] == at_counter["payments"] and at_hub["collected"] == at_counter["collected"]
    assert dict(at_hub["bills"]) == {n: s for n, s in at_counter["bills"] if s != "ACTIVE"}
    sup = "supervisor.amritsar"
    assert totals(reports.daybook(hub, ctx_as(hub, sup), tenant_id=AMRITSAR, day=TODAY)) == \
        totals(reports.daybook(counter, ctx_as(counter, sup), tenant_id=AMRITSAR, day=TODAY))
    shown = collection.get_payment(hub, ctx_as(hub, sup), AMRITSAR, cheque)
    assert shown["paymentMode"] == "CHEQUE" and shown["instrumentNumber"] == "123456"
    report = audit.verify(hub, hub.context())
    assert report.ok, report.summary()
    with hub.store.engine.connect() as conn:                 # the hub's record names who took it
        from local_store.models import AuditRecord

        takers = set(conn.execute(select(AuditRecord.actor_name).where(
            AuditRecord.operation == "/collection-services/payments/_create")).scalars())
    assert takers == {"clerk.amritsar"}
    again = hub_apply.apply_events(hub, wire.all())
    assert set(codes(again)) <= {"applied", "recorded"}
    assert state(hub) == at_hub


def test_a_payment_the_batch_cannot_take_parks_and_what_follows_it_waits(counter, hub, wire, clerk):
    first = pay(counter, clerk, bill_for(counter, "TL-CC-1"), "1250")
    events = wire.take()
    missing = [e for e in events if e.event_type == "collection.payment.created"]   # its demand never sent
    second = pay(counter, clerk, bill_for(counter, "TL-CC-2"), "1250")
    collection.cancel(counter, ctx_as(counter, "supervisor.amritsar"), AMRITSAR, first, "ERRORRECEIPT")
    later = wire.take()
    cancel = [e for e in later if e.event_type == "collection.payment.cancelled"]
    rest = [e for e in later if e not in cancel]
    outcomes = hub_apply.apply_events(hub, [*missing, *rest, *cancel])
    assert codes(outcomes)[0] == "BILLING_DEMAND_NOT_FOUND"
    assert codes(outcomes)[-1] == "SYNC_WAITING"                   # the cancel of the parked payment
    waiting = outcomes[-1]
    assert isinstance(waiting, Parked) and waiting.params["behind"] == missing[0].event_id
    with hub.store.engine.connect() as conn:
        assert set(conn.execute(select(Payment.receipt_number)).scalars()) == {second}


def test_an_excess_in_a_batch_stands_and_is_listed_for_a_refund_decision(counter, hub, wire, clerk):
    bill = bill_for(counter, "TL-CC-1")
    receipt = pay(counter, clerk, bill, "1250")
    events = wire.take()
    demand_events = [e for e in events if e.event_type == "billing.demand.created"]
    hub_apply.apply_events(hub, demand_events)
    [payment] = [e for e in events if e.event_type == "collection.payment.created"]
    from dataclasses import replace

    # the same money pushed twice under two receipts (a second counter's copy of the same debt)
    twin_doc = {**payment.payload["Payments"][0], "id": "8f5e7a55-0000-4000-8000-000000000001"}
    twin_doc["paymentDetails"] = [{**twin_doc["paymentDetails"][0], "receiptNumber": "C02/TWIN/1"}]
    twin = replace(payment, event_id="8f5e7a55-0000-4000-8000-000000000002", seq=payment.seq + 1,
                   payload={"Payments": [twin_doc]})
    outcomes = hub_apply.apply_events(hub, [payment, twin])
    assert codes(outcomes) == ["applied", "applied"]          # money taken is never merged away
    assert sorted(r for r, *_ in state(hub)["payments"]) == sorted([receipt, "C02/TWIN/1"])
    from digitctl.services import hub_reconcile

    [excess] = hub_reconcile.reconcile(hub, hub.context())["ExcessCollections"]
    assert (excess["receiptNumber"], str(excess["amount"]), excess["consumerCode"]) == ("C02/TWIN/1", "1250.00", "TL-CC-1")


def test_paid_cancelled_and_paid_again_in_one_batch(counter, hub, wire, clerk):
    first = pay(counter, clerk, bill_for(counter, "TL-CC-1"), "1250")
    collection.cancel(counter, ctx_as(counter, "supervisor.amritsar"), AMRITSAR, first, "ERRORRECEIPT")
    [bill] = billing.fetch_bill(counter, clerk, AMRITSAR, consumer_code="TL-CC-1")
    second = collection.pay(counter, clerk, tenant_id=AMRITSAR, bill_id=bill["id"], mode="CASH", amount="1250")
    outcomes = hub_apply.apply_events(hub, wire.take())
    assert not [o for o in outcomes if isinstance(o, Parked)]
    at_hub = state(hub)
    assert at_hub["payments"] == state(counter)["payments"] and at_hub["collected"] == 125000
    assert {r: s for r, s, _, _ in at_hub["payments"]} == {
        first: "CANCELLED", second["paymentDetails"][0]["receiptNumber"]: "NEW"}
    assert audit.verify(hub, hub.context()).ok
