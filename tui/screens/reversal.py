"""Cancel or dishonour a receipt: reason, comment, and the supervisor's user name and password
(leave them empty when you hold a cancellator role yourself). The service checks everything
first (reason, state, latest receipt), then the supervisor's password, then reverses."""
from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Vertical
from textual.widgets import Input, Label, Select, Static

from tui.labels import label
from tui.screens.base import DeskModal
from tui.widgets import ErrorLine

REASONS = ("ERRORRECEIPT", "CHEQUEBOUNCE", "OTHER")      # common-masters.CancelReceiptReason codes


class ReversalModal(DeskModal):
    BINDINGS = [Binding("escape", "close", label("TUI_KEY_BACK", "Back"))]

    def __init__(self, receipt_no: str, what: str) -> None:
        super().__init__()
        self.receipt_no = receipt_no
        self.what = what

    def compose(self) -> ComposeResult:
        title = (label("TUI_CANCEL_TITLE", "Cancel receipt") if self.what == "cancel"
                 else label("TUI_DISHONOUR_TITLE", "Dishonour (bounced) receipt"))
        with Vertical(classes="modal-box"):
            yield Static(f"{title} {self.receipt_no}", classes="title")
            with Grid(id="pay-grid"):
                yield Label(label("TUI_REASON", "Reason"))
                yield Select([(label(r, r), r) for r in REASONS], allow_blank=False,
                             value="CHEQUEBOUNCE" if self.what == "dishonour" else "ERRORRECEIPT", id="reason")
                yield Label(label("TUI_COMMENT", "Comment"))
                yield Input(id="comment")
                yield Label(label("TUI_SUPERVISOR", "Supervisor"))
                yield Input(id="supervisor", placeholder=label("TUI_SUPERVISOR_HINT", "user name (empty: you)"))
                yield Label(label("TUI_SUPERVISOR_PASSWORD", "Their password"))
                yield Input(id="supervisor-password", password=True)
            yield ErrorLine(id="error")
            yield Static(label("TUI_REVERSAL_HINT", "Enter: confirm · Esc: back"), classes="hint")

    def on_mount(self) -> None:
        self.query_one("#comment", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        reason = str(self.query_one("#reason", Select).value)
        comment = self.query_one("#comment", Input).value.strip() or None
        supervisor = self.query_one("#supervisor", Input).value.strip()
        password = self.query_one("#supervisor-password", Input).value
        for line in self.query(ErrorLine):
            line.update(label("TUI_WORKING", "checking…"))
        self.job("reverse", self.reverse, reason, comment, supervisor, password)

    def reverse(self, reason: str, comment: str | None, supervisor: str, password: str) -> dict[str, Any]:
        from digitctl.services import collection

        app, ctx, tenant = self.desk.app, self.desk.ctx(), self.desk.tenant
        check = collection.check_cancel if self.what == "cancel" else collection.check_dishonour
        check(app, ctx, tenant, self.receipt_no, reason)
        approver = self.desk.approver(supervisor, password) if supervisor else None
        act = collection.cancel if self.what == "cancel" else collection.dishonour
        return act(app, ctx, tenant, self.receipt_no, reason, comment, approver=approver)

    def done_reverse(self, doc: dict[str, Any]) -> None:
        self.dismiss(doc)

    def refused(self, tag: str, error: Any) -> None:
        self.query_one("#supervisor-password", Input).value = ""
        super().refused(tag, error)

    def action_close(self) -> None:
        self.dismiss(None)
