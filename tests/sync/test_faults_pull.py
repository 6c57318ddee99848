"""Issue 12, "Proven": the fault schedules of the push issue (tests/sync/test_faults.py) with pulls
interleaved and two counters paying the same demands.

The world: a hub (`digitctl hub serve` on PostgreSQL) behind the fault proxy; the state creates
demands, users and master changes at the hub; the counters' first pull goes through the proxy under
faults (dropped answers, resets, 500s, cut bodies: the pull resumes from the cursor of the last page
applied). Each round, on a seeded schedule: every counter pulls the round's demands, then pays
SHARED demands (each paid by two counters, both offline to each other: neither pulled after the
other's push) and its own; pushes and pulls follow in a random order per seed, two at once at times
(a pull while another counter pushes), with the hub killed -9 between two operations or inside a
pull or a push. After every pull, a counter's copy never shows less collected on a demand than
the counter itself took. At the end a push, a pull and a push (the pull's page events) with no
faults, then:

- `check` (the push suite's): every counter event at the hub exactly once, totals per tenant agree,
  each counter's audit chain verifies (what its pulls wrote included);
- `check_money`: the hub holds exactly the counters' receipts; each demand is collected once at the
  hub; `hub reconcile` lists one excess per shared demand (one of its two receipts, in full) and
  nothing else;
- `check_converged`: each counter's demands, masters, users and payments (its own and those it
  pulled: every payment of the tenant, with its status) equal the hub's (first difference printed).

Rows the hub's and the counters' demo stores held differently before registering (their templates
are built apart) are left out of the comparison (`unshared`); masters must not differ at all.

Default: one seed, two counters, two rounds (~35 s). `slow`: 3 x DIGIT_SLOW_SCALE seeds of three
counters, three rounds (every kill kind in each seed)."""
from __future__ import annotations

import json
import os
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import or_, select

from digitctl.bootstrap import App
from digitctl.domain.identity import NewUser
from digitctl.errors import DigitError
from digitctl.services import billing, collection, hub_reconcile, mdms, users
from local_store.models import Demand, DemandDetail, MdmsRecord, Payment, UserAccount, UserRole
from sync.pull import pull
from tests.helpers import AMRITSAR, FEE_RATES, ctx_as, demand
from tests.sync.fault_proxy import Schedule
from tests.sync.faults_support import TENANT, World, Worlds, check, client, push_until_synced
from tests.sync.support import cli_ok, collected, pay, receipts, wait_applied

SCALE = float(os.environ.get("DIGIT_SLOW_SCALE", "1.0"))
PAGE = 40                       # rows a pull page: a first pull is many pages, each a point to resume from


@pytest.fixture
def worlds(tmp_path: Path, store_templates: Any) -> Iterator[Worlds]:
    made = Worlds(tmp_path, store_templates)
    yield made
    made.close()


# -- what the counters did: the ledger the checkers hold the hub to ----------------------------------------
@dataclass
class Ledger:
    paid: dict[str, tuple[int, str, int]] = field(default_factory=dict)     # receipt -> (counter, consumer, paise)
    shared: dict[str, list[str]] = field(default_factory=dict)              # consumer code -> its two receipts
    steps: list[list[tuple[str, int]]] = field(default_factory=list)        # what ran, for a failing seed
    kills: list[str] = field(default_factory=list)
    regressed: list[Any] = field(default_factory=list)
    slowest: list[tuple[float, str]] = field(default_factory=list)


def pay_due(counter: App, consumer: str) -> tuple[str, int]:
    """The clerk fetches the consumer code's bill (pulled from the hub) and takes its due in cash."""
    clerk = ctx_as(counter, "clerk.amritsar")
    [bill] = billing.fetch_bill(counter, clerk, AMRITSAR, consumer_code=consumer, business_service="TL")
    due = Decimal(str(bill["totalAmount"]))
    assert due > 0, f"{consumer}: nothing due at the counter (it saw another counter's payment)"
    doc = collection.pay(counter, clerk, tenant_id=AMRITSAR, bill_id=bill["id"], mode="CASH", amount=due)
    return str(doc["paymentDetails"][0]["receiptNumber"]), int(due * 100)


def pull_until_done(counter: App, url: str, deadline: float) -> int:
    """`sync pull` as an operator would: again after each failure (it resumes at its cursor)."""
    failures = 0
    while True:
        try:
            with client(counter, url) as c:
                pull(counter, c, page_size=PAGE)
            return failures
        except DigitError as err:
            assert err.code == "SYNC_HUB_UNREACHABLE", f"{err.code}: {err.message}"
            assert time.monotonic() < deadline, f"pull still failing after {failures} failures"
            failures += 1
            time.sleep(0.1)


# -- the hub killed -9 and brought back --------------------------------------------------------------------
class HubKiller:
    """kill -9 of the hub now (`kill_now`), or the moment the n-th request of a kind (`_pull`,
    `_push`) has gone to it (`arm`): it dies holding that request. A thread brings it back."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.lock = threading.Lock()
        self.restarters: list[threading.Thread] = []
        self.kind, self.nth, self.seen = "", 0, 0

    def kill_now(self) -> None:
        self.world.hub.kill()
        thread = threading.Thread(target=self._restart)
        thread.start()
        self.restarters.append(thread)

    def _restart(self) -> None:
        time.sleep(0.3)
        self.world.hub.start()

    def arm(self, kind: str, nth: int) -> None:
        self.kind, self.nth, self.seen = kind, nth, 0
        self.world.proxy.on_forwarded = self._hook

    def _hook(self, _number: int, line: str) -> None:
        with self.lock:
            if not self.kind or self.kind not in line:
                return
            self.seen += 1
            if self.seen != self.nth:
                return
            self.kind = ""
        self.kill_now()

    def settle(self) -> int:
        """Disarm, wait until the hub is back; how many kills there were."""
        self.world.proxy.on_forwarded = None
        for thread in self.restarters:
            thread.join(120)
        return len(self.restarters)


# -- the state's side: demands, users and masters made at the hub ------------------------------------------
def state_changes(world: World, rnd: int, rng: random.Random, demands: list[tuple[str, str]]) -> None:
    hub = world.hub_app
    billing.create_demands(hub, ctx_as(hub, "clerk.amritsar"),
                           [demand(code, lines=(("TL_TAX", rupees, "0"),)) for code, rupees in demands])
    users.create_user(hub, hub.context(), NewUser(
        user_name=f"clerk.r{rnd}.amritsar", name=f"Clerk of round {rnd}", type="EMPLOYEE", tenant_id=AMRITSAR,
        mobile=f"98765{rnd:05d}", roles=[("EMPLOYEE", AMRITSAR), ("CSR", AMRITSAR)], password="Counter@2026"))
    if rnd:
        users.set_locked(hub, hub.context(), f"clerk.r{rnd - 1}.amritsar", True, AMRITSAR)
    rates = json.loads(FEE_RATES.read_text())
    rates["FeeRates"][1]["rate"] = str(900 + rng.randrange(100))          # the state changes a fee rate
    changed = world.tmp_path / f"round{rnd}" / "TradeLicense" / "FeeRates.json"
    changed.parent.mkdir(parents=True)
    changed.write_text(json.dumps(rates))
    mdms.apply(hub, hub.context("pb"), [changed])


# -- one round on the seeded schedule ----------------------------------------------------------------------
def plan(rng: random.Random, n: int) -> list[list[tuple[str, int]]]:
    """Steps of (operation, counter): each counter pays, then pushes and pulls in a random order
    (sometimes again); a step of two runs them at once (never two of one counter, never a payment
    beside a network operation, so each payment is taken before its counter pulls again)."""
    chains = {i: ["pay", *rng.sample(["push", "pull"], 2), *rng.choice([[], ["pull"], ["push", "pull"]])]
              for i in range(n)}
    steps: list[list[tuple[str, int]]] = []
    while any(chains.values()):
        ready = [i for i, ops in chains.items() if ops]
        first = rng.choice(ready)
        step = [(chains[first].pop(0), first)]
        others = [i for i in ready if i != first and chains[i] and chains[i][0] != "pay"]
        if step[0][0] != "pay" and others and rng.random() < 0.6:
            other = rng.choice(others)
            step.append((chains[other].pop(0), other))
        steps.append(step)
    return steps


KILLS = ("_pull", "_push", "between")          # inside a pull, inside a push, between two operations


def run_round(world: World, ledger: Ledger, seed: int, rnd: int, rng: random.Random, shared: int, own: int,
              killer: HubKiller, deadline: float) -> None:
    n = len(world.counters)
    codes = [f"SH-{rnd}-{k}" for k in range(shared)]
    mine = {i: [f"OWN-{rnd}-{i}-{k}" for k in range(own)] for i in range(n)}
    state_changes(world, rnd, rng, [(c, str(300 + rng.randrange(200))) for c in codes + sum(mine.values(), [])])
    payers = {c: rng.sample(range(n), 2) for c in codes}
    run_step(world, [("pull", i) for i in range(n)], deadline, ledger)       # the round's demands come down
    steps = plan(rng, n)
    kill = KILLS[(seed + rnd) % len(KILLS)]
    if kill == "between":
        steps.insert(rng.randrange(1, len(steps) + 1), [("kill", -1)])
    else:
        killer.arm(kind=kill, nth=rng.randint(1, 3))
    ledger.kills.append(f"round {rnd}: {kill}")
    for step in steps:
        ledger.steps.append(step)
        if step[0][0] == "kill":
            killer.kill_now()
            continue
        if step[0][0] == "pay":
            i = step[0][1]
            take_payments(world, ledger, i, [c for c in codes if i in payers[c]] + mine[i], f"CTR-{rnd}-{i}")
            continue
        started = time.monotonic()
        run_step(world, step, deadline, ledger)
        ledger.slowest.append((round(time.monotonic() - started, 1), f"round {rnd}: {step}"))
    assert killer.settle() == rnd + 1, f"round {rnd}: the hub was not killed ({kill})"


def take_payments(world: World, ledger: Ledger, i: int, due: list[str], own_code: str) -> None:
    """Counter i takes the dues of `due` (pulled from the hub) and of a demand it makes itself."""
    for code in due:
        receipt, paise = pay_due(world.counters[i], code)
        ledger.paid[receipt] = (i, code, paise)
        if code.startswith("SH-"):
            ledger.shared.setdefault(code, []).append(receipt)
    world.paid += 1
    doc = pay(world.counters[i], own_code, rupees=str(150 + world.paid))
    ledger.paid[str(doc["paymentDetails"][0]["receiptNumber"])] = (
        i, own_code, int(Decimal(str(doc["totalAmountPaid"])) * 100))


def regressed(world: World, ledger: Ledger, i: int) -> dict[str, tuple[int | None, int]]:
    """Demands counter i was paid for that its copy (just pulled) shows less collected on."""
    want = {c: p for (j, c, p) in ledger.paid.values() if j == i}
    got = collected(world.counters[i], sorted(want))
    return {c: (got.get(c), p) for c, p in want.items() if got.get(c, 0) < p}


def run_step(world: World, step: list[tuple[str, int]], deadline: float, ledger: Ledger | None = None) -> None:
    """The step's network operations, at once when there are several."""
    errors: list[BaseException] = []

    def one(op: str, i: int) -> None:
        try:
            if op == "push":
                push_until_synced(world.counters[i], world.proxy.url, 3, deadline)
            else:
                pull_until_done(world.counters[i], world.proxy.url, deadline)
                bad = regressed(world, ledger, i) if ledger is not None else {}
                if ledger is not None and bad:
                    ledger.regressed.append((i, bad))
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=one, args=op) for op in step]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


# -- the checkers --------------------------------------------------------------------------------------------
def check_money(world: World, ledger: Ledger) -> None:
    """Every receipt at the hub once, each demand collected once, one excess per shared demand."""
    hub = world.hub_app
    at_hub = receipts(hub)
    taken = {r: paise for r, (_i, _c, paise) in ledger.paid.items()}
    assert at_hub == taken, (f"missing at the hub: {sorted(set(taken) - set(at_hub))}, "
                             f"not taken: {sorted(set(at_hub) - set(taken))}")
    consumers = sorted({c for _i, c, _p in ledger.paid.values()})
    owed = {c: p for _i, c, p in ledger.paid.values()}
    assert collected(hub, consumers) == owed, "a demand at the hub is not collected exactly once"
    report = hub_reconcile.reconcile(hub, hub.context(), TENANT)
    assert report["Parked"] == [], report["Parked"]
    listed = {x["receiptNumber"]: x for x in report["ExcessCollections"]}
    assert len(listed) == len(report["ExcessCollections"]), "an excess listed twice"
    for code, pair in ledger.shared.items():
        assert len(pair) == 2, (code, pair)
        hits = [r for r in pair if r in listed]
        assert len(hits) == 1, f"{code}: receipts {pair}, listed as excess: {hits}"
        i, _c, paise = ledger.paid[hits[0]]
        x = listed[hits[0]]
        assert (x["consumerCode"], x["counterCode"], int(Decimal(x["amount"]) * 100)) == (
            code, world.counters[i].store_meta("counter_code"), paise), x
    invented = set(listed) - {r for pair in ledger.shared.values() for r in pair}
    assert not invented, f"excess listed that no two counters took: {sorted(invented)}"


def _in_tenant(column: Any) -> Any:
    return or_(column == TENANT, column.like(f"{TENANT}.%"))


def snapshot(app: App) -> dict[str, dict[Any, Any]]:
    """What a counter must hold as the hub does: demands of its tenant (lines, tax, collected, status),
    masters of its tenant and the state, users of its tenant (roles, active, locks)."""
    with app.store.engine.connect() as conn:
        demands: dict[Any, Any] = {}
        for r in conn.execute(select(Demand.id, Demand.consumer_code, Demand.business_service, Demand.status,
                                     Demand.is_payment_completed).where(_in_tenant(Demand.tenant_id))):
            demands[r.id] = [tuple(r), []]
        for d in conn.execute(select(DemandDetail.demand_id, DemandDetail.id, DemandDetail.tax_head_code,
                                     DemandDetail.tax_amount_paise, DemandDetail.collection_amount_paise)
                              .where(DemandDetail.demand_id.in_(list(demands))).order_by(DemandDetail.id)):
            demands[d.demand_id][1].append(tuple(d)[1:])
        masters = {(r.tenant_id, r.module, r.master, r.unique_key): (json.dumps(r.data, sort_keys=True), r.is_active)
                   for r in conn.execute(select(MdmsRecord).where(or_(
                       MdmsRecord.tenant_id == TENANT.split(".")[0], _in_tenant(MdmsRecord.tenant_id))))}
        roles: dict[str, list[tuple[str, str]]] = {}
        for uid, code, tenant in conn.execute(select(UserRole.user_uuid, UserRole.code, UserRole.tenant_id)):
            roles.setdefault(uid, []).append((code, tenant))
        people = {u.uuid: (u.user_name, u.tenant_id, u.type, u.active, u.locked_by_admin, u.locked_until,
                           u.password_hash, sorted(roles.get(u.uuid, [])))
                  for u in conn.execute(select(UserAccount).where(_in_tenant(UserAccount.tenant_id)))}
        # every payment of the tenant, wherever it was taken: a counter holds its own and pulls the others'
        payments = {p.id: (p.receipt_number, p.consumer_code, p.amount_paid_paise, p.payment_status)
                    for p in conn.execute(select(Payment.id, Payment.receipt_number, Payment.consumer_code,
                                                 Payment.amount_paid_paise, Payment.payment_status)
                                          .where(_in_tenant(Payment.tenant_id)))}
    return {"demands": {k: (v[0], v[1]) for k, v in demands.items()}, "masters": masters, "users": people,
            "payments": payments}


def first_difference(name: str, hub: dict[Any, Any], counter: dict[Any, Any]) -> str | None:
    for key in sorted(set(hub) | set(counter), key=repr):
        if hub.get(key) != counter.get(key):
            return f"{name} {key!r}: hub {hub.get(key)!r} / counter {counter.get(key)!r}"
    return None


def unshared(world: World) -> dict[str, set[Any]]:
    """What the hub's and the counters' stores held differently before the counters registered: the
    PostgreSQL and SQLite demo templates are built apart (their demo demands and users have other
    ids; a user whose name is taken at the counter stays the counter's own). Never synced, so not
    compared; everything made or changed since is."""
    hub, counter = snapshot(world.hub_app), snapshot(world.counters[0])
    return {name: {k for k in set(hub[name]) | set(counter[name]) if hub[name].get(k) != counter[name].get(k)}
            for name in hub}


def check_converged(world: World, skip: dict[str, set[Any]]) -> None:
    want = snapshot(world.hub_app)
    for counter in world.counters:
        got = snapshot(counter)
        for name in want:
            diff = first_difference(name, {k: v for k, v in want[name].items() if k not in skip[name]},
                                    {k: v for k, v in got[name].items() if k not in skip[name]})
            assert diff is None, f"{counter.store_meta('counter_code')} differs from the hub: {diff}"


def settle(world: World, deadline: float) -> None:
    """Every counter pushes what is left; the hub applies all it stored."""
    for counter in world.counters:
        push_until_synced(counter, world.proxy.url, 50, deadline)
    world.hub_app.store.engine.dispose()                 # its connections may have been cut under it
    wait_applied(world.hub_app, timeout=10.0,
                 operator_apply=lambda: cli_ok(world.hub_url, "-o", "json", "hub", "apply"))


# -- the runs ------------------------------------------------------------------------------------------------
def pull_faulty_run(world: World, seed: int, rounds: int, shared: int, own: int, timeout: float = 300) -> Ledger:
    rng = random.Random(seed)
    ledger = Ledger()
    deadline = time.monotonic() + timeout
    skip = unshared(world)
    assert not skip["masters"], sorted(skip["masters"], key=repr)[:3]
    billing.create_demands(world.hub_app, ctx_as(world.hub_app, "clerk.amritsar"),      # the state's backlog:
                           [demand(f"OLD-{k}", lines=(("TL_TAX", str(200 + k), "0"),))   # demand pages to resume
                            for k in range(2 * PAGE)])
    world.proxy.schedule = Schedule(seed)
    run_step(world, [("pull", i) for i in range(len(world.counters))], deadline)   # the first pull, under faults
    killer = HubKiller(world)
    for rnd in range(rounds):
        run_round(world, ledger, seed, rnd, rng, shared, own, killer, deadline)
    world.proxy.schedule = None
    settle(world, deadline)                                              # the last push, with no faults,
    for i in range(len(world.counters)):                                 # the last pull,
        pull_until_done(world.counters[i], world.proxy.url, deadline)
    settle(world, deadline)                                              # and its page events go up too
    check(world)
    check_money(world, ledger)
    check_converged(world, skip)
    # a pulled copy never shows less collected than its own counter took (the hub applies a batch
    # before it answers the push, and a demand with unacknowledged payments is held at the counter)
    assert not ledger.regressed, f"a counter's paid demand came down unpaid: {ledger.regressed}"
    counts = world.proxy.counts()
    print(f"seed {seed}: skip {[(k, len(v)) for k, v in skip.items()]}, kills {ledger.kills}, "
          f"faults {counts}, regressed {ledger.regressed}, slowest {sorted(ledger.slowest)[-4:]}")
    faults = sum(v for k, v in counts.items() if k != "pass")
    assert faults > 0 and any("_pull" in line and f != "pass" for f, line in world.proxy.log), counts
    return ledger


@pytest.mark.postgres
def test_pulls_and_pushes_under_faults_two_counters_paying_the_same_demands(worlds: Worlds) -> None:
    ledger = pull_faulty_run(worlds.make(2), seed=12, rounds=2, shared=2, own=1)
    assert any({op for op, _i in step} == {"push", "pull"} for step in ledger.steps), ledger.steps
    assert len(ledger.shared) == 4


@pytest.mark.slow
@pytest.mark.postgres
def test_many_seeds_three_counters_pulling_and_paying_the_same_demands(worlds: Worlds) -> None:
    for seed in range(max(1, int(3 * SCALE))):
        pull_faulty_run(worlds.make(3), seed=1200 + seed, rounds=3, shared=3, own=2)
