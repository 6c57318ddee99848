"""The local store: engine (SQLite pragmas / PostgreSQL), tables, unit of work, migrations."""
