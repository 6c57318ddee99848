"""Receipts reversed around a shift's close, through the real services on the bundled state
(SQLite and PostgreSQL): pay, dishonour a cheque while the shift is open, close the shift, let the
supervisor cancel a cash receipt afterwards, then read the shift, the day book and the receipt.

The clock stands still (2026-11-25 11:00 IST, conftest): the close and the later cancel happen at
the same instant, so "after the close" has to come from the order the store recorded them in."""
from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from decimal import Decimal
from typing import Any

import pytest

from digitctl.services import billing, collection, reports, shifts
from tests.helpers import AMRITSAR, build_world, ctx_as, demand

PT_PERIOD = (1554076799000, 1585679399000)      # PTAN2019
CHEQUE = dict(instrument_number="123456", instrument_date=dt.date(2026, 11, 22), bank="Punjab National Bank",
              branch="Hall Bazar", ifsc="PUNB0012300")


@pytest.fixture
def world(fee_world_app):
    return fee_world_app


def bill_for(app, consumer: str, **kw: Any) -> dict[str, Any]:
    billing.create_demands(app, ctx_as(app, "clerk.amritsar"), [demand(consumer, **kw)])
    return billing.fetch_bill(app, ctx_as(app, "clerk.amritsar"), AMRITSAR, consumer_code=consumer)[0]


def pay(app, ctx, bill: dict, amount: str, mode: str = "CASH", **kw: Any) -> dict:
    return collection.pay(app, ctx, tenant_id=AMRITSAR, bill_id=bill["id"], mode=mode, amount=amount, **kw)


def receipt_of(doc: dict) -> str:
    return doc["paymentDetails"][0]["receiptNumber"]


@pytest.fixture
def day(world):
    """A shift with a cash receipt (PT, ₹400), a cheque (TL, ₹1,250) dishonoured while the shift
    is open and a cash receipt (TL, ₹1,250); the drawer counted right."""
    app = world
    clerk = ctx_as(app, "clerk.amritsar")
    shifts.open_shift(app, clerk, "1000")
    pt_cash = receipt_of(pay(app, clerk, bill_for(app, "PT-1", service="PT", lines=(("PT_TAX", "400", "0"),),
                                                  period=PT_PERIOD), "400"))
    cheque = receipt_of(pay(app, clerk, bill_for(app, "TL-CC-2"), "1250", mode="CHEQUE", **CHEQUE))
    tl_cash = receipt_of(pay(app, clerk, bill_for(app, "TL-CC-1"), "1250"))
    collection.dishonour(app, clerk, AMRITSAR, cheque, reason="CHEQUEBOUNCE", comment="insufficient funds",
                         approver=ctx_as(app, "supervisor.amritsar").actor)
    return {"app": app, "clerk": clerk, "pt_cash": pt_cash, "cheque": cheque, "tl_cash": tl_cash}


def test_a_dishonoured_cheque_leaves_the_open_shift_and_the_day_book_alike(day):
    app, clerk = day["app"], day["clerk"]
    st = shifts.status(app, clerk)
    assert st["cashCollected"] == Decimal("1650.00") and st["otherModes"] == []
    assert st["receiptCount"] == 2 and st["dishonouredCount"] == 1 and st["cancelledCount"] == 0
    closed = shifts.close_shift(app, clerk, "2000x1,500x1,100x1,50x1")          # 1000 + 1650
    assert closed["variance"] == Decimal("0.00") and closed["otherModes"] == []
    book = reports.daybook(app, clerk)
    assert [m["paymentMode"] for m in book["totalsByMode"]] == ["CASH"]
    [bounced] = book["dishonoured"]
    assert bounced["receiptNumber"] == day["cheque"] and bounced["reason"] == "CHEQUEBOUNCE"
    assert bounced["comment"] == "insufficient funds" and bounced["dishonouredBy"] == "clerk.amritsar"
    assert bounced["approvedBy"] == "supervisor.amritsar"
    assert book["reconciliation"]["ok"] is True


def test_a_cash_receipt_cancelled_after_the_close_stays_in_the_shifts_count(day):
    app, clerk = day["app"], day["clerk"]
    shifts.close_shift(app, clerk, "2000x1,500x1,100x1,50x1")
    supervisor = ctx_as(app, "supervisor.amritsar")
    collection.cancel(app, supervisor, AMRITSAR, day["tl_cash"], "OTHER", comment="wrong payer")

    book = reports.daybook(app, clerk)
    [cancelled] = book["cancelled"]
    assert cancelled["receiptNumber"] == day["tl_cash"] and cancelled["afterShiftClosed"] is True
    assert cancelled["cancelledBy"] == cancelled["approvedBy"] == "supervisor.amritsar"
    assert cancelled["reason"] == "OTHER" and cancelled["comment"] == "wrong payer"
    [bounced] = book["dishonoured"]
    assert bounced["afterShiftClosed"] is False                  # dishonoured while the shift was open
    rc = book["reconciliation"]
    assert rc["registerCash"] == Decimal("400.00") and rc["shiftsCash"] == Decimal("1650.00")
    assert rc["reversedAfterShiftClosed"] == Decimal("1250.00")
    assert rc["reversedAfterShiftClosedReceipts"] == [day["tl_cash"]]
    assert rc["status"] == "OK" and rc["difference"] == Decimal("0.00")

    # a receipt cancelled while its (next) shift is open is simply out of it, and out of the register
    shifts.open_shift(app, clerk, "0")
    late = receipt_of(pay(app, clerk, bill_for(app, "TL-CC-3"), "1250"))
    collection.cancel(app, supervisor, AMRITSAR, late, "ERRORRECEIPT")
    assert shifts.status(app, clerk)["cashCollected"] == Decimal("0.00")
    shifts.close_shift(app, clerk, "1x0")
    book = reports.daybook(app, clerk)
    assert {c["receiptNumber"]: c["afterShiftClosed"] for c in book["cancelled"]} == {
        day["tl_cash"]: True, late: False}
    assert book["reconciliation"]["status"] == "OK"


def test_a_dishonoured_receipt_prints_marked(day, tmp_path):
    app, clerk = day["app"], day["clerk"]
    pdf, shown, _ = collection.receipt_pdf(app, clerk, AMRITSAR, day["cheque"], fmt="a5")
    assert shown["paymentStatus"] == "DISHONOURED"
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) not installed: PDF text not checked")
    f = tmp_path / "r.pdf"
    f.write_bytes(pdf)
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(f), "-"], capture_output=True, check=True).stdout.decode()
    assert "*** DISHONOURED ***" in text and "CANCELLED" not in text
    assert day["cheque"] in text.splitlines() or day["cheque"] in text.split()    # in one piece
