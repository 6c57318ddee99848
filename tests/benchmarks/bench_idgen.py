"""How fast does `digitctl.services.idgen.generate` hand out ids on SQLite, and what does it cost
over the bare minimum? Run: `python tests/benchmarks/bench_idgen.py [--calls N] [--dir DIR]`.

Measures, in one run and on one file system:
  1. one process, count=1 per call (one durable transaction per id: sequence + outbox + audit);
  2. one process, blocks of count=1000;
  3. two processes at once on one store file, count=1 per call, checking that no id repeats;
  4. a raw sqlite3 baseline: BEGIN IMMEDIATE + UPDATE ... RETURNING + COMMIT, WAL, synchronous=FULL;
and prints the service/baseline ratio. Takes well under a minute with the defaults.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PB = ROOT.parent / "shared" / "digit-reference" / "mdms" / "data" / "pb"
TENANT = "pb.amritsar"
ID_NAME = "receipt.id"          # [cy:MM]/[fy:yyyy-yy]/[SEQ_COLL_RCPT_NUM]

sys.path.insert(0, str(ROOT))


def frozen_app(url: str):
    from digitctl import bootstrap
    from digitctl.clock import IST, FixedClock

    return bootstrap.build(url, clock=FixedClock(dt.datetime(2026, 11, 25, 10, 30, tzinfo=IST)))


def make_store(url: str) -> None:
    """A store with the real pb IdFormat and tenants masters (rows inserted directly)."""
    from sqlalchemy.orm import Session

    from digitctl.domain.canonical import content_hash
    from digitctl.services.store import init_store
    from local_store.models import MdmsRecord, StoreMeta

    app = frozen_app(url)
    init_store(app, app.context(), "pb", "C01")
    now = dt.datetime.now(dt.timezone.utc)
    with Session(app.store.engine) as s:
        for rel in ("common-masters/IdFormat.json", "tenant/tenants.json"):
            doc = json.loads((PB / rel).read_text(encoding="utf-8"))
            master = Path(rel).stem
            for i, rec in enumerate(doc[master]):
                s.add(MdmsRecord(tenant_id=doc["tenantId"], module=doc["moduleName"], master=master,
                                 unique_key=str(i), position=i, data=rec, data_hash=content_hash(rec),
                                 source=rel, is_active=True, created_at=now, updated_at=now))
        s.merge(StoreMeta(key="mdms_version", value=str(uuid.uuid4())))
        s.commit()
    app.close()


def service_run(url: str, calls: int, count: int) -> tuple[float, list[str]]:
    from digitctl.services import idgen

    app = frozen_app(url)
    ctx = app.context(TENANT)
    idgen.generate(app, ctx, ID_NAME, TENANT, count=1)          # warm caches and the pool
    ids: list[str] = []
    start = time.perf_counter()
    for _ in range(calls):
        ids += idgen.generate(app, ctx, ID_NAME, TENANT, count=count)
    elapsed = time.perf_counter() - start
    app.close()
    return elapsed, ids


def sequence_only(url: str, calls: int) -> float:
    """The same UnitOfWork + Core UPDATE ... RETURNING, without MDMS reads, rendering or events:
    what the outbox event + audit record add shows as the gap to the count=1 service figure."""
    from digitctl.services import idgen

    app = frozen_app(url)
    ctx = app.context(TENANT)
    start = time.perf_counter()
    for _ in range(calls):
        with app.uow(ctx) as uow:
            idgen.take_block(uow, "SEQ_BENCH_ONLY", 1)
            uow.commit()
    elapsed = time.perf_counter() - start
    app.close()
    return calls / elapsed


def worker(url: str, calls: int, go: str, out: str) -> None:
    """One of the two concurrent processes: wait for the start line, generate, report."""
    from digitctl.services import idgen

    app = frozen_app(url)
    ctx = app.context(TENANT)
    idgen.plan(app, ID_NAME, TENANT)
    while not os.path.exists(go):
        time.sleep(0.001)
    start = time.time()
    ids: list[str] = []
    for _ in range(calls):
        ids += idgen.generate(app, ctx, ID_NAME, TENANT)
    end = time.time()
    Path(out).write_text(json.dumps({"start": start, "end": end, "ids": ids}))
    app.close()


def two_processes(url: str, calls: int, folder: Path) -> tuple[float, int, int]:
    go = folder / "go"
    outs = [folder / f"w{k}.json" for k in range(2)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, __file__, "--worker", url, str(calls), str(go), str(o)], env=env)
             for o in outs]
    time.sleep(1.5)                      # both import and warm up before the start line
    go.touch()
    for p in procs:
        if p.wait(timeout=300) != 0:
            raise SystemExit("a worker failed")
    reports = [json.loads(o.read_text()) for o in outs]
    ids = [i for r in reports for i in r["ids"]]
    wall = max(r["end"] for r in reports) - min(r["start"] for r in reports)
    return wall, len(ids), len(set(ids))


def raw_baseline(path: Path, n: int) -> float:
    """The floor: one durable sqlite3 transaction per id, nothing else."""
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode = WAL")
    con.execute("PRAGMA synchronous = FULL")
    con.execute("CREATE TABLE id_sequence (name VARCHAR(256) PRIMARY KEY, value BIGINT NOT NULL)")
    con.execute("INSERT INTO id_sequence VALUES ('SEQ_COLL_RCPT_NUM', 0)")
    start = time.perf_counter()
    last = 0
    for _ in range(n):
        con.execute("BEGIN IMMEDIATE")
        last = con.execute("UPDATE id_sequence SET value = value + 1 WHERE name = ? RETURNING value",
                           ("SEQ_COLL_RCPT_NUM",)).fetchone()[0]
        con.execute("COMMIT")
    elapsed = time.perf_counter() - start
    assert last == n
    con.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000, help="count=1 calls per measurement (default 2000)")
    parser.add_argument("--blocks", type=int, default=50, help="count=1000 calls (default 50)")
    parser.add_argument("--dir", default=None, help="where the store files go (default: a temp dir)")
    parser.add_argument("--worker", nargs=4, metavar=("URL", "N", "GO", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        url, n, go, out = args.worker
        worker(url, int(n), go, out)
        return

    import sqlalchemy

    with tempfile.TemporaryDirectory(dir=args.dir, prefix="bench-idgen-") as tmp:
        folder = Path(tmp)
        print(f"python {sys.version.split()[0]}, sqlite {sqlite3.sqlite_version}, sqlalchemy "
              f"{sqlalchemy.__version__}; files in {folder}")
        print("SQLite: WAL, synchronous=FULL, BEGIN IMMEDIATE for writers\n")

        url = f"sqlite:///{folder / 'single.db'}"
        make_store(url)
        secs, ids = service_run(url, args.calls, 1)
        single = len(ids) / secs
        assert len(set(ids)) == len(ids)
        print(f"service, 1 process, count=1    : {single:9,.0f} ids/s  ({args.calls} calls, "
              f"{secs / args.calls * 1000:.2f} ms/call)")

        bare = sequence_only(url, args.calls)
        print(f"  sequence only (UoW, no event)  : {bare:9,.0f} ids/s  "
              f"({1000 / bare:.2f} ms/call; MDMS read + render + outbox/audit make up the rest)")

        secs, ids = service_run(url, args.blocks, 1000)
        assert len(set(ids)) == len(ids)
        print(f"service, 1 process, count=1000 : {len(ids) / secs:9,.0f} ids/s  ({args.blocks} calls, "
              f"{secs / args.blocks * 1000:.1f} ms/call)")

        url2 = f"sqlite:///{folder / 'shared.db'}"
        make_store(url2)
        wall, total, distinct = two_processes(url2, args.calls, folder)
        verdict = "no duplicates" if total == distinct else f"{total - distinct} DUPLICATES"
        print(f"service, 2 processes, count=1  : {total / wall:9,.0f} ids/s  ({total} ids in {wall:.1f} s, "
              f"{verdict})")

        raw_n = max(args.calls, 5000)
        secs = raw_baseline(folder / "raw.db", raw_n)
        raw = raw_n / secs
        print(f"raw sqlite3 baseline, count=1  : {raw:9,.0f} ids/s  ({raw_n} transactions, "
              f"{secs / raw_n * 1000:.3f} ms/tx)")
        print(f"\nservice / raw (count=1, 1 process): {single / raw:.2f}x  "
              f"(the service also writes an outbox event and a hash-chained audit record per call)")
        if total != distinct:
            raise SystemExit(1)


if __name__ == "__main__":
    main()
