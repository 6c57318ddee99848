"""Take a payment of the bill shown: amount (the due), mode (only those the service takes),
instrument fields for cheque / DD / NEFT / RTGS / postal order / card, payer; Enter opens the
review, Enter (or y) there pays; the receipt number, the change due for cash and the printed
receipt's path are shown."""
from __future__ import annotations

import datetime as dt
from typing import Any

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, VerticalScroll
from textual.widgets import Input, Label, Select, Static

from tui.labels import inr, label
from tui.screens.base import DeskScreen
from tui.widgets import ErrorLine

FIELDS = (("amount", "TUI_AMOUNT", "Amount (₹)"), ("tendered", "TUI_TENDERED", "Cash handed over"),
          ("instrument", "TUI_INSTRUMENT_NO", "Cheque/DD/ref. no."), ("idate", "TUI_INSTRUMENT_DATE", "Date YYYY-MM-DD"),
          ("bank", "TUI_BANK", "Bank"), ("branch", "TUI_BRANCH", "Branch"), ("ifsc", "TUI_IFSC", "IFSC"),
          ("txn", "TUI_TXN", "Card txn no."), ("payer", "TUI_PAYER_NAME", "Payer name"),
          ("mobile", "TUI_MOBILE", "Mobile"))
CASH_ONLY = {"tendered"}
INSTRUMENT = {"instrument", "idate", "bank", "branch", "ifsc"}
BY_MODE = {"CASH": {"tendered"}, "CHEQUE": INSTRUMENT, "DD": INSTRUMENT,
           "OFFLINE_NEFT": {"instrument", "idate"}, "OFFLINE_RTGS": {"instrument", "idate"},
           "POSTAL_ORDER": {"instrument", "idate"}, "CARD": {"instrument", "txn"}}


def instrument_date(text: str) -> dt.date | None:
    from digitctl.errors import InvalidInput

    if not text.strip():
        return None
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput("INVALID_INSTRUMENT_DATE", f"{text!r} is not a date YYYY-MM-DD",
                           {"instrumentDate": text}) from None


class PaymentScreen(DeskScreen):
    BINDINGS = [Binding("escape", "back", label("TUI_KEY_BACK", "Back"))]

    def __init__(self, bill: dict[str, Any]) -> None:
        super().__init__()
        self.bill = bill
        self.receipt: str | None = None
        self.modes: list[str] = ["CASH"]

    def compose(self) -> ComposeResult:
        b = self.bill
        yield Static(f"{label('TUI_PAY_TITLE', 'Take payment')} · {escape(str(b.get('consumerCode')))} · "
                     f"{b.get('businessService')} · {label('TUI_TOTAL_DUE', 'due')} {inr(b.get('totalAmount'))}",
                     classes="title")
        with VerticalScroll(id="pay-form"):
            with Grid(id="pay-grid"):
                yield Label(label("TUI_MODE", "Mode"))
                yield Select([("CASH", "CASH")], value="CASH", allow_blank=False, id="mode")
                for key, code, default in FIELDS:
                    yield Label(label(code, default), id=f"l-{key}")
                    yield Input(id=key, value=str(b.get("totalAmount") or "") if key == "amount" else "")
        yield ErrorLine(id="error")
        yield Static("", id="result")
        yield Static(label("TUI_PAY_FORM_HINT", "Enter: review · Esc: back"), classes="hint")
        yield from self.chrome()

    def on_mount(self) -> None:
        from digitctl.services import counter_desk

        super().on_mount()
        self.show_fields("CASH")
        self.query_one("#tendered", Input).focus()      # the due is prefilled: the clerk types the cash given
        self.job("modes", counter_desk.allowed_modes, self.desk.app, self.desk.tenant, self.bill)

    def done_modes(self, modes: list[str]) -> None:
        self.modes = modes
        select = self.query_one("#mode", Select)
        select.set_options([(m, m) for m in modes])
        select.value = "CASH" if "CASH" in modes else modes[0]

    def on_select_changed(self, event: Select.Changed) -> None:
        self.show_fields(str(event.value))

    def show_fields(self, mode: str) -> None:
        wanted = BY_MODE.get(mode, set())
        for key, _, _ in FIELDS:
            hidden = key not in wanted and key not in ("amount", "payer", "mobile")
            self.query_one(f"#{key}", Input).display = not hidden
            self.query_one(f"#l-{key}", Label).display = not hidden

    def value(self, key: str) -> str:
        widget = self.query_one(f"#{key}", Input)
        return widget.value.strip() if widget.display else ""

    @property
    def mode(self) -> str:
        return str(self.query_one("#mode", Select).value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.review()

    def review(self) -> None:
        from digitctl.domain.collection import change_due
        from tui.jobs import refusal_of
        from tui.screens.modals import ConfirmModal

        if self.receipt is not None:
            return
        self.clear_error()
        try:
            change = change_due(self.value("tendered"), self.value("amount")) if self.mode == "CASH" else None
            instrument_date(self.value("idate"))
        except Exception as err:  # the domain's refusal, shown with its code
            self.refused("review", refusal_of(err))
            return
        lines = [f"{label('TUI_CONSUMER_CODE', 'Consumer code')}: {self.bill.get('consumerCode')}",
                 f"{label('TUI_AMOUNT', 'Amount')}: {inr(self.value('amount'))}   {label('TUI_MODE', 'Mode')}: {self.mode}"]
        if self.value("instrument"):
            lines.append(f"{label('TUI_INSTRUMENT_NO', 'Instrument')}: {self.value('instrument')} "
                         f"{self.value('idate')} {self.value('bank')} {self.value('ifsc')}")
        if change is not None and self.value("tendered"):
            lines.append(f"{label('TUI_CHANGE_DUE', 'Change due')}: {inr(change)}")
        if self.value("payer") or self.value("mobile"):
            lines.append(f"{label('TUI_PAYER', 'Payer')}: {self.value('payer')} {self.value('mobile')}")
        self.app.push_screen(ConfirmModal(label("TUI_REVIEW_TITLE", "Take this payment?"), "\n".join(lines)),
                             self.confirmed)

    def confirmed(self, yes: bool | None) -> None:
        if yes:
            self.say(label("TUI_PAYING", "taking the payment…"))
            self.job("pay", self.take)

    def take(self) -> dict[str, Any]:
        from digitctl.services import collection

        return collection.pay(self.desk.app, self.desk.ctx(), tenant_id=self.desk.tenant, bill_id=str(self.bill["id"]),
                              mode=self.mode, amount=self.value("amount"),
                              instrument_number=self.value("instrument") or None,
                              instrument_date=instrument_date(self.value("idate")),
                              bank=self.value("bank") or None, branch=self.value("branch") or None,
                              ifsc=self.value("ifsc") or None, payer_name=self.value("payer") or None,
                              mobile=self.value("mobile") or None,
                              transaction_number=self.value("txn") or None)

    def done_pay(self, payment: dict[str, Any]) -> None:
        from digitctl.domain.collection import change_due
        from tui.printing import print_receipt

        pd = (payment.get("paymentDetails") or [{}])[0]
        self.receipt = str(pd.get("receiptNumber"))
        text = (f"{label('TUI_RECEIPT', 'Receipt')} {self.receipt} · {inr(payment.get('totalAmountPaid'))} "
                f"{payment.get('paymentMode')}")
        if payment.get("paymentMode") == "CASH" and self.value("tendered"):
            text += f" · {label('TUI_CHANGE_DUE', 'change due')} {inr(change_due(self.value('tendered'), self.value('amount')))}"
        self.say(text)
        self.query_one("#result", Static).update(escape(label("TUI_PRINTING", "printing the receipt…")))
        self.job("print", print_receipt, self.desk, self.receipt)

    def done_print(self, printed: dict[str, Any]) -> None:
        self.query_one("#result", Static).update(escape(
            f"{label('TUI_PRINTED', 'Printed')}: {printed['path']}\n"
            + label("TUI_AFTER_PAY_HINT", "Esc: back to the counter")))

    def refused(self, tag: str, error: Any) -> None:
        if tag == "print":
            self.query_one("#result", Static).update(escape(
                f"{label('TUI_NOT_PRINTED', 'Not printed')} ({error.text()}); "
                + label("TUI_REPRINT_HINT", "print it again from Receipts (F4)")))
        super().refused(tag, error)

    def action_back(self) -> None:
        self.dismiss(self.receipt)  # type: ignore[arg-type]
