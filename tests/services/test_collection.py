"""Collection on the bundled state (SQLite and PostgreSQL): paying a NewTL application's fee in
cash (receipt number with the counter code, bill PAID, demand collected, workflow APPROVED, event
and audit), a cheque, every refusal writing nothing, cancel / dishonour / remit, receipts, and the
Payment JSON against DIGIT's collection contract.

The clock stands at 2026-11-25 11:00 IST (conftest); bills live until 23:59:59 IST today."""
from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from digitctl.errors import DigitError, Forbidden, InvalidInput
from digitctl.services import audit, billing, collection, mdms, shifts
from local_store.models import (Application, AuditRecord, Bill, Demand, DemandDetail, OutboxEvent, Payment,
                                Remittance)
from tests.helpers import AMRITSAR, build_world, ctx_as, demand, walk_to_pending_payment

PT_PERIOD = (1554076799000, 1585679399000)      # PTAN2019
WS_PERIOD = (1554076800000, 1617235199999)      # WC2018
TODAY = dt.date(2026, 11, 25)
TABLES = (Payment, OutboxEvent, AuditRecord, Bill, DemandDetail, Remittance)
CONTRACT = "contracts/collection-services-v2.yml"


@pytest.fixture
def world(fee_world_app):
    return fee_world_app


@pytest.fixture
def clerk(world):
    ctx = ctx_as(world, "clerk.amritsar")
    shifts.open_shift(world, ctx, "1000")
    return ctx


def counts(app) -> dict[str, int]:
    with app.store.engine.connect() as conn:
        out = {m.__tablename__: conn.execute(select(func.count()).select_from(m)).scalar_one() for m in TABLES}
        out["collected"] = conn.execute(select(func.coalesce(func.sum(DemandDetail.collection_amount_paise), 0))).scalar_one()
        out["bill_states"] = tuple(conn.execute(select(Bill.status).order_by(Bill.id)).scalars())
    return out


def bill_for(app, consumer: str, **kw) -> dict[str, Any]:
    billing.create_demands(app, ctx_as(app, "clerk.amritsar"), [demand(consumer, **kw)])
    return billing.fetch_bill(app, ctx_as(app, "clerk.amritsar"), AMRITSAR, consumer_code=consumer)[0]


def pay(app, ctx, bill: dict, amount: str, mode: str = "CASH", **kw) -> dict:
    return collection.pay(app, ctx, tenant_id=AMRITSAR, bill_id=bill["id"], mode=mode, amount=amount, **kw)


CHEQUE = dict(instrument_number="123456", instrument_date=TODAY - dt.timedelta(days=3), bank="Punjab National Bank",
              branch="Hall Bazar", ifsc="PUNB0012300")


# -- paying ----------------------------------------------------------------------------------------
def test_cash_payment_of_a_newtl_fee_approves_the_application(world, clerk):
    app = world
    no = walk_to_pending_payment(app)
    [bill] = billing.fetch_bill(app, clerk, AMRITSAR, application_no=no)
    assert bill["totalAmount"] == "1250.00"
    doc = pay(app, clerk, bill, "1250", payer_name="Simran Kaur", mobile="9876543210")
    receipt = doc["paymentDetails"][0]["receiptNumber"]
    assert receipt.startswith("C01/") and "C01" in receipt            # counter.receipt.id: [COUNTER]/...
    assert doc["paymentStatus"] == "NEW" and doc["instrumentStatus"] == "APPROVED"
    assert doc["totalAmountPaid"] == "1250.00" and doc["paymentMode"] == "CASH"
    assert "|" not in (doc["payerName"] or "") and doc["payerName"]     # shown (masked or plain), not ciphertext
    assert doc["paymentDetails"][0]["bill"]["status"] == "PAID"
    with app.store.engine.connect() as conn:
        assert conn.execute(select(Bill.status).where(Bill.id == bill["id"])).scalar_one() == "PAID"
        lines = dict(conn.execute(select(DemandDetail.tax_head_code, DemandDetail.collection_amount_paise)
                                  .join(Demand, Demand.id == DemandDetail.demand_id)
                                  .where(Demand.consumer_code == no)).all())
        assert lines == {"TL_TAX": 125040, "TL_ROUNDOFF": -40}
        assert conn.execute(select(Demand.is_payment_completed).where(Demand.consumer_code == no)).scalar_one()
        assert conn.execute(select(Application.application_status)
                            .where(Application.application_no == no)).scalar_one() == "APPROVED"
        stored = conn.execute(select(Payment.payment).where(Payment.receipt_number == receipt)).scalar_one()
        assert "Simran" not in json.dumps(stored) and "|" in stored["payerName"]
        ev = conn.execute(select(OutboxEvent.payload, OutboxEvent.entity_id)
                          .where(OutboxEvent.event_type == "collection.payment.created")).one()
        assert ev.entity_id == doc["id"] and "Simran" not in json.dumps(ev.payload)
        assert ev.payload["Payments"][0]["paymentDetails"][0]["receiptNumber"] == receipt
        assert conn.execute(select(func.count()).select_from(AuditRecord).where(
            AuditRecord.entity_id == doc["id"], AuditRecord.operation == collection.CREATE_URL)).scalar_one() == 1
    assert audit.verify(app, ctx_as(app, "admin")).ok
    again = collection.get_payment(app, clerk, AMRITSAR, receipt)
    assert again["id"] == doc["id"]


def test_cheque_payment_and_receipt_numbers_are_sequential(world, clerk):
    app = world
    first = pay(app, clerk, bill_for(app, "TL-CC-1"), "1250", mode="CHEQUE", **CHEQUE)
    assert first["instrumentNumber"] == "123456" and first["ifscCode"] == "PUNB0012300"
    assert first["additionalDetails"]["bankName"] == "Punjab National Bank"
    assert first["instrumentStatus"] == "APPROVED" and first["paymentStatus"] == "NEW"
    second = pay(app, clerk, bill_for(app, "TL-CC-2"), "1250")
    a, b = (p["paymentDetails"][0]["receiptNumber"] for p in (first, second))
    assert a != b and a.rsplit("/", 1)[0] == b.rsplit("/", 1)[0]
    assert int(b.rsplit("/", 1)[1]) == int(a.rsplit("/", 1)[1]) + 1


def test_a_part_payment_below_minamountpayable_is_taken_as_digit_takes_it(world, clerk):
    # PT's BusinessService master says minAmountPayable 100; DIGIT's v2 bill never carries it, so
    # PaymentValidator's minimum check does not fire: ₹50 of a ₹1,000 PT bill is a part payment
    app = world
    bill = bill_for(app, "PT-MIN", service="PT", lines=(("PT_TAX", "1000", "0"),), period=PT_PERIOD)
    doc = pay(app, clerk, bill, "50")
    assert doc["totalAmountPaid"] == "50.00" and doc["paymentDetails"][0]["bill"]["status"] == "PARTIALLY_PAID"


def test_part_payment_then_the_rest_on_a_new_bill(world, clerk):
    """DIGIT's PaymentValidator refuses a bill that has a live payment (instrument APPROVED,
    APPROVAL_PENDING or REMITTED) BILL_ALREADY_PAID, part-paid or not: the clerk fetches a fresh
    bill for what is still due."""
    app = world
    bill = bill_for(app, "PT-1", service="PT", lines=(("PT_TAX", "1000", "0"),), period=PT_PERIOD)
    part = pay(app, clerk, bill, "400")
    assert part["paymentDetails"][0]["bill"]["status"] == "PARTIALLY_PAID"
    before = counts(app)
    with pytest.raises(InvalidInput) as err:     # a part-paid bill is not paid again ...
        pay(app, clerk, bill, "200")
    assert err.value.code == "BILL_ALREADY_PAID" and counts(app) == before
    assert err.value.params["receiptNumber"] == part["paymentDetails"][0]["receiptNumber"]
    assert "fetch" in err.value.message
    [again] = billing.fetch_bill(app, clerk, AMRITSAR, consumer_code="PT-1")     # ... a fresh one is
    assert again["totalAmount"] == "600.00" and again["id"] != bill["id"] and again["status"] == "ACTIVE"
    more = pay(app, clerk, again, "200")
    assert more["paymentDetails"][0]["bill"]["status"] == "PARTIALLY_PAID"
    # each payment's copy of the bill shows what THAT payment paid, so its receipt adds up
    [line] = more["paymentDetails"][0]["bill"]["billDetails"][0]["billAccountDetails"]
    assert (line["taxHeadCode"], line["amount"], line["adjustedAmount"]) == ("PT_TAX", "600.00", "200.00")
    assert more["paymentDetails"][0]["bill"]["billDetails"][0]["amountPaid"] == "200.00"
    with app.store.engine.connect() as conn:        # the old bill went stale when the fresh one was made
        assert conn.execute(select(Bill.status).where(Bill.id == bill["id"])).scalar_one() == "EXPIRED"
    for stale in (bill, again):
        with pytest.raises(InvalidInput) as err:
            pay(app, clerk, stale, "100")
        assert err.value.code == "BILL_ALREADY_PAID"
    [third] = billing.fetch_bill(app, clerk, AMRITSAR, consumer_code="PT-1")
    assert third["totalAmount"] == "400.00"
    rest = pay(app, clerk, third, "400")
    assert rest["paymentDetails"][0]["bill"]["status"] == "PAID"
    assert _collected(app, "PT-1") == 100000


def test_card_is_deposited_at_once_and_cannot_be_cancelled(world, clerk):
    """PaymentEnricher: a card payment starts DEPOSITED / REMITTED (the card network pays the
    bank), dated when taken; DIGIT cancels only APPROVED payments, so it cannot be cancelled."""
    app = world
    doc = pay(app, clerk, bill_for(app, "TL-CARD-1"), "1250", mode="CARD", instrument_number="4111",
              transaction_number="TXN-778899")
    assert (doc["paymentStatus"], doc["instrumentStatus"]) == ("DEPOSITED", "REMITTED")
    assert doc["transactionNumber"] == "TXN-778899" and doc["instrumentNumber"] == "4111"
    assert doc["instrumentDate"] == doc["transactionDate"]
    receipt = doc["paymentDetails"][0]["receiptNumber"]
    before = counts(app)
    with pytest.raises(InvalidInput) as err:
        collection.cancel(app, ctx_as(app, "supervisor.amritsar"), AMRITSAR, receipt, "ERRORRECEIPT")
    assert err.value.code == "PAYMENT_ALREADY_REMITTED" and "card" in err.value.message
    assert counts(app) == before and _collected(app, "TL-CARD-1") == 125000


def test_neft_takes_its_reference_and_date(world, clerk):
    app = world
    doc = pay(app, clerk, bill_for(app, "WS-NEFT", **WS_BILL), "500", mode="OFFLINE_NEFT",
              instrument_number="UTR123456", instrument_date=TODAY - dt.timedelta(days=200))   # no 90-day rule
    assert doc["instrumentNumber"] == "UTR123456" and doc["paymentStatus"] == "NEW"
    assert doc["instrumentStatus"] == "APPROVED" and doc["instrumentDate"] is not None


def test_advance_goes_to_the_advance_head(world, clerk):
    app = world
    bill = bill_for(app, "WS-1", service="WS", lines=(("WS_CHARGE", "500", "0"),), period=WS_PERIOD)
    doc = pay(app, clerk, bill, "700")
    lines = doc["additionalDetails"]["apportionment"]
    assert {(x["taxHeadCode"], x.get("collection"), x.get("credit")) for x in lines} == {
        ("WS_CHARGE", "500.00", None), ("WS_ADVANCE_CARRYFORWARD", None, "200.00")}
    # the receipt's lines (this payment's shares) add up to what was paid, the advance included
    shares = {a["taxHeadCode"]: Decimal(a["adjustedAmount"])
              for d in doc["paymentDetails"][0]["bill"]["billDetails"] for a in d["billAccountDetails"]}
    assert shares == {"WS_CHARGE": Decimal("500.00"), "WS_ADVANCE_CARRYFORWARD": Decimal("200.00")}


# -- refusals ---------------------------------------------------------------------------------------
WS_BILL = {"service": "WS", "lines": (("WS_CHARGE", "500", "0"),), "period": WS_PERIOD}     # WS takes NEFT
REFUSALS = [
    # (bill kwargs, pay kwargs, code)
    ({}, dict(amount="1250", mode="DD", **CHEQUE), "PAYMENT_MODE_NOT_ALLOWED"),     # TL refuses DD
    ({}, dict(amount="1250", mode="UPI"), "INVALID_PAYMENT_MODE"),
    ({}, dict(amount="1250", mode="CHEQUE", **{**CHEQUE, "instrument_date": TODAY + dt.timedelta(days=1)}),
     "INVALID_INSTRUMENT_DATE"),
    ({}, dict(amount="1250", mode="CHEQUE", **{**CHEQUE, "instrument_date": TODAY - dt.timedelta(days=91)}),
     "INVALID_INSTRUMENT_DATE"),
    ({}, dict(amount="1250", mode="CHEQUE", **{**CHEQUE, "instrument_date": None}), "INVALID_INSTRUMENT_DATE"),
    ({}, dict(amount="1250", mode="CHEQUE", **{**CHEQUE, "instrument_number": None}), "INVALID_INSTRUMENT_NUMBER"),
    ({}, dict(amount="1250", mode="CHEQUE", **{**CHEQUE, "ifsc": "PUNB1234"}), "INVALID_IFSC"),
    ({}, dict(amount="1250", mode="CHEQUE", **{**CHEQUE, "bank": ""}), "INVALID_BANK_DETAILS"),
    ({}, dict(amount="1250.50"), "INVALID_AMT_PAID_FRACTION"),
    ({}, dict(amount="1250.001"), "INVALID_AMT_PAID_FRACTION"),                      # not rounded to 1250
    ({}, dict(amount="1249.995"), "INVALID_AMT_PAID_FRACTION"),                      # nor to 1250.00
    ({}, dict(amount="1.25e3"), "INVALID_AMOUNT"),
    ({}, dict(amount="1_250"), "INVALID_AMOUNT"),
    ({}, dict(amount="１２５０"), "INVALID_AMOUNT"),                                   # full-width digits
    ({}, dict(amount="-5"), "INVALID_AMT_PAID_NEG_CODE"),
    ({}, dict(amount="abc"), "INVALID_AMOUNT"),
    ({}, dict(amount="1,2,5,0"), "INVALID_AMOUNT"),                                 # not ₹1,250
    ({}, dict(amount="12,50"), "INVALID_AMOUNT"),
    ({}, dict(amount="1000"), "INVALID_AMT_PAID_CODE"),                             # TL: no part payment
    ({}, dict(amount="1300"), "INVALID_AMT_PAID_ADV"),                              # TL: no advance
    ({}, dict(amount="1250", mobile="12345"), "INVALID_MOBILE_NUMBER"),
    # PaymentValidator: a card needs the transaction number and the card's instrument number
    ({}, dict(amount="1250", mode="CARD", instrument_number="4111"), "INVALID_TXN_NUMBER"),
    ({}, dict(amount="1250", mode="CARD", transaction_number="TXN-778899"), "INVALID_INSTRUMENT_NUMBER"),
    # ... cash's transaction number is DIGIT's own, not typed
    ({}, dict(amount="1250", transaction_number="TXN-1"), "INVALID_TXN_NUMBER"),
    # ... NEFT / RTGS / postal order: a number and a date, not in the future
    (WS_BILL, dict(amount="500", mode="OFFLINE_NEFT", instrument_number="UTR123456"), "INVALID_INSTRUMENT_DATE"),
    (WS_BILL, dict(amount="500", mode="OFFLINE_RTGS", instrument_number="UTR123456",
                   instrument_date=TODAY + dt.timedelta(days=1)), "INVALID_INSTRUMENT_DATE"),
    (WS_BILL, dict(amount="500", mode="POSTAL_ORDER", instrument_date=TODAY), "INVALID_INSTRUMENT_NUMBER"),
]


@pytest.mark.parametrize("typed,rupees", [("1,000", "1000"), ("1,00,000", "100000"), ("10,00,000.00", "1000000"),
                                          ("12,34,567", "1234567"), ("99,999", "99999"), ("1250", "1250"),
                                          (" 1,250 ", "1250")])
def test_amounts_in_indian_grouping_are_taken(typed, rupees):
    assert collection.parse_amount(typed) == Decimal(rupees)


@pytest.mark.parametrize("typed", ["5,00", "1,0,0", "1,00,00", ",100", "100,", "1,,000", "100,000", "1,000,000",
                                   "12,345,678", "1,000.", ".5", "1,000.00,0"])
def test_amounts_with_stray_commas_are_refused(typed):
    """`--amount 5,00` was ₹500 and `1,0,0` ₹100: only well-formed Indian grouping (1,000,
    1,00,000, 10,00,000.00) is taken, anything else is a typo to be typed again."""
    with pytest.raises(InvalidInput) as err:
        collection.parse_amount(typed)
    assert err.value.code == "INVALID_AMOUNT" and err.value.params["amount"] == typed


@pytest.mark.parametrize("bill_kw,pay_kw,code", REFUSALS, ids=[f"{i}-{c}" for i, (_, _, c) in enumerate(REFUSALS)])
def test_refusals_write_nothing(world, clerk, bill_kw, pay_kw, code):
    app = world
    bill = bill_for(app, "CC-R", **bill_kw)
    before = counts(app)
    with pytest.raises(DigitError) as err:
        pay(app, clerk, bill, **pay_kw)
    assert err.value.code == code, err.value
    assert counts(app) == before


def test_no_shift_expired_paid_and_unknown_bills_are_refused(world, frozen_clock):
    app = world
    ctx = ctx_as(app, "clerk.amritsar")
    bill = bill_for(app, "TL-CC-1")
    before = counts(app)
    with pytest.raises(InvalidInput) as err:
        pay(app, ctx, bill, "1250")
    assert err.value.code == "SHIFT_NOT_OPEN" and counts(app) == before
    shifts.open_shift(app, ctx, "0")
    before = counts(app)
    with pytest.raises(InvalidInput) as err:
        pay(app, ctx, {"id": "no-such-bill"}, "1250")
    assert err.value.code == "BILL_NOT_FOUND"
    pay(app, ctx, bill, "1250")
    before = counts(app)
    with pytest.raises(InvalidInput) as err:
        pay(app, ctx, bill, "1250")
    assert err.value.code == "BILL_ALREADY_PAID" and counts(app) == before
    late = bill_for(app, "TL-CC-2")
    frozen_clock.advance(days=8)
    before = counts(app)
    with pytest.raises(InvalidInput) as err:
        pay(app, ctx, late, "1250")
    assert err.value.code == "BILL_EXPIRED" and counts(app) == before


def test_a_payment_needs_the_create_action(world):
    app = world
    bill = bill_for(app, "TL-CC-1")
    before = counts(app)
    with pytest.raises(Forbidden):
        pay(app, ctx_as(app, "clerk.jalandhar"), bill, "1250")       # no role at pb.amritsar
    assert counts(app) == before


# -- lifecycle -------------------------------------------------------------------------------------
def _collected(app, consumer: str) -> int:
    with app.store.engine.connect() as conn:
        return conn.execute(select(func.coalesce(func.sum(DemandDetail.collection_amount_paise), 0))
                            .join(Demand, Demand.id == DemandDetail.demand_id)
                            .where(Demand.consumer_code == consumer)).scalar_one()


def test_cancel_latest_only_with_a_reason_and_the_demand_is_owed_again(world, clerk):
    app = world
    bill = bill_for(app, "PT-1", service="PT", lines=(("PT_TAX", "1000", "0"),), period=PT_PERIOD)
    first = pay(app, clerk, bill, "400")
    [again] = billing.fetch_bill(app, clerk, AMRITSAR, consumer_code="PT-1")
    second = pay(app, clerk, again, "200")
    r1, r2 = (p["paymentDetails"][0]["receiptNumber"] for p in (first, second))
    assert _collected(app, "PT-1") == 60000
    before = counts(app)
    # the counter clerk holds the generic /payments/_workflow but no receipt cancellator role
    for who in (clerk, ctx_as(app, "lme.amritsar")):
        with pytest.raises(Forbidden) as denied:
            collection.cancel(app, who, AMRITSAR, r2, "ERRORRECEIPT")
        assert denied.value.code == "RECEIPT_CANCEL_NOT_AUTHORIZED" and counts(app) == before
        assert denied.value.params["rolesThatWouldGrant"] == ["CR_PT"]
        assert "/collection-services/payments/PT/_workflow" in denied.value.message
    supervisor = ctx_as(app, "supervisor.amritsar")
    with pytest.raises(InvalidInput) as err:
        collection.cancel(app, supervisor, AMRITSAR, r1, "ERRORRECEIPT")
    assert err.value.code == "PAYMENT_NOT_LATEST" and counts(app) == before
    with pytest.raises(InvalidInput) as err:
        collection.cancel(app, supervisor, AMRITSAR, r2, "BECAUSE")
    assert err.value.code == "INVALID_CANCEL_REASON" and counts(app) == before
    done = collection.cancel(app, supervisor, AMRITSAR, r2, "ERRORRECEIPT", comment="wrong amount")
    assert done["paymentStatus"] == "CANCELLED" and done["additionalDetails"]["cancellationReason"] == "ERRORRECEIPT"
    assert done["additionalDetails"]["cancelledBy"] == "supervisor.amritsar"
    assert _collected(app, "PT-1") == 40000
    with pytest.raises(InvalidInput) as err:
        collection.cancel(app, supervisor, AMRITSAR, r2, "OTHER")
    assert err.value.code == "PAYMENT_ALREADY_CANCELLED"
    collection.cancel(app, supervisor, AMRITSAR, r1, "OTHER")              # now the latest live one
    assert _collected(app, "PT-1") == 0
    [fresh] = billing.fetch_bill(app, clerk, AMRITSAR, consumer_code="PT-1")
    assert fresh["totalAmount"] == "1000.00"
    st = shifts.status(app, clerk)
    assert st["cancelledCount"] == 2 and st["receiptCount"] == 0


def test_a_tl_receipt_is_cancelled_by_its_cancellator_role_not_by_the_clerk(world, clerk):
    """TL has no receipt cancellator in the real masters: the bundled CR_TL / TL/_workflow pair
    (configs/README.md) gives the demo supervisor that power; the approver, who holds the generic
    _workflow, still cannot."""
    app = world
    receipt = pay(app, clerk, bill_for(app, "TL-CC-1"), "1250")["paymentDetails"][0]["receiptNumber"]
    before = counts(app)
    with pytest.raises(Forbidden) as denied:
        collection.cancel(app, ctx_as(app, "approver.amritsar"), AMRITSAR, receipt, "OTHER")
    assert denied.value.code == "RECEIPT_CANCEL_NOT_AUTHORIZED" and counts(app) == before
    assert denied.value.params["rolesThatWouldGrant"] == ["CR_TL"]
    done = collection.cancel(app, ctx_as(app, "supervisor.amritsar"), AMRITSAR, receipt, "OTHER")
    assert done["paymentStatus"] == "CANCELLED" and _collected(app, "TL-CC-1") == 0


def test_dishonour_a_cheque_only_by_a_supervisor_with_a_reason_code(world, clerk):
    """Dishonour is guarded as cancel is (the service's /collection-services/payments/<SVC>/_workflow,
    a receipt cancellator: DIGIT's PaymentWorkflowService does both through one _workflow) and
    takes a reason code of common-masters.CancelReceiptReason, the master DIGIT's bill
    reasonForCancellation holds for both (there is no dishonour reason master)."""
    app = world
    cash = pay(app, clerk, bill_for(app, "TL-CC-1"), "1250")
    cheque = pay(app, clerk, bill_for(app, "TL-CC-2"), "1250", mode="CHEQUE", **CHEQUE)
    bounced = cheque["paymentDetails"][0]["receiptNumber"]
    supervisor = ctx_as(app, "supervisor.amritsar")
    before = counts(app)
    with pytest.raises(Forbidden) as denied:          # the clerk who took it cannot bounce it alone
        collection.dishonour(app, clerk, AMRITSAR, bounced, "CHEQUEBOUNCE")
    assert denied.value.code == "RECEIPT_DISHONOUR_NOT_AUTHORIZED" and counts(app) == before
    assert denied.value.params["rolesThatWouldGrant"] == ["CR_TL"]
    with pytest.raises(InvalidInput) as err:
        collection.dishonour(app, supervisor, AMRITSAR, cash["paymentDetails"][0]["receiptNumber"], "CHEQUEBOUNCE")
    assert err.value.code == "DISHONOUR_NOT_ALLOWED"
    for reason in ("insufficient funds", "", None):
        with pytest.raises(InvalidInput) as err:
            collection.dishonour(app, supervisor, AMRITSAR, bounced, reason)
        assert err.value.code == "INVALID_DISHONOUR_REASON" and "CHEQUEBOUNCE" in err.value.message
    assert counts(app) == before
    done = collection.dishonour(app, clerk, AMRITSAR, bounced, "chequebounce", comment="insufficient funds",
                                approver=supervisor.actor)
    assert done["paymentStatus"] == "DISHONOURED" and done["instrumentStatus"] == "DISHONOURED"
    extra = done["additionalDetails"]
    assert (extra["dishonourReason"], extra["dishonourComment"]) == ("CHEQUEBOUNCE", "insufficient funds")
    assert (extra["dishonouredBy"], extra["dishonourApprovedBy"]) == ("clerk.amritsar", "supervisor.amritsar")
    assert _collected(app, "TL-CC-2") == 0 and _collected(app, "TL-CC-1") == 125000


def test_dishonour_only_the_latest_cheque_of_a_consumer_code(world, clerk):
    """PaymentWorkflowService.dishonour: "latest" among the consumer code's cheques and DDs still
    APPROVED or REMITTED; a later cash payment does not count."""
    app = world
    supervisor = ctx_as(app, "supervisor.amritsar")
    first = pay(app, clerk, bill_for(app, "PT-1", service="PT", lines=(("PT_TAX", "1000", "0"),), period=PT_PERIOD),
                "400", mode="CHEQUE", **CHEQUE)
    [b2] = billing.fetch_bill(app, clerk, AMRITSAR, consumer_code="PT-1")
    second = pay(app, clerk, b2, "200", mode="CHEQUE", **{**CHEQUE, "instrument_number": "654321"})
    [b3] = billing.fetch_bill(app, clerk, AMRITSAR, consumer_code="PT-1")
    pay(app, clerk, b3, "100")                                         # cash, later than both cheques
    r1, r2 = (p["paymentDetails"][0]["receiptNumber"] for p in (first, second))
    before = counts(app)
    with pytest.raises(InvalidInput) as err:
        collection.dishonour(app, supervisor, AMRITSAR, r1, "CHEQUEBOUNCE")
    assert err.value.code == "PAYMENT_NOT_LATEST" and err.value.params["latestReceiptNumber"] == r2
    assert counts(app) == before
    collection.dishonour(app, supervisor, AMRITSAR, r2, "CHEQUEBOUNCE")
    collection.dishonour(app, supervisor, AMRITSAR, r1, "CHEQUEBOUNCE")      # now the latest cheque
    assert _collected(app, "PT-1") == 10000


def test_cancel_latest_is_among_approved_payments(world, clerk):
    """PaymentWorkflowService.cancel: "latest" among the consumer code's APPROVED payments; a later
    card payment (REMITTED from the start) does not stop an earlier cash receipt's cancellation."""
    app = world
    cash = pay(app, clerk, bill_for(app, "PT-1", service="PT", lines=(("PT_TAX", "1000", "0"),), period=PT_PERIOD),
               "400")
    [again] = billing.fetch_bill(app, clerk, AMRITSAR, consumer_code="PT-1")
    pay(app, clerk, again, "200", mode="CARD", instrument_number="4111", transaction_number="TXN-1")
    done = collection.cancel(app, ctx_as(app, "supervisor.amritsar"), AMRITSAR,
                             cash["paymentDetails"][0]["receiptNumber"], "ERRORRECEIPT")
    assert done["paymentStatus"] == "CANCELLED" and _collected(app, "PT-1") == 20000


def test_a_bounced_cheque_of_an_approved_licence_is_flagged_on_the_application(world, clerk):
    """NewTL was APPROVED on a cheque that then bounced: the fee is owed again, the application
    keeps its status (the workflow has no way back) but carries the reversal, and the hub hears of it."""
    app = world
    no = walk_to_pending_payment(app)
    [bill] = billing.fetch_bill(app, clerk, AMRITSAR, application_no=no)
    cheque = pay(app, clerk, bill, "1250", mode="CHEQUE", **CHEQUE)
    receipt = cheque["paymentDetails"][0]["receiptNumber"]
    with app.store.engine.connect() as conn:
        assert conn.execute(select(Application.application_status).where(Application.application_no == no)).scalar_one() == "APPROVED"
    done = collection.dishonour(app, ctx_as(app, "supervisor.amritsar"), AMRITSAR, receipt, "CHEQUEBOUNCE")
    notice = done["additionalDetails"]["applicationNotice"]
    assert notice["applicationNumber"] == no and notice["applicationStatus"] == "APPROVED"
    assert "owed again" in notice["message"] and receipt in notice["message"]
    with app.store.engine.connect() as conn:
        appl = conn.execute(select(Application).where(Application.application_no == no)).one()
        assert appl.application_status == "APPROVED"
        assert [r["receiptNumber"] for r in appl.details["paymentReversals"]] == [receipt]
        events = conn.execute(select(OutboxEvent.event_type).where(OutboxEvent.entity_id == no)).scalars().all()
        assert "application.payment.reversed" in events
    [again] = billing.fetch_bill(app, clerk, AMRITSAR, application_no=no)
    assert again["totalAmount"] == "1250.00" and again["id"] != bill["id"]


def test_cancelling_a_payment_of_no_application_carries_no_notice(world, clerk):
    app = world
    receipt = pay(app, clerk, bill_for(app, "TL-CC-9"), "1250")["paymentDetails"][0]["receiptNumber"]
    done = collection.cancel(app, ctx_as(app, "supervisor.amritsar"), AMRITSAR, receipt, "OTHER")
    assert "applicationNotice" not in done["additionalDetails"]


def test_remit_the_shift_makes_a_deposit_slip(world, clerk):
    app = world
    pay(app, clerk, bill_for(app, "TL-CC-1"), "1250")
    pay(app, clerk, bill_for(app, "TL-CC-2"), "1250", mode="CHEQUE", **CHEQUE)
    pay(app, clerk, bill_for(app, "TL-CC-3"), "1250")
    card = pay(app, clerk, bill_for(app, "TL-CC-4"), "1250", mode="CARD", instrument_number="4111",
               transaction_number="TXN-1")["paymentDetails"][0]["receiptNumber"]
    before = counts(app)
    with pytest.raises(InvalidInput) as err:           # the drawer is counted first
        collection.remit(app, clerk, AMRITSAR)
    assert err.value.code == "NOTHING_TO_REMIT" and "close your open shift" in err.value.message
    with pytest.raises(InvalidInput) as err:           # a card is deposited by the card network
        collection.remit(app, clerk, AMRITSAR, [card])
    assert err.value.code == "PAYMENT_ALREADY_REMITTED" and counts(app) == before
    shifts.close_shift(app, clerk, "500x7")             # float 1000 + cash 2500
    slip = collection.remit(app, clerk, AMRITSAR, bank="State Bank of India, Hall Bazar")
    assert slip["cashTotal"] == "2500.00" and slip["instrumentsTotal"] == "1250.00" and slip["total"] == "3750.00"
    assert [i["instrumentNumber"] for i in slip["instruments"]] == ["123456"]
    assert len(slip["cash"]["receipts"]) == 2 and "C01" in slip["slipNumber"]
    with app.store.engine.connect() as conn:
        states = dict(conn.execute(select(Payment.payment_mode, Payment.payment_status)).all())
        assert states == {"CASH": "DEPOSITED", "CHEQUE": "DEPOSITED", "CARD": "DEPOSITED"}   # card: from the start
        assert conn.execute(select(Payment.remittance_id).where(Payment.payment_mode == "CARD")).scalar_one() is None
        assert conn.execute(select(func.count()).select_from(Remittance)).scalar_one() == 1
    with pytest.raises(InvalidInput) as err:
        collection.remit(app, clerk, AMRITSAR)
    assert err.value.code == "NOTHING_TO_REMIT"
    receipt = slip["cash"]["receipts"][0]
    with pytest.raises(InvalidInput) as err:
        collection.cancel(app, ctx_as(app, "supervisor.amritsar"), AMRITSAR, receipt, "OTHER")
    assert err.value.code == "PAYMENT_ALREADY_REMITTED"


def test_receipt_first_print_is_original_then_duplicate_and_cancelled_is_marked(world, clerk):
    app = world
    doc = pay(app, clerk, bill_for(app, "TL-CC-1"), "1250")
    receipt = doc["paymentDetails"][0]["receiptNumber"]
    pdf, _, dup = collection.receipt_pdf(app, clerk, AMRITSAR, receipt)
    assert pdf.startswith(b"%PDF") and dup is False
    _, _, dup = collection.receipt_pdf(app, clerk, AMRITSAR, receipt, fmt="thermal")
    assert dup is True
    collection.cancel(app, ctx_as(app, "supervisor.amritsar"), AMRITSAR, receipt, "ERRORRECEIPT")
    pdf, shown, _ = collection.receipt_pdf(app, clerk, AMRITSAR, receipt, fmt="a5")
    assert shown["paymentStatus"] == "CANCELLED" and pdf.startswith(b"%PDF")


# -- the contract ----------------------------------------------------------------------------------
def test_payment_json_matches_the_collection_contract(world, clerk, reference):
    jsonschema = pytest.importorskip("jsonschema")
    import yaml

    spec = yaml.safe_load((reference / CONTRACT).read_text())
    defs = json.loads(json.dumps(spec["definitions"]).replace(
        "https://raw.githubusercontent.com/egovernments/egov-services/master/docs/common/contracts/v1-0-0.yml"
        "#/definitions/AuditDetails", "#/definitions/AuditDetails"))
    defs["AuditDetails"] = {"type": "object"}        # the common contract is not in the reference folder
    schema = {**defs["Payment"], "definitions": defs}
    doc = pay(app := world, clerk, bill_for(world, "TL-CC-1"), "1250", mode="CHEQUE", **CHEQUE)
    # as `-o json` prints it: the amounts as JSON numbers (exact decimal literals)
    from digitctl.cli.output import to_json

    payload = json.loads(to_json({"Payments": [doc]}), parse_float=Decimal)["Payments"][0]
    assert payload["totalAmountPaid"] == Decimal("1250.00") and isinstance(payload["totalAmountPaid"], Decimal)
    # Contract defects, not ours: PaymentDetail.additionalDetails is typed integer and the
    # paymentMode enum lacks DIGIT's own OFFLINE_NEFT etc. Null optional fields are dropped
    # (swagger 2 has no nullable).
    def drop_nulls(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: drop_nulls(x) for k, x in v.items() if x is not None}
        if isinstance(v, list):
            return [drop_nulls(x) for x in v]
        return v
    payload = drop_nulls(payload)
    for pd in payload["paymentDetails"]:
        pd.pop("additionalDetails", None)
    validator = jsonschema.Draft4Validator(schema, format_checker=None)
    errors = sorted(validator.iter_errors(payload), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]
    assert app is world


@pytest.mark.parametrize("by_service", [False, True], ids=["receipt.id", "servicebased"])
def test_a_state_without_counter_series_numbers_receipts_from_its_own_with_the_counter_in_front(
        app, tmp_path, as_user, by_service):
    """DIGIT's own IdFormats (pt.receipt.id, receipt.id) have no [COUNTER]: digitctl puts the
    store's counter code in front, so two offline counters still never issue the same number.
    Which one: `receipt.id` for every service, as collection-services does by default
    (receiptnumber.servicebased=false); `<svc>.receipt.id` when the store is set up service-based,
    and then a service with none (TL here) is refused ID_NOT_FOUND, as DIGIT's idgen refuses it."""
    import shutil

    from digitctl.resources import bundled
    from digitctl.services import quickstart
    from digitctl.services.store import init_store

    configs = bundled("configs") / "mdms"
    state = tmp_path / "pb"
    shutil.copytree(configs / "data" / "pb", state)
    id_file = state / "common-masters" / "IdFormat.json"
    doc = json.loads(id_file.read_text(encoding="utf-8"))
    doc["IdFormat"] = [r for r in doc["IdFormat"] if not r["idname"].startswith("counter.")]
    id_file.write_text(json.dumps(doc), encoding="utf-8")
    mdms.apply(app, app.context("pb"), [state], master_config=configs / "master-config.json")
    quickstart.demo_users(app, app.context())
    if by_service:
        init_store(app, app.context(), receipt_numbers_by_service=True)
    clerk = as_user(app, "clerk.amritsar")
    shifts.open_shift(app, clerk, "0")
    pt = pay(app, clerk, bill_for(app, "PT-9", service="PT", lines=(("PT_TAX", "1000", "0"),), period=PT_PERIOD),
             "1000")
    tl_bill = bill_for(app, "TL-9")
    if not by_service:
        tl = pay(app, clerk, tl_bill, "1250")
        assert pt["paymentDetails"][0]["receiptNumber"] == "C01/11/2026-27/000001"      # receipt.id: [cy:MM]/...
        assert tl["paymentDetails"][0]["receiptNumber"] == "C01/11/2026-27/000002"      # one series for all
        return
    assert pt["paymentDetails"][0]["receiptNumber"] == "C01/PT/107/2026-27/000001"      # pt.receipt.id
    before = counts(app)
    with pytest.raises(InvalidInput) as err:
        pay(app, clerk, tl_bill, "1250")
    assert err.value.code == "ID_NOT_FOUND" and err.value.params["idName"] == "tl.receipt.id"
    assert counts(app) == before


@pytest.mark.parametrize("by_service", [False, True], ids=["receipt.id", "servicebased"])
def test_the_counter_series_follow_receipt_numbering(world, clerk, by_service):
    """The bundled counter series: counter.receipt.id for every service by default; with
    service-based numbering counter.<svc>.receipt.id where the state has one."""
    from digitctl.services.store import init_store

    app = world
    if by_service:
        init_store(app, app.context(), receipt_numbers_by_service=True)
    pt = pay(app, clerk, bill_for(app, "PT-1", service="PT", lines=(("PT_TAX", "1000", "0"),), period=PT_PERIOD),
             "1000")["paymentDetails"][0]["receiptNumber"]
    assert pt == ("PT/C01/107/2026-27/000001" if by_service else "C01/107/2026-27/000001")
