"""MDMS apply and search speed (figures printed, never asserted; DESIGN.md rule 10).

1. `mdms.apply` of DIGIT's whole pb tree into a fresh SQLite store through the service,
   then a second (no-op) apply, then the same rows inserted with raw sqlite3 as a floor.
2. `mdms.search` BillingService.TaxHeadMaster at pb.amritsar with a JSONPath filter, warm and cold.

Run: python tests/benchmarks/bench_mdms.py"""
from __future__ import annotations

import json
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
PB = REPO.parent / "shared" / "digit-reference" / "mdms" / "data" / "pb"
SEARCH_CALLS = 200
FILTER = "[?(@.service=='TL')]"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.3f} ms"


def percentile(values: list[float], pct: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]


def raw_insert(path: Path, ddl: list[str], columns: list[str], rows: list[tuple[Any, ...]]) -> float:
    """The floor: one executemany in one transaction, same pragmas as the store's engine."""
    conn = sqlite3.connect(path, isolation_level=None)
    for pragma in ("busy_timeout = 30000", "journal_mode = WAL", "foreign_keys = ON", "synchronous = FULL"):
        conn.execute(f"PRAGMA {pragma}")
    for statement in ddl:
        conn.execute(statement)
    sql = f"INSERT INTO mdms_record ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    data_at = columns.index("data")
    started = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    # JSON encoding is part of the work the service does too.
    conn.executemany(sql, [r[:data_at] + (json.dumps(r[data_at]),) + r[data_at + 1:] for r in rows])
    conn.execute("COMMIT")
    took = time.perf_counter() - started
    conn.close()
    return took


def main() -> int:
    if not PB.is_dir():
        print(f"skipped: DIGIT reference data not found at {PB}")
        return 0
    from sqlalchemy import select

    from digitctl.bootstrap import build
    from digitctl.services import mdms
    from digitctl.services.mdms_files import read_paths
    from digitctl.services.store import init_store
    from local_store.models import MdmsRecord

    with tempfile.TemporaryDirectory() as tmp:
        app = build(f"sqlite:///{Path(tmp) / 'store.db'}")
        try:
            init_store(app, app.context(), "pb", "C01")
            ctx = app.context()
            print(f"MDMS apply of {PB}")

            started = time.perf_counter()
            read = read_paths([PB])
            read_s = time.perf_counter() - started

            started = time.perf_counter()
            report = mdms.apply(app, ctx, [PB])
            first_s = time.perf_counter() - started
            added = report.total("added")
            print(f"  first apply   {first_s:7.2f} s  {added} records added from {report.files_read} files, "
                  f"{len(report.masters)} masters  ({added / first_s:,.0f} records/s; "
                  f"reading the files alone {read_s:.2f} s, {len(read.batches)} batches)")

            started = time.perf_counter()
            again = mdms.apply(app, ctx, [PB])
            second_s = time.perf_counter() - started
            print(f"  second apply  {second_s:7.2f} s  no-op: {again.total('added')} added, "
                  f"{again.total('changed')} changed, {again.total('unchanged')} unchanged")

            table = MdmsRecord.__table__
            columns = [c.name for c in table.columns if c.name != "id"]
            with app.store.readonly_engine.connect() as conn:
                rows = [tuple(r) for r in conn.execute(select(*[table.c[c] for c in columns]))]
                ddl = [s for (s,) in conn.exec_driver_sql(
                    "SELECT sql FROM sqlite_master WHERE tbl_name = 'mdms_record' AND sql IS NOT NULL "
                    "ORDER BY type DESC")]
            raw_s = raw_insert(Path(tmp) / "raw.db", ddl, columns, rows)
            print(f"  raw sqlite3   {raw_s:7.2f} s  {len(rows)} rows, executemany in one transaction "
                  f"({len(rows) / raw_s:,.0f} rows/s); service/raw = {first_s / raw_s:.1f}x")

            print(f"\nMDMS search BillingService.TaxHeadMaster at pb.amritsar, filter {FILTER}, "
                  f"{SEARCH_CALLS} calls")
            search_ctx = app.context("pb.amritsar")

            def one() -> tuple[float, int]:
                started = time.perf_counter()
                res = mdms.search(app, search_ctx, "pb.amritsar", "BillingService", ["TaxHeadMaster"], FILTER)
                return time.perf_counter() - started, len(res["MdmsRes"]["BillingService"]["TaxHeadMaster"])

            _, found = one()
            warm = [one()[0] for _ in range(SEARCH_CALLS)]
            cold = []
            for _ in range(SEARCH_CALLS):
                app.mdms.invalidate()
                cold.append(one()[0])
            for label, values in (("warm cache", warm), ("cold cache", cold)):
                print(f"  {label}  median {ms(statistics.median(values))}  p95 {ms(percentile(values, 95))}"
                      f"  ({found} records match)")
        finally:
            app.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
