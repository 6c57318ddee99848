"""Widgets every screen shares: the status line and the refusal line."""
from __future__ import annotations

from typing import Any

from textual.widgets import Static

from tui.labels import label


def status_text(doc: dict[str, Any] | None) -> str:
    if not doc:
        return label("TUI_STATUS_LOADING", "…")
    shift = doc.get("shift")
    shift_txt = (f"{label('TUI_SHIFT', 'shift')} {label('TUI_SHIFT_OPEN', 'open')}" if shift
                 else label('TUI_SHIFT_NONE', "no shift"))
    hub_txt = hub_text(doc)
    counter = doc.get("counterCode") or "-"
    line = f" {doc.get('userName')}·{doc.get('tenantId')}·{counter}│{shift_txt}│{hub_txt}"
    if doc.get("hub"):              # a store with no hub has nothing to sync: no count to show
        line += f"│{label('TUI_UNSYNCED', 'unsynced')} {doc.get('unsynced', 0)}"
    return line


def hub_text(doc: dict[str, Any]) -> str:
    """hub: not registered | hub: up | hub: offline | hub: … (not asked yet)."""
    if not doc.get("hub"):
        return label("TUI_HUB_NONE", "hub: not registered")
    up = doc.get("hubReachable")
    if up is None:
        return label("TUI_HUB_UNKNOWN", "hub: …")
    return label("TUI_HUB_UP", "hub: up") if up else label("TUI_HUB_DOWN", "hub: offline")


class StatusLine(Static):
    """user @ tenant · counter · shift · hub · events not yet synced (always visible)."""

    DEFAULT_CSS = """
    StatusLine { height: 1; width: 100%; background: $primary-darken-2; color: $text; }
    """

    def show(self, doc: dict[str, Any] | None) -> None:
        self.update(status_text(doc))


class ErrorLine(Static):
    """The last refusal on this screen: CODE: message."""

    DEFAULT_CSS = """
    ErrorLine { height: auto; color: $error; text-style: bold; }
    ErrorLine.ok { color: $success; }
    """
