"""How fast is `digitctl inbox` with 100,000 applications in the store, and how many durable
workflow transitions a second does `workflow.transition` make against raw sqlite3?
Run: `python tests/benchmarks/bench_inbox.py [--apps N] [--runs N] [--transitions N] [--store URL]`.

1. A store with the bundled state, the five real workflows (NewTL at Amritsar and, re-targeted,
   at Jalandhar) and the demo users; then N applications inserted in bulk with Core: 60 % Amritsar /
   40 % Jalandhar, over NewTL, PGR, PT.CREATE, NewWS1 and FIRENOC, in every state of each, started
   over the last 10 days (so some SLAs are breached), applicant PII encrypted (one latest process
   instance row each: the inbox does not read history).
2. The inbox for approver.amritsar and clerk.amritsar (and the verifier's filtered by service):
   median and p95 over --runs calls of `digitctl.services.inbox.inbox` (the full service: access
   check, query, count by status, decrypt + mask the page of 100).
3. --transitions NewTL APPLY transitions through `workflow.transition` (each its own durable
   transaction: process instance + current state + application + outbox + signed audit), and a raw
   sqlite3 baseline of one INSERT + UPDATE per BEGIN IMMEDIATE ... COMMIT in the same folder.
Takes about a minute with the defaults on SQLite (WAL, synchronous=FULL)."""
from __future__ import annotations

import argparse
import datetime as dt
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

NOW = dt.datetime(2026, 11, 25, 11, 0, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30)))
CITIES = (("pb.amritsar", 0.6, "SUN"), ("pb.jalandhar", 0.4, "JLC"))
SERVICES = ("NewTL", "PGR", "PT.CREATE", "NewWS1", "FIRENOC")
FIRST = ("Simran", "Gurpreet", "Harjit", "Amandeep", "Navdeep", "Baljit", "Jaspreet", "Kuldeep", "Manpreet")
LAST = ("Kaur", "Singh", "Gill", "Sandhu", "Sidhu", "Dhillon", "Brar", "Grewal")


def build_store(url: str) -> None:
    from digitctl.bootstrap import build
    from digitctl.clock import FixedClock
    from digitctl.resources import bundled
    from digitctl.services import mdms, quickstart, workflow
    from digitctl.services.store import init_store

    app = build(url, FixedClock(NOW))
    configs = bundled("configs")
    init_store(app, app.context(), "pb", "C01")
    mdms.apply(app, app.context("pb"), [configs / "mdms" / "data" / "pb"],
               master_config=configs / "mdms" / "master-config.json")
    workflow.apply(app, app.context(), [configs / "workflows"], tenant_id="pb")
    workflow.apply(app, app.context(), [configs / "workflows" / "NewTL.businessservice.json"], tenant_id="pb.jalandhar")
    quickstart.demo_users(app, app.context())
    app.close()


def fill(url: str, n: int, seed: int = 7) -> dict[str, int]:
    """n applications in bulk (Core executemany, one transaction per 10,000)."""
    from sqlalchemy import insert

    from digitctl.bootstrap import build
    from digitctl.clock import FixedClock
    from digitctl.services import applications, workflow
    from local_store.models import Application, WfCurrent, WfProcessInstance

    rnd = random.Random(seed)
    app = build(url, FixedClock(NOW))
    now = NOW.astimezone(dt.timezone.utc)
    with app.uow(app.base_context()) as uow:
        s = uow.session
        defs = {}
        for city, _, _ in CITIES:
            for code in SERVICES:
                row, defn = workflow.load(app, s, city, code)
                defs[(city, code)] = (row.version, defn)
        locs = {city: sorted(applications.localities(app, city)) for city, _, _ in CITIES}
        ring = app.keyring
        names = [ring.encrypt(s, "pb", f"{f} {l}") for f in FIRST for l in LAST]
        mobiles = [(ring.encrypt(s, "pb", m), ring.blind_index("pb", m, "mobile"))
                   for m in (f"9{rnd.randrange(10**8, 10**9)}" for _ in range(2000))]
        uow.commit()
    per_state: dict[str, int] = {}
    batch_ap: list[dict[str, Any]] = []
    batch_wc: list[dict[str, Any]] = []
    batch_pi: list[dict[str, Any]] = []
    engine = app.store.engine

    def flush() -> None:
        with engine.begin() as conn:
            for model, batch in ((Application, batch_ap), (WfCurrent, batch_wc), (WfProcessInstance, batch_pi)):
                conn.execute(insert(model), batch)
                batch.clear()

    for i in range(n):
        city = CITIES[0][0] if rnd.random() < CITIES[0][1] else CITIES[1][0]
        code = rnd.choice(SERVICES)
        version, defn = defs[(city, code)]
        states = [st for st in defn.states if st.name is not None]
        st = rnd.choice(states)
        started = now - dt.timedelta(minutes=rnd.randrange(0, 10 * 24 * 60))
        entered = started + (now - started) * rnd.random()
        number = f"BENCH-{code}-{i:07d}"
        name = rnd.choice(names)
        mobile_enc, bidx = rnd.choice(mobiles)
        per_state[str(st.name)] = per_state.get(str(st.name), 0) + 1
        batch_ap.append(dict(application_no=number, tenant_id=city, business_service=code, module=defn.business,
                             application_status=st.application_status, applicant_name_enc=name,
                             applicant_mobile_enc=mobile_enc, applicant_mobile_bidx=bidx, applicant_uuid=None,
                             locality=rnd.choice(locs[city]), address=None, details={"bench": True}, documents=None,
                             created_by="bench", created_at=started, updated_at=entered))
        business_deadline = started + dt.timedelta(milliseconds=defn.sla_ms) if defn.sla_ms else None
        batch_wc.append(dict(tenant_id=city, business_id=number, business_service=code, bs_version=version,
                             state=st.name, application_status=st.application_status, last_action="BENCH",
                             seq_no=1, is_terminal=st.is_terminate,
                             state_deadline=entered + dt.timedelta(milliseconds=st.sla_ms) if st.sla_ms else None,
                             business_deadline=business_deadline,
                             updated_at=entered))
        batch_pi.append(dict(id=str(uuid.UUID(int=rnd.getrandbits(128))), tenant_id=city, business_service=code,
                             bs_version=version, module_name=defn.business, business_id=number, seq_no=1,
                             action="BENCH", from_state=None, state=st.name, application_status=st.application_status,
                             comment=None, assigner_uuid="bench", assignees=None, documents=None,
                             state_sla_ms=st.sla_ms, business_sla_ms=defn.sla_ms, business_started_at=started,
                             created_at=entered))
        if len(batch_ap) >= 10_000:
            flush()
    if batch_ap:
        flush()
    with engine.begin() as conn:          # planner statistics, as after any bulk load
        conn.exec_driver_sql("ANALYZE")
    app.close()
    return per_state


def ctx_for(app, user_name: str):
    from digitctl.context import RequestContext
    from digitctl.services import users

    with app.uow(app.base_context(), readonly=True) as uow:
        actor = users.actor_of(uow.session, users.find(uow.session, user_name))
    return RequestContext(actor=actor, clock=app.clock)


def time_inbox(url: str, runs: int) -> None:
    from digitctl.bootstrap import build
    from digitctl.clock import FixedClock
    from digitctl.services import inbox

    app = build(url, FixedClock(NOW))
    cases: list[tuple[str, dict[str, Any]]] = [("approver.amritsar", {}), ("clerk.amritsar", {}),
                                               ("verifier.amritsar", {"business_service": "NewTL"}),
             ("inspector.amritsar", {"mine": True})]
    for user, kw in cases:
        ctx = ctx_for(app, user)
        first = inbox.inbox(app, ctx, **kw)             # warm: masters, keys, definitions
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            inbox.inbox(app, ctx, **kw)
            times.append((time.perf_counter() - t0) * 1000)
        times.sort()
        p95 = times[min(len(times) - 1, int(round(0.95 * len(times))) - 1)]
        breached = sum(1 for i in first["items"] if (i["slaLeftMs"] or 0) < 0)
        label = user + "".join(f" {k}={v}" for k, v in kw.items())
        print(f"inbox {label:<40}: median {statistics.median(times):7.1f} ms, p95 {p95:7.1f} ms "
              f"({first['totalCount']:>6,} matching, page {len(first['items'])}, {breached} breached on it)")
    app.close()


def time_transitions(url: str, n: int) -> float:
    """n NewTL applications in INITIATED (bulk), then one APPLY each through workflow.transition."""
    from sqlalchemy import insert

    from digitctl.bootstrap import build
    from digitctl.clock import FixedClock
    from digitctl.services import workflow
    from local_store.models import Application, WfCurrent, WfProcessInstance

    app = build(url, FixedClock(NOW))
    now = NOW.astimezone(dt.timezone.utc)
    with app.uow(app.base_context(), readonly=True) as uow:
        version = workflow.load(app, uow.session, "pb.amritsar", "NewTL")[0].version
    ids = [f"TX-NewTL-{i:06d}" for i in range(n)]
    with app.uow(app.base_context()) as uow:
        name = app.keyring.encrypt(uow.session, "pb", "Simran Kaur")
        conn = uow.session.connection()
        conn.execute(insert(Application), [dict(
            application_no=b, tenant_id="pb.amritsar", business_service="NewTL", module="tl-services",
            application_status="INITIATED", applicant_name_enc=name, created_by="bench", created_at=now,
            updated_at=now) for b in ids])
        conn.execute(insert(WfCurrent), [dict(
            tenant_id="pb.amritsar", business_id=b, business_service="NewTL", bs_version=version, state="INITIATED",
            application_status="INITIATED", last_action="INITIATE", seq_no=1, is_terminal=False,
            business_deadline=now + dt.timedelta(days=2), updated_at=now) for b in ids])
        conn.execute(insert(WfProcessInstance), [dict(
            id=str(uuid.uuid4()), tenant_id="pb.amritsar", business_service="NewTL", bs_version=version,
            module_name="tl-services", business_id=b, seq_no=1, action="INITIATE", state="INITIATED",
            application_status="INITIATED", assigner_uuid="bench", business_sla_ms=172800000,
            business_started_at=now, created_at=now) for b in ids])
        uow.commit()
    ctx = ctx_for(app, "clerk.amritsar")
    workflow.transition(app, ctx, tenant_id="pb.amritsar", business_id=ids[0], action="APPLY")   # warm
    start = time.perf_counter()
    for b in ids[1:]:
        workflow.transition(app, ctx, tenant_id="pb.amritsar", business_id=b, action="APPLY")
    elapsed = time.perf_counter() - start
    app.close()
    return (n - 1) / elapsed


def raw_baseline(path: Path, n: int) -> float:
    """One durable transaction per step: INSERT the step, UPDATE the current state."""
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode = WAL")
    con.execute("PRAGMA synchronous = FULL")
    con.execute("CREATE TABLE step (id TEXT PRIMARY KEY, business_id TEXT, seq_no INT, action TEXT, state TEXT, "
                "created_at TEXT, UNIQUE (business_id, seq_no))")
    con.execute("CREATE TABLE cur (business_id TEXT PRIMARY KEY, state TEXT, seq_no INT, updated_at TEXT)")
    con.executemany("INSERT INTO cur VALUES (?, 'INITIATED', 1, '')", [(f"B{i}",) for i in range(n)])
    start = time.perf_counter()
    for i in range(n):
        con.execute("BEGIN IMMEDIATE")
        con.execute("INSERT INTO step VALUES (?, ?, 2, 'APPLY', 'APPLIED', ?)", (str(uuid.uuid4()), f"B{i}", "now"))
        con.execute("UPDATE cur SET state = 'APPLIED', seq_no = 2, updated_at = 'now' WHERE business_id = ?",
                    (f"B{i}",))
        con.execute("COMMIT")
    elapsed = time.perf_counter() - start
    con.close()
    return n / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--apps", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--transitions", type=int, default=500)
    parser.add_argument("--store", default=None, help="a PostgreSQL URL to use instead of a SQLite file")
    parser.add_argument("--dir", default=None)
    args = parser.parse_args()
    import os

    import sqlalchemy

    with tempfile.TemporaryDirectory(dir=args.dir, prefix="bench-inbox-") as tmp:
        folder = Path(tmp)
        os.environ.setdefault("DIGIT_CONFIG_DIR", str(folder / "config"))
        url = args.store or f"sqlite:///{folder / 'inbox.db'}"
        print(f"python {sys.version.split()[0]}, sqlite {sqlite3.sqlite_version}, sqlalchemy {sqlalchemy.__version__}; "
              f"store {url.split('@')[-1]}")
        t0 = time.perf_counter()
        build_store(url)
        per_state = fill(url, args.apps)
        print(f"{args.apps:,} applications in {len(per_state)} states over {len(SERVICES)} services and "
              f"{len(CITIES)} cities, loaded in {time.perf_counter() - t0:.1f} s\n")
        time_inbox(url, args.runs)
        tps = time_transitions(url, args.transitions)
        print(f"\nworkflow.transition (durable, signed audit): {tps:7,.0f} transitions/s "
              f"({1000 / tps:.2f} ms each, {args.transitions} NewTL APPLY)")
        raw = raw_baseline(folder / "raw.db", args.transitions)
        print(f"raw sqlite3 INSERT+UPDATE per transaction : {raw:7,.0f} tx/s ({1000 / raw:.2f} ms each)")
        print(f"service / raw: {tps / raw:.2f}x")


if __name__ == "__main__":
    main()
