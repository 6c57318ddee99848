"""The inbox in the TUI: an approver sees the demo licence waiting, opens it (applicant masked),
approves it with F8 and a confirmation; an action on a state someone else moved is refused."""
from __future__ import annotations

from typing import Any

import pytest

from digitctl.context import RequestContext
from digitctl.services import applications, workflow
from tests.tui.helpers import settle, text_of, type_into

pytestmark = pytest.mark.anyio
SIZE = (80, 24)


def _waiting(core: Any, actor_of: Any) -> str:
    ctx = RequestContext(actor=actor_of("approver.amritsar"), tenant_id="pb.amritsar", clock=core.clock)
    [found] = applications.list_applications(core, ctx, "pb.amritsar", status="PENDINGAPPROVAL")
    return str(found["applicationNo"])


async def _open(pilot: Any, number: str) -> None:
    app = pilot.app
    table = app.screen.query_one("#inbox-table")
    rows = [str(table.get_row_at(i)[1]) for i in range(table.row_count)]
    table.move_cursor(row=rows.index(number))
    table.focus()
    await pilot.press("enter")
    await settle(pilot)


async def test_approver_starts_in_the_inbox_and_approves_the_demo_licence(desk_app, core, actor_of):
    number = _waiting(core, actor_of)
    app = desk_app("approver.amritsar")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert type(app.screen).__name__ == "InboxScreen"          # an employee starts at the inbox
        await _open(pilot, number)
        detail = text_of(app, "#detail")
        assert "PENDINGAPPROVAL" in detail and "APPROVE" in detail
        ctx = RequestContext(actor=actor_of("approver.amritsar"), tenant_id="pb.amritsar", clock=core.clock)
        policy = applications.show(core, ctx, number)["applicant"]     # as the security policy shows it
        assert f"Applicant: {policy['name']}  {policy['mobileNumber']}" in detail
        assert "FORWARD" in detail                                            # the history
        await pilot.press("f8")
        await settle(pilot)
        app.screen.query_one("#action").value = "APPROVE"
        await type_into(pilot, "#comment", "documents in order")
        await pilot.press("enter")
        await settle(pilot)
        assert "APPROVE" in text_of(app, "#confirm-body")
        await pilot.press("y")
        await settle(pilot)
        assert type(app.screen).__name__ == "ApplicationScreen"
        assert text_of(app, "#error").startswith(f"APPROVE: {number} → PENDINGPAYMENT")
    ctx = RequestContext(actor=actor_of("approver.amritsar"), tenant_id="pb.amritsar", clock=core.clock)
    assert applications.show(core, ctx, number)["workflow"]["applicationStatus"] == "PENDINGPAYMENT"


async def test_an_action_on_a_state_that_moved_meanwhile_is_refused(desk_app, core, actor_of):
    number = _waiting(core, actor_of)
    app = desk_app("approver.amritsar", first="inbox")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await _open(pilot, number)
        # someone else acts first, from another terminal
        other = RequestContext(actor=actor_of("approver.amritsar"), tenant_id="pb.amritsar", clock=core.clock)
        applications.transition(core, other, number, "REJECT", "not eligible")
        await pilot.press("f8")
        await settle(pilot)
        assert type(app.screen).__name__ == "ActionModal"
        app.screen.query_one("#action").value = "APPROVE"
        await pilot.press("enter", "y")
        await settle(pilot)
        assert text_of(app, "#error").startswith("STATE_CHANGED")
    ctx = RequestContext(actor=actor_of("approver.amritsar"), tenant_id="pb.amritsar", clock=core.clock)
    assert applications.show(core, ctx, number)["workflow"]["applicationStatus"] == "REJECTED"


async def test_f8_in_the_inbox_opens_the_application_and_its_action_dialog(desk_app, core, actor_of):
    number = _waiting(core, actor_of)
    app = desk_app("approver.amritsar")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#inbox-table")
        rows = [str(table.get_row_at(i)[1]) for i in range(table.row_count)]
        table.move_cursor(row=rows.index(number))
        await pilot.press("f8")
        await settle(pilot)
        assert type(app.screen).__name__ == "ActionModal" and app.screen.application_no == number
        await pilot.press("escape")
        await settle(pilot)
        assert type(app.screen).__name__ == "ApplicationScreen"


async def test_forward_with_an_assignee_and_a_document(desk_app, core, actor_of, tmp_path):
    ctx = RequestContext(actor=actor_of("inspector.amritsar"), tenant_id="pb.amritsar", clock=core.clock)
    [found] = applications.list_applications(core, ctx, "pb.amritsar", status="FIELDINSPECTION")
    number = str(found["applicationNo"])
    report = tmp_path / "inspection.pdf"
    report.write_bytes(b"%PDF-1.4 field inspection report\n%%EOF\n")
    app = desk_app("inspector.amritsar")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await _open(pilot, number)
        await pilot.press("f8")
        await settle(pilot)
        app.screen.query_one("#action").value = "FORWARD"
        await type_into(pilot, "#assignee", "approver.amritsar")
        await type_into(pilot, "#document", str(report))
        await type_into(pilot, "#comment", "site inspected")
        await pilot.press("enter")
        await settle(pilot)
        assert "→ approver.amritsar" in text_of(app, "#confirm-body")
        await pilot.press("y")
        await settle(pilot)
        assert text_of(app, "#error").startswith(f"FORWARD: {number} → PENDINGAPPROVAL")
        assert "Assigned to: approver.amritsar" in text_of(app, "#detail")
    [latest] = [pi for pi in workflow.history(core, ctx, "pb.amritsar", number)
                if pi["action"] == "FORWARD" and pi["comment"] == "site inspected"]
    assert len(latest["documents"]) == 1
