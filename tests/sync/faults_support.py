"""The fault suites' world and checker (tests/sync/test_faults.py, test_faults_pull.py): a hub
(`digitctl hub serve`, a subprocess on a fresh PostgreSQL database) behind the fault-injecting
proxy, counters registered through it; pushing until synced; `check`, which asserts that every
counter event is at the hub exactly once, payment totals per tenant agree and the audit chains
hold."""
from __future__ import annotations

import threading
import time
import uuid
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
from tests.sync.fault_proxy import FaultProxy
from tests.sync.support import HubProcess, cli_ok, login_admin, paid_paise, pay, quickstart_copy, wait_applied

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
