"""The counter side of registration and numbering (sync/PROTOCOL.md), against the fake hub:
the hub's code adopted or refused, past business events numbered and set-up left local, every
later outbox row numbered gap-free in its own transaction, even from two processes at once."""
from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from digitctl.bootstrap import App
from digitctl.domain.events import Event
from digitctl.domain.identity import NewUser
from digitctl.errors import Conflict
from digitctl.services import sync_outbox, users
from local_store.models import OutboxEvent, StoreMeta
from sync.client import HubRefused
from tests.sync.fake_hub import FakeHub
from tests.helpers import AMRITSAR, ctx_as
from tests.sync.support import counter_seqs, pay, register

HUB = "http://hub.test"
SCALE = float(os.environ.get("DIGIT_SLOW_SCALE", "1.0"))


def meta(app: App) -> dict[str, str]:
    with app.store.engine.connect() as conn:
        return dict(conn.execute(select(StoreMeta.key, StoreMeta.value)).all())


def outbox_types(app: App, numbered: bool) -> list[str]:
    col = OutboxEvent.counter_seq
    with app.store.engine.connect() as conn:
        return [t for (t,) in conn.execute(select(OutboxEvent.event_type).where(
            col.is_not(None) if numbered else col.is_(None)).order_by(OutboxEvent.seq))]


def users_created_by(app: App, numbered: bool) -> list[str]:
    """The user names of the user.created events numbered (or left local) at registration."""
    col = OutboxEvent.counter_seq
    with app.store.engine.connect() as conn:
        return [p["user"]["userName"] for (p,) in conn.execute(select(OutboxEvent.payload).where(
            OutboxEvent.event_type == "user.created", col.is_not(None) if numbered else col.is_(None)))]


def test_unregistered_store_numbers_nothing(counter: App) -> None:
    pay(counter, "UNREG-1")
    assert counter_seqs(counter) == []
    assert "sync_last_seq" not in meta(counter)


def test_registration_keeps_the_code_numbers_past_business_and_every_later_event(counter: App,
                                                                                  fake_hub: FakeHub) -> None:
    pay(counter, "PAST-1")                                  # a receipt under C01 before registering
    users.create_user(counter, ctx_as(counter, "clerk.amritsar"), NewUser(   # a citizen the clerk registered
        user_name="citizen.past", name="Gurpreet Kaur", type="CITIZEN", tenant_id=AMRITSAR, mobile="9876522222",
        roles=[("CITIZEN", AMRITSAR)]))
    before_local = set(outbox_types(counter, numbered=False))
    done = register(counter, HUB, fake_hub.enrol("ENROL-1", "C01"))
    assert done["counterCode"] == "C01" and done["previousCounterCode"] == "C01" and done["hubId"] == "fake-hub"

    numbered = outbox_types(counter, numbered=True)
    # the state's business went first, in outbox order; then the registration itself
    assert numbered[-1] == "sync.registered"
    assert {"application.created", "workflow.transitioned", "billing.demand.created", "shift.opened",
            "collection.payment.created", "user.created"} <= set(numbered)
    local_rows = outbox_types(counter, numbered=False)
    local = set(local_rows)
    assert "store.configured" in local and any(t.startswith("mdms.") for t in local)
    # what the store's SYSTEM administrator did (quickstart's demo users) is set-up: no hub has a
    # user who did it; the citizen the clerk registered is business and travels
    assert not any(sync_outbox.is_business(t) for t in local if t != "user.created")
    assert users_created_by(counter, numbered=True) == ["citizen.past"]
    assert "clerk.amritsar" in users_created_by(counter, numbered=False)
    assert local < before_local
    assert counter_seqs(counter) == list(range(1, len(numbered) + 1))
    assert meta(counter)["sync_last_seq"] == str(len(numbered))

    pay(counter, "AFTER-1")                                 # demand + bill + payment: all numbered
    seqs = counter_seqs(counter)
    assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) > len(numbered) + 1
    assert outbox_types(counter, numbered=False) == local_rows     # nothing new stays local

    key = sync_outbox.sync_key_file(meta(counter)["store_id"])
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert meta(counter)["sync_public_key"] == fake_hub.counters["C01"].public_key


def test_the_hubs_code_is_taken_when_no_receipt_was_issued(counter: App, fake_hub: FakeHub) -> None:
    done = register(counter, HUB, fake_hub.enrol("ENROL-7", "C07"))
    assert done["counterCode"] == "C07" and done["previousCounterCode"] == "C01"
    assert meta(counter)["counter_code"] == "C07"
    # quickstart's business was written under C01: it stays local, only the registration travels
    assert outbox_types(counter, numbered=True) == ["sync.registered"]


def test_a_store_with_receipts_under_another_code_is_refused_and_nothing_is_written(counter: App,
                                                                                    fake_hub: FakeHub) -> None:
    pay(counter, "MINE-1")
    before = meta(counter)
    outbox_before = outbox_types(counter, numbered=False)
    with pytest.raises(Conflict) as err:
        register(counter, HUB, fake_hub.enrol("ENROL-2", "C02"))
    assert err.value.code == "SYNC_COUNTER_CODE_CONFLICT"
    assert err.value.params["receiptCodes"] == ["C01"] and err.value.params["hubCode"] == "C02"
    assert meta(counter) == before
    assert outbox_types(counter, numbered=False) == outbox_before and counter_seqs(counter) == []


def test_registering_twice_and_an_unknown_enrolment_code_are_refused(counter: App, fake_hub: FakeHub) -> None:
    with pytest.raises(HubRefused) as bad:
        register(counter, HUB, "NO-SUCH-CODE")
    assert bad.value.code == "SYNC_ENROLMENT_INVALID" and bad.value.exit_code == 3
    assert "sync_hub_url" not in meta(counter)
    register(counter, HUB, fake_hub.enrol("ENROL-3", "C01"))
    with pytest.raises(Conflict) as again:
        register(counter, HUB, fake_hub.enrol("ENROL-4", "C01"))
    assert again.value.code == "SYNC_ALREADY_REGISTERED"


WORKER = """
import sys, time
from pathlib import Path
from digitctl.bootstrap import build
from digitctl.domain.events import Event
url, n, go = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
app = build(url)
while not go.exists():
    time.sleep(0.01)
for i in range(n):
    with app.uow(app.base_context()) as uow:
        for k in range(1 + i % 3):          # 1, 2 or 3 events per transaction
            uow.record(Event("test.ping", "pb", "Ping", f"{i}-{k}", "/test/_ping", {"i": i, "k": k}))
        uow.commit()
app.close()
"""


def test_numbering_is_gap_free_across_two_processes(app: App, tmp_path: Path) -> None:
    """Two processes write events at once on one store (SQLite and PostgreSQL): every counter_seq
    from 1 to the total once, and the meta row agrees."""
    ctx = app.base_context()
    sync_outbox.complete_registration(app, ctx, HUB, sync_outbox.prepare_registration(app, ctx, "X"),
                                      {"counterCode": "C01", "hubId": "h", "tenantId": "pb.amritsar"})
    start = len(counter_seqs(app))
    n = max(3, int(90 * SCALE))
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, app.store_url, str(n), str(go)], env=env,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    time.sleep(0.5)
    go.touch()
    for p in procs:
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
    per_process = sum(1 + i % 3 for i in range(n))
    seqs = counter_seqs(app)
    assert seqs == list(range(1, start + 2 * per_process + 1))
    assert meta(app)["sync_last_seq"] == str(len(seqs))
    with app.store.engine.connect() as conn:
        pings = conn.execute(select(func.count()).select_from(OutboxEvent).where(
            OutboxEvent.event_type == "test.ping", OutboxEvent.counter_seq.is_(None))).scalar_one()
    assert pings == 0


def test_a_rolled_back_transaction_gives_its_numbers_back(app: App) -> None:
    ctx = app.base_context()
    sync_outbox.complete_registration(app, ctx, HUB, sync_outbox.prepare_registration(app, ctx, "X"),
                                      {"counterCode": "C01", "hubId": "h"})
    first = counter_seqs(app)
    with pytest.raises(RuntimeError):
        with app.uow(ctx) as uow:
            uow.record(Event("test.ping", "pb", "Ping", "x", "/test/_ping", {}))
            uow.commit()
            raise RuntimeError("after commit: kept")
    with app.uow(ctx) as uow:
        uow.record(Event("test.ping", "pb", "Ping", "y", "/test/_ping", {}))
        uow.session.flush()            # never committed: rolled back at exit
    with app.uow(ctx) as uow:
        uow.record(Event("test.ping", "pb", "Ping", "z", "/test/_ping", {}))
        uow.commit()
    assert counter_seqs(app) == list(range(1, len(first) + 3))


def test_a_hub_of_another_state_is_refused(counter: App, fake_hub: FakeHub) -> None:
    before = meta(counter)
    with pytest.raises(Conflict) as err:
        register(counter, HUB, fake_hub.enrol("ENROL-MH", "C01", tenant="mh.pune"))
    assert err.value.code == "SYNC_STATE_MISMATCH" and err.value.params["stateTenantId"] == "pb"
    assert meta(counter) == before and counter_seqs(counter) == []
