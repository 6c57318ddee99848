"""What the TUI reads through services/counter_desk, and the `digitctl tui` command's refusals."""
from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from textual.widgets import DataTable
from typer.testing import CliRunner

from digitctl.bootstrap import build
from digitctl.clock import FixedClock
from digitctl.context import RequestContext
from digitctl.services import counter_desk
from tests.tui.helpers import settle

pytestmark = pytest.mark.anyio


def _ctx(core: Any, actor_of: Any, who: str) -> RequestContext:
    return RequestContext(actor=actor_of(who), tenant_id="pb.amritsar", clock=core.clock)


def test_status_line_says_hub_not_registered_until_sync_registers_one(core, actor_of):
    ctx = _ctx(core, actor_of, "clerk.amritsar")
    doc = counter_desk.status_line(core, ctx)
    # nothing to sync without a hub: the store's own set-up stays local
    assert doc["hub"] is None and doc["shift"] is not None and doc["unsynced"] == 0
    with core.uow(core.base_context()) as uow:
        uow.set_meta("sync_hub_url", "https://hub.example.in")
        uow.commit()
    from digitctl.services import idgen

    idgen.generate(core, core.base_context("pb.amritsar"), "receipt.id", "pb.amritsar")   # an event, numbered now
    doc = counter_desk.status_line(core, ctx)
    assert doc["hub"] == "https://hub.example.in" and doc["unsynced"] == 1


def test_first_screen_by_role(core, actor_of):
    assert counter_desk.first_screen(core, _ctx(core, actor_of, "clerk.amritsar")) == "counter"
    assert counter_desk.first_screen(core, _ctx(core, actor_of, "approver.amritsar")) == "inbox"


def test_one_box_finds_a_bill_by_mobile_application_and_receipt(core, actor_of, pending_bill):
    from digitctl.services import collection

    ctx = pending_bill["ctx"]
    number = pending_bill["applicationNo"]
    assert [b["consumerCode"] for b in counter_desk.find_bills(core, ctx, "pb.amritsar", number)] == [number]
    by_mobile = counter_desk.find_bills(core, ctx, "pb.amritsar", "98123 45673")
    assert number in [b["consumerCode"] for b in by_mobile]
    assert counter_desk.allowed_modes(core, "pb.amritsar", pending_bill["bill"]) == ["CASH", "CHEQUE", "CARD"]
    doc = collection.pay(core, ctx, tenant_id="pb.amritsar", bill_id=pending_bill["bill"]["id"], mode="CASH",
                         amount="1250")
    receipt = doc["paymentDetails"][0]["receiptNumber"]
    assert [d["paymentDetails"][0]["receiptNumber"] for d in
            counter_desk.search_receipts(core, ctx, "pb.amritsar", text=receipt)] == [receipt]
    assert len(counter_desk.search_receipts(core, ctx, "pb.amritsar", text="9812345673")) == 1
    from digitctl.errors import DigitError

    with pytest.raises(DigitError) as err:        # the receipt's consumer code owes nothing now
        counter_desk.find_bills(core, ctx, "pb.amritsar", receipt)
    assert err.value.code == "EG_BS_BILL_NO_DEMANDS_FOUND"


async def test_breached_applications_are_marked_in_the_inbox(quickstart_url, frozen_clock, actor_of,
                                                             printer_folder):
    from tui.app import DigitApp

    later = build(quickstart_url, FixedClock(frozen_clock.now() + dt.timedelta(days=30)))
    try:
        app = DigitApp(later, save_login=False, actor=actor_of("approver.amritsar"))
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            table = app.screen.query_one("#inbox-table", DataTable)
            assert table.row_count >= 1
            assert str(table.get_row_at(0)[0]).startswith("! -")          # SLA passed: marked, negative
    finally:
        later.close()


def test_tui_command_refuses_an_unknown_screen_and_an_empty_store(tmp_path):
    from digitctl.cli.main import app as cli

    runner = CliRunner()
    res = runner.invoke(cli, ["--store", str(tmp_path / "s.db"), "-o", "json", "tui", "--screen", "ledger"])
    assert res.exit_code == 2 and '"INVALID_SCREEN"' in res.stdout
    res = runner.invoke(cli, ["--store", str(tmp_path / "s.db"), "-o", "json", "tui"])
    assert res.exit_code == 2 and "STORE_NOT_INITIALIZED" in res.stdout


def test_bill_labels_follow_the_locale(pending_bill, monkeypatch):
    from tui.screens.bill_view import bill_text

    assert "Trade License Fee" in bill_text(pending_bill["bill"])
    monkeypatch.setenv("DIGIT_LOCALE", "hi_IN")
    text = bill_text(pending_bill["bill"])
    assert "व्यापार लाइसेंस शुल्क" in text and "₹1,250.40" in text      # Indian grouping either way


async def test_a_login_at_the_desk_is_the_saved_session_the_cli_and_the_next_start_use(
        core, quickstart_url, frozen_clock, printer_folder):
    """The TUI saves its login where `digitctl` keeps the store's session (digitctl.session
    .session_key: the store's id and location): `digitctl whoami` sees the clerk, the next
    `digitctl tui` opens on the counter without asking, and a logout at the desk ends both."""
    from digitctl.cli.main import app as cli
    from tui.app import DigitApp

    runner = CliRunner()
    env = {"DIGITCTL_NOW": frozen_clock.now().isoformat()}

    def whoami() -> Any:
        return runner.invoke(cli, ["--store", quickstart_url, "-o", "json", "whoami"], env=env)

    first = DigitApp(core)
    async with first.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert type(first.screen).__name__ == "LoginScreen"
        await pilot.press(*"clerk.amritsar", "tab", *"Demo@1234", "enter")
        await settle(pilot)
        assert type(first.screen).__name__ == "CounterScreen"
    assert '"clerk.amritsar"' in whoami().stdout
    again = DigitApp(core)
    async with again.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert type(again.screen).__name__ == "CounterScreen" and again.desk.token is not None
        again.action_logout()
        await settle(pilot)
        assert type(again.screen).__name__ == "LoginScreen"
    gone = whoami()
    assert gone.exit_code != 0 and "NOT_LOGGED_IN" in gone.stdout
