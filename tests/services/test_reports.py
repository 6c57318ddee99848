"""The day book (collection register) on real temporary stores (SQLite and PostgreSQL): shifts and
payments inserted directly for two IST days, grouped by service and mode with receipt ranges,
cancelled and dishonoured receipts apart, and the cash reconciled with the shifts."""
from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import insert, update

from digitctl.clock import IST
from digitctl.errors import Forbidden, InvalidInput
from digitctl.services import reports
from local_store.models import Payment, Shift

TENANT = "pb.amritsar"
DAY_A, DAY_B = dt.date(2026, 11, 25), dt.date(2026, 11, 26)


def ist(day: dt.date, hh: int, mm: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hh, mm), tzinfo=IST)


def paise(rupees: str) -> int:
    return int(Decimal(rupees) * 100)


def add_shift(app, user_uuid: str, float_rupees: str, opened: dt.datetime, closed: dt.datetime | None = None,
              expected: str | None = None, counted: str | None = None) -> str:
    sid = str(uuid.uuid4())
    values: dict[str, Any] = dict(id=sid, tenant_id=TENANT, counter_code="C01", user_uuid=user_uuid,
                                  status="OPEN", float_paise=paise(float_rupees), opened_at=opened)
    if closed is not None:
        assert expected is not None and counted is not None
        values.update(status="CLOSED", closed_at=closed, expected_cash_paise=paise(expected),
                      counted_cash_paise=paise(counted), variance_paise=paise(counted) - paise(expected))
    with app.store.engine.begin() as conn:
        conn.execute(insert(Shift).values(**values))
    return sid


def add_payment(app, number: str, at: dt.datetime, shift_id: str | None, service: str, mode: str, rupees: str,
                collector: str, status: str = "NEW", reason: str | None = None, tenant: str = TENANT,
                counter: str = "C01", changed_by: str | None = None, changed_at: dt.datetime | None = None,
                details: dict[str, Any] | None = None) -> None:
    doc: dict[str, Any] = {"receiptNumber": number}
    if changed_by:
        doc["auditDetails"] = {"createdBy": collector, "lastModifiedBy": changed_by}
        if changed_at is not None:      # when the workflow action (cancel, dishonour) happened
            doc["auditDetails"]["lastModifiedTime"] = int(changed_at.timestamp() * 1000)
    if details:
        doc["additionalDetails"] = details
    with app.store.engine.begin() as conn:
        conn.execute(insert(Payment).values(
            id=str(uuid.uuid4()), tenant_id=tenant, receipt_number=number, receipt_date=at, counter_code=counter,
            shift_id=shift_id, collector_uuid=collector, bill_id=str(uuid.uuid4()), business_service=service,
            consumer_code=f"PB-{service}-1", payment_mode=mode, total_due_paise=paise(rupees),
            amount_paid_paise=paise(rupees), instrument_number="000123" if mode in ("CHEQUE", "DD") else None,
            instrument_status="DISHONOURED" if status == "DISHONOURED" else "APPROVED",
            payment_status=status, cancel_reason=reason, payment=doc, created_at=at, updated_at=at))


@pytest.fixture
def two_days(state_app, clerk) -> dict[str, str]:
    """Day A: shift 1 (09:00-18:00) and shift 2 (20:00 - 00:30 next day, across midnight); day B: shift 3, open."""
    app, me = state_app, clerk.actor.uuid
    s1 = add_shift(app, me, "2000", ist(DAY_A, 9, 0), ist(DAY_A, 18, 0), expected="6550", counted="6550")
    s2 = add_shift(app, me, "500", ist(DAY_A, 20, 0), ist(DAY_B, 0, 30), expected="1200", counted="1150")
    s3 = add_shift(app, me, "1000", ist(DAY_B, 9, 0))
    for number, at, sid, service, mode, rupees, extra in [
        ("R-0012", ist(DAY_A, 9, 15), s1, "TL", "CASH", "50", {}),        # numbered late, taken first
        ("R-0001", ist(DAY_A, 9, 30), s1, "TL", "CASH", "1500.50", {}),
        ("R-0002", ist(DAY_A, 10, 0), s1, "TL", "CHEQUE", "12345", {"status": "DISHONOURED"}),
        ("R-0003", ist(DAY_A, 10, 30), s1, "PT", "CASH", "2000", {}),
        ("R-0004", ist(DAY_A, 11, 0), s1, "TL", "CASH", "700",
         {"status": "CANCELLED", "reason": "WRONG_AMOUNT", "changed_by": me}),
        ("R-0005", ist(DAY_A, 12, 0), s1, "TL", "CASH", "999.50", {}),
        ("R-0006", ist(DAY_A, 13, 0), s1, "PT", "DD", "5000", {}),
        ("R-0007", ist(DAY_A, 14, 0), s1, "TL", "CHEQUE", "800", {}),
        ("R-0008", ist(DAY_A, 23, 30), s2, "TL", "CASH", "300", {}),      # 18:00 UTC on the 25th
        ("R-0009", ist(DAY_B, 0, 15), s2, "TL", "CASH", "400", {}),       # 18:45 UTC on the 25th, IST day B
        ("R-0010", ist(DAY_B, 9, 30), s3, "PT", "CASH", "100", {}),
    ]:
        add_payment(app, number, at, sid, service, mode, rupees, me, **extra)
    # another city's receipt the same day stays out of this register
    add_payment(app, "J-0001", ist(DAY_A, 10, 0), None, "TL", "CASH", "999", me, tenant="pb.jalandhar")
    return {"s1": s1, "s2": s2, "s3": s3}


def test_register_of_a_day(state_app, clerk, two_days):
    book = reports.daybook(state_app, clerk, day=DAY_A)
    assert book["tenantId"] == TENANT and book["date"] == "2026-11-25"
    assert [(g["businessService"], g["paymentMode"], g["count"], g["amount"], g["firstReceipt"], g["lastReceipt"])
            for g in book["groups"]] == [
        ("PT", "CASH", 1, Decimal("2000.00"), "R-0003", "R-0003"),
        ("PT", "DD", 1, Decimal("5000.00"), "R-0006", "R-0006"),
        ("TL", "CASH", 4, Decimal("2850.00"), "R-0012", "R-0008"),
        ("TL", "CHEQUE", 1, Decimal("800.00"), "R-0007", "R-0007"),
    ]
    assert book["totalsByMode"] == [
        {"paymentMode": "CASH", "count": 5, "amount": Decimal("4850.00")},
        {"paymentMode": "CHEQUE", "count": 1, "amount": Decimal("800.00")},
        {"paymentMode": "DD", "count": 1, "amount": Decimal("5000.00")},
    ]
    assert book["grandTotal"] == {"count": 7, "amount": Decimal("10650.00")}
    assert book["receiptRange"] == {"first": "R-0012", "last": "R-0008", "issued": 9,
                                    "series": [{"series": "R", "first": "R-0001", "last": "R-0012", "issued": 9}]}

    [cancelled] = book["cancelled"]
    assert cancelled["receiptNumber"] == "R-0004" and cancelled["amount"] == Decimal("700.00")
    assert cancelled["reason"] == "WRONG_AMOUNT" and cancelled["changedBy"] == "clerk1"
    assert cancelled["collectedBy"] == "clerk1"
    [dishonoured] = book["dishonoured"]
    assert dishonoured["receiptNumber"] == "R-0002" and dishonoured["amount"] == Decimal("12345.00")
    assert dishonoured["instrumentStatus"] == "DISHONOURED"

    s1, s2 = book["shifts"]
    assert s1["id"] == two_days["s1"] and s1["user"] == "clerk1" and s1["status"] == "CLOSED"
    assert (s1["float"], s1["cashCollected"], s1["expectedCash"], s1["countedCash"], s1["variance"]) == (
        Decimal("2000.00"), Decimal("4550.00"), Decimal("6550.00"), Decimal("6550.00"), Decimal("0.00"))
    assert s2["cashCollected"] == Decimal("700.00") and s2["varianceText"] == "-₹50.00"
    assert s2["cashThisDay"] == Decimal("300.00") and s2["cashOtherDays"] == Decimal("400.00")

    rc = book["reconciliation"]
    assert rc["ok"] is True and rc["status"] == "OK"
    assert rc["registerCash"] == Decimal("4850.00") and rc["shiftsCash"] == Decimal("5250.00")
    assert rc["shiftsCashOtherDays"] == Decimal("400.00") and rc["difference"] == Decimal("0.00")


def test_the_day_is_an_ist_calendar_day(state_app, clerk, two_days):
    day_a = reports.daybook(state_app, clerk, day=DAY_A)
    day_b = reports.daybook(state_app, clerk, day="2026-11-26")

    def numbers(book: dict) -> set[str]:
        return {g["firstReceipt"] for g in book["groups"]} | {g["lastReceipt"] for g in book["groups"]}

    assert "R-0008" in numbers(day_a) and "R-0009" not in numbers(day_a)   # 23:30 IST: day A
    assert "R-0009" in numbers(day_b) and "R-0008" not in numbers(day_b)   # 00:15 IST (still the 25th in UTC): day B
    assert day_b["grandTotal"] == {"count": 2, "amount": Decimal("500.00")}
    assert [s["id"] for s in day_b["shifts"]] == [two_days["s2"], two_days["s3"]]
    open_shift = day_b["shifts"][1]
    assert open_shift["status"] == "OPEN" and open_shift["countedCash"] is None
    assert open_shift["cashCollected"] == Decimal("100.00") and open_shift["expectedCash"] == Decimal("1100.00")
    rc = day_b["reconciliation"]
    assert rc["ok"] and rc["shiftsCash"] == Decimal("800.00") and rc["shiftsCashOtherDays"] == Decimal("300.00")


def test_default_day_is_today_by_the_clock(state_app, clerk, two_days):
    assert reports.daybook(state_app, clerk)["date"] == "2026-11-25"        # frozen at 11:00 IST on the 25th
    assert reports.daybook(state_app, clerk)["grandTotal"]["count"] == 7


def test_a_shift_that_disagrees_is_a_visible_mismatch(state_app, clerk, two_days):
    with state_app.store.engine.begin() as conn:
        conn.execute(update(Shift).where(Shift.id == two_days["s1"]).values(expected_cash_paise=paise("6450")))
    rc = reports.daybook(state_app, clerk, day=DAY_A)["reconciliation"]
    assert rc["ok"] is False and rc["status"] == "MISMATCH"
    assert rc["difference"] == Decimal("100.00") and rc["differenceText"] == "+₹100.00"
    assert "MISMATCH" in rc["message"]


def test_cash_taken_outside_any_shift_does_not_reconcile(state_app, clerk, two_days):
    add_payment(state_app, "R-0100", ist(DAY_A, 15, 0), None, "TL", "CASH", "250", clerk.actor.uuid)
    rc = reports.daybook(state_app, clerk, day=DAY_A)["reconciliation"]
    assert rc["status"] == "MISMATCH" and rc["cashOutsideShifts"] == Decimal("250.00")
    assert rc["difference"] == Decimal("250.00")


def test_a_day_without_payments_is_an_empty_register(state_app, clerk, two_days):
    book = reports.daybook(state_app, clerk, day=dt.date(2026, 11, 20))
    assert book["groups"] == [] and book["totalsByMode"] == [] and book["shifts"] == []
    assert book["cancelled"] == [] and book["dishonoured"] == []
    assert book["grandTotal"] == {"count": 0, "amount": Decimal("0.00")}
    assert book["receiptRange"] == {"first": None, "last": None, "issued": 0, "series": []}
    assert book["reconciliation"]["ok"] is True
    assert reports.daybook(state_app, clerk, day=DAY_A, counter="C02")["groups"] == []


def test_a_bad_date_is_refused(state_app, clerk):
    for bad in ("2026-13-01", "25/11/2026", "yesterday"):
        with pytest.raises(InvalidInput) as err:
            reports.daybook(state_app, clerk, day=bad)
        assert err.value.code == "INVALID_DATE"


def test_a_user_without_the_search_url_is_refused(state_app, ctx_as, make_user):
    make_user(state_app, "lme1", [("PGR_LME", TENANT)], "9814012347")
    with pytest.raises(Forbidden) as err:
        reports.daybook(state_app, ctx_as(state_app, "lme1"), day=DAY_A)
    assert err.value.code == "ACCESS_DENIED"


# -- receipts reversed after their shift closed, reasons, who, receipt series --------------------------
def test_a_cash_receipt_cancelled_after_its_shift_closed_still_reconciles(state_app, clerk, two_days):
    """Shift 1 closed at 18:00 counting R-0005 (₹999.50) in its cash; the supervisor cancels it at
    19:30. The register leaves it out, the shift's count keeps it: the day book adds it back on a
    line of its own instead of reporting ₹999.50 of missing cash."""
    app = state_app
    with app.store.engine.begin() as conn:
        conn.execute(update(Payment).where(Payment.receipt_number == "R-0005").values(
            payment_status="CANCELLED", cancel_reason="OTHER", updated_at=ist(DAY_A, 19, 30),
            payment={"receiptNumber": "R-0005",
                     "auditDetails": {"createdBy": clerk.actor.uuid, "lastModifiedBy": clerk.actor.uuid,
                                      "lastModifiedTime": int(ist(DAY_A, 19, 30).timestamp() * 1000)},
                     "additionalDetails": {"cancellationReason": "OTHER", "cancelledBy": "clerk1",
                                           "cancellationApprovedBy": "supervisor1"}}))
    book = reports.daybook(app, clerk, day=DAY_A)
    late, early = sorted(book["cancelled"], key=lambda r: r["receiptNumber"], reverse=True)
    assert late["receiptNumber"] == "R-0005" and late["afterShiftClosed"] is True
    assert late["cancelledBy"] == "clerk1" and late["approvedBy"] == "supervisor1" and late["reason"] == "OTHER"
    assert early["receiptNumber"] == "R-0004" and early["afterShiftClosed"] is False   # before the close
    assert book["grandTotal"]["amount"] == Decimal("9650.50")                          # out of the totals
    rc = book["reconciliation"]
    assert rc["registerCash"] == Decimal("3850.50") and rc["reversedAfterShiftClosed"] == Decimal("999.50")
    assert rc["reversedAfterShiftClosedReceipts"] == ["R-0005"]
    assert rc["shiftsCash"] == Decimal("5250.00") and rc["ok"] is True and rc["status"] == "OK"
    assert book["shifts"][0]["cashCollected"] == Decimal("4550.00")                    # the close's count
    # a later day book of shift 2's other day is not disturbed
    assert reports.daybook(app, clerk, day=DAY_B)["reconciliation"]["ok"] is True

    # a real difference still shows: the shift recorded ₹100 less than its receipts
    with app.store.engine.begin() as conn:
        conn.execute(update(Shift).where(Shift.id == two_days["s1"]).values(expected_cash_paise=paise("6450")))
    rc = reports.daybook(app, clerk, day=DAY_A)["reconciliation"]
    assert rc["status"] == "MISMATCH" and rc["difference"] == Decimal("100.00")
    assert rc["reversedAfterShiftClosed"] == Decimal("999.50")


def test_a_receipt_reversed_after_the_close_of_a_shift_that_ran_past_midnight(state_app, clerk):
    """Across midnight: R-2 (cash, taken after midnight, on day B) is cancelled the next morning,
    after its shift closed: day A's book (the shift's cash of other days) and day B's (the receipt
    added back) both still reconcile."""
    app, me = state_app, clerk.actor.uuid
    sid = add_shift(app, me, "0", ist(DAY_A, 22, 0), ist(DAY_B, 1, 0), expected="500", counted="500")
    add_payment(app, "R-1", ist(DAY_A, 23, 0), sid, "TL", "CASH", "300", me)
    add_payment(app, "R-2", ist(DAY_B, 0, 30), sid, "TL", "CASH", "200", me, status="CANCELLED",
                reason="OTHER", changed_by=me, changed_at=ist(DAY_B, 9, 0))
    for day, register in ((DAY_A, "300.00"), (DAY_B, "0.00")):
        rc = reports.daybook(app, clerk, day=day)["reconciliation"]
        assert rc["ok"] is True, (day, rc)
        assert rc["registerCash"] == Decimal(register)
    assert reports.daybook(app, clerk, day=DAY_B)["reconciliation"]["reversedAfterShiftClosed"] == Decimal("200.00")


def test_the_dishonour_reason_and_who_cancelled_and_approved_are_shown(state_app, clerk):
    app, me = state_app, clerk.actor.uuid
    sid = add_shift(app, me, "0", ist(DAY_A, 9, 0))
    add_payment(app, "R-1", ist(DAY_A, 9, 30), sid, "TL", "CHEQUE", "1250", me, status="DISHONOURED",
                changed_by=me, details={"dishonourReason": "insufficient funds"})
    add_payment(app, "R-2", ist(DAY_A, 9, 45), sid, "TL", "CASH", "1250", me, status="CANCELLED",
                reason="ERRORRECEIPT", changed_by=me,
                details={"cancelledBy": "clerk1", "cancellationApprovedBy": "supervisor.amritsar"})
    book = reports.daybook(app, clerk, day=DAY_A)
    [bounced] = book["dishonoured"]
    assert bounced["reason"] == "insufficient funds" and bounced["dishonouredBy"] == "clerk1"
    [cancelled] = book["cancelled"]
    assert cancelled["cancelledBy"] == "clerk1" and cancelled["approvedBy"] == "supervisor.amritsar"
    assert cancelled["afterShiftClosed"] is False                  # the shift is open: not in its drawer
    assert book["reconciliation"]["ok"] is True


def test_receipts_issued_are_ranged_per_series(state_app, clerk):
    app, me = state_app, clerk.actor.uuid
    sid = add_shift(app, me, "0", ist(DAY_A, 9, 0))
    for i, (number, mode) in enumerate([("C01/107/2026-27/000001", "CASH"), ("PT/C01/107/2026-27/000001", "CARD"),
                                        ("PT/C01/107/2026-27/000002", "CARD"), ("WS/C01/107/2026-27/000007", "CARD"),
                                        ("PT/C01/107/2026-27/000010", "CARD"), ("C01/107/2026-27/000002", "CARD")]):
        add_payment(app, number, ist(DAY_A, 10, i), sid, number.split("/")[0], mode, "100", me)
    rr = reports.daybook(app, clerk, day=DAY_A)["receiptRange"]
    assert rr["issued"] == 6
    assert rr["series"] == [
        {"series": "C01/107/2026-27", "first": "C01/107/2026-27/000001", "last": "C01/107/2026-27/000002",
         "issued": 2},
        {"series": "PT/C01/107/2026-27", "first": "PT/C01/107/2026-27/000001", "last": "PT/C01/107/2026-27/000010",
         "issued": 3},
        {"series": "WS/C01/107/2026-27", "first": "WS/C01/107/2026-27/000007", "last": "WS/C01/107/2026-27/000007",
         "issued": 1},
    ]
    assert reports.receipt_series("PB-TL-2026-27-000123") == ("PB-TL-2026-27", 123)
    assert reports.receipt_series("MANUAL") == ("MANUAL", None)
