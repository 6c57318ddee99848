"""`sync push`: every unacknowledged event to the hub, in order, in signed batches.

The loop: take the next batch from the outbox (services.sync_outbox), send it (retried by the
client), and only after the hub's 200 mark it acknowledged. A 409 SYNC_SEQUENCE_GAP says which
sequence the hub expects: resend from there. Any other refusal stops the push with the hub's code;
what was not acknowledged stays in the outbox for the next push."""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from digitctl.errors import DigitError
from sync.client import HubClient, RetryPolicy, encode

if TYPE_CHECKING:
    from digitctl.bootstrap import App

GAP = "SYNC_SEQUENCE_GAP"
MAX_RESTARTS = 20


@dataclass
class PushSummary:
    counter_code: str
    hub: str
    batches: int = 0
    sent: int = 0                   # events carried in acknowledged batches
    accepted: int = 0
    duplicates: int = 0
    restarts: int = 0               # times the hub said where to resume (sequence gap)
    parked: list[dict[str, Any]] = field(default_factory=list)
    unsynced: int = 0
    seconds: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {"counterCode": self.counter_code, "hub": self.hub, "batches": self.batches, "sent": self.sent,
                "accepted": self.accepted, "duplicates": self.duplicates, "restarts": self.restarts,
                "parked": self.parked, "unsynced": self.unsynced, "seconds": round(self.seconds, 3)}


def client_for(app: "App", policy: RetryPolicy | None = None, **kw: Any) -> HubClient:
    """A signed client to the hub this store registered with."""
    from digitctl.services import sync_outbox

    hub = sync_outbox.hub_of(app)
    return HubClient(hub.url, counter_code=hub.counter_code, key=sync_outbox.signing_key(app),
                     now_ms=lambda: sync_outbox.now_ms(app), policy=policy, **kw)


def push(app: "App", client: HubClient, batch_size: int = 500,
         progress: Callable[[int, int], None] | None = None) -> PushSummary:
    """Push until nothing is left; `progress(done, total)` after each acknowledged batch."""
    from digitctl.services import sync_outbox

    started = time.perf_counter()
    hub = sync_outbox.hub_of(app)
    summary = PushSummary(counter_code=hub.counter_code, hub=hub.url)
    total = sync_outbox.unsynced(app)
    from_seq: int | None = None
    while True:
        batch = sync_outbox.next_batch(app, batch_size, from_seq)
        if batch is None:
            break
        answer = client.push(encode(batch.body))
        if answer.ok:
            sync_outbox.acknowledge(app, batch, answer.doc)
            summary.batches += 1
            summary.sent += batch.size
            summary.accepted += int(answer.doc.get("accepted") or 0)
            summary.duplicates += int(answer.doc.get("duplicates") or 0)
            summary.parked += [p for p in answer.doc.get("parked") or [] if isinstance(p, dict)]
            from_seq = None
            if progress is not None:
                progress(min(summary.sent, max(total, summary.sent)), max(total, summary.sent))
            continue
        code, _message, params = answer.error()
        if answer.status == 409 and code == GAP and summary.restarts < MAX_RESTARTS:
            summary.restarts += 1
            from_seq = _expected(params, batch.first_seq)
            continue
        raise answer.refusal()
    summary.unsynced = sync_outbox.unsynced(app)
    summary.seconds = time.perf_counter() - started
    return summary


def _expected(params: dict[str, str], first_seq: int) -> int:
    try:
        expected = int(params["expected"])
    except (KeyError, ValueError):
        raise DigitError("SYNC_HUB_ANSWER_INVALID", "the hub refused a sequence gap without saying which sequence "
                         "it expects", {"firstSeq": first_seq}) from None
    if expected < 1:
        raise DigitError("SYNC_HUB_ANSWER_INVALID", f"the hub expects sequence {expected}", {"expected": expected})
    return expected


def refresh_status(app: "App", client: HubClient) -> dict[str, Any]:
    """Ask the hub's _status and keep its parked list; the hub's answer."""
    from digitctl.services import sync_outbox

    doc = client.status()
    sync_outbox.record_hub_status(app, doc)
    return doc
