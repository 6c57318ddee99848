"""Driving the TUI in tests: wait until the workers are done, read what a widget shows."""
from __future__ import annotations

from typing import Any


async def settle(pilot: Any, rounds: int = 20) -> None:
    """Let every thread worker finish and its JobDone be handled (a job may start another, the
    status line's refresh among them): idle through three pauses in a row."""
    app = pilot.app
    quiet = 0
    for _ in range(rounds * 3):
        await app.workers.wait_for_complete()
        await pilot.pause()
        quiet = 0 if any(w.is_running for w in app.workers) else quiet + 1
        if quiet >= 3:
            return


def text_of(app: Any, selector: str) -> str:
    widget = app.screen.query_one(selector)
    return str(widget.render())


async def type_into(pilot: Any, selector: str, text: str) -> None:
    widget = pilot.app.screen.query_one(selector)
    widget.focus()
    widget.value = ""
    await pilot.press(*text)
