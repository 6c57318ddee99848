"""How fast does a counter pull the state's demands, against raw inserts of the same rows?
Run: `python tests/benchmarks/bench_pull.py [--demands 100000] [--delta 1000] [--page 1000]`.

A hub store (SQLite file; the bundled pb masters and demo users) holds N TL demands (one TL_TAX
line each, the payer encrypted as billing writes it: bulk-copied from one the service made). An
empty counter store (no masters, its own keys) pulls the pb masters (stream mdms) and them:
  (a) first pull: every page from `hub_pull.page_for` (the hub's query, payer opened with the
      hub's keys), through JSON as the wire carries it, applied by `sync_pull.apply_page` (payer
      sealed with the counter's keys and blind-indexed, one transaction per page with the cursor);
      seconds, rows/s and the peak RSS of the process that pulled (a child, so setup is not counted);
  (b) a delta pull after 1,000 demands changed at the hub (collections written, with the outbox
      events that name them, as a payment at the hub does);
  (c) raw sqlite3 inserts of the same demand and line rows into another empty store, one
      transaction per page: the floor, in the same run.
Figures are printed, never asserted. Goal (issue 12): (a) peak memory <= 200 MB.
The HTTP hop (signed request, FastAPI) is not in (a)/(b): `sync pull` adds one round trip a page.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing as mp
import resource
import sqlite3
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

TENANT = "pb.amritsar"
NOW = dt.datetime(2026, 11, 25, 11, 0)


def frozen_app(url: str) -> Any:
    from digitctl import bootstrap
    from digitctl.clock import IST, FixedClock

    return bootstrap.build(url, clock=FixedClock(NOW.replace(tzinfo=IST)))


def make_store(url: str, code: str, masters: bool = True) -> None:
    """A store; `masters`: with the bundled pb masters and the demo users (the hub), else empty
    (a fresh counter: its masters come down with the pull)."""
    from digitctl.resources import bundled
    from digitctl.services import mdms, quickstart
    from digitctl.services.store import init_store

    configs = bundled("configs")
    app = frozen_app(url)
    try:
        init_store(app, app.context(), "pb", code)
        if masters:
            mdms.apply(app, app.context("pb"), [configs / "mdms" / "data" / "pb"],
                       master_config=configs / "mdms" / "master-config.json")
            quickstart.demo_users(app, app.context())
    finally:
        app.close()


def bulk_demands(url: str, n: int) -> None:
    from sqlalchemy import insert, select

    from digitctl.services import billing
    from local_store.models import Demand, DemandDetail
    from tests.helpers import ctx_as, demand

    app = frozen_app(url)
    try:
        [doc] = billing.create_demands(app, ctx_as(app, "clerk.amritsar"), [demand("TL-PULL-TEMPLATE")])
        with app.store.engine.connect() as conn:
            d = dict(conn.execute(select(Demand.__table__).where(Demand.id == doc["id"])).mappings().one())
            dd = dict(conn.execute(select(DemandDetail.__table__)
                                   .where(DemandDetail.demand_id == doc["id"])).mappings().first())
        for lo in range(0, n, 5000):
            hi = min(lo + 5000, n)
            with app.store.engine.begin() as conn:
                conn.execute(insert(Demand.__table__), [{**d, "id": f"pull-{i:08d}", "consumer_code": f"TL-P-{i:07d}"}
                                                        for i in range(lo, hi)])
                conn.execute(insert(DemandDetail.__table__), [{**dd, "id": f"pline-{i:08d}",
                                                               "demand_id": f"pull-{i:08d}"} for i in range(lo, hi)])
    finally:
        app.close()


def change_at_hub(url: str, n: int) -> None:
    """n demands collected at the hub, each with the outbox event a payment there writes."""
    from sqlalchemy import insert, update

    from local_store.models import DemandDetail, OutboxEvent

    app = frozen_app(url)
    try:
        store_id = app.store_meta("store_id")
        now = NOW.replace(tzinfo=dt.timezone.utc)
        with app.store.engine.begin() as conn:
            for i in range(n):
                conn.execute(update(DemandDetail).where(DemandDetail.id == f"pline-{i * 7:08d}")
                             .values(collection_amount_paise=125000))
            conn.execute(insert(OutboxEvent.__table__), [dict(
                event_id=str(uuid.uuid4()), event_type="billing.demand.updated", tenant_id=TENANT,
                entity_type="Demand", entity_id=f"pull-{i * 7:08d}", payload={}, occurred_at=now,
                store_id=store_id, attempts=0) for i in range(n)])
    finally:
        app.close()


def pull_all(hub_url: str, counter_url: str, page: int, out: Any) -> None:
    """In a child process: pull until no more; sends (seconds, rows, pages, peak RSS MB)."""
    from digitctl.services import hub_pull, sync_pull

    hub, counter = frozen_app(hub_url), frozen_app(counter_url)
    try:
        started = time.perf_counter()
        rows = pages = 0
        for stream in ("mdms", "demands"):
            while True:
                cur = hub_pull.decode_cursor(sync_pull.cursor_of(counter, stream))
                doc = json.loads(json.dumps(hub_pull.page_for(hub, TENANT, stream, cur, page)))
                sync_pull.apply_page(counter, stream, doc)
                rows += len(doc["items"])
                pages += 1
                if not doc["more"]:
                    break
        seconds = time.perf_counter() - started
    finally:
        hub.close()
        counter.close()
    out.send((seconds, rows, pages, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


def in_child(hub_url: str, counter_url: str, page: int) -> tuple[float, int, int, float]:
    parent, child = mp.Pipe()
    proc = mp.get_context("fork").Process(target=pull_all, args=(hub_url, counter_url, page, child))
    proc.start()
    result = parent.recv()
    proc.join()
    return result


def raw_inserts(hub_db: Path, raw_db: Path, page: int) -> float:
    """The same demand and line rows copied with sqlite3, one transaction per page (masters not
    counted: a few thousand rows)."""
    src = sqlite3.connect(hub_db)
    dst = sqlite3.connect(raw_db)
    dcols = [r[1] for r in src.execute("PRAGMA table_info(demand)")]
    lcols = [r[1] for r in src.execute("PRAGMA table_info(demand_detail)")]
    demands = src.execute(f"SELECT {', '.join(dcols)} FROM demand WHERE tenant_id = ? ORDER BY id", (TENANT,))
    started = time.perf_counter()
    while True:
        chunk = demands.fetchmany(page)
        if not chunk:
            break
        ids = [r[0] for r in chunk]
        lines = src.execute(f"SELECT {', '.join(lcols)} FROM demand_detail WHERE demand_id IN "
                            f"({', '.join('?' * len(ids))})", ids).fetchall()
        with dst:
            dst.executemany(f"INSERT OR REPLACE INTO demand ({', '.join(dcols)}) VALUES "
                            f"({', '.join('?' * len(dcols))})", chunk)
            dst.executemany(f"INSERT OR REPLACE INTO demand_detail ({', '.join(lcols)}) VALUES "
                            f"({', '.join('?' * len(lcols))})", lines)
    seconds = time.perf_counter() - started
    src.close()
    dst.close()
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--demands", type=int, default=100_000)
    ap.add_argument("--delta", type=int, default=1_000)
    ap.add_argument("--page", type=int, default=1_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        urls = {name: f"sqlite:///{folder / f'{name}.db'}" for name in ("hub", "counter", "raw")}
        t0 = time.perf_counter()
        make_store(urls["hub"], "H01")
        make_store(urls["counter"], "C02", masters=False)
        make_store(urls["raw"], "C03", masters=False)
        bulk_demands(urls["hub"], args.demands)
        print(f"setup: 3 stores, {args.demands:,} demands at the hub in {time.perf_counter() - t0:.1f} s")
        seconds, rows, pages, peak = in_child(urls["hub"], urls["counter"], args.page)
        print(f"(a) first pull: {rows:,} rows (pb masters + demands) in {pages} pages, {seconds:.1f} s ({rows / seconds:,.0f} rows/s), "
              f"peak RSS of the pulling process {peak:.0f} MB")
        change_at_hub(urls["hub"], min(args.delta, args.demands // 7 or 1))
        seconds, rows, pages, peak = in_child(urls["hub"], urls["counter"], args.page)
        print(f"(b) delta pull: {rows:,} changed rows in {pages} pages, {seconds:.2f} s, peak RSS {peak:.0f} MB")
        raw = raw_inserts(folder / "hub.db", folder / "raw.db", args.page)
        print(f"(c) raw sqlite3 inserts of the same rows: {raw:.1f} s ({args.demands / raw:,.0f} rows/s)")


if __name__ == "__main__":
    main()
