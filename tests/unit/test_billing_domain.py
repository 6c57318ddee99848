"""Billing rules on Punjab's real BillingService masters (TaxHeadMaster, TaxPeriod, BusinessService):
masters parsing, round-off, demand refusals with DIGIT's codes, bills, expiry, apportionment."""
from __future__ import annotations

import datetime as dt
import itertools
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digitctl.domain import billing as b
from digitctl.domain.billing import Bill, BillAccountDetail, BillDetail, Demand, DemandDetail
from digitctl.domain.money import ZERO, money
from digitctl.errors import InvalidInput

IST = dt.timezone(dt.timedelta(hours=5, minutes=30))
NOW = dt.datetime(2026, 11, 25, 11, 0, tzinfo=IST)
DAY = 86_400_000

# real TaxPeriod rows: TLAN2018, TLAN2019 and WS's WC2018, WC2021
TL_2018 = (1522540800000, 1554076799000)
TL_2019 = (1554076799000, 1585679399000)
WS_2018 = (1554076800000, 1617235199999)
WS_2021 = (1617215400000, 1648771199999)


@pytest.fixture(scope="module")
def masters(reference: Path) -> b.BillingMasters:
    folder = reference / "mdms" / "data" / "pb" / "BillingService"
    rows = {name: json.loads((folder / f"{name}.json").read_text())[name]
            for name in ("TaxHeadMaster", "TaxPeriod", "BusinessService")}
    return b.BillingMasters.from_mdms(rows["TaxHeadMaster"], rows["TaxPeriod"], rows["BusinessService"])


def ids():
    counter = itertools.count(1)
    return lambda: f"id-{next(counter)}"


def tl_demand(*lines: tuple[str, str] | tuple[str, str, str], period=TL_2019, code="PB-TL-2026-000001",
              **kw) -> Demand:
    details = tuple(DemandDetail(line[0], money(line[1]), money(line[2] if len(line) > 2 else "0"))
                    for line in lines)
    return Demand(code, "TL", period[0], period[1], details, tenant_id="pb.amritsar", **kw)


def refused(code: str):
    return pytest.raises(InvalidInput, match=code)


# --- masters as the real data has them ---------------------------------------------------------

def test_masters_parse_the_real_data(masters):
    tl_tax = masters.tax_heads["TL_TAX"]
    assert (tl_tax.service, tl_tax.category, tl_tax.order, tl_tax.is_debit) == ("TL", "TAX", 2, False)
    assert masters.tax_heads["TL_ADHOC_REBATE"].is_debit is True
    assert all(isinstance(h.order, int) for h in masters.tax_heads.values())

    tl = masters.business_services["TL"]
    assert (tl.part_payment_allowed, tl.is_advance_allowed, tl.demand_update_time) == (False, False, 604800000)
    assert tl.collection_modes_not_allowed == ("DD", "OFFLINE_NEFT", "OFFLINE_RTGS", "POSTAL_ORDER")
    pt = masters.business_services["PT"]
    assert pt.is_bill_amendment_enabled is True            # "true", a string, in the file
    assert pt.min_amount_payable == Decimal("100.00") and pt.part_payment_allowed
    ws = masters.business_services["WS"]
    assert ws.is_advance_allowed and ws.demand_update_time == DAY

    assert masters.advance_tax_head("WS") == "WS_ADVANCE_CARRYFORWARD"
    assert masters.advance_tax_head("PT") == "PT_ADVANCE_CARRYFORWARD"
    assert masters.advance_tax_head("TL") is None
    assert {p.code for p in masters.periods_of("TL")} >= {"TLAN2018", "TLAN2019"}


@pytest.mark.parametrize("raw, value", [(True, True), ("true", True), ("FALSE", False), (None, False)])
def test_parse_bool(raw, value):
    assert b.parse_bool(raw) is value


@pytest.mark.parametrize("raw, value", [("2", 2), (3, 3), (" 10 ", 10), (None, None), ("", None)])
def test_parse_int_takes_string_or_int_orders(raw, value):
    assert b.parse_int(raw) == value


def test_parse_rejects_junk():
    with pytest.raises(ValueError):
        b.parse_bool("yes")
    with pytest.raises(ValueError):
        b.parse_int(2.5)
    with pytest.raises(ValueError):
        b.parse_int(True)


def test_amounts_are_decimal_and_floats_are_refused():
    line = DemandDetail("TL_TAX", Decimal("100.456"))
    assert line.tax_amount == Decimal("100.46") and line.collection_amount == ZERO
    with pytest.raises(TypeError):
        DemandDetail("TL_TAX", 100.5)  # type: ignore[arg-type]
    # a float from plain json.loads goes through its repr, never its binary value
    parsed = DemandDetail.from_digit(json.loads('{"taxHeadMasterCode": "TL_TAX", "taxAmount": 0.1}'))
    assert parsed.tax_amount == Decimal("0.10")


def test_demand_round_trips_digit_json():
    doc = {"tenantId": "pb.amritsar", "consumerCode": "PB-TL-1", "consumerType": "tradelicense",
           "businessService": "TL", "taxPeriodFrom": TL_2019[0], "taxPeriodTo": TL_2019[1],
           "minimumAmountPayable": 0, "status": "ACTIVE", "billExpiryTime": None,
           "payer": {"uuid": "u-1", "name": "Satnam"}, "additionalDetails": None,
           "demandDetails": [{"taxHeadMasterCode": "TL_TAX", "taxAmount": Decimal("500.40"),
                              "collectionAmount": 0}]}
    demand = Demand.from_digit(doc)
    out = demand.to_digit()
    assert out["demandDetails"][0]["taxAmount"] == Decimal("500.40")
    assert {k: out[k] for k in ("consumerCode", "businessService", "taxPeriodFrom", "status")} == \
        {"consumerCode": "PB-TL-1", "businessService": "TL", "taxPeriodFrom": TL_2019[0], "status": "ACTIVE"}
    with refused("EG_BS_DEMAND_STATUS_INVALID"):
        Demand.from_digit({**doc, "status": "PAID"})


# --- round-off ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("amount, expected", [
    ("100.40", "-0.40"), ("100.60", "0.40"), ("100.49", "-0.49"), ("100.51", "0.49"),
    ("-12.36", "0.36"), ("-12.70", "0.70"),
])
def test_round_off(amount, expected):
    line = b.round_off([DemandDetail("TL_TAX", amount)], "TL")
    assert line is not None
    assert (line.tax_head_code, line.tax_amount, line.collection_amount) == ("TL_ROUNDOFF", Decimal(expected), ZERO)


@pytest.mark.parametrize("amount", ["100", "100.00", "100.50", "0"])
def test_no_round_off_when_whole_or_exactly_half(amount):
    assert b.round_off([DemandDetail("TL_TAX", amount)], "TL") is None


def test_round_off_sums_every_line_and_nets_out_an_earlier_round_off(masters):
    lines = [DemandDetail("TL_TAX", Decimal("500.30")), DemandDetail("TL_ADHOC_PENALTY", Decimal("10.45")),
             DemandDetail("TL_ADHOC_REBATE", Decimal("-5.00"))]
    line = b.round_off(lines, "TL")
    assert line is not None and line.tax_amount == Decimal("0.25")            # 505.75 → 506
    assert line.tax_head_code in masters.heads_of("TL")
    # an update: a new line changes the total; the new round-off is the difference
    updated = lines + [line, DemandDetail("TL_TAX", Decimal("1.10"))]                   # 506.85 before round-off
    again = b.round_off(updated, "TL")
    assert again is not None and again.tax_amount == Decimal("-0.10")          # net 0.15 → 507
    assert b.round_off(updated + [again], "TL") is None


def test_round_off_head_can_be_named():
    line = b.round_off([DemandDetail("WS_CHARGE", Decimal("10.20"))], "WS", code="WS_Round_Off")
    assert line is not None and line.tax_head_code == "WS_Round_Off"


# --- demand validation --------------------------------------------------------------------------------------

def test_a_valid_trade_licence_demand_passes(masters):
    demand = tl_demand(("TL_TAX", "500"), ("TL_ADHOC_PENALTY", "50", "50"), ("TL_ADHOC_REBATE", "-20"))
    b.validate_demand(demand, masters)


def test_unknown_business_service(masters):
    demand = Demand("X-1", "NOSUCH", *TL_2019, [DemandDetail("TL_TAX", Decimal("1"))])
    with refused("EG_BS_BUSINESSSERVICE_NOTFOUND") as err:
        b.validate_demand(demand, masters)
    assert err.value.params == {"businessService": "NOSUCH"}


def test_a_tax_head_of_another_service_is_refused(masters):
    with refused("EG_BS_TAXHEADS_NOTFOUND") as err:
        b.validate_demand(tl_demand(("TL_TAX", "500"), ("PT_TAX", "10")), masters)
    assert err.value.params["taxHeadMasterCodes"] == ["PT_TAX"]
    assert "PT_TAX belongs to PT" in err.value.message
    with refused("EG_BS_TAXHEADS_NOTFOUND"):
        b.validate_demand(tl_demand(("TL_NO_SUCH_HEAD", "5")), masters)


def test_a_period_outside_every_tax_period_is_refused(masters):
    later = (1893436200000, 1924972199000)            # 2030-31: no TL TaxPeriod
    with refused("EG_BS_TAXPERIODS_DEMAND"):
        b.validate_demand(tl_demand(("TL_TAX", "500"), period=later), masters)
    across = (TL_2018[0], TL_2019[1])                  # spans two periods, inside neither
    with refused("EG_BS_TAXPERIODS_DEMAND"):
        b.validate_demand(tl_demand(("TL_TAX", "500"), period=across), masters)
    backwards = (TL_2019[0] + DAY, TL_2019[0])
    with refused("EG_BS_TAXPERIODS_DEMAND"):
        b.validate_demand(tl_demand(("TL_TAX", "500"), period=backwards), masters)


def test_a_service_without_tax_periods_is_refused(masters):
    demand = Demand("RT-1", "RT.Land_Rent", *TL_2019, [DemandDetail("RT.LAND_RENT_TAX", Decimal("100"))])
    with refused("EG_BS_TAXPERIODS_BUINESSSERVICE"):
        b.validate_demand(demand, masters)


def test_collection_above_tax_is_refused(masters):
    with refused("EG_DEMAND_DEATIL_INVALID") as err:
        b.validate_demand(tl_demand(("TL_TAX", "500", "600")), masters)
    assert err.value.params["taxHeadMasterCodes"] == ["TL_TAX"]
    with refused("EG_DEMAND_DEATIL_INVALID"):
        b.validate_demand(tl_demand(("TL_TAX", "500", "-1")), masters)
    # a negative (rebate) line is untouched or used in full (DemandValidatorV1's negative-tax rule)
    b.validate_demand(tl_demand(("TL_TAX", "500"), ("TL_ADHOC_REBATE", "-20", "-20")), masters)
    b.validate_demand(tl_demand(("TL_TAX", "500"), ("TL_ADHOC_REBATE", "-20", "0")), masters)
    for part in ("-5", "5", "-25"):
        with refused("EG_DEMAND_DEATIL_INVALID") as err:
            b.validate_demand(tl_demand(("TL_TAX", "500"), ("TL_ADHOC_REBATE", "-20", part)), masters)
        assert "in case of negative Tax" in err.value.message


def test_a_second_demand_for_the_same_consumer_and_period_is_refused(masters):
    first = tl_demand(("TL_TAX", "500"), id="d-1")
    again = tl_demand(("TL_TAX", "700"))
    with refused("EG_BS_DUPLICATE_CONSUMERCODE") as err:
        b.validate_demand(again, masters, existing=[first])
    assert err.value.params["existingDemandId"] == "d-1"
    assert err.value.as_digit()["code"] == "EG_BS_DUPLICATE_CONSUMERCODE"
    # another period, another consumer, a cancelled one, or the same demand (update): allowed
    b.validate_demand(tl_demand(("TL_TAX", "500"), period=TL_2018), masters, existing=[first])
    b.validate_demand(tl_demand(("TL_TAX", "500"), code="PB-TL-OTHER"), masters, existing=[first])
    b.validate_demand(again, masters, existing=[tl_demand(("TL_TAX", "1"), status="CANCELLED")])
    b.validate_demand(again, masters, existing=[tl_demand(("TL_TAX", "1"), status="ADJUSTED")])   # ACTIVE only
    b.validate_demand(first, masters, existing=[first])


# --- an advance carried into a new demand ------------------------------------------------------------------

def ws_demand(period: tuple[int, int], *lines: tuple[str, str, str], id: str | None = None) -> Demand:
    return Demand("WS/9", "WS", *period, [DemandDetail(c, Decimal(t), Decimal(x)) for c, t, x in lines], id=id)


def test_carry_advance_pays_the_new_demand_from_the_credit(masters):
    old = ws_demand(WS_2018, ("WS_CHARGE", "500", "500"), ("WS_ADVANCE_CARRYFORWARD", "-200", "0"), id="old")
    new = ws_demand(WS_2021, ("WS_CHARGE", "300", "0"), ("WS_TIME_PENALTY", "30", "0"))
    carried, changed = b.carry_advance(new, [old], masters)
    assert [(x.tax_head_code, x.collection_amount) for x in carried.details] == [
        ("WS_CHARGE", Decimal("170.00")), ("WS_TIME_PENALTY", Decimal("30.00"))]
    assert [(d.id, [x.collection_amount for x in d.details]) for d in changed] == [
        ("old", [Decimal("500.00"), Decimal("-200.00")])]


def test_carry_advance_leaves_the_rest_as_credit_on_the_new_demand(masters):
    # DIGIT counts the old demand's gross tax as still needing credit, takes it all, and puts
    # what the lines did not need back as a new advance line on the latest demand
    old = ws_demand(WS_2018, ("WS_CHARGE", "500", "500"), ("WS_ADVANCE_CARRYFORWARD", "-400", "0"), id="old")
    new = ws_demand(WS_2021, ("WS_CHARGE", "300", "0"))
    carried, [after] = b.carry_advance(new, [old], masters)
    assert [(x.tax_head_code, x.tax_amount, x.collection_amount) for x in carried.details] == [
        ("WS_CHARGE", Decimal("300.00"), Decimal("300.00")),
        ("WS_ADVANCE_CARRYFORWARD", Decimal("-100.00"), ZERO)]
    assert after.details[1].collection_amount == Decimal("-400.00")
    total_credit = sum((x.tax_amount - x.collection_amount for d in (carried, after) for x in d.details
                        if x.tax_head_code == "WS_ADVANCE_CARRYFORWARD"), ZERO)
    assert total_credit == Decimal("-100.00")                  # 400 credit − 300 used: nothing lost


def test_carry_advance_does_nothing_without_advance_or_credit(masters):
    paid = ws_demand(WS_2018, ("WS_CHARGE", "500", "500"), id="old")
    new = ws_demand(WS_2021, ("WS_CHARGE", "300", "0"))
    assert b.carry_advance(new, [paid], masters) == (new, [])
    tl_old = tl_demand(("TL_TAX", "500", "500"), period=TL_2018)
    tl_new = tl_demand(("TL_TAX", "500"))
    assert b.carry_advance(tl_new, [tl_old], masters) == (tl_new, [])      # TL: isAdvanceAllowed false


# --- bills --------------------------------------------------------------------------------------------------

def ws_demands():
    old = Demand("WS/1", "WS", *WS_2018, [DemandDetail("WS_CHARGE", Decimal("500"), Decimal("100")),
                                          DemandDetail("WS_TIME_REBATE", Decimal("-50")),
                                          DemandDetail("WS_CHARGE", Decimal("20"))], id="dem-old")
    new = Demand("WS/1", "WS", *WS_2021, [DemandDetail("WS_CHARGE", Decimal("300")),
                                          DemandDetail("WS_TIME_PENALTY", Decimal("30"))], id="dem-new")
    return old, new


def test_bill_amounts_are_tax_minus_collected_per_head(masters):
    old, new = ws_demands()
    bill = b.make_bill([new, old], masters.tax_heads, NOW, service=masters.business_services["WS"],
                       new_id=ids())
    assert [d.demand_id for d in bill.bill_details] == ["dem-old", "dem-new"]          # oldest first
    first = bill.bill_details[0]
    lines = {a.tax_head_code: a.amount for a in first.account_details}
    assert lines == {"WS_CHARGE": Decimal("420.00"), "WS_TIME_REBATE": Decimal("-50.00")}  # 500-100+20 merged
    assert first.amount == Decimal("370.00")
    assert bill.total_amount == Decimal("700.00")
    assert bill.status == "ACTIVE" and bill.consumer_code == "WS/1" and bill.business_service == "WS"
    assert bill.is_advance_allowed and bill.part_payment_allowed
    assert all(a.adjusted_amount == 0 for d in bill.bill_details for a in d.account_details)
    assert [a.order for a in bill.bill_details[1].account_details] == [0, 3]   # WS_CHARGE 0, penalty 3

    doc = bill.to_digit()
    assert doc["totalAmount"] == Decimal("700.00") and doc["billDetails"][0]["billId"] == bill.id
    assert set(doc["billDetails"][0]["billAccountDetails"][0]) >= {"taxHeadCode", "amount", "adjustedAmount",
                                                                    "order", "demandDetailId"}


def test_bill_expires_at_235959_ist_today_whatever_the_service_demand_update_time(masters):
    # BillServicev2.getExpiryDateForDemand reads only the demand: TL's demandUpdateTime (7 days) is no expiry
    assert masters.business_services["TL"].demand_update_time == 7 * DAY
    bill = b.make_bill([tl_demand(("TL_TAX", "500"))], masters.tax_heads, NOW,
                       service=masters.business_services["TL"])
    expiry = dt.datetime.fromtimestamp(bill.bill_details[0].expiry_date / 1000, IST)
    assert expiry == dt.datetime(2026, 11, 25, 23, 59, 59, tzinfo=IST)
    assert not bill.is_expired(NOW)
    assert not bill.is_expired(dt.datetime(2026, 11, 25, 23, 59, 58, tzinfo=IST))
    assert bill.is_expired(dt.datetime(2026, 11, 25, 23, 59, 59, tzinfo=IST))


def test_each_bill_detail_expires_as_its_own_demand_says(masters):
    fixed = int(dt.datetime(2027, 1, 10, 9, 0, tzinfo=IST).timestamp() * 1000)
    old = tl_demand(("TL_TAX", "500"), period=TL_2018, bill_expiry_time=3 * DAY)
    new = tl_demand(("TL_TAX", "700"), fixed_bill_expiry_date=fixed)
    bill = b.make_bill([old, new], masters.tax_heads, NOW)
    days = [dt.datetime.fromtimestamp(d.expiry_date / 1000, IST) for d in bill.bill_details]
    assert days == [dt.datetime(2026, 11, 28, 23, 59, 59, tzinfo=IST), dt.datetime(2027, 1, 10, 23, 59, 59, tzinfo=IST)]
    assert bill.expiry_date == bill.bill_details[0].expiry_date          # the bill lives as long as its first detail


def test_expiry_day_is_the_ist_day_not_the_utc_day():
    late_utc = dt.datetime(2026, 11, 25, 20, 0, tzinfo=dt.timezone.utc)          # 26 Nov 01:30 IST
    expiry = b.expiry_date(late_utc, DAY)
    assert dt.datetime.fromtimestamp(expiry / 1000, IST) == dt.datetime(2026, 11, 27, 23, 59, 59, tzinfo=IST)
    assert dt.datetime.fromtimestamp(b.expiry_date(NOW, None) / 1000, IST).date() == dt.date(2026, 11, 25)
    fixed = int(dt.datetime(2027, 1, 10, 9, 0, tzinfo=IST).timestamp() * 1000)
    assert dt.datetime.fromtimestamp(b.expiry_date(NOW, DAY, fixed) / 1000, IST) == \
        dt.datetime(2027, 1, 10, 23, 59, 59, tzinfo=IST)
    past = int(dt.datetime(2026, 1, 10, tzinfo=IST).timestamp() * 1000)           # a past fixed date is ignored
    assert b.expiry_date(NOW, DAY, past) == b.expiry_date(NOW, DAY)


def test_only_active_unsettled_demands_are_billed(masters):
    paid = tl_demand(("TL_TAX", "500", "500"), period=TL_2018)
    cancelled = tl_demand(("TL_TAX", "900"), status="CANCELLED")
    with refused("EG_BS_BILL_NO_DEMANDS_FOUND"):
        b.make_bill([paid, cancelled], masters.tax_heads, NOW)
    bill = b.make_bill([paid, cancelled, tl_demand(("TL_TAX", "100"))], masters.tax_heads, NOW)
    assert len(bill.bill_details) == 1 and bill.total_amount == Decimal("100.00")


def test_make_bill_refusals(masters):
    with refused("EG_BS_TAXHEADS_NOTFOUND"):
        b.make_bill([tl_demand(("TL_GHOST", "5"))], masters.tax_heads, NOW)
    with refused("EG_BS_BILL_CONSUMERCODES_MIXED"):
        b.make_bill([tl_demand(("TL_TAX", "5")), tl_demand(("TL_TAX", "5"), code="OTHER")],
                    masters.tax_heads, NOW)
    with refused("INVALID_BILL_AMOUNT"):
        b.make_bill([tl_demand(("TL_ADHOC_REBATE", "-5"))], masters.tax_heads, NOW)


def test_make_bills_groups_by_consumer_code(masters):
    old, new = ws_demands()
    bills = b.make_bills([old, new, tl_demand(("TL_TAX", "500"))], masters, NOW)
    assert sorted((x.consumer_code, len(x.bill_details)) for x in bills) == [("PB-TL-2026-000001", 1), ("WS/1", 2)]
    tl_bill = next(x for x in bills if x.business_service == "TL")
    assert not tl_bill.part_payment_allowed and not tl_bill.is_advance_allowed


# --- payment amount -------------------------------------------------------------------------------------------

def test_payment_amount_rules():
    assert b.validate_payment_amount("500") == Decimal("500.00")
    assert b.validate_payment_amount("500.00", total_due="500") == Decimal("500.00")
    with refused("INVALID_AMT_PAID_FRACTION"):
        b.validate_payment_amount("500.50")
    with refused("INVALID_AMT_PAID_NEG_CODE"):
        b.validate_payment_amount("-1")
    with refused("INVALID_AMOUNT"):
        b.validate_payment_amount("0", total_due="10")
    assert b.validate_payment_amount(0, total_due=0) == ZERO
    with refused("INVALID_BILL_AMOUNT"):
        b.validate_payment_amount("10", total_due="10.40")
    with pytest.raises(TypeError):
        b.validate_payment_amount(500.0)  # type: ignore[arg-type]


# --- apportionment ---------------------------------------------------------------------------------------------

def ws_bill(masters) -> Bill:
    old, new = ws_demands()
    return b.make_bill([old, new], masters.tax_heads, NOW, new_id=ids())


def shares(allocations) -> list[tuple[int, str, Decimal]]:
    return [(a.bill_detail.from_period, a.account_detail.tax_head_code, a.amount) for a in allocations]


def ws_apportion(bill, amount, **kw):
    args: dict[str, Any] = dict(advance_allowed=True, advance_tax_head="WS_ADVANCE_CARRYFORWARD", part_payment_allowed=True)
    args.update(kw)
    return b.apportion(bill, amount, **args)


def test_partial_payment_fills_the_oldest_period_first_rebate_first(masters):
    bill = ws_bill(masters)                                   # old: 420 − 50 = 370, new: 300 + 30 = 330
    out = ws_apportion(bill, "400")
    assert shares(out) == [
        (WS_2018[0], "WS_TIME_REBATE", Decimal("-50.00")),
        (WS_2018[0], "WS_CHARGE", Decimal("420.00")),
        (WS_2021[0], "WS_TIME_PENALTY", Decimal("30.00")),      # the smaller line first (DIGIT: by value)
        (WS_2021[0], "WS_CHARGE", Decimal("0.00")),
    ]
    assert sum(a.amount for a in out) == Decimal("400")
    after = b.apply_apportionment(bill, out)
    assert [d.amount_paid for d in after.bill_details] == [Decimal("370.00"), Decimal("30.00")]
    assert b.bill_status_after(bill, "400") == "PARTIALLY_PAID"


def test_within_a_period_lines_go_by_amount_then_order_as_digit_ships_it(masters):
    # OrderByPriority with egov.apportion.default.value.order=true: buckets sorted by amount, then by
    # order (PT_TAX 0, PT_CANCER_CESS 1, PT_TIME_PENALTY 3, PT_FIRE_CESS 7; the rebate is negative: first)
    demand = Demand("PT-1", "PT", 1554076799000, 1585679399000,
                    [DemandDetail("PT_FIRE_CESS", Decimal("40")), DemandDetail("PT_TIME_PENALTY", Decimal("30")),
                     DemandDetail("PT_TIME_REBATE", Decimal("-10")), DemandDetail("PT_CANCER_CESS", Decimal("20")),
                     DemandDetail("PT_TAX", Decimal("1000"))])
    bill = b.make_bill([demand], masters.tax_heads, NOW)
    out = b.apportion(bill, "1030", advance_allowed=False, advance_tax_head=None, part_payment_allowed=True)
    assert [(a.account_detail.tax_head_code, a.amount) for a in out] == [
        ("PT_TIME_REBATE", Decimal("-10.00")), ("PT_CANCER_CESS", Decimal("20.00")),
        ("PT_TIME_PENALTY", Decimal("30.00")), ("PT_FIRE_CESS", Decimal("40.00")),
        ("PT_TAX", Decimal("950.00"))]
    tie = Demand("PT-2", "PT", 1554076799000, 1585679399000,
                 [DemandDetail("PT_FIRE_CESS", Decimal("50")), DemandDetail("PT_TIME_PENALTY", Decimal("50")),
                  DemandDetail("PT_CANCER_CESS", Decimal("50"))])
    out = b.apportion(b.make_bill([tie], masters.tax_heads, NOW), "60", advance_allowed=False,
                      advance_tax_head=None, part_payment_allowed=True)
    assert [(a.account_detail.tax_head_code, a.amount) for a in out] == [     # equal amounts: by order
        ("PT_CANCER_CESS", Decimal("50.00")), ("PT_TIME_PENALTY", Decimal("10.00")), ("PT_FIRE_CESS", Decimal("0.00"))]


def test_full_payment_clears_every_due(masters):
    bill = ws_bill(masters)
    out = ws_apportion(bill, "700")
    after = b.apply_apportionment(bill, out)
    assert all(a.due == 0 for d in after.bill_details for a in d.account_details)
    assert b.bill_status_after(bill, "700") == "PAID"


def test_excess_goes_to_the_advance_head_when_allowed(masters):
    bill = ws_bill(masters)
    out = ws_apportion(bill, "1000")
    last = out[-1]
    assert (last.bill_detail.from_period, last.account_detail.tax_head_code, last.amount) == \
        (WS_2021[0], "WS_ADVANCE_CARRYFORWARD", Decimal("300.00"))
    assert last.account_detail.amount == Decimal("-300.00") and last.account_detail.purpose == "ADVANCE"
    after = b.apply_apportionment(bill, out)
    advance = [a for a in after.bill_details[-1].account_details if a.tax_head_code == "WS_ADVANCE_CARRYFORWARD"]
    assert [(a.amount, a.adjusted_amount) for a in advance] == [(Decimal("-300.00"), ZERO)]
    assert sum(d.amount_paid or 0 for d in after.bill_details) == Decimal("1000")


def test_excess_is_refused_when_advance_is_not_allowed(masters):
    bill = b.make_bill([tl_demand(("TL_TAX", "500"))], masters.tax_heads, NOW)
    tl = masters.business_services["TL"]
    with refused("INVALID_AMT_PAID_ADV"):
        b.apportion(bill, "600", advance_allowed=tl.is_advance_allowed,
                    advance_tax_head=masters.advance_tax_head("TL"),
                    part_payment_allowed=tl.part_payment_allowed)


def test_part_payment_is_refused_when_not_allowed(masters):
    bill = b.make_bill([tl_demand(("TL_TAX", "500"))], masters.tax_heads, NOW)
    with refused("INVALID_AMT_PAID_CODE"):
        b.apportion(bill, "499", advance_allowed=False, advance_tax_head=None, part_payment_allowed=False)
    out = b.apportion(bill, "500", advance_allowed=False, advance_tax_head=None, part_payment_allowed=False)
    assert shares(out) == [(TL_2019[0], "TL_TAX", Decimal("500.00"))]


def test_a_part_payment_below_the_masters_min_amount_payable_is_taken(masters):
    # DIGIT's v2 bills carry no minimum (BillServicev2, PaymentEnricher): PT's minAmountPayable 100 is not enforced
    assert masters.business_services["PT"].min_amount_payable == Decimal("100.00")
    demand = Demand("PT-1", "PT", *TL_2019, [DemandDetail("PT_TAX", Decimal("1000"))])
    bill = b.make_bill([demand], masters.tax_heads, NOW, service=masters.business_services["PT"])
    out = b.apportion(bill, "50", advance_allowed=False, advance_tax_head=None, part_payment_allowed=True)
    assert shares(out) == [(TL_2019[0], "PT_TAX", Decimal("50.00"))]
    assert b.bill_status_after(bill, "50") == "PARTIALLY_PAID"


def test_zero_and_negative_amounts(masters):
    bill = ws_bill(masters)
    with refused("INVALID_AMOUNT"):
        ws_apportion(bill, "0")
    with refused("INVALID_AMT_PAID_NEG_CODE"):
        ws_apportion(bill, "-5")
    zero_bill = b.make_bill([tl_demand(("TL_TAX", "20"), ("TL_ADHOC_REBATE", "-20"))], masters.tax_heads, NOW)
    out = b.apportion(zero_bill, "0", advance_allowed=False, advance_tax_head=None, part_payment_allowed=False)
    assert sorted(a.amount for a in out) == [Decimal("-20.00"), Decimal("20.00")]
    assert b.bill_status_after(zero_bill, "0") == "PAID"


def test_an_advance_credit_on_the_bill_is_used_first(masters):
    old, new = ws_demands()
    new = Demand("WS/1", "WS", *WS_2021, list(new.details) + [DemandDetail("WS_ADVANCE_CARRYFORWARD", Decimal("-200"))])
    bill = b.make_bill([old, new], masters.tax_heads, NOW)
    assert bill.total_amount == Decimal("500.00")
    out = ws_apportion(bill, "500")
    assert out[0].account_detail.tax_head_code == "WS_ADVANCE_CARRYFORWARD" and out[0].amount == Decimal("-200.00")
    after = b.apply_apportionment(bill, out)
    assert all(a.due == 0 for d in after.bill_details for a in d.account_details)


def test_excess_without_an_advance_head_is_refused(masters):
    bill = ws_bill(masters)
    with refused("EG_BS_ADVANCE_TAXHEAD_NOTFOUND"):
        ws_apportion(bill, "800", advance_tax_head=None)


def test_a_later_period_that_settles_itself_is_not_left_behind():
    early = BillDetail(1, 2, 0, [BillAccountDetail("X_TAX", Decimal("100"), id="a")], id="d1")
    late = BillDetail(3, 4, 0, [BillAccountDetail("X_TAX", Decimal("10"), id="b"),
                                BillAccountDetail("X_REBATE", Decimal("-10"), id="c")], id="d2")
    bill = Bill("C", "X", [early, late], bill_date=0)
    out = b.apportion(bill, "100", advance_allowed=False, advance_tax_head=None, part_payment_allowed=False)
    after = b.apply_apportionment(bill, out)
    assert all(a.due == 0 for d in after.bill_details for a in d.account_details)


def test_bill_status_after():
    bill = Bill("C", "X", [BillDetail(1, 2, 0, [BillAccountDetail("X_TAX", Decimal("500"))])], bill_date=0)
    assert b.bill_status_after(bill, "0") == "ACTIVE"
    assert b.bill_status_after(bill, "1") == "PARTIALLY_PAID"
    assert b.bill_status_after(bill, "500") == "PAID"
    assert b.bill_status_after(bill, "600") == "PAID"


# --- properties -------------------------------------------------------------------------------------------------

HEADS = [("WS_CHARGE", 0), ("WS_WATER_CESS", 2), ("WS_TIME_PENALTY", 3), ("WS_TIME_INTEREST", 1)]
paise = st.integers(min_value=0, max_value=5_000_000).map(lambda p: money(p) / 100)


@st.composite
def bills(draw):
    """Bills of 1–4 periods; each period has positive heads and maybe a rebate no bigger than them."""
    details = []
    for index in range(draw(st.integers(1, 4))):
        heads = draw(st.lists(st.sampled_from(HEADS), min_size=1, max_size=4, unique=True))
        accounts = [BillAccountDetail(code, draw(paise), order=order, id=f"{index}-{code}") for code, order in heads]
        positive = sum((a.amount for a in accounts), ZERO)
        if draw(st.booleans()) and positive > 0:
            rebate = money(draw(st.integers(0, int(positive * 100)))) / 100
            accounts.append(BillAccountDetail("WS_TIME_REBATE", -rebate, order=0, id=f"{index}-rebate"))
        draw(st.randoms()).shuffle(accounts)
        details.append(BillDetail(1000 * draw(st.integers(0, 50)), 0, 0, accounts, id=f"d{index}"))
    return Bill("WS/P", "WS", details, bill_date=0)


def run(bill: Bill, amount: Decimal):
    return b.apportion(bill, amount, advance_allowed=True, advance_tax_head="WS_ADVANCE_CARRYFORWARD",
                       part_payment_allowed=True)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(bills(), st.integers(min_value=1, max_value=30_000_000))
def test_apportioned_amounts_sum_to_the_payment_and_never_exceed_a_due(bill, paid_paise):
    amount = money(paid_paise) / 100
    if bill.total_amount == 0:
        amount = ZERO
    out = run(bill, amount)
    assert sum((a.amount for a in out), ZERO) == amount
    for alloc in out:
        due = alloc.account_detail.due
        if alloc.account_detail.tax_head_code == "WS_ADVANCE_CARRYFORWARD":
            assert alloc.amount > 0 and alloc.amount == -alloc.account_detail.amount
            continue
        if due >= 0:
            assert ZERO <= alloc.amount <= due
        else:
            assert alloc.amount in (due, ZERO)
    advance = sum((a.amount for a in out if a.account_detail.tax_head_code == "WS_ADVANCE_CARRYFORWARD"), ZERO)
    assert advance == max(amount - bill.total_amount, ZERO)
    # every account detail is accounted for exactly once (plus the advance line)
    listed = [a.account_detail for a in out if a.account_detail.tax_head_code != "WS_ADVANCE_CARRYFORWARD"]
    assert sorted(x.id for x in listed) == sorted(x.id for d in bill.bill_details for x in d.account_details)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(bills())
def test_a_full_payment_leaves_every_due_at_zero(bill):
    out = run(bill, bill.total_amount)
    after = b.apply_apportionment(bill, out)
    assert all(a.due == 0 for d in after.bill_details for a in d.account_details)
    assert sum((d.amount_paid or ZERO for d in after.bill_details), ZERO) == bill.total_amount
    assert b.bill_status_after(bill, bill.total_amount) == "PAID"


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(bills(), st.data())
def test_a_partial_payment_pays_older_periods_before_newer_ones(bill, data):
    if bill.total_amount <= 0:
        return
    amount = money(data.draw(st.integers(1, int(bill.total_amount * 100)))) / 100
    out = run(bill, amount)
    paid_periods = [d for d in sorted(bill.bill_details, key=lambda d: d.from_period)]
    after = b.apply_apportionment(bill, out)
    by_id = {d.id: d for d in after.bill_details}
    open_seen = False
    for detail in paid_periods:
        remaining = sum((a.due for a in by_id[detail.id].account_details), ZERO)
        gross = sum((a.due for a in detail.account_details), ZERO)
        if gross <= 0:
            continue
        if open_seen:      # after a period left open, no later period receives anything
            assert (by_id[detail.id].amount_paid or ZERO) == 0
        if remaining > 0:
            open_seen = True
