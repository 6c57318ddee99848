"""Issue 12, stream `payments`: payments taken elsewhere (another counter, the hub) come down to a
counter with `sync pull`, read-only and marked where they were taken; a password changed at a
counter reaches the hub and, with the users stream, the other counters. Against the real hub app
in process (tests/pull/test_pull.py's `world`: a hub and two counters)."""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from digitctl.bootstrap import App
from digitctl.errors import DigitError
from digitctl.services import audit, billing, collection, hub_counters, reports, shifts, store_health
from local_store.models import Payment
from sync.push import client_for, push
from tests.helpers import AMRITSAR, ctx_as, demand
from tests.pull.test_pull import HUB, enrol, pull_all, world  # noqa: F401  (world: the fixture)
from tests.sync.support import cli_ok, login_admin, register


def pay(app: App, consumer: str, rupees: str, payer: str | None = None) -> str:
    clerk = ctx_as(app, "clerk.amritsar")
    [bill] = billing.fetch_bill(app, clerk, AMRITSAR, consumer_code=consumer, business_service="TL")
    doc = collection.pay(app, clerk, tenant_id=AMRITSAR, bill_id=bill["id"], mode="CASH", amount=rupees,
                         payer_name=payer, mobile="9876543210" if payer else None)
    return str(doc["paymentDetails"][0]["receiptNumber"])


def push_all(app: App) -> None:
    with client_for(app) as client:
        assert push(app, client).unsynced == 0


def pulled(app: App) -> dict[str, tuple[str | None, str]]:
    """receipt number -> (origin, status) of the payments this store holds from elsewhere."""
    with app.store.engine.connect() as conn:
        return {r.receipt_number: (r.origin, r.payment_status) for r in conn.execute(
            select(Payment.receipt_number, Payment.origin, Payment.payment_status).where(Payment.origin.is_not(None)))}


def assert_store_clean(app: App) -> None:
    report = audit.verify(app, app.context())
    assert report.problem is None, report.problem
    assert store_health.money(app).problems == []


def test_a_payment_taken_at_another_counter_comes_down_read_only_and_marked(world: dict[str, Any],
                                                                            tmp_path: Path) -> None:
    hub, (c1, c2) = world["hub"], world["counters"]
    billing.create_demands(hub, ctx_as(hub, "clerk.amritsar"),
                           [demand(f"PAY-{i}", lines=(("TL_TAX", "700", "0"),)) for i in range(2)])
    assert [enrol(hub, c1, "Counter 1"), enrol(hub, c2, "Counter 2")] == ["C02", "C03"]
    for counter in (c1, c2):
        pull_all(counter)
        shifts.open_shift(counter, ctx_as(counter, "clerk.amritsar"), "0")
    receipt = pay(c1, "PAY-0", "700", payer="Ram Lal")
    push_all(c1)

    got = pull_all(c2)
    assert got.received["payments"] >= 1 and receipt in pulled(c2)
    assert pulled(c2)[receipt] == ("C02", "NEW")
    with c2.store.engine.connect() as conn:                 # the payer sealed with counter 2's keys
        stored = conn.execute(select(Payment.payment).where(Payment.receipt_number == receipt)).scalar_one()
    assert "Ram Lal" not in str(stored) and "9876543210" not in str(stored)
    with c2.uow(c2.context(), readonly=True) as uow:
        assert c2.keyring.decrypt(uow, stored["payerName"]) == "Ram Lal"

    # found by `receipt search` through the command, saying where it was taken
    login_admin(c2.store_url)
    found = cli_ok(c2.store_url, "-o", "json", "receipt", "search", "--tenant", AMRITSAR, "--consumer-code", "PAY-0")
    [doc] = found["Payments"]
    assert doc["paymentDetails"][0]["receiptNumber"] == receipt
    assert doc["additionalDetails"]["takenAt"] == "C02" and Decimal(str(doc["totalAmountPaid"])) == Decimal("700")
    shown = cli_ok(c2.store_url, "payment", "show", receipt, "--tenant", AMRITSAR)
    assert "counter C02 (elsewhere)" in shown.output

    # a print here is a DUPLICATE copy marked as taken elsewhere, even the first one
    printed = cli_ok(c2.store_url, "-o", "json", "receipt", "print", receipt, "--tenant", AMRITSAR,
                     "--out", str(tmp_path / "copy.pdf"))
    assert printed["Receipt"]["marks"] == ["DUPLICATE", "TAKEN ELSEWHERE"]
    assert (tmp_path / "copy.pdf").read_bytes().startswith(b"%PDF")

    # not counter 2's money: not in its day book; it cannot cancel it
    book = reports.daybook(c2, ctx_as(c2, "supervisor.amritsar"), tenant_id=AMRITSAR)
    assert Decimal(str(book["grandTotal"]["amount"])) == 0 and receipt not in str(book)
    with pytest.raises(DigitError) as refused:
        collection.cancel(c2, ctx_as(c2, "supervisor.amritsar"), AMRITSAR, receipt, "ERRORRECEIPT")
    assert refused.value.code == "PAYMENT_TAKEN_ELSEWHERE"
    out = cli_ok(c2.store_url, "-o", "json", "payment", "cancel", receipt, "--tenant", AMRITSAR,
                 "--reason", "ERRORRECEIPT", code=2)
    assert out["Errors"][0]["code"] == "PAYMENT_TAKEN_ELSEWHERE"
    assert pulled(c2)[receipt] == ("C02", "NEW")

    # what came down is not pushed back as counter 2's doing; its own receipts still push
    mine = pay(c2, "PAY-1", "700")
    push_all(c2)
    with hub.store.engine.connect() as conn:
        at_hub = dict(conn.execute(select(Payment.receipt_number, Payment.counter_code)).all())
    assert at_hub[receipt] == "C02" and at_hub[mine] == "C03"

    # counter 1 never receives its own payment; it gets counter 2's
    again = pull_all(c1)
    assert receipt not in pulled(c1) and pulled(c1) == {mine: ("C03", "NEW")}
    assert again.received["payments"] == 1
    for counter in (c1, c2):
        assert_store_clean(counter)
    assert cli_ok(c2.store_url, "audit", "verify").exit_code == 0


def test_a_cancel_at_the_hub_or_at_the_counter_that_took_it_comes_down_as_cancelled(world: dict[str, Any]) -> None:
    hub, (c1, c2) = world["hub"], world["counters"]
    billing.create_demands(hub, ctx_as(hub, "clerk.amritsar"),
                           [demand(f"CAN-{i}", lines=(("TL_TAX", "400", "0"),)) for i in range(2)])
    enrol(hub, c1, "Counter 1")
    enrol(hub, c2, "Counter 2")
    pull_all(c1)
    shifts.open_shift(c1, ctx_as(c1, "clerk.amritsar"), "0")
    at_c1 = pay(c1, "CAN-0", "400")
    push_all(c1)
    at_hub = pay(hub, "CAN-1", "400")              # at the hub's own desk (its store has a shift open)
    pull_all(c2)
    assert pulled(c2) == {at_c1: ("C02", "NEW"), at_hub: ("HUB", "NEW")}

    collection.cancel(c1, ctx_as(c1, "supervisor.amritsar"), AMRITSAR, at_c1, "ERRORRECEIPT")
    push_all(c1)
    collection.cancel(hub, ctx_as(hub, "supervisor.amritsar"), AMRITSAR, at_hub, "ERRORRECEIPT")
    delta = pull_all(c2)
    assert delta.received["payments"] == 2
    assert pulled(c2) == {at_c1: ("C02", "CANCELLED"), at_hub: ("HUB", "CANCELLED")}
    login_admin(c2.store_url)
    search = cli_ok(c2.store_url, "-o", "json", "receipt", "search", "--tenant", AMRITSAR, "--consumer-code", "CAN-1")
    assert search["Payments"][0]["paymentStatus"] == "CANCELLED"
    assert search["Payments"][0]["additionalDetails"]["takenAt"] == "HUB"
    assert_store_clean(c2)


def test_a_counter_of_another_tenant_receives_no_payments(world: dict[str, Any]) -> None:
    hub, (c1, c2) = world["hub"], world["counters"]
    billing.create_demands(hub, ctx_as(hub, "clerk.amritsar"), [demand("OTHER-1", lines=(("TL_TAX", "300", "0"),))])
    enrol(hub, c1, "Counter 1")
    pull_all(c1)
    shifts.open_shift(c1, ctx_as(c1, "clerk.amritsar"), "0")
    pay(c1, "OTHER-1", "300")
    push_all(c1)
    enrolled = hub_counters.enrol(hub, hub.context(), "pb.jalandhar", "Jalandhar 1")
    register(c2, HUB, enrolled["enrolmentCode"])
    got = pull_all(c2)
    assert got.received["payments"] == 0 and pulled(c2) == {}
    with hub.store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Payment).where(Payment.tenant_id == AMRITSAR)).scalar()


def test_a_password_changed_at_a_counter_reaches_the_other_counter_through_the_hub(world: dict[str, Any]) -> None:
    from digitctl import session
    from digitctl.services import auth
    from tests.sync.support import DEMO_PASSWORD

    hub, (c1, c2) = world["hub"], world["counters"]
    enrol(hub, c1, "Counter 1")
    enrol(hub, c2, "Counter 2")
    for counter in (c1, c2):
        pull_all(counter)
    at_hub = session.login(hub, hub.context(AMRITSAR), "clerk.amritsar", DEMO_PASSWORD, AMRITSAR)
    at_c2 = session.login(c2, c2.context(AMRITSAR), "clerk.amritsar", DEMO_PASSWORD, AMRITSAR)
    auth.set_password(c1, ctx_as(c1, "clerk.amritsar"), "clerk.amritsar", "Counter@2027")
    with c1.store.engine.connect() as conn:                  # the hash travels, never the password
        from local_store.models import OutboxEvent

        payload = conn.execute(select(OutboxEvent.payload).where(
            OutboxEvent.event_type == "user.password.changed")).scalar_one()
    assert payload["user"]["passwordHash"] and "Counter@2027" not in str(payload)
    push_all(c1)
    with pytest.raises(DigitError):                          # the hub ended the user's sessions
        session.actor_for_token(hub, hub.context(), at_hub.token)

    assert pull_all(c2).received["users"] >= 1
    ok = session.login(c2, c2.context(AMRITSAR), "clerk.amritsar", "Counter@2027", AMRITSAR)
    assert ok.user_name == "clerk.amritsar"
    with pytest.raises(DigitError):
        session.login(c2, c2.context(AMRITSAR), "clerk.amritsar", DEMO_PASSWORD, AMRITSAR)
    with pytest.raises(DigitError):                          # and so did counter 2, under the old password
        session.actor_for_token(c2, c2.context(), at_c2.token)
    assert_store_clean(c2)
