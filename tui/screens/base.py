"""What every screen of the TUI shares: the desk, thread workers posting JobDone, refusals shown
with their code, and the status line."""
from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol, cast

from textual.screen import ModalScreen, Screen

from tui.jobs import JobDone, Refusal, run_call
from tui.widgets import ErrorLine, StatusLine

if TYPE_CHECKING:
    from collections.abc import Iterable

    from textual.widget import Widget

    from tui.desk import Desk


class DeskHost(Protocol):
    """What a screen asks of the app it runs in (tui.app.DigitApp), named here so that screens do
    not import the app that imports them."""

    desk: "Desk"
    status: dict[str, Any] | None

    def after_login(self) -> None: ...

    def refresh_status(self) -> None: ...


def _host(app: object) -> DeskHost:
    if not hasattr(app, "desk"):
        raise TypeError(f"{type(app).__name__} is not the digitctl desk")
    return cast(DeskHost, app)


class JobsMixin:
    """Run a call in a thread worker; the answer arrives as JobDone on this screen."""

    def job(self, tag: str, call: Callable[..., Any], *args: Any, **kw: Any) -> None:
        screen: Any = self
        screen.run_worker(partial(run_call, tag, partial(call, *args, **kw), screen.post_message),
                          thread=True, group=tag, name=tag)

    def on_job_done(self, message: JobDone) -> None:
        screen: Any = self
        message.stop()
        if message.error is not None:
            self.refused(message.tag, message.error)
            return
        handler = getattr(self, f"done_{message.tag}", None)
        if handler is not None:
            handler(message.result)
        screen.app.refresh_status()        # what was done may have opened a shift or queued events

    def refused(self, tag: str, error: Refusal) -> None:
        screen: Any = self
        screen.app.bell()
        for line in screen.query(ErrorLine):
            line.remove_class("ok")
            line.update(error.text())
            return
        screen.app.notify(error.message, title=error.code, severity="error", timeout=8)   # no line here


class DeskScreen(JobsMixin, Screen[None]):
    """A full screen of the TUI."""

    @property
    def digit(self) -> DeskHost:
        return _host(self.app)

    @property
    def desk(self) -> "Desk":
        return self.digit.desk

    def chrome(self) -> "Iterable[Widget]":
        """The status line and the footer of keys, at the bottom of every screen."""
        from textual.widgets import Footer

        yield StatusLine(id="status")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.show_status(self.digit.status)

    def on_screen_resume(self) -> None:
        # after the frame that shows the screen: the status job's store work (the session
        # re-checked, shift and outbox read) then never delays the first paint
        self.call_after_refresh(self.digit.refresh_status)

    def show_status(self, doc: dict[str, Any] | None) -> None:
        for line in self.query(StatusLine):
            line.show(doc)

    def say(self, text: str) -> None:
        """A success line where the refusals go."""
        for line in self.query(ErrorLine):
            line.add_class("ok")
            line.update(text)
            break

    def clear_error(self) -> None:
        for line in self.query(ErrorLine):
            line.update("")


class DeskModal(JobsMixin, ModalScreen[Any]):
    """A modal that may call services too (the supervisor's approval)."""

    @property
    def desk(self) -> "Desk":
        return _host(self.app).desk
