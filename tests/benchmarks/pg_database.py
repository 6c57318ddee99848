"""A fresh PostgreSQL database on the local server for a benchmark, and its drop: the hub
benchmarks' common set-up (they print 'skipped' and exit 0 where no server answers)."""
from __future__ import annotations

import uuid
from typing import Any, NamedTuple

SERVER = "postgresql://postgres@127.0.0.1:5432/test"


class BenchDatabase(NamedTuple):
    admin: Any          # an autocommit connection to the server's `test` database
    name: str
    dsn: str            # for psycopg
    url: str            # for a digitctl store (SQLAlchemy's psycopg dialect)

    def drop(self) -> None:
        self.admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        self.admin.close()


def fresh_database(prefix: str) -> BenchDatabase | None:
    """CREATE DATABASE `prefix`_xxxxxxxx, or None (said on stdout) when the server is not there."""
    try:
        import psycopg

        admin = psycopg.connect(SERVER, autocommit=True, connect_timeout=3)
    except Exception as err:  # noqa: BLE001 - any failure to reach the server is the same skip
        print(f"PostgreSQL not reachable at 127.0.0.1:5432 ({err}); skipped")
        return None
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    dsn = SERVER.rsplit("/", 1)[0] + "/" + name
    return BenchDatabase(admin, name, dsn, dsn.replace("postgresql://", "postgresql+psycopg://"))
