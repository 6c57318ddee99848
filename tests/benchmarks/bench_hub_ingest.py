"""How fast does the hub store what counters push, against raw psycopg writing the same rows?
Run: `python tests/benchmarks/bench_hub_ingest.py [--counters 4] [--events 20000] [--batch 500] [--workers 2]`.

On the local PostgreSQL (127.0.0.1:5432, a throwaway database), in one run:
  (a) hub ingest: simulated counters push signed 500-event batches (each event with its signed,
      hash-chained audit record) through `hub_ingest.push` in W worker processes (each counter's
      batches in order on one worker, as a counter pushes them one after another): signature,
      nonce, counter row lock, duplicate/gap classification, the audit chain check, the events
      stored, the counter moved, the batch response kept, the hub's own outbox + audit record, one
      transaction per batch. Applying is not measured here (it runs after the commit);
  (b) raw psycopg: the same rows (hub_event, the counter update, the batch row) inserted by W
      processes, one transaction per batch, nothing checked: the floor.
Figures are printed, never asserted. Goal (issue 11): ingest >= 10,000 events/s with 2 workers.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing as mp
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.benchmarks.pg_database import fresh_database  # noqa: E402 - after the path
NOW = dt.datetime(2026, 11, 25, 5, 30, tzinfo=dt.timezone.utc)


def _app(url: str) -> Any:
    from digitctl import bootstrap
    from digitctl.clock import FixedClock

    return bootstrap.build(url, clock=FixedClock(NOW))


def _prepare(url: str, counters: int, events: int, batch: int) -> list[list[Any]]:
    """The hub store (bundled state), `counters` enrolled and registered; per counter its signed
    push requests, in order."""
    from digitctl.resources import bundled
    from digitctl.services import hub_counters, hub_ingest, mdms, store
    from tests.hub.fake_counter import PUSH, FakeCounter

    app = _app(url)
    store.init_store(app, app.context(), "pb", "C01")
    configs = bundled("configs") / "mdms"
    mdms.apply(app, app.context("pb"), [configs / "data" / "pb"], master_config=configs / "master-config.json")
    per_counter = events // counters
    out: list[list[Any]] = []
    for i in range(counters):
        code = hub_counters.enrol(app, app.context(), "pb.amritsar", f"bench {i}")["enrolmentCode"]
        fc = FakeCounter()
        fc.code = hub_ingest.register(app, fc.register_body(code))["counterCode"]
        evs = [fc.event() for _ in range(per_counter)]
        reqs = []
        for k in range(0, per_counter, batch):
            after = evs[k - 1]["audit"]["seq"] if k else fc.setup_records
            reqs.append(fc.signed(PUSH, fc.batch(evs[k:k + batch], after), NOW))
        out.append(reqs)
    app.close()
    return out


def _hub_worker(url: str, jobs: list[list[Any]], start: Any, done: Any) -> None:
    from digitctl.services import hub_ingest

    app = _app(url)
    app.store.engine.connect().close()
    start.wait()
    n = 0
    for reqs in jobs:
        for req in reqs:
            status, answer = hub_ingest.push(app, req)
            assert status == 200, answer
            n += answer["accepted"]
    done.put(n)
    app.close()


def _raw_rows(req: Any) -> tuple[str, list[tuple[Any, ...]], dict[str, Any]]:
    from digitctl.domain.sync_events import ReceivedEvent

    doc = json.loads(req.body)
    rows = []
    for e in doc["events"]:
        ev = ReceivedEvent.from_wire(e)
        rows.append((ev.counter_code, ev.seq, ev.event_id, ev.event_type, ev.tenant_id, ev.entity_type, ev.entity_id,
                     ev.occurred_at, NOW, ev.content_hash(), json.dumps(ev.to_wire()), "stored"))
    return doc["counterCode"], rows, doc


def _raw_worker(dsn: str, jobs: list[list[Any]], start: Any, done: Any) -> None:
    import psycopg

    prepared = [[_raw_rows(r) for r in reqs] for reqs in jobs]
    with psycopg.connect(dsn) as conn:
        start.wait()
        n = 0
        for reqs in prepared:
            for code, rows, doc in reqs:
                with conn.transaction():
                    conn.execute("SELECT code FROM hub_counter WHERE code = %s FOR UPDATE", (code,))
                    with conn.cursor() as cur:
                        cur.executemany(
                            "INSERT INTO raw_event (counter_code, seq, event_id, event_type, tenant_id, entity_type, "
                            "entity_id, occurred_at, received_at, content_hash, body, status) "
                            "VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)", rows)
                    conn.execute("UPDATE hub_counter SET last_seq = %s, last_seen = %s WHERE code = %s",
                                 (rows[-1][1], NOW, code))
                    conn.execute("INSERT INTO raw_batch (batch_id, counter_code, response) VALUES (%s, %s, %s)",
                                 (doc["batchId"], code, json.dumps({"accepted": len(rows)})))
                n += len(rows)
        done.put(n)


def _run(target: Any, arg: str, jobs: list[list[Any]], workers: int) -> tuple[int, float]:
    ctx = mp.get_context("fork")
    start, done = ctx.Barrier(workers + 1), ctx.Queue()
    shares = [jobs[i::workers] for i in range(workers)]
    procs = [ctx.Process(target=target, args=(arg, share, start, done)) for share in shares]
    for p in procs:
        p.start()
    start.wait()
    t = time.perf_counter()
    total = sum(done.get() for _ in procs)
    elapsed = time.perf_counter() - t
    for p in procs:
        p.join()
        assert p.exitcode == 0, p.exitcode
    return total, elapsed


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--counters", type=int, default=4)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    db = fresh_database("hub_bench")
    if db is None:
        return 0
    dsn, url = db.dsn, db.url
    import psycopg

    try:
        jobs = _prepare(url, args.counters, args.events, args.batch)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("CREATE TABLE raw_event (LIKE hub_event INCLUDING ALL)")
            conn.execute("CREATE TABLE raw_batch (batch_id varchar(36) PRIMARY KEY, counter_code varchar(32), "
                         "response jsonb)")
        stored, hub_s = _run(_hub_worker, url, jobs, args.workers)
        raw, raw_s = _run(_raw_worker, dsn, jobs, args.workers)
        print(f"hub ingest: {stored:,} events in {hub_s:.2f} s = {stored / hub_s:,.0f} events/s "
              f"({args.counters} counters, {args.batch}-event batches, {args.workers} workers)")
        print(f"raw psycopg: {raw:,} rows in {raw_s:.2f} s = {raw / raw_s:,.0f} rows/s (same rows, nothing checked)")
        print(f"hub / raw: {(stored / hub_s) / (raw / raw_s):.2f}x")
    finally:
        db.drop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
