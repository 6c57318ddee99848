"""Receipts: today's (or found by receipt number / consumer code / mobile); r reprints it marked
DUPLICATE, c cancels and d dishonours it with a supervisor's credentials in a modal."""
from __future__ import annotations

import datetime as dt
from typing import Any

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import DataTable, Input, Label, Static

from digitctl.clock import IST
from tui.labels import inr, label
from tui.screens.base import DeskScreen
from tui.widgets import ErrorLine


def _time(ms: Any) -> str:
    if not isinstance(ms, int):
        return ""
    return dt.datetime.fromtimestamp(ms / 1000, tz=IST).strftime("%H:%M")


class ReceiptsScreen(DeskScreen):
    BINDINGS = [Binding("r", "reprint", label("TUI_KEY_REPRINT", "Reprint")),
                Binding("c", "reverse('cancel')", label("TUI_KEY_CANCEL", "Cancel")),
                Binding("d", "reverse('dishonour')", label("TUI_KEY_DISHONOUR", "Dishonour"))]

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict[str, Any]] = []

    def compose(self) -> ComposeResult:
        yield Static(label("TUI_RECEIPTS_TITLE", "Receipts"), classes="title")
        with Horizontal(classes="row"):
            yield Label(label("TUI_FIND", "Find") + " ", classes="field-label")
            yield Input(id="find", placeholder=label("TUI_RECEIPTS_HINT",
                                                     "receipt no. / consumer code / mobile; empty: today's"))
        yield ErrorLine(id="error")
        yield DataTable(id="receipts-table", cursor_type="row")
        yield from self.chrome()

    def on_mount(self) -> None:
        super().on_mount()
        # ids, amount and status first: at 80 columns a consumer code of 23 characters and a
        # DISHONOURED status fit, and what a wide amount pushes off is the mode and the time
        self.query_one("#receipts-table", DataTable).add_columns(
            label("TUI_RECEIPT", "Receipt"), label("TUI_CONSUMER_CODE", "Consumer"), label("TUI_AMOUNT", "Amount"),
            label("TUI_STATUS", "Status"), label("TUI_MODE", "Mode"), label("TUI_TIME", "Time"))
        self.load("")

    def on_screen_resume(self) -> None:
        super().on_screen_resume()
        if self.is_mounted:
            self.load(self.query_one("#find", Input).value)

    def load(self, text: str) -> None:
        from digitctl.services import counter_desk

        self.job("search", counter_desk.search_receipts, self.desk.app, self.desk.ctx(), self.desk.tenant,
                 text=text or None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.clear_error()
        self.load(event.value)

    def done_search(self, docs: list[dict[str, Any]]) -> None:
        self.rows = docs
        table = self.query_one("#receipts-table", DataTable)
        table.clear()
        for d in docs:
            pd = (d.get("paymentDetails") or [{}])[0]
            table.add_row(pd.get("receiptNumber"), (pd.get("bill") or {}).get("consumerCode"),
                          inr(d.get("totalAmountPaid")), d.get("paymentStatus"), d.get("paymentMode"),
                          _time(pd.get("receiptDate")))
        if not docs:
            self.say(label("TUI_NO_RECEIPTS", "no receipts found"))
        else:
            table.focus()

    def chosen(self) -> str | None:
        table = self.query_one("#receipts-table", DataTable)
        if not self.rows or not 0 <= table.cursor_row < len(self.rows):
            from tui.jobs import Refusal

            self.refused("choose", Refusal("NO_RECEIPT_CHOSEN", label("TUI_CHOOSE_RECEIPT", "choose a receipt first")))
            return None
        pd = (self.rows[table.cursor_row].get("paymentDetails") or [{}])[0]
        return str(pd.get("receiptNumber"))

    def action_reprint(self) -> None:
        from tui.printing import print_receipt

        receipt = self.chosen()
        if receipt:
            self.say(label("TUI_PRINTING", "printing the receipt…"))
            self.job("reprint", print_receipt, self.desk, receipt, True)

    def done_reprint(self, printed: dict[str, Any]) -> None:
        mark = " (DUPLICATE)" if printed.get("duplicate") else ""
        self.say(escape(f"{label('TUI_PRINTED', 'Printed')}{mark}: {printed['path']}"))

    def action_reverse(self, what: str) -> None:
        from tui.screens.reversal import ReversalModal

        receipt = self.chosen()
        if receipt:
            self.app.push_screen(ReversalModal(receipt, what), self.reversed)

    def reversed(self, doc: dict[str, Any] | None) -> None:
        if doc:
            pd = (doc.get("paymentDetails") or [{}])[0]
            self.say(f"{pd.get('receiptNumber')}: {doc.get('paymentStatus')} · "
                     f"{inr(doc.get('totalAmountPaid'))} {label('TUI_OWED_AGAIN', 'owed again')}")
            self.load(self.query_one("#find", Input).value)
            self.digit.refresh_status()
