"""Counter shifts on real temporary stores (SQLite and PostgreSQL): open with a float, takings by
mode from the shift's payments, close with a drawer count, variance; refusals write nothing."""
from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import delete, func, insert, select

from digitctl.context import RequestContext
from digitctl.errors import Forbidden, InvalidInput
from digitctl.services import shifts
from local_store.models import AuditRecord, OutboxEvent, Payment, Shift, StoreMeta

TENANT = "pb.amritsar"


def counts(app) -> tuple[int, int, int]:
    with app.store.engine.connect() as conn:
        shift, outbox, audit = (conn.execute(select(func.count()).select_from(m)).scalar_one()
                                for m in (Shift, OutboxEvent, AuditRecord))
        return shift, outbox, audit


def add_payment(app, shift_id: str, mode: str, rupees: str, status: str = "NEW") -> None:
    now = app.clock.now()
    paise = int(Decimal(rupees) * 100)
    with app.store.engine.begin() as conn:
        conn.execute(insert(Payment).values(
            id=str(uuid.uuid4()), tenant_id=TENANT, receipt_number=f"PB-RCPT-{uuid.uuid4().hex[:8]}",
            receipt_date=now, counter_code="C01", shift_id=shift_id, collector_uuid="x", bill_id=str(uuid.uuid4()),
            business_service="TL", consumer_code="PB-TL-1", payment_mode=mode, total_due_paise=paise,
            amount_paid_paise=paise, instrument_status="APPROVED", payment_status=status, payment={},
            created_at=now, updated_at=now))


def test_open_status_close_with_matching_count(state_app, clerk):
    app = state_app
    opened = shifts.open_shift(app, clerk, "2000")
    assert opened["status"] == "OPEN" and opened["counterCode"] == "C01" and opened["tenantId"] == TENANT
    assert opened["float"] == Decimal("2000.00") and opened["userUuid"] == clerk.actor.uuid
    with app.uow(app.base_context(), readonly=True) as uow:
        assert shifts.require_open_shift(uow, clerk).id == opened["id"]

    st = shifts.status(app, clerk)
    assert st["cashCollected"] == Decimal("0.00") and st["expectedCash"] == Decimal("2000.00")
    assert st["receiptCount"] == 0 and st["otherModes"] == []

    add_payment(app, opened["id"], "CASH", "1500.50")
    add_payment(app, opened["id"], "CASH", "999.50")
    add_payment(app, opened["id"], "CHEQUE", "12345")
    add_payment(app, opened["id"], "CASH", "700", status="CANCELLED")
    add_payment(app, "another-shift", "CASH", "50000")
    st = shifts.status(app, clerk)
    assert st["cashCollected"] == Decimal("2500.00")
    assert st["otherModes"] == [{"paymentMode": "CHEQUE", "amount": Decimal("12345.00")}]
    assert st["receiptCount"] == 3 and st["cancelledCount"] == 1
    assert st["expectedCash"] == Decimal("4500.00")

    closed = shifts.close_shift(app, clerk, "2000x1, 500x4, 200x2, 50x2", note="all square")
    assert closed["status"] == "CLOSED" and closed["countedCash"] == Decimal("4500.00")
    assert closed["expectedCash"] == Decimal("4500.00")
    assert closed["variance"] == Decimal("0.00") and closed["varianceText"] == "₹0.00"
    assert [d["denomination"] for d in closed["denominations"]] == [2000, 500, 200, 50]
    with app.store.engine.connect() as conn:
        row = conn.execute(select(Shift)).one()
        events = conn.execute(select(OutboxEvent.event_type, OutboxEvent.payload)
                              .where(OutboxEvent.entity_type == "Shift").order_by(OutboxEvent.seq)).all()
    assert row.status == "CLOSED" and row.variance_paise == 0 and row.counted_cash_paise == 450000
    assert row.denominations == {"2000": 1, "500": 4, "200": 2, "50": 2}
    assert row.closed_at is not None
    assert [e.event_type for e in events] == ["shift.opened", "shift.closed"]
    assert events[1].payload["Shift"]["denominations"][0] == {"denomination": 2000, "count": 1, "amount": "2000.00"}
    assert events[1].payload["Shift"]["note"] == "all square"

    # a close is final: no open shift any more, and a new one may be opened
    with pytest.raises(InvalidInput) as err:
        shifts.close_shift(app, clerk, "500x1")
    assert err.value.code == "SHIFT_NOT_OPEN"
    with pytest.raises(InvalidInput, match="SHIFT_NOT_OPEN"):
        shifts.status(app, clerk)
    assert shifts.open_shift(app, clerk, "0")["id"] != opened["id"]


def test_short_count_records_a_negative_variance(state_app, clerk):
    app = state_app
    opened = shifts.open_shift(app, clerk, "2000")
    add_payment(app, opened["id"], "CASH", "10000.50")
    closed = shifts.close_shift(app, clerk, "2000x5,500x3,1x0")
    assert closed["expectedCash"] == Decimal("12000.50")
    assert closed["countedCash"] == Decimal("11500.00")
    assert closed["variance"] == Decimal("-500.50") and closed["varianceText"] == "-₹500.50"


def test_excess_shows_a_plus_sign(state_app, clerk):
    shifts.open_shift(state_app, clerk, "100")
    assert shifts.close_shift(state_app, clerk, "100x1,2000x1")["varianceText"] == "+₹2,000.00"


def test_refusals_write_nothing(state_app, clerk):
    app = state_app
    before = counts(app)
    for call, code in [
        (lambda: shifts.close_shift(app, clerk, "500x1"), "SHIFT_NOT_OPEN"),
        (lambda: shifts.status(app, clerk), "SHIFT_NOT_OPEN"),
        (lambda: shifts.open_shift(app, clerk, "-5"), "SHIFT_INVALID_FLOAT"),
        (lambda: shifts.open_shift(app, clerk, "10.005"), "SHIFT_INVALID_FLOAT"),
        (lambda: shifts.open_shift(app, clerk, "100.50"), "SHIFT_INVALID_FLOAT"),   # paise: never counted back
        (lambda: shifts.open_shift(app, clerk, Decimal("0.01")), "SHIFT_INVALID_FLOAT"),
        (lambda: shifts.open_shift(app, clerk, "two thousand"), "SHIFT_INVALID_FLOAT"),
    ]:
        with pytest.raises(InvalidInput) as err:
            call()
        assert err.value.code == code
    assert counts(app) == before
    with pytest.raises(InvalidInput):
        shifts.open_shift(app, clerk, 2000.0)     # type: ignore[arg-type]  # a float never becomes money

    shifts.open_shift(app, clerk, Decimal("2000"))
    before = counts(app)
    with pytest.raises(InvalidInput) as err:
        shifts.open_shift(app, clerk, "500")
    assert err.value.code == "SHIFT_ALREADY_OPEN" and "since 25/11/2026 11:00 IST" in err.value.message
    with pytest.raises(InvalidInput) as err:
        shifts.close_shift(app, clerk, "500x3,300x1")
    assert err.value.code == "SHIFT_INVALID_COUNT" and "300x1" in err.value.message
    assert counts(app) == before
    with app.store.engine.connect() as conn:
        assert conn.execute(select(Shift.status)).scalars().all() == ["OPEN"]


def test_one_open_shift_per_user_not_per_counter(state_app, clerk, ctx_as, make_user):
    make_user(state_app, "clerk2", [("UC_EMP", TENANT)], "9814012346")
    other = ctx_as(state_app, "clerk2")
    a = shifts.open_shift(state_app, clerk, "1000")
    b = shifts.open_shift(state_app, other, "500")
    assert a["id"] != b["id"]
    assert shifts.status(state_app, other)["float"] == Decimal("500.00")


def test_no_counter_code(state_app, clerk):
    app = state_app
    with app.store.engine.begin() as conn:
        conn.execute(delete(StoreMeta).where(StoreMeta.key == "counter_code"))
    before = counts(app)
    with pytest.raises(InvalidInput) as err:
        shifts.open_shift(app, clerk, "2000")
    assert err.value.code == "SHIFT_NO_COUNTER" and "digitctl init --counter C01" in err.value.message
    assert counts(app) == before


def test_a_user_without_the_collection_role_is_refused(state_app, ctx_as, make_user):
    app = state_app
    make_user(app, "lme1", [("PGR_LME", TENANT)], "9814012347")
    lme = ctx_as(app, "lme1")
    before = counts(app)
    for call in (lambda: shifts.open_shift(app, lme, "2000"), lambda: shifts.close_shift(app, lme, "500x1"),
                 lambda: shifts.status(app, lme)):
        with pytest.raises(Forbidden) as err:
            call()
        assert err.value.code == "ACCESS_DENIED"
    assert counts(app) == before


def test_clerk_of_another_city_is_refused_there(state_app, clerk):
    with pytest.raises(Forbidden):
        shifts.open_shift(state_app, RequestContext(actor=clerk.actor, tenant_id="pb.jalandhar",
                                                     clock=state_app.clock), "2000")


def test_times_come_from_the_clock(state_app, clerk, frozen_clock):
    opened = shifts.open_shift(state_app, clerk, "2000")
    assert opened["openedAt"] == frozen_clock.now()
    frozen_clock_later = frozen_clock.now() + dt.timedelta(hours=8)
    later = RequestContext(actor=clerk.actor, clock=type(frozen_clock)(frozen_clock_later))
    assert shifts.close_shift(state_app, later, "2000x1")["closedAt"] == frozen_clock_later


def test_a_float_with_paise_is_refused_whole_rupees_are_taken(state_app, clerk):
    """The drawer is counted in rupee notes and coins: a ₹100.50 float would close ₹0.50 short
    forever. "2000.00" is whole rupees."""
    app = state_app
    before = counts(app)
    with pytest.raises(InvalidInput) as err:
        shifts.open_shift(app, clerk, "100.50")
    assert err.value.code == "SHIFT_INVALID_FLOAT" and "whole rupees" in err.value.message
    assert err.value.params == {"float": "100.50"}
    assert counts(app) == before
    opened = shifts.open_shift(app, clerk, "2000.00")
    assert opened["float"] == Decimal("2000.00")
    assert shifts.close_shift(app, clerk, "2000x1")["variance"] == Decimal("0.00")


def test_a_dishonoured_cheque_is_not_in_an_open_shift(state_app, clerk):
    """A bounced cheque is no more in the drawer than a cancelled receipt: status and close leave
    it out of the takings (the day book does too)."""
    app = state_app
    opened = shifts.open_shift(app, clerk, "1000")
    add_payment(app, opened["id"], "CASH", "500")
    add_payment(app, opened["id"], "CHEQUE", "1250")
    add_payment(app, opened["id"], "CHEQUE", "700", status="DISHONOURED")
    add_payment(app, opened["id"], "CASH", "300", status="DISHONOURED")     # however it came to be
    add_payment(app, opened["id"], "CASH", "100", status="CANCELLED")
    st = shifts.status(app, clerk)
    assert st["cashCollected"] == Decimal("500.00") and st["expectedCash"] == Decimal("1500.00")
    assert st["otherModes"] == [{"paymentMode": "CHEQUE", "amount": Decimal("1250.00")}]
    assert st["receiptCount"] == 2 and st["cancelledCount"] == 1 and st["dishonouredCount"] == 2
    closed = shifts.close_shift(app, clerk, "500x3")
    assert closed["expectedCash"] == Decimal("1500.00") and closed["variance"] == Decimal("0.00")
    assert closed["otherModes"] == [{"paymentMode": "CHEQUE", "amount": Decimal("1250.00")}]
