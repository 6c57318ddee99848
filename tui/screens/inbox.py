"""Inbox: the applications this user's roles can act on, nearest SLA first, breached ones marked;
filters by service and status; Enter opens one."""
from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import DataTable, Input, Label, Static

from digitctl.domain.workflow import sla_text
from tui.labels import label
from tui.screens.base import DeskScreen
from tui.widgets import ErrorLine


def sla_cell(ms: int | None) -> Text:
    if ms is not None and ms < 0:
        return Text("! " + sla_text(ms), style="bold red")
    return Text("  " + sla_text(ms))


class InboxScreen(DeskScreen):
    BINDINGS = [Binding("f8", "act", label("TUI_KEY_ACT", "Act"))]

    def __init__(self) -> None:
        super().__init__()
        self.items: list[dict[str, Any]] = []

    def compose(self) -> ComposeResult:
        yield Static(label("TUI_INBOX_TITLE", "Inbox"), classes="title", id="inbox-title")
        with Horizontal(classes="row"):
            yield Label(label("TUI_SERVICE", "Service") + " ", classes="field-label")
            yield Input(id="f-service", placeholder=label("TUI_ANY_SERVICE", "any, e.g. NewTL"))
            yield Label(label("TUI_STATUS", "Status") + " ", classes="field-label")
            yield Input(id="f-status", placeholder=label("TUI_ANY_STATUS", "any, e.g. PENDINGAPPROVAL"))
        yield ErrorLine(id="error")
        yield DataTable(id="inbox-table", cursor_type="row")
        yield Static(label("TUI_INBOX_HINT", "Enter: open · F8: act · ! SLA breached"), classes="hint")
        yield from self.chrome()

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#inbox-table", DataTable).add_columns(
            label("TUI_SLA", "SLA"), label("TUI_APPLICATION", "Application"), label("TUI_SERVICE", "Service"),
            label("TUI_STATUS", "Status"), label("TUI_APPLICANT", "Applicant"))
        self.load()

    def on_screen_resume(self) -> None:
        super().on_screen_resume()
        if self.is_mounted:
            self.load()

    def load(self) -> None:
        from digitctl.services import inbox

        service = self.query_one("#f-service", Input).value.strip() or None
        status = self.query_one("#f-status", Input).value.strip() or None
        self.job("inbox", inbox.inbox, self.desk.app, self.desk.ctx(), business_service=service, status=status)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.clear_error()
        self.load()

    def done_inbox(self, doc: dict[str, Any]) -> None:
        self.items = doc.get("items") or []
        table = self.query_one("#inbox-table", DataTable)
        table.clear()
        for it in self.items:
            table.add_row(sla_cell(it.get("slaLeftMs")), it.get("applicationNo"), it.get("businessService"),
                          it.get("applicationStatus"), (it.get("applicant") or {}).get("name") or "")
        counts = " · ".join(f"{c['applicationStatus']} {c['count']}" for c in doc.get("statusCount") or [])
        self.query_one("#inbox-title", Static).update(
            f"{label('TUI_INBOX_TITLE', 'Inbox')} ({doc.get('totalCount', 0)}) {counts}"[:78])
        if self.items:
            table.focus()
        else:
            self.say(label("TUI_INBOX_EMPTY", "nothing waiting for you"))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.open(event.cursor_row)

    def action_act(self) -> None:
        """F8 on a row: open it and go straight to its action dialog."""
        self.open(self.query_one("#inbox-table", DataTable).cursor_row, act=True)

    def open(self, row: int, act: bool = False) -> None:
        from tui.screens.application import ApplicationScreen

        if 0 <= row < len(self.items):
            self.app.push_screen(ApplicationScreen(str(self.items[row]["applicationNo"]), act=act))
