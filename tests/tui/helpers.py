"""Driving the TUI in tests: wait until the workers are done, read what a widget shows."""
from __future__ import annotations

from typing import Any


async def settle(pilot: Any, rounds: int = 6) -> None:
    """Let every thread worker finish and its JobDone be handled (a job may start another)."""
    app = pilot.app
    for _ in range(rounds):
        await app.workers.wait_for_complete()
        await pilot.pause()
        if not any(w.is_running for w in app.workers):
            await pilot.pause()
            if not any(w.is_running for w in app.workers):
                return


def text_of(app: Any, selector: str) -> str:
    widget = app.screen.query_one(selector)
    return str(widget.render())


async def type_into(pilot: Any, selector: str, text: str) -> None:
    widget = pilot.app.screen.query_one(selector)
    widget.focus()
    widget.value = ""
    await pilot.press(*text)
