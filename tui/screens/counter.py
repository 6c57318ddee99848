"""Counter: one search box (consumer code, application number, mobile, receipt number) → the
bill → F5 takes the payment."""
from __future__ import annotations

from typing import Any

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import DataTable, Input, Label, Static

from tui.labels import inr, label
from tui.screens.base import DeskScreen
from tui.screens.bill_view import bill_text
from tui.widgets import ErrorLine


class CounterScreen(DeskScreen):
    BINDINGS = [Binding("f5", "pay", label("TUI_KEY_PAY", "Pay"))]

    def __init__(self) -> None:
        super().__init__()
        self.bills: list[dict[str, Any]] = []
        self.bill: dict[str, Any] | None = None

    def compose(self) -> ComposeResult:
        yield Static(label("TUI_COUNTER_TITLE", "Counter"), classes="title")
        with Horizontal(classes="row"):
            yield Label(label("TUI_FIND", "Find") + " ", classes="field-label")
            yield Input(id="search", placeholder=label(
                "TUI_FIND_HINT", "consumer code / application no. / mobile / receipt no."))
        yield ErrorLine(id="error")
        yield DataTable(id="bills", cursor_type="row", classes="hidden")
        with VerticalScroll(id="bill-box"):
            yield Static(label("TUI_COUNTER_EMPTY", "Type what the payer gives you and press Enter."),
                         id="bill")
        yield from self.chrome()

    def on_mount(self) -> None:
        super().on_mount()
        table = self.query_one("#bills", DataTable)
        table.add_columns(label("TUI_CONSUMER_CODE", "Consumer code"), label("TUI_SERVICE", "Service"),
                          label("TUI_TOTAL_DUE", "Due"))
        self.query_one("#search", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        from digitctl.services import counter_desk

        self.clear_error()
        self.query_one("#bill", Static).update(label("TUI_SEARCHING", "searching…"))
        self.job("find", counter_desk.find_bills, self.desk.app, self.desk.ctx(), self.desk.tenant, event.value)

    def done_find(self, bills: list[dict[str, Any]]) -> None:
        self.bills = bills
        table = self.query_one("#bills", DataTable)
        table.clear()
        for b in bills:
            table.add_row(b.get("consumerCode"), b.get("businessService"), inr(b.get("totalAmount")))
        table.set_class(len(bills) < 2, "hidden")
        self.show_bill(bills[0] if bills else None)

    def refused(self, tag: str, error: Any) -> None:
        if tag == "find":
            self.show_bill(None)
        super().refused(tag, error)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if 0 <= event.cursor_row < len(self.bills):
            self.show_bill(self.bills[event.cursor_row])

    def show_bill(self, bill: dict[str, Any] | None) -> None:
        self.bill = bill
        text = escape(bill_text(bill)) if bill else label("TUI_NO_BILL", "No bill shown.")
        if bill:
            text += "\n\n" + label("TUI_PAY_HINT", "F5: take payment")
        self.query_one("#bill", Static).update(text)

    def action_pay(self) -> None:
        from tui.screens.payment import PaymentScreen

        if self.bill is None:
            self.refused("pay", _no_bill())
            return
        self.app.push_screen(PaymentScreen(self.bill), self.paid)

    def paid(self, receipt: Any) -> None:
        if receipt:
            self.say(f"{label('TUI_RECEIPT', 'Receipt')} {receipt}")
            self.show_bill(None)
            self.query_one("#search", Input).value = ""
            self.query_one("#search", Input).focus()


def _no_bill() -> Any:
    from tui.jobs import Refusal

    return Refusal("NO_BILL_SHOWN", label("TUI_FIND_FIRST", "find a bill first (F2, then Enter)"))
