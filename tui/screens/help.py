"""F1: the keys of every screen."""
from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from tui.labels import label

KEYS = (("F1", "TUI_HELP_F1", "this help"), ("F2", "TUI_HELP_F2", "find a bill (focus the search box)"),
        ("F3", "TUI_HELP_F3", "shift: open, count and close; day book"),
        ("F4", "TUI_HELP_F4", "receipts: today's, find, reprint, cancel"),
        ("F5", "TUI_HELP_F5", "take payment of the bill shown"), ("F6", "TUI_HELP_F6", "inbox"),
        ("F8", "TUI_HELP_F8", "act on the application shown"), ("Enter", "TUI_HELP_ENTER", "open / submit"),
        ("Esc", "TUI_HELP_ESC", "back, or cancel a modal"),
        ("ctrl+p", "TUI_HELP_PALETTE", "command palette (every screen, log out)"),
        ("ctrl+q", "TUI_HELP_QUIT", "quit"))


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,f1,enter", "close", label("TUI_KEY_BACK", "Back"))]

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box"):
            yield Static(label("TUI_HELP_TITLE", "Keys"), classes="title")
            yield Static("\n".join(f"{k:<8} {label(code, text)}" for k, code, text in KEYS))
            yield Static(label("TUI_HELP_RECEIPTS", "Receipts: r reprint · c cancel · d dishonour · Shift: ctrl+b day book"), classes="hint")
            yield Static(label("TUI_HELP_CLOSE", "Esc: close"), classes="hint")

    def action_close(self) -> None:
        self.dismiss(None)
