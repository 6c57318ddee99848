"""Many rows into one table in the caller's transaction: on PostgreSQL one COPY (an executemany of
500 rows costs ~30-80 us a row in per-row binding and pipeline round trips; COPY streams them),
elsewhere, or for a few rows, an executemany. Values go through the columns' bind processors
(UTC times, JSON documents, paise) as an INSERT would bind them; a driver error is raised as
SQLAlchemy's DBAPIError (IntegrityError, OperationalError ...) as an INSERT's would be."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

COPY_FROM = 32          # fewer rows: the INSERT (COPY's set-up costs about as much as a few rows)


def _copyable(table: Table, keys: list[str]) -> bool:
    """Every column left out has no Python-side default (COPY would not apply it)."""
    given = set(keys)
    return all(k in table.c for k in keys) and all(
        col.key in given or col.default is None for col in table.c)


def insert_rows(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    if not rows:
        return
    keys = list(rows[0])
    if (conn.dialect.name != "postgresql" or len(rows) < COPY_FROM or not _copyable(table, keys)
            or any(len(r) != len(keys) for r in rows)):
        conn.execute(table.insert(), list(rows))
        return
    prep = conn.dialect.identifier_preparer
    cols = [table.c[k] for k in keys]
    procs = [col.type._cached_bind_processor(conn.dialect) for col in cols]
    stmt = f"COPY {prep.format_table(table)} ({', '.join(prep.quote(c.name) for c in cols)}) FROM STDIN"
    raw: Any = conn.connection.driver_connection
    dbapi_error = conn.dialect.loaded_dbapi.Error
    try:
        with raw.cursor() as cur, cur.copy(stmt) as copy:
            for r in rows:
                copy.write_row([r[k] if p is None else p(r[k]) for k, p in zip(keys, procs)])
    except dbapi_error as err:
        raise DBAPIError.instance(stmt, None, err, dbapi_error) from err
