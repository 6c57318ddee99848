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


def private_dirs(folder: Path) -> None:
    """Create `folder` and any missing parents, each 0700 whatever the umask (folders that
    already exist are left as they are)."""
    missing = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for d in reversed(missing):
        d.mkdir(mode=0o700, exist_ok=True)
        if os.name == "posix":
            os.chmod(d, 0o700)


def _private_sqlite_file(database: str) -> None:
    """The store holds password hashes and payments: its file is its owner's alone (0600).
    SQLite creates -wal and -shm with the database file's mode, so they are 0600 too. A store
    an older digitctl left readable by others is tightened when opened (if we own it). Runs when
    a connection is first opened, so a command that only asks whether a store exists leaves no
    empty file behind."""
    path = Path(database)
    try:
        private_dirs(path.parent)
        if not path.exists():
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    except OSError as err:
        from digitctl.errors import InvalidInput

        folder = path.parent
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        raise InvalidInput("STORE_NOT_WRITABLE", f"cannot create the store {path}: the folder {folder} "
                           f"is not writable ({err.strerror or type(err).__name__})",
                           {"store": str(path), "folder": str(folder)}) from None
    if os.name != "posix":
        return
    for f in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            st = f.stat()
            if st.st_mode & 0o077 and st.st_uid == os.getuid():
                os.chmod(f, 0o600)
        except FileNotFoundError:
            pass


def make_engine(url: str) -> Engine:
    url = normalize_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
        if database and database != ":memory:" and not database.startswith("file:"):
            file = database

            @event.listens_for(engine, "do_connect")
            def _before_connect(*_args: Any) -> None:
                _private_sqlite_file(file)
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
    def sqlite_file(self) -> Path | None:
        """The store's file (SQLite on disk), else None."""
        parsed = make_url(self.url)
        database = parsed.database
        if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:" \
                or database.startswith("file:"):
            return None
        return Path(database)

    def current_revision(self) -> str | None:
        file = self.sqlite_file()
        if file is not None and not file.exists():
            return None              # no store yet: asking must not create an empty file
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
