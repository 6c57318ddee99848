"""One engine factory: SQLite (WAL, foreign keys, busy timeout, synchronous=FULL, BEGIN IMMEDIATE
for writes) or any PostgreSQL URL; and `Store`, which owns the engine and the schema version."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url

READONLY = "digit_readonly"   # execution option: a transaction that only reads
BUSY_TIMEOUT_MS = 30_000


def default_store_url() -> str:
    """`DIGIT_STORE`, else a SQLite file in the user data directory."""
    env = os.environ.get("DIGIT_STORE")
    if env:
        return normalize_url(env)
    from platformdirs import user_data_dir

    folder = Path(user_data_dir("digitctl", appauthor=False))
    return f"sqlite:///{folder / 'store.db'}"


def normalize_url(url: str) -> str:
    """Accept a bare path for SQLite and `postgresql://` for psycopg 3."""
    if "://" not in url:
        return f"sqlite:///{Path(url).expanduser().absolute()}"
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _sqlite_hooks(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control away from pysqlite so that "begin" below decides.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA foreign_keys = ON")
        # FULL: a recorded payment survives power loss, not only a crash of the process.
        cur.execute("PRAGMA synchronous = FULL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Writers take the write lock up front: a deferred BEGIN that reads first then writes
        # fails with "database is locked" regardless of busy_timeout (DESIGN.md rule 9).
        if conn.get_execution_options().get(READONLY):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str) -> Engine:
    url = normalize_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
        _sqlite_hooks(engine)
        return engine
    return create_engine(url, pool_pre_ping=True)


class Store:
    """The store at one URL: its engine, its schema version, its facts (store_meta)."""

    def __init__(self, url: str) -> None:
        self.url = normalize_url(url)
        self.engine = make_engine(self.url)
        self.readonly_engine = self.engine.execution_options(**{READONLY: True})

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def display_url(self) -> str:
        return make_url(self.url).render_as_string(hide_password=True)

    # -- schema ------------------------------------------------------------------------------
    def current_revision(self) -> str | None:
        with self.engine.connect() as conn:
            if not inspect(conn).has_table("alembic_version"):
                return None
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()

    def is_initialized(self) -> bool:
        return self.current_revision() is not None

    def upgrade(self) -> tuple[str | None, str]:
        """Bring the schema to head; returns (revision before, revision after)."""
        from local_store.migrate import upgrade_to_head

        before = self.current_revision()
        upgrade_to_head(self.engine)
        after = self.current_revision()
        assert after is not None
        return before, after

    def dispose(self) -> None:
        self.engine.dispose()
