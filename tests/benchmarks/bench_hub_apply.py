"""How fast does the hub apply counters' payments, against raw inserts of the same rows?
Run: `python tests/benchmarks/bench_hub_apply.py [--payments N] [--orm N] [--batch 500] [--backend postgresql|sqlite|both]`.

A hub store (the bundled state, the demo users) on the local PostgreSQL (a database made and
dropped for the run) and/or a SQLite file holds N TL demands (bulk-inserted); a counter's N
payment events for them (CASH, the full amount, as collection.pay writes them: apportionment,
the bill it paid, the payer in plain text as the wire carries it) are applied:
  (a) by the batch path `hub_apply.apply_events`, `--batch` events per call (one Core
      transaction each: the payment row, the demand line and demand, the bill, the hub's outbox
      row and signed, hash-chained audit record with the rows' seals): payments applied per second;
  (b) by the one-by-one path `hub_apply.apply_event` (the ORM services), for `--orm` payments;
  (c) raw psycopg / sqlite3 writing the same rows (payment insert, demand_detail and demand update,
      bill insert, outbox insert, audit insert with a sha256 chain; no seals, no signature), one
      transaction per batch: the floor, in the same run on the same server.
Figures are printed, never asserted. Goal (issue 11): (a) >= 1,000 payments/s on 2 cores.
"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TENANT = "pb.amritsar"
TL_FROM, TL_TO = 1585679399000, 1617172199000
NOW = dt.datetime(2026, 11, 25, 11, 0)                 # IST, as the tests' frozen clock
CREATE_URL = "/collection-services/payments/_create"
BATCH_CPU = 0.0          # this process's CPU seconds in the batch path (the machine may be shared)


def frozen_app(url: str) -> Any:
    from digitctl import bootstrap
    from digitctl.clock import IST, FixedClock

    return bootstrap.build(url, clock=FixedClock(NOW.replace(tzinfo=IST)))


def make_store(url: str) -> None:
    from digitctl.resources import bundled
    from digitctl.services import mdms, quickstart
    from digitctl.services.store import init_store

    configs = bundled("configs")
    app = frozen_app(url)
    try:
        init_store(app, app.context(), "pb", "H01")
        mdms.apply(app, app.context("pb"), [configs / "mdms" / "data" / "pb"],
                   master_config=configs / "mdms" / "master-config.json")
        quickstart.demo_users(app, app.context())
    finally:
        app.close()


def bulk_demands(app: Any, prefix: str, n: int) -> list[tuple[str, str, str]]:
    """N TL demands of 1,250 rupees (one TL_TAX line each): [(consumer code, demand id, line id)]."""
    from sqlalchemy import insert

    from local_store.models import Demand, DemandDetail

    now = NOW.replace(tzinfo=dt.timezone.utc)
    out = [(f"{prefix}-{i:07d}", str(uuid.uuid4()), str(uuid.uuid4())) for i in range(n)]
    with app.store.engine.begin() as conn:
        for start in range(0, n, 2000):
            chunk = out[start:start + 2000]
            conn.execute(insert(Demand.__table__), [dict(
                id=d, tenant_id=TENANT, consumer_code=cc, consumer_type=None, business_service="TL", payer_uuid=None,
                payer_name_enc=None, payer_mobile_enc=None, payer_mobile_bidx=None, tax_period_from=TL_FROM,
                tax_period_to=TL_TO, minimum_amount_payable_paise=0, bill_expiry_time=None, fixed_bill_expiry_date=None,
                status="ACTIVE", is_payment_completed=False, additional_details=None, created_by="bench",
                created_at=now, updated_at=now) for cc, d, _ in chunk])
            conn.execute(insert(DemandDetail.__table__), [dict(
                id=line, demand_id=d, tax_head_code="TL_TAX", tax_amount_paise=125000, collection_amount_paise=0,
                created_at=now, updated_at=now) for _, d, line in chunk])
    return out


def clerk(app: Any) -> tuple[str, str]:
    from digitctl.services import users

    with app.uow(app.base_context(), readonly=True) as uow:
        row = users.find(uow.session, "clerk.amritsar")
        return row.uuid, row.user_name


def payment_events(demands: list[tuple[str, str, str]], actor: tuple[str, str], first_seq: int) -> list[Any]:
    """The counter C07's payment events for these demands, as its outbox and the wire carry them."""
    from digitctl.domain.sync_events import ReceivedEvent

    at = NOW.replace(tzinfo=dt.timezone.utc) - dt.timedelta(hours=5, minutes=30)
    ms = int(at.timestamp() * 1000)
    shift = str(uuid.uuid4())
    out = []
    for i, (cc, did, line) in enumerate(demands):
        pid, bill_id, receipt = str(uuid.uuid4()), str(uuid.uuid4()), f"C07/11/2026-27/{first_seq + i}"
        lines = [{"demandDetailId": line, "demandId": did, "taxHeadCode": "TL_TAX", "collection": "1250.00"}]
        bill = {"id": bill_id, "billNumber": f"BILL-C07-{first_seq + i}", "tenantId": TENANT, "consumerCode": cc,
                "businessService": "TL", "status": "PAID", "totalAmount": "0.00", "billDate": ms,
                "payerName": "Simran Kaur", "mobileNumber": "9876543210",
                "billDetails": [{"demandId": did, "fromPeriod": TL_FROM, "toPeriod": TL_TO, "expiryDate": ms + 3_600_000,
                                 "amountPaid": "1250.00", "billAccountDetails": [
                                     {"taxHeadCode": "TL_TAX", "amount": "0.00", "adjustedAmount": "1250.00",
                                      "demandDetailId": line, "order": 0}]}]}
        audit = {"createdBy": actor[0], "createdTime": ms, "lastModifiedBy": actor[0], "lastModifiedTime": ms}
        doc = {"id": pid, "tenantId": TENANT, "totalDue": "1250.00", "totalAmountPaid": "1250.00",
               "transactionNumber": receipt, "transactionDate": ms, "paymentMode": "CASH", "instrumentDate": None,
               "instrumentNumber": None, "instrumentStatus": "APPROVED", "ifscCode": None,
               "additionalDetails": {"counterCode": "C07", "shiftId": shift, "collectorName": actor[1],
                                     "printCount": 0, "apportionment": lines},
               "paymentDetails": [{"id": str(uuid.uuid4()), "tenantId": TENANT, "totalDue": "1250.00",
                                   "totalAmountPaid": "1250.00", "receiptNumber": receipt, "receiptType": "BILLBASED",
                                   "receiptDate": ms, "businessService": "TL", "billId": bill_id, "bill": bill,
                                   "auditDetails": audit}],
               "paidBy": "Simran Kaur", "mobileNumber": "9876543210", "payerName": "Simran Kaur",
               "paymentStatus": "NEW", "auditDetails": audit}
        out.append(ReceivedEvent(
            event_id=str(uuid.uuid4()), counter_code="C07", seq=first_seq + i, event_type="collection.payment.created",
            tenant_id=TENANT, entity_type="Payment", entity_id=pid, occurred_at=at, payload={"Payments": [doc]},
            audit={"actorUuid": actor[0], "actorName": actor[1], "operation": CREATE_URL,
                   "after": {"receiptNumber": receipt, "totalAmountPaid": "1250.00"}}))
    return out


def run_batches(app: Any, events: list[Any], batch: int) -> float:
    from digitctl.services import hub_apply

    global BATCH_CPU
    cpu = time.process_time()
    started = time.perf_counter()
    for start in range(0, len(events), batch):
        out = hub_apply.apply_events(app, events[start:start + batch])
        bad = [o for o in out if o != "applied"]
        if bad:
            raise SystemExit(f"batch path did not apply: {bad[:3]}")
    BATCH_CPU = time.process_time() - cpu
    return time.perf_counter() - started


def run_one_by_one(app: Any, events: list[Any]) -> float:
    from digitctl.services import hub_apply

    started = time.perf_counter()
    for ev in events:
        if hub_apply.apply_event(app, ev) != "applied":
            raise SystemExit("one-by-one path did not apply")
    return time.perf_counter() - started


# -- raw baselines ------------------------------------------------------------------------------
def raw_rows(events: list[Any]) -> list[dict[str, Any]]:
    rows = []
    for ev in events:
        doc = ev.payload["Payments"][0]
        pd = doc["paymentDetails"][0]
        line = doc["additionalDetails"]["apportionment"][0]
        rows.append({"pid": doc["id"], "receipt": pd["receiptNumber"], "bill_id": pd["billId"],
                     "cc": pd["bill"]["consumerCode"], "line": line["demandDetailId"], "demand": line["demandId"],
                     "doc": json.dumps(doc), "bill": json.dumps(pd["bill"]), "event_id": ev.event_id})
    return rows


def raw_batch_sql(rows: list[dict[str, Any]], prev: str, now: dt.datetime, ph: str) -> tuple[list[tuple[str, list[tuple[Any, ...]]]], str]:
    p = ph
    pay, upd, dem, bills, outbox, audit = [], [], [], [], [], []
    for r in rows:
        pay.append((r["pid"], TENANT, r["receipt"], now, "C07", None, "bench", r["bill_id"], "TL", r["cc"], "CASH",
                    125000, 125000, None, None, "APPROVED", "NEW", None, None, r["doc"], now, now))
        upd.append((now, r["line"]))
        dem.append((now, r["demand"]))
        bills.append((r["bill_id"], TENANT, r["bill_id"], r["cc"], "TL", "PAID", 0, now, None, r["bill"], now, now))
        outbox.append((r["event_id"], "collection.payment.created", TENANT, "Payment", r["pid"], r["doc"], now, "bench",
                       "H01", 0))
        h = hashlib.sha256((prev + r["doc"]).encode()).hexdigest()
        audit.append((str(uuid.uuid4()), r["event_id"], now, "bench", "clerk.amritsar", TENANT, CREATE_URL, "Payment",
                      r["pid"], None, None, prev, h))
        prev = h
    q = ",".join([p] * 22)
    return [
        (f"INSERT INTO payment (id, tenant_id, receipt_number, receipt_date, counter_code, shift_id, collector_uuid, "
         f"bill_id, business_service, consumer_code, payment_mode, total_due_paise, amount_paid_paise, "
         f"instrument_number, instrument_date, instrument_status, payment_status, cancel_reason, remittance_id, "
         f"payment, created_at, updated_at) VALUES ({q})", pay),
        (f"UPDATE demand_detail SET collection_amount_paise = tax_amount_paise, updated_at = {p} WHERE id = {p}", upd),
        (f"UPDATE demand SET is_payment_completed = TRUE, updated_at = {p} WHERE id = {p}", dem),
        (f"INSERT INTO bill (id, tenant_id, bill_number, consumer_code, business_service, status, total_amount_paise, "
         f"expires_at, mobile_bidx, bill, created_at, updated_at) VALUES ({','.join([p] * 12)})", bills),
        (f"INSERT INTO outbox_event (event_id, event_type, tenant_id, entity_type, entity_id, payload, occurred_at, "
         f"store_id, counter_code, attempts) VALUES ({','.join([p] * 10)})", outbox),
        (f"INSERT INTO audit_record (record_id, event_id, occurred_at, actor_uuid, actor_name, tenant_id, operation, "
         f"entity_type, entity_id, before, after, prev_hash, hash) VALUES ({','.join([p] * 13)})", audit),
    ], prev


def raw_postgres(dsn: str, events: list[Any], batch: int) -> float:
    import psycopg

    rows = raw_rows(events)
    now = NOW.replace(tzinfo=dt.timezone.utc)
    prev = "0" * 64
    started = time.perf_counter()
    with psycopg.connect(dsn) as con:
        for start in range(0, len(rows), batch):
            statements, prev = raw_batch_sql(rows[start:start + batch], prev, now, "%s")
            with con.cursor() as cur:
                for sql, params in statements:
                    cur.executemany(sql, params)
            con.commit()
    return time.perf_counter() - started


def raw_sqlite(path: str, events: list[Any], batch: int) -> float:
    import sqlite3

    rows = raw_rows(events)
    now = NOW.replace(tzinfo=dt.timezone.utc).isoformat()
    prev = "0" * 64
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=FULL")
    started = time.perf_counter()
    for start in range(0, len(rows), batch):
        statements, prev = raw_batch_sql(rows[start:start + batch], prev, now, "?")   # type: ignore[arg-type]
        con.execute("BEGIN IMMEDIATE")
        for sql, params in statements:
            con.executemany(sql.replace("TRUE", "1"), params)
        con.execute("COMMIT")
    con.close()
    return time.perf_counter() - started


# -- one backend ------------------------------------------------------------------------------------
def bench(url: str, raw: Any, n: int, orm_n: int, batch: int) -> None:
    make_store(url)
    app = frozen_app(url)
    try:
        actor = clerk(app)
        batch_events = payment_events(bulk_demands(app, "BATCH", n), actor, 1)
        orm_events = payment_events(bulk_demands(app, "ORM", orm_n), actor, n + 1)
        raw_events = payment_events(bulk_demands(app, "RAW", n), actor, n + orm_n + 1)
        secs = run_batches(app, batch_events, batch)
        orm_secs = run_one_by_one(app, orm_events) if orm_n else 0.0
    finally:
        app.close()
    raw_secs = raw(raw_events, batch)
    rate, raw_rate = n / secs, n / raw_secs
    print(f"  batch path (apply_events, {batch}/call): {n} payments in {secs:.2f} s = {rate:,.0f} payments/s "
          f"(this process's CPU: {BATCH_CPU / n * 1000:.2f} ms a payment)")
    if orm_n:
        print(f"  one by one (apply_event, ORM):        {orm_n} payments in {orm_secs:.2f} s = "
              f"{orm_n / orm_secs:,.0f} payments/s ({orm_secs / orm_n * 1000:.2f} ms each)")
    print(f"  raw inserts of the same rows:          {n} payments in {raw_secs:.2f} s = {raw_rate:,.0f} payments/s")
    print(f"  batch path / raw: {rate / raw_rate:.2f}x   goal >= 1,000 payments/s: "
          f"{'met' if rate >= 1000 else 'NOT met'}")


def main() -> int:
    import os

    print(f"load average: {', '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--payments", type=int, default=5000)
    ap.add_argument("--orm", type=int, default=300)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--backend", choices=("postgresql", "sqlite", "both"), default="both")
    args = ap.parse_args()
    if args.backend in ("postgresql", "both"):
        try:
            import psycopg

            admin = psycopg.connect(PG_SERVER.replace("+psycopg", ""), autocommit=True, connect_timeout=3)
        except Exception as err:        # noqa: BLE001 - a bench without a server says so and goes on
            print(f"PostgreSQL: not reachable ({err}); skipped")
        else:
            name = f"digitctl_bench_hub_{uuid.uuid4().hex[:8]}"
            admin.execute(f'CREATE DATABASE "{name}"')
            url = PG_SERVER.rsplit("/", 1)[0] + "/" + name
            try:
                print(f"PostgreSQL ({name}):")
                bench(url, lambda evs, b: raw_postgres(url.replace("+psycopg", ""), evs, b),
                      args.payments, args.orm, args.batch)
            finally:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                admin.close()
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "hub.db"
            print(f"SQLite ({path}):")
            bench(f"sqlite:///{path}", lambda evs, b: raw_sqlite(str(path), evs, b), args.payments, args.orm,
                  args.batch)
    return 0


if __name__ == "__main__":
    sys.exit(main())
