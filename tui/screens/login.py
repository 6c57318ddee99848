"""Log in: user name (focused), Tab to the password, Enter logs in."""
from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Input, Label, Static

from digitctl.context import Actor
from tui.jobs import Refusal
from tui.labels import label
from tui.screens.base import DeskScreen
from tui.widgets import ErrorLine


class LoginScreen(DeskScreen):
    # focus is given as the screen mounts (not in on_mount, after it): a Tab typed the moment the
    # screen appears moves on from the user name instead of being undone by a late focus call
    AUTO_FOCUS = "#username"

    def __init__(self, message: str = "") -> None:
        super().__init__()
        self.message = message

    def compose(self) -> ComposeResult:
        with Vertical(id="login-box"):
            yield Static(label("TUI_LOGIN_TITLE", "digitctl — log in"), classes="title")
            yield Label(label("TUI_USERNAME", "User name"))
            yield Input(id="username", placeholder="clerk.amritsar")
            yield Label(label("TUI_PASSWORD", "Password"))
            yield Input(id="password", password=True)
            yield ErrorLine(self.message, id="error")
            yield Static(label("TUI_LOGIN_HELP", "Enter: log in · Tab: next field · ctrl+q: quit"),
                         classes="hint")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        user = self.query_one("#username", Input).value
        password = self.query_one("#password", Input).value
        if event.input.id == "username" and not password:
            self.query_one("#password", Input).focus()
            return
        self.say(label("TUI_LOGGING_IN", "logging in…"))
        self.job("login", self.desk.login, user, password)

    def done_login(self, actor: Actor) -> None:
        self.query_one("#password", Input).value = ""
        self.digit.after_login()

    def refused(self, tag: str, error: Refusal) -> None:
        self.query_one("#password", Input).value = ""
        super().refused(tag, error)
