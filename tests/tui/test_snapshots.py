"""Every main screen at 80x24 on the frozen clock (pytest-textual-snapshot; refresh the SVGs with
`pytest tests/tui/test_snapshots.py --snapshot-update` after a deliberate change, and look at them)."""
from __future__ import annotations

from typing import Any

from tests.tui.helpers import settle as _settle
from tests.tui.helpers import type_into

SIZE = (80, 24)


async def settle(pilot: Any) -> None:
    """Workers done, and every input's cursor held still (a blinking cursor makes two pictures
    of one screen)."""
    from textual.widgets import Input

    await _settle(pilot)
    for screen in pilot.app.screen_stack:
        for box in screen.query(Input):
            box.cursor_blink = False
    await pilot.pause()


def test_login(snap_compare, desk_app):
    async def ready(pilot: Any) -> None:
        await settle(pilot)

    assert snap_compare(desk_app(), terminal_size=SIZE, run_before=ready)


def test_counter_with_a_bill(snap_compare, desk_app, pending_bill):
    async def ready(pilot: Any) -> None:
        await settle(pilot)
        await type_into(pilot, "#search", pending_bill["applicationNo"])
        await pilot.press("enter")
        await settle(pilot)

    assert snap_compare(desk_app("clerk.amritsar"), terminal_size=SIZE, run_before=ready)


def test_payment_review(snap_compare, desk_app, pending_bill):
    async def ready(pilot: Any) -> None:
        await settle(pilot)
        await type_into(pilot, "#search", pending_bill["applicationNo"])
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("f5")
        await settle(pilot)
        await type_into(pilot, "#tendered", "2000")
        await pilot.press("enter")
        await settle(pilot)

    assert snap_compare(desk_app("clerk.amritsar"), terminal_size=SIZE, run_before=ready)


def test_receipts_today(snap_compare, desk_app, pending_bill, core):
    from digitctl.services import collection

    collection.pay(core, pending_bill["ctx"], tenant_id="pb.amritsar", bill_id=pending_bill["bill"]["id"],
                   mode="CASH", amount="1250")

    async def ready(pilot: Any) -> None:
        await settle(pilot)
        await pilot.press("f4")
        await settle(pilot)

    assert snap_compare(desk_app("clerk.amritsar"), terminal_size=SIZE, run_before=ready)


def test_shift_close_grid(snap_compare, desk_app):
    async def ready(pilot: Any) -> None:
        await settle(pilot)
        await pilot.press("f3")
        await settle(pilot)
        await type_into(pilot, "#d500", "3")
        await type_into(pilot, "#d100", "4")
        await settle(pilot)

    assert snap_compare(desk_app("clerk.amritsar"), terminal_size=SIZE, run_before=ready)


def test_inbox(snap_compare, desk_app):
    async def ready(pilot: Any) -> None:
        await settle(pilot)

    assert snap_compare(desk_app("approver.amritsar"), terminal_size=SIZE, run_before=ready)


def test_application_detail(snap_compare, desk_app):
    async def ready(pilot: Any) -> None:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)

    assert snap_compare(desk_app("approver.amritsar"), terminal_size=SIZE, run_before=ready)


def test_help(snap_compare, desk_app):
    async def ready(pilot: Any) -> None:
        await settle(pilot)
        await pilot.press("f1")
        await settle(pilot)

    assert snap_compare(desk_app("clerk.amritsar"), terminal_size=SIZE, run_before=ready)


def test_cancel_with_supervisor(snap_compare, desk_app, pending_bill, core):
    from digitctl.services import collection

    collection.pay(core, pending_bill["ctx"], tenant_id="pb.amritsar", bill_id=pending_bill["bill"]["id"],
                   mode="CASH", amount="1250")

    async def ready(pilot: Any) -> None:
        await settle(pilot)
        await pilot.press("f4")
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        await type_into(pilot, "#supervisor", "supervisor.amritsar")

    assert snap_compare(desk_app("clerk.amritsar"), terminal_size=SIZE, run_before=ready)


def test_inbox_action(snap_compare, desk_app):
    async def ready(pilot: Any) -> None:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("f8")
        await settle(pilot)
        await type_into(pilot, "#comment", "documents verified")

    assert snap_compare(desk_app("approver.amritsar"), terminal_size=SIZE, run_before=ready)
