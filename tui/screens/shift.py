"""Shift: open with a float; close with a denomination grid that shows expected, counted and
variance as the clerk types; b shows the day book."""
from __future__ import annotations

from typing import Any

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.widgets import Input, Label, Static

from digitctl.domain.cash import DENOMINATIONS
from tui.labels import inr, label
from tui.screens.base import DeskScreen
from tui.widgets import ErrorLine


def count_text(counts: dict[int, str]) -> str:
    """The drawer as `shift close --count` takes it ("500x3,100x7"); blanks are none."""
    parts = [f"{note}x{text.strip()}" for note, text in counts.items() if text.strip()]
    return ",".join(parts) or f"{DENOMINATIONS[-1]}x0"


class ShiftScreen(DeskScreen):
    BINDINGS = [Binding("ctrl+b", "daybook", label("TUI_KEY_DAYBOOK", "Day book"))]

    def __init__(self) -> None:
        super().__init__()
        self.shift: dict[str, Any] | None = None

    def compose(self) -> ComposeResult:
        yield Static(label("TUI_SHIFT_TITLE", "Shift"), classes="title")
        yield Static("", id="shift-info")
        with Horizontal(classes="row", id="open-row"):
            yield Label(label("TUI_FLOAT", "Float ₹") + " ", classes="field-label")
            yield Input(id="float", placeholder="2000")
        with Vertical(id="close-box"):
            with Grid(id="denoms"):
                for note in DENOMINATIONS:
                    yield Label(f"₹{note}", classes="note")
                    yield Input(id=f"d{note}", placeholder="0", restrict=r"[0-9]*")
                    yield Static("", id=f"a{note}")
                    yield Static("")
            yield Static("", id="variance")
        yield ErrorLine(id="error")
        yield Static("", classes="spacer")
        yield Static("", id="shift-hint", classes="hint")
        yield from self.chrome()

    def on_mount(self) -> None:
        super().on_mount()
        self.load()

    def load(self) -> None:
        self.job("status", self.status)

    def status(self) -> dict[str, Any] | None:
        from digitctl.errors import InvalidInput
        from digitctl.services import shifts

        try:
            return shifts.status(self.desk.app, self.desk.ctx())
        except InvalidInput as err:
            if err.code == "SHIFT_NOT_OPEN":
                return None
            raise

    def done_status(self, doc: dict[str, Any] | None) -> None:
        self.shift = doc
        is_open = doc is not None
        self.query_one("#open-row").display = not is_open
        self.query_one("#close-box").display = is_open
        info = self.query_one("#shift-info", Static)
        if doc is None:
            info.update(label("TUI_NO_SHIFT", "No shift open. Type the float in the drawer and press Enter."))
            self.query_one("#shift-hint", Static).update(label("TUI_OPEN_HINT", "Enter: open the shift · ctrl+b: day book"))
            self.query_one("#float", Input).focus()
            return
        others = ", ".join(f"{o['paymentMode']} {inr(o['amount'])}" for o in doc.get("otherModes") or [])
        info.update(escape(
            f"{label('TUI_SHIFT_OPEN_SINCE', 'Open since')} {_hhmm(doc.get('openedAt'))} · "
            f"{label('TUI_FLOAT', 'Float')} {inr(doc.get('float'))} · {label('TUI_CASH', 'Cash')} "
            f"{inr(doc.get('cashCollected'))} · {label('TUI_RECEIPTS', 'Receipts')} {doc.get('receiptCount')}"
            + (f"\n{label('TUI_OTHER_MODES', 'Other modes')}: {others}" if others else "")))
        self.query_one("#shift-hint", Static).update(
            label("TUI_CLOSE_HINT", "Type the pieces of each note · Enter: close the shift · ctrl+b: day book"))
        self.query_one(f"#d{DENOMINATIONS[0]}", Input).focus()
        self.recount()

    def counts(self) -> dict[int, str]:
        return {note: self.query_one(f"#d{note}", Input).value for note in DENOMINATIONS}

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id and event.input.id.startswith("d"):
            self.recount()

    def recount(self) -> None:
        """Expected, counted and variance as the clerk types (the domain's count rules)."""
        from digitctl.domain import cash
        from digitctl.domain.money import from_paise, to_paise

        if self.shift is None:
            return
        for note, text in self.counts().items():
            self.query_one(f"#a{note}", Static).update(inr(note * int(text)) if text.strip() else "")
        try:
            counted = cash.parse_count(count_text(self.counts())).total_paise
        except ValueError as err:
            self.query_one("#variance", Static).update(escape(str(err)))
            return
        expected = to_paise(str(self.shift.get("expectedCash") or "0"))
        variance = cash.variance_paise(counted, expected)
        sign = "+" if variance > 0 else ""
        self.query_one("#variance", Static).update(
            f"{label('TUI_EXPECTED', 'Expected')} {inr(from_paise(expected))} · "
            f"{label('TUI_COUNTED', 'Counted')} {inr(from_paise(counted))} · "
            f"{label('TUI_VARIANCE', 'Variance')} [b]{sign}{escape(inr(from_paise(variance)))}[/b]")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        from digitctl.services import shifts
        from tui.screens.modals import ConfirmModal

        self.clear_error()
        if event.input.id == "float":
            self.job("opened", shifts.open_shift, self.desk.app, self.desk.ctx(), event.value.strip())
            return
        body = str(self.query_one("#variance", Static).render())
        self.app.push_screen(ConfirmModal(label("TUI_CLOSE_TITLE", "Close the shift with this count?"), body),
                             self.confirmed_close)

    def confirmed_close(self, yes: bool | None) -> None:
        from digitctl.services import shifts

        if yes:
            self.job("closed", shifts.close_shift, self.desk.app, self.desk.ctx(), count_text(self.counts()))

    def done_opened(self, doc: dict[str, Any]) -> None:
        self.say(f"{label('TUI_SHIFT_OPENED', 'Shift opened with float')} {inr(doc.get('float'))}")
        self.query_one("#float", Input).value = ""
        self.load()

    def done_closed(self, doc: dict[str, Any]) -> None:
        self.say(f"{label('TUI_SHIFT_CLOSED', 'Shift closed')} · {label('TUI_EXPECTED', 'expected')} "
                 f"{inr(doc.get('expectedCash'))} · {label('TUI_COUNTED', 'counted')} {inr(doc.get('countedCash'))} · "
                 f"{label('TUI_VARIANCE', 'variance')} {doc.get('varianceText')}")
        for note in DENOMINATIONS:
            self.query_one(f"#d{note}", Input).value = ""
        self.load()

    def action_daybook(self) -> None:
        from digitctl.services import reports

        self.job("daybook", reports.daybook, self.desk.app, self.desk.ctx(), tenant_id=self.desk.tenant)

    def done_daybook(self, book: dict[str, Any]) -> None:
        from tui.screens.modals import ConfirmModal

        self.app.push_screen(ConfirmModal(f"{label('TUI_DAYBOOK', 'Day book')} {book.get('date')}", daybook_text(book),
                                          hint=label("TUI_CLOSE_PAGE", "Esc / Enter: close")))


def _hhmm(value: Any) -> str:
    from digitctl.clock import IST

    return value.astimezone(IST).strftime("%H:%M") if hasattr(value, "astimezone") else str(value or "")


def daybook_text(book: dict[str, Any]) -> str:
    rng = book.get("receiptRange") or {}
    lines = [f"{label('TUI_RECEIPTS', 'Receipts')}: {rng.get('issued', 0)}  "
             f"{rng.get('first') or ''} … {rng.get('last') or ''}"]
    for m in book.get("totalsByMode") or []:
        lines.append(f"  {str(m.get('paymentMode')):<14} {inr(m.get('amount') or m.get('total')):>16}")
    grand = book.get("grandTotal")
    lines.append(f"  {label('TUI_TOTAL', 'Total'):<14} {inr(grand.get('amount') if isinstance(grand, dict) else grand):>16}")
    lines.append(f"{label('TUI_CANCELLED', 'Cancelled')}: {len(book.get('cancelled') or [])}  "
                 f"{label('TUI_DISHONOURED', 'Dishonoured')}: {len(book.get('dishonoured') or [])}")
    for s in book.get("shifts") or []:
        lines.append(f"  {s.get('user') or s.get('userName') or ''} {s.get('status') or ''} "
                     f"{label('TUI_VARIANCE', 'variance')} {s.get('varianceText') or '-'}")
    lines.append(str((book.get("reconciliation") or {}).get("message") or ""))
    return "\n".join(lines)
