"""ID generation on a real temporary store: MDMS formats, sequences that survive restarts and
crashes, rollback, outbox + audit, two processes on one SQLite file, and PostgreSQL."""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from digitctl import bootstrap
from digitctl.bootstrap import App
from digitctl.clock import IST, FixedClock
from digitctl.context import Actor, Role
from digitctl.domain.canonical import content_hash
from digitctl.errors import Forbidden, InvalidInput, NotFound
from digitctl.services import idgen
from digitctl.services.store import init_store
from local_store.models import AuditRecord, IdSequence, MdmsRecord, OutboxEvent, StoreMeta

REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "digit-reference"
PB = REFERENCE / "mdms" / "data" / "pb"
NOW = dt.datetime(2026, 11, 25, 10, 30, tzinfo=IST)
AMRITSAR = "pb.amritsar"
# The two-process races run 2 x 2,500 ids on SQLite and 2 x 1,000 on PostgreSQL by default: a
# broken transaction mode duplicates ids in 16-98 % of contended transactions (DESIGN.md, rule 9),
# so thousands of them find it every time. DIGIT_SLOW_SCALE=4 gives the 2 x 10,000 soak.
SCALE = float(os.environ.get("DIGIT_SLOW_SCALE", "1.0"))


# -- fixtures: a store seeded with the real pb IdFormat and tenants ---------------------------------
# Kept small on purpose: it inserts MdmsRecord rows directly and will give way to `mdms apply`.
def seed_mdms(app: App, files: tuple[str, ...] = ("common-masters/IdFormat.json", "tenant/tenants.json"),
              extra: dict[tuple[str, str, str], list[dict[str, Any]]] | None = None) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    batches: list[tuple[str, str, str, list[dict[str, Any]], str]] = []
    for rel in files:
        doc = json.loads((PB / rel).read_text(encoding="utf-8"))
        master = Path(rel).stem
        batches.append((doc["tenantId"], doc["moduleName"], master, doc[master], str(PB / rel)))
    for (tenant, module, master), records in (extra or {}).items():
        batches.append((tenant, module, master, records, "test"))
    with Session(app.store.engine) as s:
        for tenant, module, master, records, source in batches:
            start = s.scalar(select(func.count()).select_from(MdmsRecord).where(
                MdmsRecord.tenant_id == tenant, MdmsRecord.module == module, MdmsRecord.master == master)) or 0
            for i, record in enumerate(records, start=start):
                s.add(MdmsRecord(tenant_id=tenant, module=module, master=master, unique_key=f"{i}",
                                 position=i, data=record, data_hash=content_hash(record), source=source,
                                 is_active=True, created_at=now, updated_at=now))
        s.merge(StoreMeta(key="mdms_version", value=str(uuid.uuid4())))   # drop readers' caches
        s.commit()


def make_app(url: str, counter: str | None = "C01", clock: FixedClock | None = None) -> App:
    app = bootstrap.build(url, clock=clock or FixedClock(NOW))
    init_store(app, app.context(), "pb", counter)
    seed_mdms(app)
    return app


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/s.db"


@pytest.fixture
def app(store_url: str) -> Iterator[App]:
    a = make_app(store_url)
    yield a
    a.close()


def gen(app: App, id_name: str, tenant: str = AMRITSAR, count: int = 1, fmt: str | None = None,
        at: dt.datetime | None = None) -> list[str]:
    ctx = app.context(tenant)
    if at is not None:
        ctx = dataclasses.replace(ctx, clock=FixedClock(at))
    return idgen.generate(app, ctx, id_name, tenant, count=count, fmt=fmt)


def sequences(app: App) -> dict[str, int]:
    with Session(app.store.engine) as s:
        return {r.name: r.value for r in s.scalars(select(IdSequence))}


def event_rows(app: App) -> tuple[list[OutboxEvent], list[AuditRecord]]:
    with Session(app.store.engine) as s:
        out = list(s.scalars(select(OutboxEvent).where(OutboxEvent.event_type == idgen.EVENT_TYPE)
                             .order_by(OutboxEvent.seq)))
        aud = list(s.scalars(select(AuditRecord).where(AuditRecord.entity_type == "IdSequence")
                             .order_by(AuditRecord.seq)))
        return out, aud


def refused(code: str, call: Any, *args: Any, **kwargs: Any) -> InvalidInput:
    with pytest.raises(InvalidInput) as info:
        call(*args, **kwargs)
    assert info.value.code == code
    return info.value


# -- formats from the real MDMS ---------------------------------------------------------------------
def test_real_formats_render_for_amritsar(app: App) -> None:
    assert gen(app, "receipt.id", count=2) == ["11/2026-27/000001", "11/2026-27/000002"]
    assert gen(app, "pt.receipt.id") == ["PT/107/2026-27/000001"]
    # firenoc shares SEQ_EGOV_COMMON with pt.receipt.id, as in DIGIT
    assert gen(app, "firenoc.receipt.id") == ["MP/107/2026-27/000002"]
    assert gen(app, "pt.assessmentnumber") == ["PB-AS-2026-11-25-000001"]
    assert gen(app, "pt.mutation.number") == ["PB-MT-107-000001"]
    assert sequences(app) == {"SEQ_COLL_RCPT_NUM": 2, "SEQ_EGOV_COMMON": 2, "SEQ_EG_PT_ASSM": 1,
                              "SEQ_EG_PT_MUTATION": 1}


def test_tenant_id_in_sequence_names_gives_each_city_its_own_series(app: App) -> None:
    assert gen(app, "waterservice.connection.id", count=2) == ["WS/107/2026-27/000001", "WS/107/2026-27/000002"]
    assert gen(app, "waterservice.connection.id", tenant="pb.jalandhar") == ["WS/1013/2026-27/000001"]
    assert gen(app, "waterservice.disconnection.id") == ["WS_AP/107/2026-27/DC-000001"]
    assert gen(app, "waterservice.application.id") == ["WS_AP/107/2026-27/000002"]
    assert gen(app, "bs.amendment.id") == ["NOTETYPE-CONSUMERCODE-000001"]
    assert sequences(app) == {"SEQ_WS_CON_PB_AMRITSAR": 2, "SEQ_WS_CON_PB_JALANDHAR": 1,
                              "SEQ_WS_APP_PB_AMRITSAR": 2, "SEQ_BS_MUTATION_PB_AMRITSAR": 1}


def test_financial_year_and_date_follow_ist(app: App) -> None:
    assert gen(app, "receipt.id", at=dt.datetime(2027, 3, 20, 12, 0, tzinfo=IST)) == ["03/2026-27/000001"]
    # 00:30 IST on 1 April is still 31 March in UTC: IST decides both fy and cy.
    april = dt.datetime(2027, 3, 31, 19, 0, tzinfo=dt.timezone.utc)
    assert gen(app, "receipt.id", at=april) == ["04/2027-28/000002"]
    assert gen(app, "pt.assessmentnumber", at=april) == ["PB-AS-2027-04-01-000001"]
    late = dt.datetime(2026, 11, 24, 18, 45, tzinfo=dt.timezone.utc)     # 00:15 IST on the 25th
    assert gen(app, "pt.assessmentnumber", at=late) == ["PB-AS-2026-11-25-000002"]


def test_random_digits(app: App) -> None:
    ids = gen(app, "pg.txnid", count=30)
    for i, value in enumerate(ids, start=1):
        assert value.startswith(f"PB_PG_2026_11_25_{i:06d}_")
        assert len(value.rsplit("_", 1)[1]) == 2 and value.rsplit("_", 1)[1].isdigit()
    assert len({v.rsplit("_", 1)[1] for v in ids}) > 1


def test_caller_format_is_used_only_when_mdms_has_none(app: App) -> None:
    # egov-idgen: a name with no IdFormat takes the caller's format, but no new sequence is made for
    # it (autoCreateNewSeqFlag false): a mistyped name never starts a series silently
    err = refused("SEQ_DOES_NOT_EXIST", gen, app, "my.thing", fmt="THING/[tenantid]/[SEQ_THING]")
    assert err.params["sequences"] == ["SEQ_THING"] and err.params["idName"] == "my.thing"
    assert sequences(app) == {} and event_rows(app) == ([], [])
    assert gen(app, "receipt.id") == ["11/2026-27/000001"]                     # SEQ_COLL_RCPT_NUM exists now
    assert gen(app, "my.thing", fmt="THING/[tenantid]/[SEQ_COLL_RCPT_NUM]") == ["THING/pb.amritsar/000002"]
    assert gen(app, "my.thing", fmt="THING-[cy:yyyy]") == ["THING-2026"]        # no sequence at all: fine
    # a configured idname: the MDMS format overrides the caller's (egov-idgen does the same)
    assert gen(app, "receipt.id", fmt="IGNORED-[SEQ_IGNORED]") == ["11/2026-27/000003"]
    assert "SEQ_IGNORED" not in sequences(app)


def test_a_city_level_idformat_is_not_used_the_master_is_state_level(app: App) -> None:
    # master-config marks common-masters.IdFormat isStateLevel: DIGIT's MDMS answers a city with the
    # state's formats, whatever the city's own file says
    seed_mdms(app, files=(), extra={(AMRITSAR, "common-masters", "IdFormat"): [
        {"idname": "receipt.id", "format": "ASR/[fy:yyyy-yy]/[SEQ_ASR_RCPT]"}]})
    assert gen(app, "receipt.id") == ["11/2026-27/000001"]
    assert gen(app, "receipt.id", tenant="pb.jalandhar") == ["11/2026-27/000002"]


def test_counter_code_in_the_series(app: App, tmp_path: Path) -> None:
    fmt = "[COUNTER]/[fy:yyyy-yy]/[SEQ_RCPT_COUNTER]"
    counter_format = {("pb", "common-masters", "IdFormat"): [{"idname": "counter.receipt", "format": fmt}]}
    seed_mdms(app, files=(), extra=counter_format)
    assert gen(app, "counter.receipt") == ["C01/2026-27/000001"]
    bare = make_app(f"sqlite:///{tmp_path}/bare.db", counter=None)
    seed_mdms(bare, files=(), extra=counter_format)
    try:
        err = refused("IDGEN_NO_COUNTER", gen, bare, "counter.receipt")
        assert err.params["format"] == fmt
        assert sequences(bare) == {} and event_rows(bare) == ([], [])
    finally:
        bare.close()


# -- refusals: a code, and nothing written --------------------------------------------------------
def test_unclosed_bracket_of_rev_grants_is_refused(app: App) -> None:
    err = refused("IDGEN_INVALID_FORMAT", gen, app, "rev_grants.receipt.id")
    assert err.params == {"idName": "rev_grants.receipt.id", "format": "[cy:MM]/[fy:yyyy-yy]/[SEQ_EGOV_COMMON",
                          "reason": err.params["reason"]}
    assert sequences(app) == {} and event_rows(app) == ([], [])


def test_unknown_idname_is_refused(app: App) -> None:
    with pytest.raises(NotFound) as info:
        gen(app, "no.such.id")
    assert info.value.code == "ID_NOT_FOUND"
    assert info.value.message == "No Format is available in the MDMS for the given name and tenant"
    assert sequences(app) == {} and event_rows(app) == ([], [])


@pytest.mark.parametrize("count", [0, -1, 10_001])
def test_count_out_of_range_is_refused(app: App, count: int) -> None:
    refused("IDGEN_INVALID_COUNT", gen, app, "receipt.id", count=count)
    assert sequences(app) == {}


def test_largest_block(app: App) -> None:
    ids = gen(app, "receipt.id", count=10_000)
    assert ids[0] == "11/2026-27/000001" and ids[-1] == "11/2026-27/010000" and len(set(ids)) == 10_000


def test_unknown_tenant_is_refused(app: App) -> None:
    refused("INVALID_TENANTID", gen, app, "receipt.id", tenant="pb.nowhere")
    refused("INVALID_TENANTID", gen, app, "receipt.id", tenant="xx")
    assert sequences(app) == {}


def test_an_actor_without_the_action_is_refused(app: App) -> None:
    clerk = Actor(uuid="u-1", user_name="clerk", type="EMPLOYEE", roles=(Role("CITIZEN", AMRITSAR),))
    ctx = dataclasses.replace(app.context(AMRITSAR), actor=clerk)
    with pytest.raises(Forbidden):
        idgen.generate(app, ctx, "receipt.id", AMRITSAR)
    assert sequences(app) == {}


# -- sequences: continue, roll back, never reuse -----------------------------------------------------
def test_sequence_continues_across_calls_and_a_new_app(app: App, store_url: str) -> None:
    assert gen(app, "receipt.id") == ["11/2026-27/000001"]
    assert gen(app, "receipt.id", count=3) == [f"11/2026-27/00000{i}" for i in (2, 3, 4)]
    app.close()
    again = bootstrap.build(store_url, clock=FixedClock(NOW))
    try:
        assert gen(again, "receipt.id") == ["11/2026-27/000005"]
    finally:
        again.close()


def test_rollback_of_the_callers_unit_of_work_issues_nothing(app: App) -> None:
    ctx = app.context(AMRITSAR)
    with app.uow(ctx) as uow:
        taken = idgen.generate_in(uow, app, "receipt.id", AMRITSAR, count=2)
        assert taken == ["11/2026-27/000001", "11/2026-27/000002"]
        # no commit: the payment this numbered failed
    assert sequences(app) == {} and event_rows(app) == ([], [])
    assert gen(app, "receipt.id", count=2) == taken                 # handed out again

    with app.uow(ctx) as uow:
        committed = idgen.generate_in(uow, app, "receipt.id", AMRITSAR)
        uow.commit()
    assert committed == ["11/2026-27/000003"]
    assert gen(app, "receipt.id") == ["11/2026-27/000004"]          # a committed block is never reused
    outbox, audit = event_rows(app)
    assert len(outbox) == len(audit) == 3


CRASH_CHILD = textwrap.dedent("""
    import os, sys, datetime as dt
    from digitctl import bootstrap
    from digitctl.clock import FixedClock, IST
    from digitctl.services import idgen
    url, mode = sys.argv[1], sys.argv[2]
    app = bootstrap.build(url, clock=FixedClock(dt.datetime(2026, 11, 25, 10, 30, tzinfo=IST)))
    uow = app.uow(app.context("pb.amritsar")).__enter__()
    ids = idgen.generate_in(uow, app, "receipt.id", "pb.amritsar", count=3)
    if mode == "commit":
        uow.commit()
    print(" ".join(ids), flush=True)
    os._exit(0)    # die without closing anything (a pulled plug, as far as Python is concerned)
""")


def test_a_crashed_process_never_causes_reuse(app: App, store_url: str) -> None:
    def child(mode: str) -> list[str]:
        done = subprocess.run([sys.executable, "-c", CRASH_CHILD, store_url, mode], capture_output=True,
                              text=True, timeout=60, env={**os.environ, "PYTHONPATH": os.getcwd()})
        assert done.returncode == 0, done.stderr
        return done.stdout.split()

    assert child("commit") == ["11/2026-27/000001", "11/2026-27/000002", "11/2026-27/000003"]
    assert gen(app, "receipt.id") == ["11/2026-27/000004"]
    # died holding the write lock, before commit: the lock is released, nothing was issued
    assert child("crash") == ["11/2026-27/000005", "11/2026-27/000006", "11/2026-27/000007"]
    assert gen(app, "receipt.id") == ["11/2026-27/000005"]
    assert sequences(app) == {"SEQ_COLL_RCPT_NUM": 5}


# -- outbox and audit --------------------------------------------------------------------------------
def test_each_generate_writes_one_outbox_event_and_one_audit_record(app: App) -> None:
    ids = gen(app, "waterservice.connection.id", count=2)
    gen(app, "receipt.id")
    outbox, audit = event_rows(app)
    assert len(outbox) == 2 and len(audit) == 2
    first = outbox[0]
    assert first.entity_type == "IdSequence" and first.entity_id == "waterservice.connection.id"
    assert first.tenant_id == AMRITSAR and first.counter_code == "C01"
    assert first.payload == {"idName": "waterservice.connection.id", "tenantId": AMRITSAR,
                             "format": "WS/[CITY.CODE]/[fy:yyyy-yy]/[SEQ_WS_CON_[TENANT_ID]]", "count": 2,
                             "idResponses": [{"id": i} for i in ids]}
    rec = audit[0]
    assert rec.event_id == first.event_id and rec.operation == "/egov-idgen/id/_generate"
    assert rec.before == {"SEQ_WS_CON_PB_AMRITSAR": 0} and rec.after == {"SEQ_WS_CON_PB_AMRITSAR": 2}
    assert rec.occurred_at == NOW and audit[1].prev_hash == rec.hash
    assert audit[1].after == {"SEQ_COLL_RCPT_NUM": 1}


# -- concurrency ----------------------------------------------------------------------------------------
WORKER = textwrap.dedent("""
    import os, sys, time, datetime as dt
    from digitctl import bootstrap
    from digitctl.clock import FixedClock, IST
    from digitctl.services import idgen
    url, n, go, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    app = bootstrap.build(url, clock=FixedClock(dt.datetime(2026, 11, 25, 10, 30, tzinfo=IST)))
    ctx = app.context("pb.amritsar")
    idgen.plan(app, "receipt.id", "pb.amritsar")            # warm up before the start line
    while not os.path.exists(go):
        time.sleep(0.005)
    ids = []
    for _ in range(n):
        ids += idgen.generate(app, ctx, "receipt.id", "pb.amritsar")
    with open(out, "w") as f:
        f.write("\\n".join(ids))
    app.close()
""")


def run_two_processes(url: str, tmp_path: Path, per_process: int) -> list[str]:
    go = tmp_path / "go"
    outs = [tmp_path / f"ids-{k}.txt" for k in range(2)]
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, url, str(per_process), str(go), str(out)],
                              env=env, stderr=subprocess.PIPE, text=True) for out in outs]
    time.sleep(1.0)
    go.touch()
    for p in procs:
        _, err = p.communicate(timeout=900)
        assert p.returncode == 0, err
    ids: list[str] = []
    for out in outs:
        chunk = out.read_text().split("\n")
        assert len(chunk) == per_process
        ids += chunk
    return ids


def assert_all_distinct_and_dense(ids: list[str], total: int) -> None:
    assert len(ids) == total
    assert len(set(ids)) == total, "the same id was handed out twice"
    numbers = sorted(int(i.rsplit("/", 1)[1]) for i in ids)
    assert numbers == list(range(1, total + 1))


@pytest.mark.slow
def test_two_processes_on_one_sqlite_file_never_share_an_id(app: App, store_url: str, tmp_path: Path) -> None:
    # 1,000 each, as on PostgreSQL below: a read-then-write numbering shows duplicates within the
    # first few hundred; DIGIT_SLOW_SCALE runs longer.
    per_process = max(1, int(1_000 * SCALE))
    ids = run_two_processes(store_url, tmp_path, per_process)
    assert_all_distinct_and_dense(ids, 2 * per_process)
    assert sequences(app) == {"SEQ_COLL_RCPT_NUM": 2 * per_process}
    outbox, audit = event_rows(app)
    assert len(outbox) == len(audit) == 2 * per_process


# -- PostgreSQL (a fresh database per test from conftest's `pg_url`; skipped when unreachable) -------------
@pytest.fixture
def pg_app(pg_url: str) -> Iterator[App]:
    a = make_app(pg_url)
    yield a
    a.close()


@pytest.mark.postgres
def test_postgres_sequence_continues_and_rolls_back(pg_app: App, pg_url: str) -> None:
    assert pg_app.store.dialect == "postgresql"
    assert gen(pg_app, "waterservice.connection.id", count=2) == ["WS/107/2026-27/000001", "WS/107/2026-27/000002"]
    ctx = pg_app.context(AMRITSAR)
    with pg_app.uow(ctx) as uow:
        assert idgen.generate_in(uow, pg_app, "receipt.id", AMRITSAR) == ["11/2026-27/000001"]
    assert gen(pg_app, "receipt.id") == ["11/2026-27/000001"]
    again = bootstrap.build(pg_url, clock=FixedClock(NOW))
    try:
        assert gen(again, "receipt.id", count=2) == ["11/2026-27/000002", "11/2026-27/000003"]
    finally:
        again.close()
    assert sequences(pg_app) == {"SEQ_WS_CON_PB_AMRITSAR": 2, "SEQ_COLL_RCPT_NUM": 3}
    outbox, audit = event_rows(pg_app)
    assert len(outbox) == len(audit) == 3


@pytest.mark.postgres
@pytest.mark.slow
def test_postgres_two_processes_never_share_an_id(pg_app: App, pg_url: str, tmp_path: Path) -> None:
    # 1,000 each: a PostgreSQL round trip costs ~8 ms per durable call here, 10,000 would take 2 min.
    # A read-then-write numbering shows duplicates within the first few hundred.
    per_process = max(1, int(1_000 * SCALE))
    ids = run_two_processes(pg_url, tmp_path, per_process)
    assert_all_distinct_and_dense(ids, 2 * per_process)
    assert sequences(pg_app) == {"SEQ_COLL_RCPT_NUM": 2 * per_process}
