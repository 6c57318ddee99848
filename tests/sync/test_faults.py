"""The fault suite of issue 11: counters push to a hub (`digitctl hub serve`, a subprocess on
PostgreSQL) through a fault-injecting loopback proxy (tests/sync/fault_proxy.py): requests and
answers dropped, connections reset, delays, 500s, cut bodies, duplicated and stale batches on
seeded random schedules, several counters at once; the hub killed -9 mid-batch, a counter's
`sync push` killed -9 mid-push, the hub's database connections killed (pg_terminate_backend).
After each, `check` asserts: every counter event is at the hub exactly once (applied or recorded,
or parked with a reason), contiguous per counter; payment totals per tenant agree; the counters'
chains verify and the hub holds each chain's head as the counter wrote it.

Default: one seed, two counters (fast). The `slow` run takes 4 x DIGIT_SLOW_SCALE seeds of
three counters, two of them pushing with two pushers at once (their batches overlap and arrive
out of order)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import func, select

from digitctl.services import sync_outbox
from local_store.models import HubEvent
from tests.sync.fault_proxy import Schedule
from tests.sync.faults_support import PG_ADMIN, World, Worlds, check, push_all
from tests.sync.support import NOW, REPO

SCALE = float(os.environ.get("DIGIT_SLOW_SCALE", "1.0"))


# -- the fixtures -----------------------------------------------------------------------------------
@pytest.fixture
def worlds(tmp_path: Path, store_templates: Any) -> Iterator[Worlds]:
    made = Worlds(tmp_path, store_templates)
    yield made
    made.close()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, store_templates: Any) -> Iterator[World]:
    """One hub and two counters the default scenarios share, one after the other: each scenario
    adds payments, pushes under its faults, and the checker asserts the whole history so far."""
    made = Worlds(tmp_path_factory.mktemp("faults"), store_templates)
    try:
        yield made.make(2)
    finally:
        made.close()


# -- the runs -------------------------------------------------------------------------------------------
def faulty_run(world: World, seed: int, rounds: int, per_round: int, batch: int,
               pushers: dict[int, int] | None = None) -> None:
    world.proxy.schedule = Schedule(seed)
    for _ in range(rounds):
        world.take_payments(per_round)
        push_all(world, batch, pushers)
    world.proxy.schedule = None
    check(world)
    counts = world.proxy.counts()
    assert sum(v for k, v in counts.items() if k != "pass") > 0, counts


@pytest.mark.postgres
def test_random_network_faults_lose_nothing_and_count_nothing_twice(world: World) -> None:
    faulty_run(world, seed=11, rounds=2, per_round=3, batch=4)


@pytest.mark.postgres
def test_hub_killed_mid_batch_then_back(world: World) -> None:
    world.take_payments(4)
    first = world.proxy.requests
    killed = threading.Event()

    def kill_on_third_push(number: int, line: str) -> None:
        if "_push" in line and not killed.is_set() and number >= first + 3:
            killed.set()
            world.hub.kill()                              # the batch is in the hub's hands right now

    world.proxy.on_forwarded = kill_on_third_push
    def restart() -> None:
        killed.wait(60)
        time.sleep(0.5)
        world.hub.start()

    restarter = threading.Thread(target=restart)
    restarter.start()
    push_all(world, batch=3)
    restarter.join()
    world.proxy.on_forwarded = None
    assert killed.is_set()
    check(world)


@pytest.mark.postgres
def test_counter_push_killed_mid_push_resends_and_the_hub_keeps_one(world: World) -> None:
    world.take_payments(3)
    counter = world.counters[0]
    env = {**os.environ, "DIGITCTL_NOW": NOW, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, str(REPO / "tests" / "clockhook.py"), "--store", counter.store_url,
                             "sync", "push", "--batch", "3"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    answered: list[int] = []

    def kill_after_second_answer(number: int, line: str) -> None:
        if "_push" in line:
            answered.append(number)
            if len(answered) == 2:                        # the hub stored it; the counter never hears
                proc.send_signal(signal.SIGKILL)

    world.proxy.on_answered = kill_after_second_answer
    proc.wait(timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stdout.read() if proc.stdout else ""
    world.proxy.on_answered = None
    with world.hub_app.store.engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(HubEvent).where(
            HubEvent.counter_code == counter.store_meta("counter_code"))).scalar_one()
    assert sync_outbox.unsynced(counter) > 0
    assert sync_outbox.status(counter)["acknowledged"] < stored        # stored at the hub, never acknowledged
    push_all(world, batch=3)
    check(world)


@pytest.mark.postgres
def test_hub_database_connections_killed_while_pushing(world: World) -> None:
    world.take_payments(3)
    database = world.hub_url.rsplit("/", 1)[1]
    stop = threading.Event()
    kills: list[int] = []

    def terminate() -> None:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            while not stop.is_set():
                n = admin.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                  "WHERE datname = %s AND pid <> pg_backend_pid()", (database,)).fetchone()
                kills.append(int(n[0]) if n else 0)
                time.sleep(0.4)         # bursts: the hub must also get work done between them

    killer = threading.Thread(target=terminate)
    killer.start()
    try:
        push_all(world, batch=2)
    finally:
        stop.set()
        killer.join()
    assert sum(kills) > 0
    check(world)


@pytest.mark.slow
@pytest.mark.postgres
def test_many_seeds_several_counters_overlapping_pushers(worlds: Worlds) -> None:
    for seed in range(max(1, int(4 * SCALE))):
        faulty_run(worlds.make(3), seed=1000 + seed, rounds=3, per_round=3, batch=3, pushers={0: 2, 1: 2})
