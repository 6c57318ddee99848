"""Billing on the bundled state: demands (DIGIT's validator codes, payers, advance carried, no
round-off added, all or nothing),
_fetchbill (reuse, expiry, regeneration, by mobile / application) and the NewTL fee hook.

Tax periods: the bundled TL periods end in 2021 (DIGIT's real data), so demands here use TL
2020-21 (TLRENEWAL2020) while the clock stands at 2026-11-25."""
from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from sqlalchemy import func, select, update

from digitctl.clock import IST
from digitctl.errors import Forbidden, InvalidInput, NotFound
from digitctl.services import billing, mdms
from local_store.models import AuditRecord, Bill, Demand, DemandDetail, OutboxEvent
from tests.helpers import (AMRITSAR, FEE_RATES, TL_FROM, TL_TO, act, build_world, create, ctx_as, demand,
                           walk_to_pending_payment)

TABLES = (Demand, DemandDetail, Bill, OutboxEvent, AuditRecord)


@pytest.fixture
def world(world_app):
    return world_app


def counts(app) -> dict[str, int]:
    with app.store.engine.connect() as conn:
        return {m.__tablename__: conn.execute(select(func.count()).select_from(m)).scalar_one() for m in TABLES}


# -- demands -------------------------------------------------------------------------------------
def test_create_keeps_the_lines_as_given_encrypts_the_payer_and_records_an_event(world):
    app = world
    [doc] = create(app, demand(lines=(("TL_TAX", "1250.40", "0"),)))
    lines = {d["taxHeadMasterCode"]: d["taxAmount"] for d in doc["demandDetails"]}
    assert lines == {"TL_TAX": "1250.40"}             # DemandService adds no round-off: calculators do
    assert doc["payer"]["name"] == "Simran Kaur" and doc["status"] == "ACTIVE"
    with app.uow(app.base_context(), readonly=True) as uow:
        row = uow.session.get(Demand, doc["id"])
        assert "Simran" not in row.payer_name_enc and "9876543210" not in row.payer_mobile_enc
        assert app.keyring.decrypt(uow, row.payer_mobile_enc) == "9876543210"
        assert row.payer_mobile_bidx == app.keyring.blind_index(AMRITSAR, "9876543210", "mobile")
        paise = sorted(uow.session.execute(select(DemandDetail.tax_amount_paise)
                                           .where(DemandDetail.demand_id == row.id)).scalars())
        assert paise == [125040]
        mobile_enc = row.payer_mobile_enc
    with app.store.engine.connect() as conn:
        events = conn.execute(select(OutboxEvent.event_type, OutboxEvent.payload, OutboxEvent.entity_id)
                              .where(OutboxEvent.event_type == "billing.demand.created")).all()
    assert len(events) == 1 and events[0].entity_id == doc["id"]
    assert "Simran" not in json.dumps(events[0].payload) and "|" in events[0].payload["Demands"][0]["payer"]["name"]
    listed = billing.list_demands(app, ctx_as(app, "approver.amritsar"), AMRITSAR, consumer_code="TL-CC-1")
    assert [d["id"] for d in listed] == [doc["id"]]
    assert listed[0]["payer"]["mobileNumber"] != mobile_enc      # decrypted (masked or plain)


@pytest.mark.parametrize("item,code", [
    (demand(lines=(("XX_TAX", "10", "0"),)), "EG_BS_TAXHEADS_NOTFOUND"),
    (demand(lines=(("PT_TAX", "10", "0"),)), "EG_BS_TAXHEADS_NOTFOUND"),          # another service's head
    (demand(service="NOPE"), "EG_BS_BUSINESSSERVICE_NOTFOUND"),
    (demand(period=(1767225600000, 1798761599000)), "EG_BS_TAXPERIODS_DEMAND"),   # 2026: no TL period
    (demand(lines=(("TL_TAX", "100", "150"),)), "EG_DEMAND_DEATIL_INVALID"),      # collection > tax
    (demand(lines=(("TL_TAX", "100", "0"), ("TL_ADHOC_REBATE", "-10", "-5"))),
     "EG_DEMAND_DEATIL_INVALID"),                                                  # a negative line part-used
    (demand(lines=(("TL_TAX", "100", "0"), ("TL_ADHOC_REBATE", "-10", "5"))), "EG_DEMAND_DEATIL_INVALID"),
    ({**demand(), "payer": {"uuid": "no-such-user", "name": "X"}}, "EG_BS_USER_UUID_NOTFOUND"),
])
def test_refusals_write_nothing(world, item, code):
    app = world
    before = counts(app)
    with pytest.raises(InvalidInput) as err:
        create(app, demand("OK-FIRST"), item)          # the good one before it is not kept either
    assert err.value.code == code
    assert counts(app) == before


def test_duplicate_consumer_code_and_period_is_refused(world):
    app = world
    create(app, demand())
    before = counts(app)
    with pytest.raises(InvalidInput) as err:
        create(app, demand())
    assert err.value.code == "EG_BS_DUPLICATE_CONSUMERCODE"
    with pytest.raises(InvalidInput) as err:
        create(app, demand("TL-CC-2"), demand("TL-CC-2"))       # within one request too
    assert err.value.code == "EG_BS_DUPLICATE_CONSUMERCODE"
    with pytest.raises(InvalidInput) as err:                    # a stored one among new consumers (bulk path)
        create(app, *(demand(f"TL-NEW-{i}") for i in range(3)), demand(), demand("TL-NEW-3"))
    assert err.value.code == "EG_BS_DUPLICATE_CONSUMERCODE" and err.value.params["consumerCode"] == "TL-CC-1"
    assert counts(app) == before


def test_a_negative_line_untouched_or_used_in_full_is_accepted(world):
    app = world
    [doc] = create(app, demand(lines=(("TL_TAX", "100", "100"), ("TL_ADHOC_REBATE", "-10", "-10"),
                                      ("TL_ADHOC_PENALTY", "20", "0"), ("TL_ADHOC_REBATE", "-5", "0"))))
    assert len(doc["demandDetails"]) == 4


def test_an_employee_cannot_own_a_demand(world):
    app = world
    clerk = ctx_as(app, "clerk.amritsar")
    before = counts(app)
    with pytest.raises(InvalidInput) as err:
        create(app, {**demand(), "payer": {"uuid": clerk.actor.uuid}})
    assert err.value.code == "EG_BS_EMPLOYEE_UUID_NOTALLOWED" and err.value.params["uuid"] == clerk.actor.uuid
    assert counts(app) == before


def test_a_payer_given_by_uuid_becomes_that_citizen(world):
    app = world
    citizen = ctx_as(app, "9876500002")                     # Navdeep Gill, CITIZEN
    [doc] = create(app, {**demand(), "payer": {"uuid": citizen.actor.uuid}})
    assert doc["payer"]["uuid"] == citizen.actor.uuid and doc["payer"]["name"] == "Navdeep Gill"
    [bill] = fetch(app, mobile="9876500002")                  # found by the citizen's own mobile
    assert bill["consumerCode"] == "TL-CC-1"


def test_only_an_active_demand_blocks_the_same_period(world):
    app = world
    [first] = create(app, demand())
    for status in ("CANCELLED", "ADJUSTED"):
        with app.store.engine.begin() as conn:
            conn.execute(update(Demand).where(Demand.consumer_code == "TL-CC-1").values(status=status))
        [again] = create(app, demand())                       # DemandQueryBuilder looks at ACTIVE demands only
        assert again["id"] != first["id"]
    with pytest.raises(InvalidInput) as err:
        create(app, demand())                                 # the last one is ACTIVE
    assert err.value.code == "EG_BS_DUPLICATE_CONSUMERCODE"


WC2018, WC2021 = (1554076800000, 1617235199999), (1617215400000, 1648771199999)


def test_an_advance_held_is_carried_into_the_new_demand(world):
    app = world
    # WS allows advance: an earlier demand, paid in full, holds ₹200 credit on WS_ADVANCE_CARRYFORWARD
    [old] = create(app, demand("WS-ADV", service="WS", period=WC2018,
                               lines=(("WS_CHARGE", "500", "500"), ("WS_ADVANCE_CARRYFORWARD", "-200", "0"))))
    [new] = create(app, demand("WS-ADV", service="WS", period=WC2021,
                               lines=(("WS_CHARGE", "300", "0"), ("WS_TIME_PENALTY", "30", "0"))))
    lines = {d["taxHeadMasterCode"]: (d["taxAmount"], d["collectionAmount"]) for d in new["demandDetails"]}
    assert lines == {"WS_CHARGE": ("300.00", "170.00"), "WS_TIME_PENALTY": ("30.00", "30.00")}   # smaller first
    [after] = [d for d in billing.list_demands(app, ctx_as(app, "clerk.amritsar"), AMRITSAR, consumer_code="WS-ADV")
               if d["id"] == old["id"]]
    advance = [(d["taxAmount"], d["collectionAmount"]) for d in after["demandDetails"]
               if d["taxHeadMasterCode"] == "WS_ADVANCE_CARRYFORWARD"]
    assert advance == [("-200.00", "-200.00")] and after["isPaymentCompleted"] is True     # used in full
    [bill] = fetch(app, consumer_code="WS-ADV", business_service="WS")
    assert bill["totalAmount"] == "130.00" and len(bill["billDetails"]) == 1
    with app.store.engine.connect() as conn:
        updated = conn.execute(select(OutboxEvent.entity_id).where(
            OutboxEvent.event_type == "billing.demand.updated")).scalars().all()
    assert updated == [old["id"]]


def test_an_advance_bigger_than_the_new_demand_is_used_as_far_as_needed(world):
    app = world
    [old] = create(app, demand("WS-ADV", service="WS", period=WC2018,
                               lines=(("WS_CHARGE", "500", "500"), ("WS_ADVANCE_CARRYFORWARD", "-800", "0"))))
    [new] = create(app, demand("WS-ADV", service="WS", period=WC2021, lines=(("WS_CHARGE", "300", "0"),)))
    lines = [(d["taxHeadMasterCode"], d["taxAmount"], d["collectionAmount"]) for d in new["demandDetails"]]
    assert lines == [("WS_CHARGE", "300.00", "300.00")] and new["isPaymentCompleted"] is True
    # (DIGIT would settle every line here, its gross taxes adding up to 0, and lose ₹500: see carry_advance)
    with app.store.engine.connect() as conn:      # the rest (₹500) stays credit where it was
        advance = conn.execute(select(DemandDetail.tax_amount_paise, DemandDetail.collection_amount_paise).where(
            DemandDetail.demand_id == old["id"], DemandDetail.tax_head_code == "WS_ADVANCE_CARRYFORWARD")).one()
    assert tuple(advance) == (-80000, -30000)


def test_create_needs_the_demand_create_action(world):
    app = world
    before = counts(app)
    with pytest.raises(Forbidden) as err:
        create(app, demand(), who="approver.amritsar")      # TL_APPROVER: search yes, create no
    assert err.value.code == "ACCESS_DENIED" and err.value.params["action"] == "/billing-service/demand/_create"
    assert counts(app) == before


# -- bills ---------------------------------------------------------------------------------------
def fetch(app, who: str = "clerk.amritsar", **kw):
    return billing.fetch_bill(app, ctx_as(app, who), AMRITSAR, **kw)


def test_fetch_amount_is_tax_less_collected_and_expires_end_of_day_ist(world):
    app = world
    create(app, demand(lines=(("TL_TAX", "1250.40", "250"), ("TL_ROUNDOFF", "-0.40", "0"))))
    [bill] = fetch(app, consumer_code="TL-CC-1", business_service="TL")
    heads = {a["taxHeadCode"]: a["amount"] for a in bill["billDetails"][0]["billAccountDetails"]}
    assert heads == {"TL_TAX": "1000.40", "TL_ROUNDOFF": "-0.40"}
    assert bill["totalAmount"] == "1000.00" and bill["status"] == "ACTIVE"
    assert bill["billNumber"] == "C01/BILL-000001"
    expiry = dt.datetime.fromtimestamp(bill["billDetails"][0]["expiryDate"] / 1000, IST)
    assert expiry == dt.datetime(2026, 11, 25, 23, 59, 59, tzinfo=IST)    # today: demandUpdateTime is no expiry
    assert "|" not in (bill["payerName"] or "") and bill["payerName"]      # shown, never ciphertext
    with app.uow(app.base_context(), readonly=True) as uow:
        row, domain = billing.bill_in(uow, app, AMRITSAR, bill["id"])
        assert row.total_amount_paise == 100000 and domain.total_amount == Decimal("1000.00")
        assert "|" in row.bill["payerName"]                                # stored as ciphertext
        assert billing.bill_in(uow, app, AMRITSAR, "C01/BILL-000001")[0].id == row.id
        with pytest.raises(NotFound):
            billing.bill_in(uow, app, "pb.jalandhar", bill["id"])


def test_second_fetch_returns_the_same_bill(world):
    app = world
    create(app, demand())
    first = fetch(app, consumer_code="TL-CC-1", business_service="TL")[0]
    before = counts(app)
    again = fetch(app, consumer_code="TL-CC-1", business_service="TL")[0]
    assert again["id"] == first["id"] and again["billNumber"] == first["billNumber"]
    after = counts(app)
    assert after["bill"] == before["bill"]


def test_a_changed_demand_expires_the_old_bill_and_makes_a_new_one(world):
    app = world
    [doc] = create(app, demand())
    first = fetch(app, consumer_code="TL-CC-1", business_service="TL")[0]
    with app.store.engine.begin() as conn:             # a collection recorded on the demand
        conn.execute(update(DemandDetail).where(DemandDetail.demand_id == doc["id"],
                                                DemandDetail.tax_head_code == "TL_TAX")
                     .values(collection_amount_paise=50000))
    second = fetch(app, consumer_code="TL-CC-1", business_service="TL")[0]
    assert second["id"] != first["id"] and second["totalAmount"] == "750.00"
    assert second["billNumber"] == "C01/BILL-000002"
    with app.store.engine.connect() as conn:
        statuses = dict(conn.execute(select(Bill.id, Bill.status)).all())
        expired = conn.execute(select(Bill.bill).where(Bill.id == first["id"])).scalar_one()
    assert statuses == {first["id"]: "EXPIRED", second["id"]: "ACTIVE"} and expired["status"] == "EXPIRED"


def test_a_bill_expired_by_the_clock_is_regenerated(world, frozen_clock):
    app = world
    create(app, demand())
    first = fetch(app, consumer_code="TL-CC-1", business_service="TL")[0]
    frozen_clock.advance(hours=12)                      # 2026-11-25 23:00 IST: still valid
    assert fetch(app, consumer_code="TL-CC-1", business_service="TL")[0]["id"] == first["id"]
    frozen_clock.advance(hours=1)                       # past 23:59:59 IST
    second = fetch(app, consumer_code="TL-CC-1", business_service="TL")[0]
    assert second["id"] != first["id"]
    assert dt.datetime.fromtimestamp(second["billDetails"][0]["expiryDate"] / 1000, IST).date() == dt.date(2026, 11, 26)


def test_a_demands_bill_expiry_time_and_fixed_date_set_the_bills_expiry(world):
    app = world
    week = 7 * 86_400_000
    fixed = int(dt.datetime(2027, 1, 10, 9, 0, tzinfo=IST).timestamp() * 1000)
    create(app, {**demand("TL-EXP-1"), "billExpiryTime": week}, {**demand("TL-EXP-2"), "fixedBillExpiryDate": fixed})
    days = {c: dt.datetime.fromtimestamp(fetch(app, consumer_code=c, business_service="TL")[0]["billDetails"][0]
                                         ["expiryDate"] / 1000, IST) for c in ("TL-EXP-1", "TL-EXP-2")}
    assert days == {"TL-EXP-1": dt.datetime(2026, 12, 2, 23, 59, 59, tzinfo=IST),
                    "TL-EXP-2": dt.datetime(2027, 1, 10, 23, 59, 59, tzinfo=IST)}


def test_fetch_by_mobile_and_by_application(world):
    app = world
    create(app, demand("TL-CC-1"), demand("TL-CC-2", mobile="9876500002"), demand("TL-CC-3"))
    by_mobile = fetch(app, mobile="+91 98765 43210")
    assert sorted(b["consumerCode"] for b in by_mobile) == ["TL-CC-1", "TL-CC-3"]
    assert [b["consumerCode"] for b in fetch(app, application_no="TL-CC-2")] == ["TL-CC-2"]
    with pytest.raises(NotFound) as err:
        fetch(app, mobile="9999999999")
    assert err.value.code == "EG_BS_BILL_NO_DEMANDS_FOUND"
    with pytest.raises(InvalidInput):
        fetch(app, mobile="9876543210", consumer_code="TL-CC-1")


def test_a_settled_demand_has_no_bill(world):
    app = world
    create(app, demand(lines=(("TL_TAX", "1000", "1000"),)))
    with pytest.raises(NotFound):
        fetch(app, consumer_code="TL-CC-1", business_service="TL")


# -- the NewTL hook ------------------------------------------------------------------------------
def test_newtl_pendingpayment_raises_the_fee_demand_and_a_bill_can_be_fetched(world):
    app = world
    mdms.apply(app, app.context("pb"), [FEE_RATES])
    no = walk_to_pending_payment(app)
    [doc] = billing.list_demands(app, ctx_as(app, "approver.amritsar"), AMRITSAR, consumer_code=no)
    lines = {d["taxHeadMasterCode"]: d["taxAmount"] for d in doc["demandDetails"]}
    assert lines == {"TL_TAX": "1250.40", "TL_ROUNDOFF": "-0.40"}
    assert (doc["taxPeriodFrom"], doc["taxPeriodTo"]) == (TL_FROM, TL_TO)     # no period has 2026: the latest
    assert doc["additionalDetails"]["taxPeriod"]["containsNow"] is False
    assert "latest" in doc["additionalDetails"]["taxPeriod"]["note"]
    [bill] = fetch(app, application_no=no)
    assert bill["totalAmount"] == "1250.00" and bill["businessService"] == "TL"


def test_units_multiply_and_unknown_trade_types_take_the_star_rate(world):
    app = world
    mdms.apply(app, app.context("pb"), [FEE_RATES])
    details = {"tradeName": "Gill Works", "tradeType": "GOODS.MANUFACTURE.TST-1", "units": "3"}
    import digitctl.services.applications as applications
    no = applications.create(app, ctx_as(app, "clerk.amritsar"), business_service="NewTL", tenant_id=AMRITSAR,
                             applicant_name="Navdeep Gill", applicant_mobile="9876500002", locality="SUN04",
                             details=details)["applicationNo"]
    for who, action in (("clerk.amritsar", "APPLY"), ("verifier.amritsar", "FORWARD"),
                        ("inspector.amritsar", "FORWARD"), ("approver.amritsar", "APPROVE")):
        act(app, who, no, action)
    [doc] = billing.list_demands(app, ctx_as(app, "approver.amritsar"), AMRITSAR, consumer_code=no)
    lines = {d["taxHeadMasterCode"]: d["taxAmount"] for d in doc["demandDetails"]}
    assert lines == {"TL_TAX": "7502.25", "TL_ROUNDOFF": "-0.25"}       # 2500.75 x 3, GOODS.MANUFACTURE prefix
    assert doc["additionalDetails"]["calculation"]["rateFor"] == "GOODS.MANUFACTURE"


def test_without_the_fee_master_the_hook_raises_nothing(world):
    app = world
    from sqlalchemy import delete

    from local_store.models import MdmsRecord

    with app.uow(app.base_context()) as uow:       # a state that ships no FeeRates master
        uow.session.execute(delete(MdmsRecord).where(MdmsRecord.module == "TradeLicense",
                                                     MdmsRecord.master == "FeeRates"))
        uow.commit()
    app.mdms.invalidate()
    no = walk_to_pending_payment(app)
    assert billing.list_demands(app, ctx_as(app, "approver.amritsar"), AMRITSAR, consumer_code=no) == []
