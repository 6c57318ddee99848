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
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import func, select

from digitctl.bootstrap import App
from digitctl.clock import FixedClock
from digitctl.errors import DigitError
from digitctl.services import audit, shifts, sync_outbox
from local_store.models import AuditRecord, HubCounter, HubEvent, OutboxEvent
from sync.client import HubClient, RetryPolicy
from sync.push import push
from tests.conftest import FROZEN, PG_SERVER
from tests.helpers import ctx_as
from tests.sync.fault_proxy import FaultProxy, Schedule
from tests.sync.support import (NOW, REPO, HubProcess, cli_ok, login_admin, paid_paise, pay, quickstart_copy,
                                wait_applied)

SCALE = float(os.environ.get("DIGIT_SLOW_SCALE", "1.0"))
TENANT = "pb.amritsar"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


# -- the world: a hub on PostgreSQL behind the proxy, counters registered through it ---------------------
class World:
    def __init__(self, hub_url: str, tmp_path: Path, store_templates: Any, clock: FixedClock, n: int) -> None:
        self.hub_url = hub_url
        self.tmp_path = tmp_path
        self.hub_app = quickstart_copy(store_templates, hub_url, clock)
        self.counters = [quickstart_copy(store_templates, f"sqlite:///{tmp_path / f'c{i}.db'}", clock)
                         for i in range(n)]
        self.hub = HubProcess(hub_url, tmp_path)
        self.proxy = FaultProxy(self.hub.port)
        self.paid = 0

    def register_all(self) -> None:
        login_admin(self.hub_url)
        for i, counter in enumerate(self.counters):
            enrolled = cli_ok(self.hub_url, "-o", "json", "hub", "enrol", "--tenant", TENANT, "--name", f"C{i}")
            login_admin(counter.store_url)
            cli_ok(counter.store_url, "-o", "json", "sync", "register", "--hub", self.proxy.url, "--code",
                   enrolled["enrolmentCode"])
            shifts.open_shift(counter, ctx_as(counter, "clerk.amritsar"), "2000")

    def take_payments(self, per_counter: int) -> None:
        for i, counter in enumerate(self.counters):
            for _ in range(per_counter):
                self.paid += 1
                pay(counter, f"F-{i}-{self.paid}", rupees=str(100 + self.paid))

    def close(self) -> None:
        self.hub.stop()
        for app in [self.hub_app, *self.counters]:
            app.close()


class Worlds:
    """Fresh hub databases and counter folders; everything made is torn down at the end."""

    def __init__(self, folder: Path, store_templates: Any) -> None:
        self.folder = folder
        self.store_templates = store_templates
        self.made: list[tuple[World, str]] = []

    def make(self, n: int = 2) -> World:
        """A fresh hub database, n counters, the hub serving behind the proxy, every counter
        registered through it."""
        name = f"digitctl_fault_{uuid.uuid4().hex[:8]}"
        try:
            with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3) as admin:
                admin.execute(f'CREATE DATABASE "{name}"')
        except psycopg.OperationalError as err:
            pytest.skip(f"PostgreSQL not reachable at 127.0.0.1:5432 ({err})")
        folder = self.folder / f"world{len(self.made)}"
        folder.mkdir()
        world = World(PG_SERVER.rsplit("/", 1)[0] + "/" + name, folder, self.store_templates, FixedClock(FROZEN), n)
        self.made.append((world, name))
        world.proxy.__enter__()
        world.hub.start()
        world.register_all()
        return world

    def close(self) -> None:
        for world, name in self.made:
            world.proxy.__exit__(None, None, None)
            world.close()
            with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


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


def client(counter: App, url: str) -> HubClient:
    hub = sync_outbox.hub_of(counter)
    return HubClient(url, counter_code=hub.counter_code, key=sync_outbox.signing_key(counter),
                     now_ms=lambda: sync_outbox.now_ms(counter), policy=RetryPolicy(request_timeout=10.0))


def push_until_synced(counter: App, url: str, batch: int, deadline: float) -> int:
    """Push as an operator would: again after each failure, until nothing is unsynced."""
    failures = 0
    while sync_outbox.unsynced(counter):
        assert time.monotonic() < deadline, f"still {sync_outbox.unsynced(counter)} unsynced; {failures} failures"
        try:
            with client(counter, url) as c:
                push(counter, c, batch)
        except DigitError as err:
            assert err.code == "SYNC_HUB_UNREACHABLE", f"{err.code}: {err.message}"
            failures += 1
            time.sleep(0.1)
    return failures


def push_all(world: World, batch: int, pushers: dict[int, int] | None = None, timeout: float = 240) -> None:
    """Every counter pushes at once (counter i with pushers[i] concurrent pushers)."""
    deadline = time.monotonic() + timeout
    errors: list[BaseException] = []

    def run(counter: App) -> None:
        try:
            push_until_synced(counter, world.proxy.url, batch, deadline)
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=run, args=(c,)) for i, c in enumerate(world.counters)
               for _ in range((pushers or {}).get(i, 1))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


# -- the checker ----------------------------------------------------------------------------------------
def check(world: World) -> None:
    hub_app = world.hub_app
    hub_app.store.engine.dispose()                       # connections may have been killed under it
    wait_applied(hub_app, timeout=5.0, operator_apply=lambda: cli_ok(world.hub_url, "-o", "json", "hub", "apply"))
    with hub_app.store.engine.connect() as conn:
        held = conn.execute(select(HubEvent.counter_code, HubEvent.seq, HubEvent.event_id, HubEvent.status,
                                   HubEvent.reason_code)).all()
        counters = {r.code: r for r in conn.execute(select(HubCounter.code, HubCounter.flagged,
                                                           HubCounter.audit_head, HubCounter.last_seq))}
    by_code: dict[str, dict[int, tuple[str, str, str | None]]] = {}
    for code, seq, event_id, status, reason in held:
        assert seq not in by_code.setdefault(code, {}), f"{code} #{seq} twice"
        by_code[code][seq] = (event_id, status, reason)
    for counter in world.counters:
        code = counter.store_meta("counter_code") or ""
        with counter.store.engine.connect() as conn:
            mine = {int(s or 0): e for s, e in conn.execute(select(OutboxEvent.counter_seq, OutboxEvent.event_id)
                                                             .where(OutboxEvent.counter_seq.is_not(None)))}
            unpublished = conn.execute(select(func.count()).select_from(OutboxEvent).where(
                OutboxEvent.counter_seq.is_not(None), OutboxEvent.published_at.is_(None))).scalar_one()
        at_hub = by_code.get(code, {})
        assert sorted(mine) == list(range(1, len(mine) + 1)), f"{code}: the counter's sequence has a gap"
        assert sorted(at_hub) == sorted(mine), f"{code}: hub holds {len(at_hub)} of {len(mine)}"
        assert {s: e for s, (e, _st, _r) in at_hub.items()} == mine, f"{code}: other events under the same seqs"
        for seq, (_e, status, reason) in at_hub.items():
            assert status in ("applied", "recorded") or (status in ("parked", "waiting") and reason), (code, seq, status)
        assert not [s for s, (_e, st, _r) in at_hub.items() if st in ("parked", "waiting")], f"{code}: parked"
        assert unpublished == 0 and sync_outbox.unsynced(counter) == 0
        hub_row = counters[code]
        assert hub_row.flagged is None, f"{code} flagged: {hub_row.flagged}"
        assert hub_row.last_seq == len(mine)
        report = audit.verify(counter, counter.base_context())
        assert report.problem is None, report.problem
        head = hub_row.audit_head or {}
        with counter.store.engine.connect() as conn:
            at_counter = conn.execute(select(AuditRecord.hash).where(AuditRecord.seq == int(head["seq"]))).scalar()
        assert at_counter == head["hash"], f"{code}: the hub's chain head is not the counter's record"
    totals: dict[str, int] = {}
    for counter in world.counters:
        for tenant, paise in paid_paise(counter).items():
            totals[tenant] = totals.get(tenant, 0) + paise
    assert paid_paise(hub_app) == totals
    hub_report = audit.verify(hub_app, hub_app.base_context())
    assert hub_report.problem is None, hub_report.problem


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
