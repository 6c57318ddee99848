"""The hub's batch apply path (placeholder until the Core implementation): one event at a time."""
from __future__ import annotations

from typing import TYPE_CHECKING

from digitctl.domain.sync_events import Parked, ReceivedEvent

if TYPE_CHECKING:
    from digitctl.bootstrap import App


def apply_batch(app: "App", events: list[ReceivedEvent], *, counter_tenant: str | None = None) -> list[str | Parked]:
    from digitctl.services.hub_apply import apply_event

    out: list[str | Parked] = []
    for ev in events:
        try:
            out.append(apply_event(app, ev, counter_tenant=counter_tenant))
        except Parked as parked:
            out.append(parked)
    return out
