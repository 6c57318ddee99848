"""The SQLite engine: pragmas on every connection, writers BEGIN IMMEDIATE (DESIGN.md rule 9),
readers don't, and schema upgrades to head that can be repeated."""
from __future__ import annotations

import itertools
import json
import sqlite3
import time
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, inspect, select
from sqlalchemy.exc import OperationalError
from typer.testing import CliRunner

from digitctl.bootstrap import App
from local_store.engine import BUSY_TIMEOUT_MS, READONLY, Store
from local_store.migrate import head_revision
from local_store.models import IdSequence, StoreMeta

TINY_BUSY_MS = 50
_writes = itertools.count(1)


@pytest.fixture
def store_backend() -> str:
    """These tests are about SQLite's locking; `app` (and store_url) run on SQLite only here."""
    return "sqlite"


def second_writer(engine: Engine) -> Connection:
    """Another connection of the same engine, with a busy timeout short enough to fail fast."""
    conn = engine.connect()
    conn.connection.dbapi_connection.execute(f"PRAGMA busy_timeout = {TINY_BUSY_MS}")  # type: ignore[union-attr]
    return conn


def try_to_write(conn: Connection) -> tuple[bool, float]:
    """(whether `conn` could begin a write transaction and write, seconds it took)."""
    started = time.monotonic()
    try:
        with conn.begin():
            conn.execute(IdSequence.__table__.insert().values(name=f"second.writer.{next(_writes)}", value=1))
    except OperationalError as err:
        assert "locked" in str(err)
        return False, time.monotonic() - started
    return True, time.monotonic() - started


def test_pragmas_in_force_on_a_fresh_connection(sqlite_url: str) -> None:
    store = Store(sqlite_url)
    try:
        with store.readonly_engine.connect() as conn:
            pragma = lambda name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()  # noqa: E731
            assert pragma("journal_mode") == "wal"
            assert pragma("synchronous") == 2            # FULL
            assert pragma("foreign_keys") == 1
            assert pragma("busy_timeout") == BUSY_TIMEOUT_MS
    finally:
        store.dispose()


def test_a_write_transaction_holds_the_write_lock_from_begin(app: App) -> None:
    """Having only read, a write transaction already keeps a second writer out: its BEGIN was
    IMMEDIATE. (A deferred BEGIN would let both in and fail one of them at its first write.)"""
    engine = app.store.engine
    with engine.connect() as first, second_writer(engine) as second:
        with first.begin():
            assert first.execute(select(StoreMeta.value).where(StoreMeta.key == "store_id")).scalar()
            ok, took = try_to_write(second)
            assert not ok, "a second writer began while the first held a write transaction"
            assert took < 5, f"the second writer waited {took:.1f}s instead of failing at BEGIN"
        ok, _ = try_to_write(second)
        assert ok, "the write lock was not released by the first transaction's end"


def test_a_read_only_transaction_takes_no_write_lock(app: App) -> None:
    with app.store.readonly_engine.connect() as reader, second_writer(app.store.engine) as writer:
        assert reader.get_execution_options()[READONLY]
        with reader.begin():
            assert reader.execute(select(StoreMeta.value).where(StoreMeta.key == "store_id")).scalar()
            ok, _ = try_to_write(writer)
            assert ok, "a read-only transaction kept a writer out"
            # WAL: the reader keeps the snapshot it started with.
            assert reader.execute(select(IdSequence.name)).all() == []
        assert len(reader.execute(select(IdSequence.name)).all()) == 1


def test_a_unit_of_work_locks_out_writers_read_only_units_do_not(app: App) -> None:
    ctx = app.context("pb")
    with second_writer(app.store.engine) as writer:
        with app.uow(ctx, readonly=True) as reading:
            assert reading.meta("counter_code") == "C01"
            ok, _ = try_to_write(writer)
            assert ok, "a read-only unit of work kept a writer out"
        with app.uow(ctx) as uow:
            assert uow.meta("counter_code") == "C01"
            ok, _ = try_to_write(writer)
            assert not ok, "a second writer began while a unit of work was open (it had only read)"


def test_upgrade_reaches_head_and_is_idempotent(sqlite_url: str) -> None:
    store = Store(sqlite_url)
    try:
        assert store.current_revision() is None
        assert store.upgrade() == (None, head_revision())
        assert store.upgrade() == (head_revision(), head_revision())
        with store.engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
        assert {"alembic_version", "store_meta", "mdms_record", "outbox_event", "audit_record"} <= tables
    finally:
        store.dispose()


def test_checking_a_store_loads_neither_alembic_nor_the_postgresql_dialect() -> None:
    """Every command checks the store is current against head_revision(), which reads the version
    files without importing Alembic: it must name the head Alembic upgrades to. The models leave
    the PostgreSQL where-clause of the partial bill index to Alembic's environment, and with it
    the index still compiles with its WHERE on both databases. A command on a SQLite store that
    only checks it loads neither (they cost ~165 ms of CPU at every start)."""
    import subprocess
    import sys

    from sqlalchemy.dialects import postgresql, sqlite
    from sqlalchemy.schema import CreateIndex

    from local_store.migrate import _alembic_head
    from local_store.models import ACTIVE_BILL_INDEX, Bill, postgresql_index_options

    assert head_revision() == _alembic_head()
    postgresql_index_options()
    index = next(ix for ix in Bill.__table__.indexes if ix.name == ACTIVE_BILL_INDEX)
    for dialect in (postgresql.dialect(), sqlite.dialect()):
        assert str(CreateIndex(index).compile(dialect=dialect)).endswith("WHERE status = 'ACTIVE'")
    probe = ("import sys; import local_store.models; from local_store.migrate import head_revision; "
             "head_revision(); print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic' "
             "or m.startswith('sqlalchemy.dialects.postgresql')))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                            cwd=Path(__file__).resolve().parents[2])
    assert loaded.stdout.strip() == "[]"


def test_init_creates_a_store_in_an_empty_file_and_then_only_checks_it(tmp_path: Path) -> None:
    from digitctl.cli.main import app as cli

    path = tmp_path / "old.db"
    sqlite3.connect(path).close()          # a file that exists but holds no tables
    runner = CliRunner()
    args = ["--store", str(path), "-o", "json", "init", "--state", "pb", "--counter", "C01"]

    first = runner.invoke(cli, args)
    assert first.exit_code == 0, first.output
    created = json.loads(first.stdout)
    assert created["created"] is True
    assert created["previousRevision"] is None
    assert created["schemaRevision"] == head_revision()
    assert (created["stateTenantId"], created["counterCode"]) == ("pb", "C01")

    second = runner.invoke(cli, args)
    assert second.exit_code == 0, second.output
    checked = json.loads(second.stdout)
    assert checked["created"] is False
    assert checked["previousRevision"] == checked["schemaRevision"] == head_revision()
    assert checked["storeId"] == created["storeId"]
