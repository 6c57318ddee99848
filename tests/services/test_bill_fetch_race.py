"""_fetchbill under concurrency: at most one ACTIVE bill per (tenant, business service, consumer
code), and clerks fetching the same consumer code at the same moment all get the same bill.

Each worker is its own App (its own engine and connections) on the same store, started together
at a barrier, so on PostgreSQL (READ COMMITTED) the fetches really overlap; on SQLite they
serialise on BEGIN IMMEDIATE. Migration 0005 (the partial unique index, and the clean-up of
duplicates an older store may hold) is checked on a store built at 0004."""
from __future__ import annotations

import datetime as dt
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from alembic import command
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from digitctl.bootstrap import build
from digitctl.services import billing
from local_store.engine import Store
from local_store.migrate import alembic_config
from local_store.models import Bill, DemandDetail
from tests.helpers import AMRITSAR, build_world, create, ctx_as, demand

WORKERS = 6
ROUNDS = 4


@pytest.fixture
def world(world_app):
    return world_app


@pytest.fixture
def clerks(world, frozen_clock):
    """WORKERS Apps on the world's store, each with its own engine, warmed up (access rules,
    masters, keys loaded) so that the fetches at the barrier are the only thing racing."""
    apps = [build(world.store_url, frozen_clock) for _ in range(WORKERS)]
    try:
        ctxs = []
        for a in apps:
            ctx = ctx_as(a, "clerk.amritsar")
            billing.list_demands(a, ctx, AMRITSAR, consumer_code="NONE")
            billing.billing_masters(a, AMRITSAR)
            a.audit_signer  # noqa: B018  (unwrapped now, not inside the race)
            ctxs.append(ctx)
        yield list(zip(apps, ctxs))
    finally:
        for a in apps:
            a.close()


def race(clerks, consumer_code: str) -> list[dict]:
    """Every clerk fetches `consumer_code` at once; their bills (or the exception one raised)."""
    barrier = threading.Barrier(len(clerks))

    def one(pair):
        a, ctx = pair
        barrier.wait(timeout=30)
        return billing.fetch_bill(a, ctx, AMRITSAR, consumer_code=consumer_code, business_service="TL")

    with ThreadPoolExecutor(len(clerks)) as pool:
        futures = [pool.submit(one, pair) for pair in clerks]
        results = [f.result(timeout=120) for f in futures]       # a clerk's error fails the test
    return [bills[0] for bills in results]


def bills_of(app, consumer_code: str) -> dict[str, tuple[str, str]]:
    with app.store.engine.connect() as conn:
        rows = conn.execute(select(Bill.id, Bill.bill_number, Bill.status, Bill.bill)
                            .where(Bill.tenant_id == AMRITSAR, Bill.consumer_code == consumer_code,
                                   Bill.business_service == "TL")).all()
    assert all(r.bill["status"] == r.status for r in rows)
    return {r.id: (r.bill_number, r.status) for r in rows}


def assert_one_bill_for_all(app, consumer_code: str, got: list[dict]) -> dict:
    stored = bills_of(app, consumer_code)
    active = {i: n for i, (n, s) in stored.items() if s == "ACTIVE"}
    assert len(active) == 1, f"{len(active)} ACTIVE bills for {consumer_code}: {sorted(active.values())}"
    [(bill_id, number)] = active.items()
    assert {(b["id"], b["billNumber"]) for b in got} == {(bill_id, number)}, \
        f"the clerks were handed {sorted({b['billNumber'] for b in got})}, the store holds {number}"
    return got[0]


def test_concurrent_fetches_make_one_bill_and_hand_it_to_everyone(world, clerks):
    app = world
    for round_ in range(ROUNDS):
        code = f"TL-RACE-{round_}"
        [doc] = create(app, demand(code))
        first = assert_one_bill_for_all(app, code, race(clerks, code))
        assert first["totalAmount"] == "1250.00"
        assert len(bills_of(app, code)) == 1

        # a collection changes the demand: everyone at once expires the old bill, one new bill
        with app.store.engine.begin() as conn:
            conn.execute(update(DemandDetail).where(DemandDetail.demand_id == doc["id"],
                                                    DemandDetail.tax_head_code == "TL_TAX")
                         .values(collection_amount_paise=50000))
        second = assert_one_bill_for_all(app, code, race(clerks, code))
        assert second["id"] != first["id"] and second["totalAmount"] == "750.00"
        stored = bills_of(app, code)
        assert len(stored) == 2 and stored[first["id"]][1] == "EXPIRED"

    # bill numbers were taken once each: no number was burnt by a loser of the race
    with app.store.engine.connect() as conn:
        numbers = sorted(conn.execute(select(Bill.bill_number)).scalars())
    assert numbers == [f"C01/BILL-{n:06d}" for n in range(1, 2 * ROUNDS + 1)]       # the counter code in front


def test_the_store_refuses_a_second_active_bill(world):
    app = world
    create(app, demand("TL-DUP"))
    [bill] = billing.fetch_bill(app, ctx_as(app, "clerk.amritsar"), AMRITSAR, consumer_code="TL-DUP",
                                business_service="TL")
    with app.store.engine.connect() as conn:
        row = conn.execute(select(Bill.__table__).where(Bill.id == bill["id"])).mappings().one()
        with pytest.raises(IntegrityError):
            conn.execute(Bill.__table__.insert().values({**row, "id": str(uuid.uuid4()), "bill_number": "X-1"}))
        conn.rollback()
        # EXPIRED (or PAID ...) bills of the same consumer code are not limited
        conn.execute(Bill.__table__.insert().values({**row, "id": str(uuid.uuid4()), "bill_number": "X-2",
                                                     "status": "EXPIRED"}))
        conn.commit()


# -- migration 0005 on a store that already holds duplicates ----------------------------------------
def _bill_row(bill_id: str, number: str, code: str, status: str, created: dt.datetime, *,
              tenant: str = AMRITSAR, service: str = "TL") -> dict:
    return dict(id=bill_id, tenant_id=tenant, bill_number=number, consumer_code=code, business_service=service,
                status=status, total_amount_paise=100000, expires_at=created + dt.timedelta(days=7),
                mobile_bidx=None, bill={"id": bill_id, "billNumber": number, "status": status},
                created_at=created, updated_at=created)


def test_migration_0005_expires_all_but_the_newest_active_bill(store_url):
    store = Store(store_url)
    try:
        cfg = alembic_config(store.engine)
        command.upgrade(cfg, "0004")
        t0 = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.timezone.utc)
        rows = [
            _bill_row("b-old", "BILL-1", "CC-1", "ACTIVE", t0),
            _bill_row("b-new", "BILL-3", "CC-1", "ACTIVE", t0 + dt.timedelta(hours=2)),
            _bill_row("b-mid", "BILL-2", "CC-1", "ACTIVE", t0 + dt.timedelta(hours=1)),
            _bill_row("b-gone", "BILL-0", "CC-1", "EXPIRED", t0 - dt.timedelta(days=1)),
            _bill_row("b-paid", "BILL-4", "CC-1", "PAID", t0 + dt.timedelta(hours=3)),
            _bill_row("b-other", "BILL-5", "CC-2", "ACTIVE", t0),                        # another consumer
            _bill_row("b-ws", "BILL-6", "CC-1", "ACTIVE", t0, service="WS"),             # another service
            _bill_row("b-jal", "BILL-7", "CC-1", "ACTIVE", t0, tenant="pb.jalandhar"),   # another city
        ]
        with store.engine.begin() as conn:
            conn.execute(Bill.__table__.insert(), rows)

        command.upgrade(cfg, "head")

        with store.engine.connect() as conn:
            got = {r.id: (r.status, r.bill["status"], r.updated_at)
                   for r in conn.execute(select(Bill.id, Bill.status, Bill.bill, Bill.updated_at))}
        assert {k: v[0] for k, v in got.items()} == {
            "b-old": "EXPIRED", "b-mid": "EXPIRED", "b-new": "ACTIVE", "b-gone": "EXPIRED", "b-paid": "PAID",
            "b-other": "ACTIVE", "b-ws": "ACTIVE", "b-jal": "ACTIVE"}
        assert all(status == doc_status for status, doc_status, _ in got.values())   # row and JSON agree
        assert got["b-old"][2] > t0 and got["b-new"][2] == t0 + dt.timedelta(hours=2)  # only the expired touched

        with store.engine.connect() as conn, pytest.raises(IntegrityError):
            conn.execute(Bill.__table__.insert(), [_bill_row("b-dup", "BILL-8", "CC-1", "ACTIVE", t0)])

        command.downgrade(cfg, "0004")          # reversible, and re-applies cleanly
        command.upgrade(cfg, "head")
    finally:
        store.dispose()
