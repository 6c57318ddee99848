"""How fast does the counter take payments and find bills on SQLite, against the bare minimum?
Run: `python tests/benchmarks/bench_payments.py [--bills N] [--demands N] [--fetches N] [--dir DIR]`.

Measures, in one run and on one file system:
  (a) payments recorded per second through `collection.pay` (CASH, the full amount, one durable
      transaction each: payment + receipt number + bill PAID + demand collected + outbox event +
      hash-chained audit record), for N prepared bills (default 300); and a raw sqlite3 baseline
      writing the same rows per transaction (payment row + demand_detail update + outbox row +
      audit row; BEGIN IMMEDIATE, WAL, synchronous=FULL): the ratio;
  (b) `billing.fetch_bill` by consumer code among 1,000,000 demands (bulk-inserted with SQLAlchemy
      Core in batches, one TL_TAX line each): median and p95 ms over 200 fetches of random consumer
      codes (each fetch generates a bill, or reuses one); and the same lookup (demand rows + their
      lines) by raw sqlite3 as the baseline.
Figures are printed, never asserted. Takes 1-2 minutes with the defaults.
"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

TENANT = "pb.amritsar"
TL_FROM, TL_TO = 1585679399000, 1617172199000          # TLRENEWAL2020: the bundled TL periods end in 2021
NOW = dt.datetime(2026, 11, 25, 11, 0)                 # IST, as the tests' frozen clock


def frozen_app(url: str):
    from digitctl import bootstrap
    from digitctl.clock import IST, FixedClock

    return bootstrap.build(url, clock=FixedClock(NOW.replace(tzinfo=IST)))


def ctx_as(app, user_name: str):
    from digitctl.context import RequestContext
    from digitctl.services import users

    with app.uow(app.base_context(), readonly=True) as uow:
        actor = users.actor_of(uow.session, users.find(uow.session, user_name))
    return RequestContext(actor=actor, clock=app.clock)


def make_store(url: str) -> None:
    """The bundled state (masters, FeeRates, tax heads, periods) and the demo users."""
    from digitctl.resources import bundled
    from digitctl.services import mdms, quickstart
    from digitctl.services.store import init_store

    configs = bundled("configs")
    app = frozen_app(url)
    try:
        init_store(app, app.context(), "pb", "C01")
        mdms.apply(app, app.context("pb"), [configs / "mdms" / "data" / "pb"],
                   master_config=configs / "mdms" / "master-config.json")
        quickstart.demo_users(app, app.context())
    finally:
        app.close()


def demand(consumer: str, rupees: str = "1250") -> dict[str, Any]:
    return {"tenantId": TENANT, "consumerCode": consumer, "businessService": "TL", "taxPeriodFrom": TL_FROM,
            "taxPeriodTo": TL_TO, "minimumAmountPayable": 0,
            "payer": {"name": "Simran Kaur", "mobileNumber": "9876543210"},
            "demandDetails": [{"taxHeadMasterCode": "TL_TAX", "taxAmount": Decimal(rupees),
                               "collectionAmount": Decimal("0")}]}


# -- (a) payments ------------------------------------------------------------------------------------
def service_payments(url: str, n: int) -> tuple[float, float, dict[str, Any]]:
    """(payments/s, seconds to prepare the bills, one Payment JSON)."""
    from digitctl.services import billing, collection, shifts

    app = frozen_app(url)
    try:
        clerk = ctx_as(app, "clerk.amritsar")
        shifts.open_shift(app, clerk, "1000")
        t0 = time.perf_counter()
        billing.create_demands(app, clerk, [demand(f"TL-PAY-{i:05d}") for i in range(n + 1)])
        bills = [billing.fetch_bill(app, clerk, TENANT, consumer_code=f"TL-PAY-{i:05d}", business_service="TL")[0]
                 for i in range(n + 1)]
        prepared = time.perf_counter() - t0
        warm = bills.pop()                     # one payment first: caches, prepared statements, the pool
        collection.pay(app, clerk, tenant_id=TENANT, bill_id=warm["id"], mode="CASH", amount=warm["totalAmount"])
        start = time.perf_counter()
        doc: dict[str, Any] = {}
        for bill in bills:
            doc = collection.pay(app, clerk, tenant_id=TENANT, bill_id=bill["id"], mode="CASH",
                                 amount=bill["totalAmount"], payer_name="Simran Kaur")
        elapsed = time.perf_counter() - start
        assert doc["paymentDetails"][0]["bill"]["status"] == "PAID"
        return n / elapsed, prepared, doc
    finally:
        app.close()


RAW_SCHEMA = """
CREATE TABLE demand_detail (id TEXT PRIMARY KEY, demand_id TEXT NOT NULL, tax_head_code TEXT NOT NULL,
    tax_amount_paise INTEGER NOT NULL, collection_amount_paise INTEGER NOT NULL DEFAULT 0, updated_at TEXT);
CREATE TABLE payment (id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, receipt_number TEXT NOT NULL,
    receipt_date TEXT NOT NULL, bill_id TEXT NOT NULL, consumer_code TEXT NOT NULL, payment_mode TEXT NOT NULL,
    amount_paid_paise INTEGER NOT NULL, payment TEXT NOT NULL, UNIQUE (tenant_id, receipt_number));
CREATE TABLE outbox_event (seq INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT UNIQUE, event_type TEXT,
    tenant_id TEXT, entity_id TEXT, payload TEXT, occurred_at TEXT);
CREATE TABLE audit_record (seq INTEGER PRIMARY KEY AUTOINCREMENT, record_id TEXT UNIQUE, occurred_at TEXT,
    operation TEXT, entity_id TEXT, after TEXT, prev_hash TEXT, hash TEXT);
"""


def raw_payments(path: Path, n: int, sample: dict[str, Any]) -> float:
    """The floor: per payment one durable transaction with the same four writes, the service's own
    Payment JSON as the payload (same size), a sha256 chain for the audit rows."""
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode = WAL")
    con.execute("PRAGMA synchronous = FULL")
    con.executescript(RAW_SCHEMA)
    con.execute("BEGIN")
    con.executemany("INSERT INTO demand_detail VALUES (?, ?, 'TL_TAX', 125000, 0, NULL)",
                    [(f"dd-{i}", f"d-{i}") for i in range(n)])
    con.execute("COMMIT")
    body = json.dumps(sample, separators=(",", ":"))
    prev = "0" * 64
    start = time.perf_counter()
    for i in range(n):
        now = dt.datetime.now(dt.timezone.utc).isoformat()
        pid = str(uuid.uuid4())
        con.execute("BEGIN IMMEDIATE")
        con.execute("INSERT INTO payment VALUES (?, ?, ?, ?, ?, ?, 'CASH', 125000, ?)",
                    (pid, TENANT, f"C01/107/2026-27/{i + 1:06d}", now, f"bill-{i}", f"TL-PAY-{i:05d}", body))
        con.execute("UPDATE demand_detail SET collection_amount_paise = tax_amount_paise, updated_at = ? "
                    "WHERE id = ?", (now, f"dd-{i}"))
        con.execute("INSERT INTO outbox_event (event_id, event_type, tenant_id, entity_id, payload, occurred_at) "
                    "VALUES (?, 'collection.payment.created', ?, ?, ?, ?)", (str(uuid.uuid4()), TENANT, pid, body, now))
        digest = hashlib.sha256((prev + pid + body).encode()).hexdigest()
        con.execute("INSERT INTO audit_record (record_id, occurred_at, operation, entity_id, after, prev_hash, hash) "
                    "VALUES (?, ?, '/collection-services/payments/_create', ?, ?, ?, ?)",
                    (str(uuid.uuid4()), now, pid, body, prev, digest))
        con.execute("COMMIT")
        prev = digest
    elapsed = time.perf_counter() - start
    assert con.execute("SELECT count(*) FROM payment").fetchone()[0] == n
    con.close()
    return n / elapsed


# -- (b) fetch_bill among a million demands ------------------------------------------------------------
def bulk_demands(url: str, n: int, batch: int) -> float:
    """n demands with one TL_TAX line each, copied from one made by the service (its encrypted
    payer, blind index and details), inserted with Core in batches. Returns seconds."""
    from sqlalchemy import insert, select

    from digitctl.services import billing
    from local_store.models import Demand, DemandDetail

    app = frozen_app(url)
    try:
        clerk = ctx_as(app, "clerk.amritsar")
        [doc] = billing.create_demands(app, clerk, [demand("TL-BULK-TEMPLATE")])
        engine = app.store.engine
        with engine.connect() as conn:
            d = dict(conn.execute(select(Demand.__table__).where(Demand.id == doc["id"])).mappings().one())
            dd = dict(conn.execute(select(DemandDetail.__table__)
                                   .where(DemandDetail.demand_id == doc["id"])).mappings().first())
        start = time.perf_counter()
        for lo in range(0, n, batch):
            hi = min(lo + batch, n)
            demands = [{**d, "id": f"bulk-{i:08d}", "consumer_code": f"TL-BULK-{i:07d}"} for i in range(lo, hi)]
            lines = [{**dd, "id": f"bulkline-{i:08d}", "demand_id": f"bulk-{i:08d}"} for i in range(lo, hi)]
            with engine.begin() as conn:
                conn.execute(insert(Demand.__table__), demands)
                conn.execute(insert(DemandDetail.__table__), lines)
            del demands, lines
        return time.perf_counter() - start
    finally:
        app.close()


def service_fetches(url: str, codes: list[str]) -> list[float]:
    from digitctl.services import billing

    app = frozen_app(url)
    try:
        clerk = ctx_as(app, "clerk.amritsar")
        billing.fetch_bill(app, clerk, TENANT, consumer_code="TL-BULK-TEMPLATE", business_service="TL")   # warm
        out = []
        for code in codes:
            t = time.perf_counter()
            [bill] = billing.fetch_bill(app, clerk, TENANT, consumer_code=code, business_service="TL")
            out.append((time.perf_counter() - t) * 1000)
            assert bill["consumerCode"] == code and bill["totalAmount"] == "1250.00"
        return out
    finally:
        app.close()


def raw_fetches(path: Path, codes: list[str]) -> list[float]:
    """The same lookup by raw sqlite3: the ACTIVE demands of a consumer code and their lines."""
    con = sqlite3.connect(path, isolation_level=None)
    out = []
    for code in codes:
        t = time.perf_counter()
        rows = con.execute("SELECT * FROM demand WHERE tenant_id = ? AND consumer_code = ? AND business_service = ? "
                           "AND status = 'ACTIVE' ORDER BY tax_period_from", (TENANT, code, "TL")).fetchall()
        ids = [r[0] for r in rows]
        lines = con.execute(f"SELECT * FROM demand_detail WHERE demand_id IN ({','.join('?' * len(ids))})",
                            ids).fetchall()
        out.append((time.perf_counter() - t) * 1000)
        assert len(rows) == 1 and len(lines) == 1
    con.close()
    return out


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[94]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bills", type=int, default=300, help="payments to record (default 300)")
    parser.add_argument("--demands", type=int, default=1_000_000, help="demands for the fetch test (default 1M)")
    parser.add_argument("--batch", type=int, default=20_000, help="rows per bulk-insert transaction")
    parser.add_argument("--fetches", type=int, default=200, help="fetch_bill calls (default 200)")
    parser.add_argument("--dir", default=None, help="where the store files go (default: a temp dir)")
    args = parser.parse_args()

    import sqlalchemy

    with tempfile.TemporaryDirectory(dir=args.dir, prefix="bench-payments-") as tmp:
        folder = Path(tmp)
        os.environ["DIGIT_CONFIG_DIR"] = str(folder / "config")     # master key, sessions: never the user's
        for var in ("DIGIT_MASTER_KEY", "DIGIT_MASTER_KEY_FILE", "DIGIT_TOKEN", "DIGIT_STORE", "DIGITCTL_NOW"):
            os.environ.pop(var, None)
        print(f"python {sys.version.split()[0]}, sqlite {sqlite3.sqlite_version}, sqlalchemy "
              f"{sqlalchemy.__version__}; files in {folder}")
        print("SQLite: WAL, synchronous=FULL, BEGIN IMMEDIATE for writers\n")

        db = folder / "store.db"
        url = f"sqlite:///{db}"
        t0 = time.perf_counter()
        make_store(url)
        print(f"store with the bundled state and demo users: {time.perf_counter() - t0:.1f} s\n")

        print(f"(a) payments, CASH, full amount, {args.bills} bills")
        service, prepared, sample = service_payments(url, args.bills)
        print(f"  bills prepared (1 create_demands + {args.bills + 1} fetch_bill): {prepared:.1f} s")
        print(f"  collection.pay                : {service:8,.1f} payments/s  ({1000 / service:.2f} ms/payment)")
        raw = raw_payments(folder / "raw-pay.db", args.bills, sample)
        print(f"  raw sqlite3, same 4 writes/tx : {raw:8,.1f} payments/s  ({1000 / raw:.2f} ms/payment; "
              f"payload {len(json.dumps(sample)):,} bytes)")
        print(f"  service / raw                 : {service / raw:.2f}x\n")

        print(f"(b) fetch_bill by consumer code among {args.demands:,} demands")
        secs = bulk_demands(url, args.demands, args.batch)
        size = db.stat().st_size / 2**20
        print(f"  bulk insert (Core, {args.batch:,}/tx): {secs:.1f} s for {args.demands:,} demands + "
              f"{args.demands:,} lines ({args.demands / secs:,.0f} demands/s); store {size:,.0f} MiB")
        rng = random.Random(20261125)
        picks = rng.sample(range(args.demands), 2 * args.fetches)
        codes = [f"TL-BULK-{i:07d}" for i in picks]
        fresh = service_fetches(url, codes[:args.fetches])
        again = service_fetches(url, codes[:args.fetches])
        print(f"  fetch_bill, new bill each     : median {statistics.median(fresh):6.2f} ms, "
              f"p95 {p95(fresh):6.2f} ms  ({args.fetches} random codes)")
        print(f"  fetch_bill, bill reused       : median {statistics.median(again):6.2f} ms, "
              f"p95 {p95(again):6.2f} ms  (the same codes again)")
        base = raw_fetches(db, codes[args.fetches:])
        print(f"  raw sqlite3 lookup            : median {statistics.median(base):6.3f} ms, "
              f"p95 {p95(base):6.3f} ms  (demand + lines by the consumer index, other random codes)")
        print(f"  service / raw (median)        : {statistics.median(fresh) / statistics.median(base):,.0f}x new, "
              f"{statistics.median(again) / statistics.median(base):,.0f}x reused")


if __name__ == "__main__":
    main()
