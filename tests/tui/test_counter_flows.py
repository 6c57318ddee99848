"""The counter in the TUI, driven by a Pilot against a real (copied) quickstart store: logging
in, cash and cheque payments with the receipt printed, a refused payment that writes nothing, a
reprint marked DUPLICATE, a supervisor's cancel, a shift closed with a variance."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from digitctl.services import collection, counter_desk
from tests.tui.helpers import settle, text_of, type_into

pytestmark = pytest.mark.anyio
SIZE = (80, 24)


async def _find_bill(pilot: Any, number: str) -> None:
    await type_into(pilot, "#search", number)
    await pilot.press("enter")
    await settle(pilot)


async def test_login_screen_refuses_a_wrong_password_then_opens_the_counter(desk_app):
    app = desk_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert type(app.screen).__name__ == "LoginScreen"
        assert app.screen.focused.id == "username"
        await pilot.press(*"clerk.amritsar", "tab", *"wrong", "enter")
        await settle(pilot)
        assert "INVALID_CREDENTIALS" in text_of(app, "#error")
        await pilot.press(*"Demo@1234", "enter")
        await settle(pilot)
        assert type(app.screen).__name__ == "CounterScreen"       # a collector starts at the counter
        assert app.screen.focused.id == "search"
        assert "clerk.amritsar" in text_of(app, "#status")


async def test_keys_typed_in_one_burst_land_where_tab_sends_them(desk_app):
    """A script's `tmux send-keys "clerk.amritsar" Tab "Demo@1234" Enter` (or a fast typist) hands the
    app every key at once: the Tab must move the focus before the next key is delivered."""
    from textual import events

    app = desk_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for key, char in [*((c, c) for c in "clerk.amritsar"), ("tab", "\t"), *((c, c) for c in "Demo@1234"),
                          ("enter", "\r")]:
            app.post_message(events.Key(key, char))           # queued together, as a terminal delivers them
        await settle(pilot)
        assert type(app.screen).__name__ == "CounterScreen", text_of(app, "#error")
        assert "clerk.amritsar" in text_of(app, "#status")


async def test_cash_payment_shows_the_receipt_and_change_and_prints_it(desk_app, pending_bill, core,
                                                                      printer_folder: Path):
    app = desk_app("clerk.amritsar")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await _find_bill(pilot, pending_bill["applicationNo"])
        shown = text_of(app, "#bill")
        assert "₹1,250.00" in shown and "Trade License" in shown      # each tax head, Indian grouping
        await pilot.press("f5")
        await settle(pilot)
        assert app.screen.query_one("#amount").value == "1250.00"     # prefilled with the due
        assert str(app.screen.query_one("#mode").value) == "CASH"
        await type_into(pilot, "#tendered", "1500")
        await pilot.press("enter")
        await settle(pilot)
        assert "Change due: ₹250.00" in text_of(app, "#confirm-body")
        await pilot.press("enter")
        await settle(pilot)
        said = text_of(app, "#error")
        receipt = said.split()[1]
        assert said.startswith("Receipt ") and "change due ₹250.00" in said
        assert "Printed:" in text_of(app, "#result")
    doc = collection.get_payment(core, pending_bill["ctx"], "pb.amritsar", receipt)
    assert doc["paymentMode"] == "CASH" and str(doc["totalAmountPaid"]) == "1250.00"
    assert [p.name for p in printer_folder.iterdir()] == [receipt.replace("/", "-") + ".pdf"]


async def test_cheque_payment_is_refused_with_a_bad_ifsc_then_taken(desk_app, pending_bill, core):
    app = desk_app("clerk.amritsar")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await _find_bill(pilot, pending_bill["applicationNo"])
        await pilot.press("f5")
        await settle(pilot)
        modes = app.screen.modes
        assert "CHEQUE" in modes and "DD" not in modes          # only the modes the service takes
        app.screen.query_one("#mode").value = "CHEQUE"
        await pilot.pause()
        assert app.screen.query_one("#ifsc").display and not app.screen.query_one("#tendered").display
        for field, value in (("#instrument", "123456"), ("#idate", "2026-11-20"), ("#bank", "Punjab National Bank"),
                             ("#branch", "Hall Bazar"), ("#ifsc", "PUNB12300")):
            await type_into(pilot, field, value)
        await pilot.press("enter", "y")
        await settle(pilot)
        assert text_of(app, "#error").startswith("INVALID_IFSC")
        assert counter_desk.search_receipts(core, pending_bill["ctx"], "pb.amritsar") == []
        await type_into(pilot, "#ifsc", "PUNB0012300")
        await pilot.press("enter", "y")
        await settle(pilot)
        assert text_of(app, "#error").startswith("Receipt ")
    [doc] = counter_desk.search_receipts(core, pending_bill["ctx"], "pb.amritsar")
    assert doc["paymentMode"] == "CHEQUE" and doc["instrumentNumber"] == "123456"


def outbox_size(core: Any) -> int:
    from sqlalchemy import func, select

    from local_store.models import OutboxEvent

    with core.store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(OutboxEvent)).scalar_one())


async def test_refused_payment_shows_the_code_and_writes_nothing(desk_app, pending_bill, core):
    app = desk_app("clerk.amritsar")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await _find_bill(pilot, pending_bill["applicationNo"])
        before = outbox_size(core)
        await pilot.press("f5")
        await settle(pilot)
        await type_into(pilot, "#amount", "100")            # the TL bill takes no part payment
        await pilot.press("enter", "y")
        await settle(pilot)
        refusal = text_of(app, "#error")
        assert refusal.startswith("INVALID_AMT_PAID_CODE: part payment is not allowed"), refusal
        assert app.screen.receipt is None
    assert counter_desk.search_receipts(core, pending_bill["ctx"], "pb.amritsar") == []
    assert outbox_size(core) == before   # no event, no audit


def _paid(core: Any, pending_bill: dict[str, Any], **kw: Any) -> str:
    doc = collection.pay(core, pending_bill["ctx"], tenant_id="pb.amritsar", bill_id=pending_bill["bill"]["id"],
                         mode="CASH", amount="1250", **kw)
    return str(doc["paymentDetails"][0]["receiptNumber"])


async def test_reprint_is_marked_duplicate(desk_app, pending_bill, core, printer_folder: Path):
    receipt = _paid(core, pending_bill)
    app = desk_app("clerk.amritsar")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f4")
        await settle(pilot)
        assert receipt in str(app.screen.query_one("#receipts-table").get_row_at(0))
        await pilot.press("r")
        await settle(pilot)
        assert "(DUPLICATE)" in text_of(app, "#error")
    assert [p.name for p in printer_folder.iterdir()] == [receipt.replace("/", "-") + "-DUPLICATE.pdf"]


async def test_cancel_needs_the_supervisors_password(desk_app, pending_bill, core):
    receipt = _paid(core, pending_bill)
    app = desk_app("clerk.amritsar")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f4")
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        await type_into(pilot, "#comment", "wrong consumer")
        await type_into(pilot, "#supervisor", "supervisor.amritsar")
        await type_into(pilot, "#supervisor-password", "not-it")
        await pilot.press("enter")
        await settle(pilot)
        assert text_of(app, "#error").startswith("INVALID_CREDENTIALS")
        assert collection.get_payment(core, pending_bill["ctx"], "pb.amritsar", receipt)["paymentStatus"] != "CANCELLED"
        await type_into(pilot, "#supervisor-password", "Demo@1234")
        await pilot.press("enter")
        await settle(pilot)
        assert type(app.screen).__name__ == "ReceiptsScreen"
        assert "CANCELLED" in text_of(app, "#error")
        # at 80 columns the receipt, consumer code, amount and status are all on screen, uncut
        table = app.screen.query_one("#receipts-table")
        columns = list(table.columns.values())
        assert [str(c.label) for c in columns[:4]] == ["Receipt", "Consumer", "Amount", "Status"]
        assert sum(c.get_render_width(table) for c in columns[:4]) <= table.scrollable_content_region.width
        assert "CANCELLED" in str(table.get_row_at(0)[3]) and pending_bill["applicationNo"] in str(table.get_row_at(0)[1])
    doc = collection.get_payment(core, pending_bill["ctx"], "pb.amritsar", receipt)
    assert doc["paymentStatus"] == "CANCELLED"


async def test_shift_close_shows_the_variance_live_and_records_it(desk_app, pending_bill, core):
    from digitctl.errors import DigitError
    from digitctl.services import shifts

    _paid(core, pending_bill)                      # float 2,000 + cash 1,250 = 3,250 expected
    app = desk_app("clerk.amritsar")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f3")
        await settle(pilot)
        assert "Expected ₹3,250.00" in text_of(app, "#variance")
        await type_into(pilot, "#d500", "6")
        await type_into(pilot, "#d200", "1")
        assert "Counted ₹3,200.00" in text_of(app, "#variance")
        assert "Variance -₹50.00" in text_of(app, "#variance")
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert "Shift closed" in text_of(app, "#error") and "-₹50.00" in text_of(app, "#error")
        assert "no shift" in text_of(app, "#status")
        await type_into(pilot, "#float", "1000")             # and a new one opened with a float
        await pilot.press("enter")
        await settle(pilot)
        assert "Shift opened with float ₹1,000.00" in text_of(app, "#error")
    assert str(shifts.status(core, pending_bill["ctx"])["float"]) == "1000.00"
    try:
        shifts.open_shift(core, pending_bill["ctx"], "5")
    except DigitError as err:
        assert err.code == "SHIFT_ALREADY_OPEN"


async def test_a_bounced_cheque_is_dishonoured_with_the_supervisor(desk_app, pending_bill, core):
    import datetime as dt

    doc = collection.pay(core, pending_bill["ctx"], tenant_id="pb.amritsar", bill_id=pending_bill["bill"]["id"],
                         mode="CHEQUE", amount="1250", instrument_number="445566",
                         instrument_date=dt.date(2026, 11, 24), bank="State Bank of India", branch="Amritsar",
                         ifsc="SBIN0000123")
    receipt = doc["paymentDetails"][0]["receiptNumber"]
    app = desk_app("clerk.amritsar")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f4")
        await settle(pilot)
        await pilot.press("d")
        await settle(pilot)
        assert str(app.screen.query_one("#reason").value) == "CHEQUEBOUNCE"
        await type_into(pilot, "#supervisor", "supervisor.amritsar")
        await type_into(pilot, "#supervisor-password", "Demo@1234")
        await pilot.press("enter")
        await settle(pilot)
        assert f"{receipt}: DISHONOURED" in text_of(app, "#error")
    assert collection.get_payment(core, pending_bill["ctx"], "pb.amritsar", receipt)["paymentStatus"] == "DISHONOURED"


async def test_every_screen_is_in_the_command_palette(desk_app):
    app = desk_app("clerk.amritsar")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Inbox")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await settle(pilot)
        assert type(app.screen).__name__ == "InboxScreen"
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Log out")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await settle(pilot)
        assert type(app.screen).__name__ == "LoginScreen" and not app.desk.logged_in


async def test_a_session_ended_elsewhere_sends_the_desk_back_to_the_login(desk_app, core):
    from digitctl import session

    app = desk_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press(*"clerk.amritsar", "tab", *"Demo@1234", "enter")
        await settle(pilot)
        assert type(app.screen).__name__ == "CounterScreen"
        session.logout(core, core.base_context(), app.desk.token)      # e.g. `digitctl logout`, an admin's lock
        await pilot.press("f4")
        await settle(pilot)
        assert type(app.screen).__name__ == "LoginScreen"
        assert text_of(app, "#error").startswith("INVALID_TOKEN")


async def test_reprint_on_an_escpos_printer(desk_app, pending_bill, core, monkeypatch: pytest.MonkeyPatch):
    """DIGIT_PRINTER=escpos:...: the reprint reaches the thermal printer as a raster image, cut,
    marked DUPLICATE; the folder printer is not used."""
    pytest.importorskip("escpos", reason="python-escpos is not installed (pip install 'digitctl[printer]')")
    from escpos.printer import Dummy

    from digitctl import printing

    printed: list[Any] = []

    def open_dummy(target: str) -> Any:
        printed.append(Dummy())
        return printed[-1]

    monkeypatch.setattr(printing, "open_escpos", open_dummy)
    monkeypatch.setenv("DIGIT_PRINTER", "escpos:tcp:127.0.0.1:9100")
    receipt = _paid(core, pending_bill)
    app = desk_app("clerk.amritsar")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f4")
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        assert "(DUPLICATE)" in text_of(app, "#error")
    out = printed[0].output
    assert b"\x1dv0" in out and b"\x1dV" in out and b"*** DUPLICATE ***" in out
