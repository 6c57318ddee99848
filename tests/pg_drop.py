"""Drops the test databases a test session left queued (tests/conftest.py PgDatabases.close), in a
process of its own that outlives pytest. A name that cannot be dropped is printed to stderr (the
caller appends it to digitctl-test-pg-drops.log in the temporary folder): a leak on the server."""
from __future__ import annotations

import sys

import psycopg


def main(server: str, names: list[str]) -> int:
    failed = 0
    with psycopg.connect(server.replace("+psycopg", ""), autocommit=True, connect_timeout=10) as conn:
        for name in names:
            try:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            except psycopg.Error as err:
                failed += 1
                print(f"could not drop {name}: {err}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
