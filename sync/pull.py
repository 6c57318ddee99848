"""`sync pull`: each stream's pages from the hub since the stream's cursor, each page applied
locally (services.sync_pull) before the next is asked for: the cursor moves only with a page
applied, so an interrupted first pull resumes where it stopped, and a crash re-pulls, never skips.
One page in memory at a time."""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sync.client import HubClient

if TYPE_CHECKING:
    from digitctl.bootstrap import App

STREAMS = ("mdms", "workflow", "users", "demands", "payments", "applications")


@dataclass
class PullSummary:
    pages: int = 0
    received: dict[str, int] = field(default_factory=dict)
    written: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {"pages": self.pages, "received": self.received, "written": self.written,
                "seconds": round(self.seconds, 3)}


def pull(app: "App", client: HubClient, streams: tuple[str, ...] = STREAMS, page_size: int = 1000,
         progress: Callable[[str, int, int | None], None] | None = None) -> PullSummary:
    """Pull every stream until the hub says no more; `progress(stream, done, total)` after each page
    (total known on a first pull)."""
    from digitctl.services import sync_pull

    started = time.perf_counter()
    summary = PullSummary()
    for stream in streams:
        done, total = 0, None
        summary.received[stream] = summary.written[stream] = 0
        while True:
            page = client.pull(stream, sync_pull.cursor_of(app, stream), page_size)
            total = page.get("total") if page.get("total") is not None else total
            summary.written[stream] += sync_pull.apply_page(app, stream, page)
            got = len(page.get("items") or [])
            summary.received[stream] += got
            summary.pages += 1
            done += got
            if progress is not None:
                progress(stream, done, total)
            if not page.get("more"):
                break
    summary.seconds = time.perf_counter() - started
    return summary
