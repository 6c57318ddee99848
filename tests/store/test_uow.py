"""The unit of work (DESIGN.md rule 3): nothing is written unless commit() is called, and a commit
writes the entity, its outbox events and its hash-chained audit records together or not at all.
Runs on SQLite and PostgreSQL."""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import delete, event, func, select

from digitctl.bootstrap import App
from digitctl.clock import FixedClock
from digitctl.domain.canonical import sha256_hex
from digitctl.domain.events import Event
from local_store.uow import AUDIT_HEAD, GENESIS, audit_body
from local_store.models import AuditRecord, IdSequence, OutboxEvent, StoreMeta

PUNJAB = "ਪੰਜਾਬ"


def an_event(n: int = 1) -> Event:
    return Event("test.thing.changed", "pb.amritsar", "Thing", f"thing-{n}", "/test/thing/_update",
                 {"thing": {"name": f"{PUNJAB} {n}", "n": n, "tags": ["ਅੰਮ੍ਰਿਤਸਰ", "नगर"]}},
                 before={"name": None}, after={"name": f"{PUNJAB} {n}"})


def sequence_names(app: App) -> list[str]:
    with app.store.readonly_engine.connect() as conn:
        return list(conn.execute(select(IdSequence.name).order_by(IdSequence.name)).scalars())


def counts(app: App) -> tuple[int, int]:
    with app.store.readonly_engine.connect() as conn:
        return (conn.execute(select(func.count()).select_from(OutboxEvent)).scalar_one(),
                conn.execute(select(func.count()).select_from(AuditRecord)).scalar_one())


def rows(app: App, table: Any, after_seq: int = 0) -> list[dict[str, Any]]:
    with app.store.readonly_engine.connect() as conn:
        result = conn.execute(select(table).where(table.c.seq > after_seq).order_by(table.c.seq))
        return [dict(r) for r in result.mappings()]


def meta(app: App, key: str) -> str | None:
    with app.store.readonly_engine.connect() as conn:
        return conn.execute(select(StoreMeta.value).where(StoreMeta.key == key)).scalar()


def max_seq(app: App) -> int:
    with app.store.readonly_engine.connect() as conn:
        return conn.execute(select(func.max(OutboxEvent.seq))).scalar() or 0


def test_rolls_back_uncommitted_work_by_default(app: App) -> None:
    before = counts(app)
    with app.uow(app.context("pb")) as uow:
        uow.session.add(IdSequence(name="pb.uncommitted", value=7))
        uow.session.flush()
        uow.record(an_event())
    assert sequence_names(app) == []
    assert counts(app) == before


def test_an_exception_in_the_block_leaves_nothing(app: App) -> None:
    before = counts(app)
    with pytest.raises(RuntimeError, match="midway"):
        with app.uow(app.context("pb")) as uow:
            uow.session.add(IdSequence(name="pb.failed", value=1))
            uow.session.flush()
            uow.record(an_event())
            raise RuntimeError("midway")
    assert sequence_names(app) == []
    assert counts(app) == before


def test_commit_writes_entity_outbox_and_chained_audit(app: App, frozen_clock: FixedClock) -> None:
    last_outbox = max_seq(app)
    last_audit = max(r["seq"] for r in rows(app, AuditRecord.__table__))
    head_before = meta(app, AUDIT_HEAD)
    assert head_before is not None and head_before != GENESIS      # init recorded events already

    events = [an_event(n) for n in (1, 2, 3)]
    with app.uow(app.context("pb")) as uow:
        uow.session.add(IdSequence(name="pb.committed", value=3))
        for ev in events:
            uow.record(ev)
        uow.commit()

    assert sequence_names(app) == ["pb.committed"]
    outbox = rows(app, OutboxEvent.__table__, last_outbox)
    assert len(outbox) == 3
    seqs = [r["seq"] for r in outbox]
    assert seqs == sorted(seqs) and len(set(seqs)) == 3
    assert len({r["event_id"] for r in outbox}) == 3
    for row, ev in zip(outbox, events):
        uuid.UUID(row["event_id"])
        assert (row["event_type"], row["tenant_id"], row["entity_type"], row["entity_id"]) == \
               (ev.event_type, ev.tenant_id, ev.entity_type, ev.entity_id)
        assert row["payload"] == ev.payload                       # non-ASCII text round-trips
        assert row["occurred_at"] == frozen_clock.now()
        assert row["store_id"] == meta(app, "store_id")
        assert row["counter_code"] == "C01"
        assert row["published_at"] is None and row["attempts"] == 0

    audit = rows(app, AuditRecord.__table__, last_audit)
    assert len(audit) == 3
    assert [r["event_id"] for r in audit] == [r["event_id"] for r in outbox]
    prev = head_before
    for row, ev in zip(audit, events):
        assert row["prev_hash"] == prev
        assert row["hash"] == sha256_hex(row["prev_hash"] + audit_body(row))
        assert (row["operation"], row["before"], row["after"]) == (ev.operation, ev.before, ev.after)
        assert row["occurred_at"] == frozen_clock.now()
        prev = row["hash"]
    assert meta(app, AUDIT_HEAD) == prev


def test_the_whole_chain_links_from_genesis(app: App) -> None:
    for n in (1, 2):
        with app.uow(app.context("pb")) as uow:
            uow.record(an_event(n))
            uow.commit()
    chain = rows(app, AuditRecord.__table__)
    assert len(chain) >= 4                                        # init's events + ours
    prev = GENESIS
    for row in chain:
        assert row["prev_hash"] == prev
        assert row["hash"] == sha256_hex(prev + audit_body(row))
        prev = row["hash"]
    assert meta(app, AUDIT_HEAD) == prev


@pytest.fixture(params=["INSERT INTO outbox_event", "INSERT INTO audit_record", "UPDATE store_meta"])
def failing_statement(request: pytest.FixtureRequest, app: App) -> Iterator[str]:
    """Make one statement of the commit fail, as a full disk or a lost connection would."""
    prefix: str = request.param

    def boom(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith(prefix.upper()):
            raise RuntimeError(f"injected failure at {prefix}")

    event.listen(app.store.engine, "before_cursor_execute", boom)
    try:
        yield prefix
    finally:
        event.remove(app.store.engine, "before_cursor_execute", boom)


def test_a_failure_inside_commit_leaves_nothing(app: App, failing_statement: str) -> None:
    before = counts(app)
    head = meta(app, AUDIT_HEAD)
    with pytest.raises(Exception, match="injected failure"):
        with app.uow(app.context("pb")) as uow:
            uow.session.add(IdSequence(name="pb.half", value=1))
            for n in (1, 2, 3):
                uow.record(an_event(n))
            uow.commit()
    assert sequence_names(app) == []
    assert counts(app) == before
    assert meta(app, AUDIT_HEAD) == head


def test_after_a_failed_commit_the_chain_continues_from_the_old_head(app: App) -> None:
    head = meta(app, AUDIT_HEAD)

    def boom(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO AUDIT_RECORD"):
            raise RuntimeError("injected failure")

    event.listen(app.store.engine, "before_cursor_execute", boom)
    with pytest.raises(Exception, match="injected failure"):
        with app.uow(app.context("pb")) as uow:
            uow.record(an_event(1))
            uow.commit()
    event.remove(app.store.engine, "before_cursor_execute", boom)

    last = max(r["seq"] for r in rows(app, AuditRecord.__table__))
    with app.uow(app.context("pb")) as uow:
        uow.record(an_event(2))
        uow.commit()
    [row] = rows(app, AuditRecord.__table__, last)
    assert row["prev_hash"] == head


def test_outbox_seq_is_never_reused(app: App) -> None:
    with app.uow(app.context("pb")) as uow:
        uow.record(an_event(1))
        uow.commit()
    highest = max_seq(app)
    with app.store.engine.begin() as conn:
        conn.execute(delete(OutboxEvent))          # the relay pruned everything it published
    assert max_seq(app) == 0
    with app.uow(app.context("pb")) as uow:
        uow.record(an_event(2))
        uow.commit()
    assert max_seq(app) > highest
