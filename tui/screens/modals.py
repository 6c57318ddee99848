"""Modals: a yes/no confirmation (Enter or y confirms, Esc or n cancels); also a page to read
(the day book), closed with Esc or Enter."""
from __future__ import annotations

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from tui.labels import label


class ConfirmModal(ModalScreen[bool]):
    BINDINGS = [Binding("enter,y", "yes", label("TUI_YES", "Yes")),
                Binding("escape,n", "no", label("TUI_NO", "No"))]

    def __init__(self, title: str, body: str, hint: str | None = None) -> None:
        super().__init__()
        self.title_text = title
        self.body = body
        self.hint = hint

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box"):
            yield Static(escape(self.title_text), classes="title")
            yield Static(escape(self.body), id="confirm-body")
            yield Static(self.hint or label("TUI_CONFIRM_HINT", "Enter / y: yes · Esc / n: no"), classes="hint")

    def action_yes(self) -> None:
        self.dismiss(True)

    def action_no(self) -> None:
        self.dismiss(False)
