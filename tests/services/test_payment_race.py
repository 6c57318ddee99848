"""Two clerks paying one bill at the same moment, and two supervisors cancelling one receipt at
the same moment: exactly one wins, the others get a clear refusal, and the demand counts the money
once. Each worker is its own App (own engine) on one store, started together at a barrier, so on
PostgreSQL (READ COMMITTED) the payments really overlap; SQLite serialises them on BEGIN IMMEDIATE."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from digitctl.bootstrap import build
from digitctl.errors import DigitError
from digitctl.services import billing, collection, mdms, shifts
from local_store.models import Demand, DemandDetail, Payment
from tests.helpers import AMRITSAR, FEE_RATES, build_world, create, ctx_as, demand

WORKERS = 4
ROUNDS = 3


@pytest.fixture
def world(world_app):
    app = world_app
    mdms.apply(app, app.context("pb"), [FEE_RATES])
    shifts.open_shift(app, ctx_as(app, "clerk.amritsar"), "0")
    return app


def workers(world, frozen_clock, user: str):
    apps = [build(world.store_url, frozen_clock) for _ in range(WORKERS)]
    pairs = []
    for a in apps:
        ctx = ctx_as(a, user)
        billing.billing_masters(a, AMRITSAR)
        a.audit_signer  # noqa: B018  (unwrapped now, not inside the race)
        pairs.append((a, ctx))
    return pairs


def race(pairs, act) -> tuple[list, list[DigitError]]:
    barrier = threading.Barrier(len(pairs))

    def one(pair):
        barrier.wait(timeout=30)
        try:
            return act(*pair)
        except DigitError as err:
            return err

    with ThreadPoolExecutor(len(pairs)) as pool:
        results = [f.result(timeout=120) for f in [pool.submit(one, p) for p in pairs]]
    return [r for r in results if not isinstance(r, DigitError)], [r for r in results if isinstance(r, DigitError)]


def collected(app, consumer: str) -> int:
    with app.store.engine.connect() as conn:
        return conn.execute(select(func.coalesce(func.sum(DemandDetail.collection_amount_paise), 0))
                            .join(Demand, Demand.id == DemandDetail.demand_id)
                            .where(Demand.consumer_code == consumer)).scalar_one()


def test_one_bill_paid_at_once_by_several_clerks_is_paid_once_then_cancelled_once(world, frozen_clock):
    app = world
    clerks = workers(world, frozen_clock, "clerk.amritsar")
    supervisors = workers(world, frozen_clock, "supervisor.amritsar")
    try:
        for round_ in range(ROUNDS):
            code = f"TL-PAYRACE-{round_}"
            create(app, demand(code))
            [bill] = billing.fetch_bill(app, ctx_as(app, "clerk.amritsar"), AMRITSAR, consumer_code=code)
            paid, refused = race(clerks, lambda a, ctx: collection.pay(
                a, ctx, tenant_id=AMRITSAR, bill_id=bill["id"], mode="CASH", amount="1250"))
            assert len(paid) == 1, f"{len(paid)} payments of one bill: {[p['paymentDetails'][0]['receiptNumber'] for p in paid]}"
            assert {e.code for e in refused} <= {"BILL_ALREADY_PAID", "BILL_EXPIRED"}, [e.code for e in refused]
            assert collected(app, code) == 125000
            with app.store.engine.connect() as conn:
                assert conn.execute(select(func.count()).select_from(Payment)
                                    .where(Payment.consumer_code == code)).scalar_one() == 1
            receipt = paid[0]["paymentDetails"][0]["receiptNumber"]
            done, refused = race(supervisors, lambda a, ctx: collection.cancel(a, ctx, AMRITSAR, receipt, "OTHER"))
            assert len(done) == 1 and {e.code for e in refused} == {"PAYMENT_ALREADY_CANCELLED"}
            assert collected(app, code) == 0
    finally:
        for a, _ in clerks + supervisors:
            a.close()
