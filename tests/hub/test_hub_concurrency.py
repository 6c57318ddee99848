"""Several hub workers at once (threads, each with its own App as a worker process has): the
same counter's batches pushed concurrently, retried, duplicated and out of order end up stored
exactly once and contiguous (the row lock on hub_counter serialises one counter's batches);
two counters push side by side."""
from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import func, select

from digitctl.bootstrap import App, build
from digitctl.errors import DigitError
from digitctl.services import hub_ingest
from local_store.models import HubEvent
from tests.hub.conftest import enrol_and_register
from tests.hub.fake_counter import PUSH, FakeCounter


def _batches(counter: FakeCounter, n_events: int, size: int) -> list[dict[str, Any]]:
    events = [counter.event() for _ in range(n_events)]
    out = []
    for i in range(0, n_events, size):
        chunk = events[i:i + size]
        after = events[i - 1]["audit"]["seq"] if i else counter.setup_records
        out.append(counter.batch(chunk, after, head_seq=n_events))
    return out


def _push(url: str, clock: Any, counter: FakeCounter, doc: dict[str, Any]) -> bool:
    """One worker takes one request: True when stored (or acknowledged), False on a gap."""
    worker = build(url, clock)
    try:
        status = hub_ingest.push(worker, counter.signed(PUSH, doc, clock.now()))[0]
        assert status == 200
        return True
    except DigitError as err:
        assert err.code == "SYNC_SEQUENCE_GAP", err
        return False
    finally:
        worker.close()


def test_concurrent_workers_store_each_event_once(hub: App) -> None:
    a, b = enrol_and_register(hub), enrol_and_register(hub, "pb.jalandhar", "Jalandhar 1")
    jobs = [(a, doc) for doc in _batches(a, 120, 20)] + [(b, doc) for doc in _batches(b, 60, 15)]
    jobs = jobs * 2                                   # every batch retried (same batch id)
    random.Random(7).shuffle(jobs)
    rounds = 0
    with ThreadPoolExecutor(max_workers=4) as pool:
        while jobs:           # what met a gap is sent again, as a counter resends from `expected`
            rounds += 1
            done = list(pool.map(lambda job: _push(hub.store_url, hub.clock, *job), jobs))
            jobs = [job for job, ok in zip(jobs, done) if not ok]
            assert rounds < 50
    with hub.store.readonly_engine.connect() as conn:
        for counter, n in ((a, 120), (b, 60)):
            seqs = conn.execute(select(HubEvent.seq).where(HubEvent.counter_code == counter.code)
                                .order_by(HubEvent.seq)).scalars().all()
            assert seqs == list(range(1, n + 1))
        assert conn.execute(select(func.count()).select_from(HubEvent)).scalar() == 180
    listed = {c["counterCode"]: c for c in __import__("digitctl.services.hub_counters", fromlist=["x"])
              .counters(hub, hub.context())}
    assert (listed[a.code]["lag"], listed[b.code]["lag"]) == (0, 0)
