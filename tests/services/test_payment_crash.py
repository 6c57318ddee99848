"""kill -9 while recording payments: a child process pays (and now and then cancels) bills in a
loop on a SQLite store; the parent kills it with SIGKILL at random moments, many times, and
restarts it. Afterwards every payment must be whole or absent: receipt numbers unique and without
gaps, one "created" outbox event and one audit record per payment, one cancel event per cancelled
payment, demand collections adding up to the live payments, bills PAID exactly for live payments,
and the audit chain verifying.

Scale the waits with DIGIT_SLOW_SCALE (e.g. 2 on a slow machine)."""
from __future__ import annotations

import datetime as dt
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from digitctl.bootstrap import build
from digitctl.clock import IST, FixedClock
from digitctl.context import RequestContext
from digitctl.services import audit, billing, collection, shifts, users
from local_store.models import AuditRecord, Bill, DemandDetail, OutboxEvent, Payment

pytestmark = pytest.mark.slow

NOW = dt.datetime(2026, 11, 25, 11, 0, tzinfo=IST)
TENANT = "pb.amritsar"
# Enough bills that the kills always strike mid-run: here (2 cores) the child records ~10-150
# payments across all 15 kills; whatever is left, the final clean run pays.
BILLS = 300
KILLS = 15
TL_FROM, TL_TO = 1585679399000, 1617172199000

CHILD = textwrap.dedent('''
    import datetime as dt, sys
    from sqlalchemy import select
    from digitctl.bootstrap import build
    from digitctl.clock import IST, FixedClock
    from digitctl.context import RequestContext
    from digitctl.services import collection, users
    from local_store.models import Bill

    app = build(sys.argv[1], FixedClock(dt.datetime(2026, 11, 25, 11, 0, tzinfo=IST)))
    with app.uow(app.base_context(), readonly=True) as uow:
        actor = users.actor_of(uow.session, users.find(uow.session, "clerk.amritsar"))
        boss = users.actor_of(uow.session, users.find(uow.session, "supervisor.amritsar"))
    ctx = RequestContext(actor=actor, clock=app.clock)
    supervisor = RequestContext(actor=boss, clock=app.clock)
    print("ready", flush=True)
    while True:
        with app.store.engine.connect() as conn:
            bill_id = conn.execute(select(Bill.id).where(Bill.status == "ACTIVE").order_by(Bill.bill_number)
                                   .limit(1)).scalar()
        if bill_id is None:
            break
        doc = collection.pay(app, ctx, tenant_id="pb.amritsar", bill_id=bill_id, mode="CASH", amount="1000")
        receipt = doc["paymentDetails"][0]["receiptNumber"]
        if int(receipt.rsplit("/", 1)[1]) % 4 == 0:
            collection.cancel(app, supervisor, "pb.amritsar", receipt, "ERRORRECEIPT")
    print("done", flush=True)
''')


def ctx_as(app, user_name: str) -> RequestContext:
    with app.uow(app.base_context(), readonly=True) as uow:
        actor = users.actor_of(uow.session, users.find(uow.session, user_name))
    return RequestContext(actor=actor, clock=app.clock)


@pytest.fixture
def store(demo_users_url: str) -> str:
    """The bundled state and the demo users (a copy of conftest's template), BILLS bills, a shift."""
    url = demo_users_url
    app = build(url, FixedClock(NOW))
    try:
        clerk = ctx_as(app, "clerk.amritsar")
        billing.create_demands(app, clerk, [
            {"tenantId": TENANT, "consumerCode": f"TL-K-{i:04d}", "businessService": "TL", "taxPeriodFrom": TL_FROM,
             "taxPeriodTo": TL_TO, "payer": {"name": "Simran Kaur", "mobileNumber": "9876543210"},
             "demandDetails": [{"taxHeadMasterCode": "TL_TAX", "taxAmount": "1000", "collectionAmount": "0"}]}
            for i in range(BILLS)])
        assert len(billing.fetch_bill(app, clerk, TENANT, mobile="9876543210")) == BILLS
        shifts.open_shift(app, clerk, "0")
    finally:
        app.close()
    return url


def _run_child(script: Path, url: str, kill_after: float | None) -> str:
    proc = subprocess.Popen([sys.executable, str(script), url], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=os.environ.copy())
    assert proc.stdout is not None
    first = proc.stdout.readline().strip()
    if first != "ready":
        proc.kill()
        raise AssertionError(f"child did not start: {first!r} {proc.stderr.read() if proc.stderr else ''}")
    if kill_after is None:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
        return out
    time.sleep(kill_after)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL or proc.returncode == 0
    return ""


def test_kill_9_leaves_each_payment_whole_or_absent(store, tmp_path):
    scale = max(1.0, float(os.environ.get("DIGIT_SLOW_SCALE", "1")))     # only ever longer waits
    script = tmp_path / "payer.py"
    script.write_text(CHILD)
    rng = random.Random(int(os.environ.get("DIGIT_CRASH_SEED", "0")) or None)
    app = build(store, FixedClock(NOW))
    try:
        progress = []
        for _ in range(KILLS):
            _run_child(script, store, rng.uniform(0.05, 0.5) * scale)
            with app.store.engine.connect() as conn:
                progress.append(conn.execute(select(func.count()).select_from(Payment)).scalar_one())
        assert progress[-1] > 0, "the child never recorded a payment before being killed"
        print(f"payments after each kill: {progress}")
        check_invariants(app)
        _run_child(script, store, None)              # a clean run finishes what is left
        check_invariants(app)
        with app.store.engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(Bill).where(Bill.status == "ACTIVE")).scalar_one() == 0
    finally:
        app.close()


def check_invariants(app) -> None:
    with app.store.engine.connect() as conn:
        payments = conn.execute(select(Payment.id, Payment.receipt_number, Payment.payment_status,
                                       Payment.amount_paid_paise, Payment.bill_id)).all()
        receipts = [p.receipt_number for p in payments]
        assert len(receipts) == len(set(receipts)), "duplicate receipt numbers"
        seqs = sorted(int(r.rsplit("/", 1)[1]) for r in receipts)
        assert seqs == list(range(1, len(seqs) + 1)), "a receipt number was lost or reused"
        assert all(r.startswith("C01/") for r in receipts)

        def per_entity(event_type: str) -> dict[str, int]:
            return dict(conn.execute(select(OutboxEvent.entity_id, func.count()).where(
                OutboxEvent.event_type == event_type).group_by(OutboxEvent.entity_id)).all())

        created = per_entity("collection.payment.created")
        cancelled = per_entity("collection.payment.cancelled")
        audits = dict(conn.execute(select(AuditRecord.entity_id, func.count()).where(
            AuditRecord.entity_type == "Payment", AuditRecord.operation == collection.CREATE_URL)
            .group_by(AuditRecord.entity_id)).all())
        ids = {p.id for p in payments}
        assert set(created) == ids and set(created.values()) <= {1}
        assert set(audits) == ids and set(audits.values()) <= {1}
        cancelled_ids = {p.id for p in payments if p.payment_status == "CANCELLED"}
        assert set(cancelled) == cancelled_ids and set(cancelled.values()) <= {1}

        live = [p for p in payments if p.payment_status != "CANCELLED"]
        collected = conn.execute(select(func.coalesce(func.sum(DemandDetail.collection_amount_paise), 0))).scalar_one()
        assert collected == sum(p.amount_paid_paise for p in live)
        paid_bills = set(conn.execute(select(Bill.id).where(Bill.status == "PAID")).scalars())
        assert paid_bills == {p.bill_id for p in live}
    report = audit.verify(app, ctx_as(app, "admin"))
    assert report.ok, report
