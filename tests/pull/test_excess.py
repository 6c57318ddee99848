"""Two counters took the same dues (issue 12, money first): both payments stand at the hub; the
excess is carried as advance where the business service allows it (WS), else held for a refund
decision (TL); `hub reconcile` lists exactly one entry per excess payment, and the counter that
took it hears so in its `_status` answer."""
from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from digitctl.services import billing, collection, hub_apply, hub_reconcile, shifts
from local_store.models import DemandDetail, HubExcessCollection, Payment
from tests.helpers import AMRITSAR, ctx_as, demand
from tests.hub_apply.conftest import apply_all

WC2021 = (1617215400000, 1648771199999)


def paid_at_hub_first(counter: Any, hub: Any, wire: Any, clerk: Any, dem: dict[str, Any], amount: str,
                      service: str) -> tuple[str, Any]:
    """The counter pays `dem`; before its payment reaches the hub, the hub's own clerk pays it too."""
    billing.create_demands(counter, ctx_as(counter, "clerk.amritsar"), [dem])
    [bill] = billing.fetch_bill(counter, clerk, AMRITSAR, consumer_code=dem["consumerCode"], business_service=service)
    doc = collection.pay(counter, clerk, tenant_id=AMRITSAR, bill_id=bill["id"], mode="CASH", amount=amount)
    events = wire.take()
    [pay_ev] = [e for e in events if e.event_type == "collection.payment.created"]
    assert not [o for o in apply_all(hub, [e for e in events if e is not pay_ev]) if not isinstance(o, str)]
    hub_clerk = ctx_as(hub, "clerk.amritsar")
    shifts.open_shift(hub, hub_clerk, "0")
    [hub_bill] = billing.fetch_bill(hub, hub_clerk, AMRITSAR, consumer_code=dem["consumerCode"],
                                    business_service=service)
    collection.pay(hub, hub_clerk, tenant_id=AMRITSAR, bill_id=hub_bill["id"], mode="CASH", amount=amount)
    return str(doc["paymentDetails"][0]["receiptNumber"]), pay_ev


def collected(app: Any, consumer: str) -> tuple[int, int]:
    """(sum of collections, sum of tax) on the consumer code's demand lines."""
    from local_store.models import Demand

    with app.store.engine.connect() as conn:
        got = conn.execute(select(func.coalesce(func.sum(DemandDetail.collection_amount_paise), 0),
                                  func.coalesce(func.sum(DemandDetail.tax_amount_paise), 0))
                           .join(Demand, Demand.id == DemandDetail.demand_id)
                           .where(Demand.consumer_code == consumer)).one()
    return int(got[0]), int(got[1])


def excess_rows(app: Any) -> list[Any]:
    with app.store.engine.connect() as conn:
        return conn.execute(select(HubExcessCollection)).all()


def test_a_second_payment_of_a_tl_demand_stands_and_waits_for_a_refund_decision(counter, hub, wire, clerk):
    receipt, ev = paid_at_hub_first(counter, hub, wire, clerk, demand("TL-EX-1"), "1250", "TL")
    assert hub_apply.apply_event(hub, ev) == "applied"
    with hub.store.engine.connect() as conn:
        payments = conn.execute(select(Payment.receipt_number, Payment.amount_paid_paise, Payment.payment_status,
                                       Payment.counter_code)).all()
    assert len(payments) == 2 and (receipt, 125000, "NEW", "C01") in payments     # both stand
    assert collected(hub, "TL-EX-1") == (125000, 125000)        # the demand paid once, no advance (TL allows none)
    shown = collection.get_payment(hub, ctx_as(hub, "supervisor.amritsar"), AMRITSAR, receipt)
    assert shown["totalAmountPaid"] == "1250.00" and shown["additionalDetails"]["excessAmount"] == "1250.00"

    report = hub_reconcile.reconcile(hub, hub.context())
    assert [(x["consumerCode"], x["receiptNumber"], x["counterCode"], x["amount"], x["disposition"])
            for x in report["ExcessCollections"]] == [("TL-EX-1", receipt, "C01", "1250.00", "REFUND_DECISION")]
    assert "refund" in report["ExcessCollections"][0]["whatToDo"]
    assert report["Parked"] == []

    # applied again (a retry after a crash): still one payment, one excess entry, nothing collected twice
    assert hub_apply.apply_event(hub, ev) == "applied"
    assert len(excess_rows(hub)) == 1 and collected(hub, "TL-EX-1") == (125000, 125000)


def test_a_second_payment_of_a_ws_demand_becomes_advance(counter, hub, wire, clerk):
    dem = demand("WS-EX-1", service="WS", period=WC2021, lines=(("WS_CHARGE", "500", "0"),))
    receipt, ev = paid_at_hub_first(counter, hub, wire, clerk, dem, "500", "WS")
    assert hub_apply.apply_event(hub, ev) == "applied"
    # collected once; the second 500 is a credit on WS_ADVANCE_CARRYFORWARD (tax 500 - 500 advance)
    assert collected(hub, "WS-EX-1") == (50000, 0)
    with hub.store.engine.connect() as conn:
        heads = dict(conn.execute(select(DemandDetail.tax_head_code, DemandDetail.tax_amount_paise)).all())
    assert heads["WS_ADVANCE_CARRYFORWARD"] == -50000
    [x] = hub_reconcile.reconcile(hub, hub.context())["ExcessCollections"]
    assert (x["receiptNumber"], x["amount"], x["disposition"]) == (receipt, "500.00", "ADVANCE")
    assert hub_apply.apply_event(hub, ev) == "applied"
    assert collected(hub, "WS-EX-1") == (50000, 0) and len(excess_rows(hub)) == 1


def test_a_part_that_still_fits_is_collected_and_only_the_rest_is_excess(counter, hub, wire, clerk):
    dem = demand("WS-EX-2", service="WS", period=WC2021, lines=(("WS_CHARGE", "500", "0"),))
    billing.create_demands(counter, ctx_as(counter, "clerk.amritsar"), [dem])
    [bill] = billing.fetch_bill(counter, clerk, AMRITSAR, consumer_code="WS-EX-2", business_service="WS")
    doc = collection.pay(counter, clerk, tenant_id=AMRITSAR, bill_id=bill["id"], mode="CASH", amount="500")
    events = wire.take()
    [pay_ev] = [e for e in events if e.event_type == "collection.payment.created"]
    apply_all(hub, [e for e in events if e is not pay_ev])
    hub_clerk = ctx_as(hub, "clerk.amritsar")
    shifts.open_shift(hub, hub_clerk, "0")
    [hub_bill] = billing.fetch_bill(hub, hub_clerk, AMRITSAR, consumer_code="WS-EX-2", business_service="WS")
    collection.pay(hub, hub_clerk, tenant_id=AMRITSAR, bill_id=hub_bill["id"], mode="CASH", amount="300")
    assert hub_apply.apply_event(hub, pay_ev) == "applied"
    assert collected(hub, "WS-EX-2") == (50000, 20000)          # 300 + 200 collected; 300 advance (tax 500 - 300)
    [x] = hub_reconcile.reconcile(hub, hub.context())["ExcessCollections"]
    assert (x["receiptNumber"], x["amount"]) == (doc["paymentDetails"][0]["receiptNumber"], "300.00")


def test_a_payment_records_the_mdms_version_it_was_taken_under(counter, clerk):
    billing.create_demands(counter, ctx_as(counter, "clerk.amritsar"), [demand("TL-MV-1")])
    [bill] = billing.fetch_bill(counter, clerk, AMRITSAR, consumer_code="TL-MV-1")
    doc = collection.pay(counter, clerk, tenant_id=AMRITSAR, bill_id=bill["id"], mode="CASH", amount="1250")
    version = counter.store_meta("mdms_version")
    assert version and doc["additionalDetails"]["mdmsVersion"] == version


def test_an_operator_resolves_an_excess_and_it_leaves_reconcile(counter, hub, wire, clerk):
    import pytest as _pytest

    from digitctl.errors import DigitError
    from digitctl.services import hub_excess

    receipt, ev = paid_at_hub_first(counter, hub, wire, clerk, demand("TL-EX-9"), "1250", "TL")
    hub_apply.apply_event(hub, ev)
    with _pytest.raises(DigitError) as err:
        hub_excess.resolve(hub, hub.context(), receipt, "MAYBE")
    assert err.value.code == "INVALID_DECISION"
    with _pytest.raises(DigitError) as err:
        hub_excess.resolve(hub, ctx_as(hub, "clerk.amritsar"), receipt, "REFUNDED")
    assert err.value.code == "ACCESS_DENIED"
    done = hub_excess.resolve(hub, hub.context(), receipt, "REFUNDED", "voucher RV-17")
    assert done["resolution"] == "REFUNDED: voucher RV-17"
    assert hub_reconcile.reconcile(hub, hub.context())["ExcessCollections"] == []
    with _pytest.raises(DigitError) as err:
        hub_excess.resolve(hub, hub.context(), receipt, "REFUNDED")
    assert err.value.code == "EXCESS_COLLECTION_RESOLVED"
    with _pytest.raises(DigitError) as err:
        hub_excess.resolve(hub, hub.context(), "NO-SUCH", "REFUNDED")
    assert err.value.code == "EXCESS_COLLECTION_NOT_FOUND"
