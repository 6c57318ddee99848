"""The digitctl terminal UI: a counter clerk's and an employee's desk.

Keys (DESIGN.md "The terminal UI"): F1 help · F2 find · F3 shift · F4 receipts · F5 take payment
· F6 inbox · F8 act on the application shown · Enter open/submit · Esc back · ctrl+p palette ·
ctrl+q quit. The App builds nothing itself: it is handed a digitctl App (store, clock, keys)."""
from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import TYPE_CHECKING, Any

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from tui.desk import Desk
from tui.jobs import JobDone, run_call
from tui.labels import label

if TYPE_CHECKING:
    from digitctl.bootstrap import App as DigitCore
    from digitctl.context import Actor

SCREENS_BY_NAME = ("counter", "receipts", "shift", "inbox")


class DigitApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "digitctl"
    ENABLE_COMMAND_PALETTE = True
    BINDINGS = [
        Binding("f1", "help", label("TUI_KEY_HELP", "Help")),
        Binding("f2", "find", label("TUI_KEY_FIND", "Find")),
        Binding("f3", "goto('shift')", label("TUI_KEY_SHIFT", "Shift")),
        Binding("f4", "goto('receipts')", label("TUI_KEY_RECEIPTS", "Receipts")),
        Binding("f6", "goto('inbox')", label("TUI_KEY_INBOX", "Inbox")),
        Binding("ctrl+q", "quit", label("TUI_KEY_QUIT", "Quit"), priority=True, show=False),
        # Tab moves the focus as the key arrives (a priority binding is checked before the key is
        # forwarded): as an ordinary binding it bubbled up from the focused input while the keys
        # typed after it, in one burst, were already delivered to the field it was leaving
        Binding("tab", "focus_next", show=False, priority=True),
        Binding("shift+tab", "focus_previous", show=False, priority=True),
    ]

    def __init__(self, core: "DigitCore", *, first: str | None = None, save_login: bool = True,
                 actor: "Actor | None" = None) -> None:
        super().__init__()
        self.desk = Desk(core, save_login=save_login)
        self.given_actor = actor
        self.hub_up: dict[str, bool] = {}
        self.first = first
        self.status: dict[str, Any] | None = None

    # -- start, log in, log out -----------------------------------------------------------------
    def on_mount(self) -> None:
        from tui.hub import HUB_PROBE_SECONDS

        self.set_interval(HUB_PROBE_SECONDS, self.probe_hub)
        if self.given_actor is not None:      # already known (tests, an embedding program)
            self.desk.actor = self.given_actor
            self.after_login()
            return
        self.app_job("resume", self.desk.resume)

    def done_resume(self, resumed: bool) -> None:
        if resumed:
            self.after_login()
        else:
            self.show_login()

    def failed_resume(self, error: Any) -> None:
        self.show_login(error.text())

    def show_login(self, message: str = "") -> None:
        from tui.screens.login import LoginScreen

        for name in SCREENS_BY_NAME:
            if self.is_screen_installed(name):
                self.uninstall_screen(name)
        self.push_screen(LoginScreen(message))

    def after_login(self) -> None:
        """The first screen that fits the user's roles (or --screen)."""
        if self.first:
            self.done_first_screen(self.first)
        else:
            self.app_job("first_screen", self.desk.first_screen)

    def done_first_screen(self, name: str) -> None:
        from tui.screens.login import LoginScreen

        if isinstance(self.screen, LoginScreen):
            self.pop_screen()
        self.action_goto(name)

    def action_logout(self) -> None:
        self.app_job("logout", self.desk.logout)

    def done_logout(self, _: Any) -> None:
        while len(self.screen_stack) > 1:
            self.pop_screen()
        self.show_login(label("TUI_LOGGED_OUT", "logged out"))

    # -- navigation -----------------------------------------------------------------------------
    def _make(self, name: str) -> Screen[Any]:
        from tui.screens.counter import CounterScreen
        from tui.screens.inbox import InboxScreen
        from tui.screens.receipts import ReceiptsScreen
        from tui.screens.shift import ShiftScreen

        return {"counter": CounterScreen, "receipts": ReceiptsScreen, "shift": ShiftScreen,
                "inbox": InboxScreen}[name]()

    def action_goto(self, name: str) -> None:
        if not self.desk.logged_in:
            return
        while len(self.screen_stack) > 2 or (len(self.screen_stack) == 2 and self.screen.is_modal):
            self.pop_screen()
        if not self.is_screen_installed(name):
            self.install_screen(self._make(name), name)
        if len(self.screen_stack) <= 1:
            self.push_screen(name)
        else:
            self.switch_screen(name)

    def action_find(self) -> None:
        self.action_goto("counter")
        self.call_after_refresh(self._focus_search)

    def _focus_search(self) -> None:
        from textual.widgets import Input

        for widget in self.screen.query("#search"):
            if isinstance(widget, Input):
                widget.value = ""          # F2 starts a new search
            widget.focus()
            break

    def action_help(self) -> None:
        from tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if self.desk.logged_in:
            for name, title, text in (
                    ("counter", label("TUI_CMD_COUNTER", "Counter"), "find a bill and take a payment (F2, F5)"),
                    ("receipts", label("TUI_CMD_RECEIPTS", "Receipts"), "today's receipts, reprint, cancel (F4)"),
                    ("shift", label("TUI_CMD_SHIFT", "Shift"), "open, count and close the shift; day book (F3)"),
                    ("inbox", label("TUI_CMD_INBOX", "Inbox"), "applications waiting for you (F6)")):
                yield SystemCommand(title, text, partial(self.action_goto, name))
            yield SystemCommand(label("TUI_CMD_LOGOUT", "Log out"), "end this session and log in as someone else",
                                self.action_logout)

    # -- the status line and app-level workers ----------------------------------------------------
    def app_job(self, tag: str, call: Any, *args: Any) -> None:
        self.run_worker(partial(run_call, tag, partial(call, *args), self.post_message), thread=True,
                        group="app-" + tag, name=tag)

    def on_job_done(self, message: JobDone) -> None:
        if message.error is not None:
            failed = getattr(self, f"failed_{message.tag}", None)
            if failed is not None:
                failed(message.error)
            elif message.tag != "status":
                self.notify(message.error.message, title=message.error.code, severity="error", timeout=8)
            return
        handler = getattr(self, f"done_{message.tag}", None)
        if handler is not None:
            handler(message.result)

    def refresh_status(self) -> None:
        if self.desk.logged_in:
            self.app_job("status", self._status)

    def _status(self) -> dict[str, Any]:
        from digitctl.services import counter_desk

        self.desk.revalidate()
        doc = counter_desk.status_line(self.desk.app, self.desk.ctx())
        doc["hubReachable"] = self.hub_up.get(doc["hub"]) if doc.get("hub") else None
        return doc

    def probe_hub(self) -> None:
        """Every HUB_PROBE_SECONDS: ask the registered hub's /health (network: in a worker)."""
        hub = (self.status or {}).get("hub")
        if hub and self.desk.logged_in:
            self.app_job("hub", self._probe, hub)

    def _probe(self, hub: str) -> None:
        from tui.hub import reachable

        up = reachable(hub)
        if self.hub_up.get(hub) != up:
            self.hub_up[hub] = up
            self.call_from_thread(self.refresh_status)

    def failed_status(self, error: Any) -> None:
        """The session ended under us (expired, logged out elsewhere, account locked): log in again."""
        if error.code in ("SESSION_EXPIRED", "INVALID_TOKEN", "NOT_LOGGED_IN"):
            from digitctl.context import ANONYMOUS_ACTOR

            self.desk.actor, self.desk.token = ANONYMOUS_ACTOR, None
            while len(self.screen_stack) > 1:
                self.pop_screen()
            self.show_login(error.text())

    def done_status(self, doc: dict[str, Any]) -> None:
        first_sight = doc.get("hub") and doc["hub"] not in self.hub_up
        self.status = doc
        if first_sight:
            self.probe_hub()
        from tui.screens.base import DeskScreen

        for screen in self.screen_stack:
            if isinstance(screen, DeskScreen):
                screen.show_status(doc)
