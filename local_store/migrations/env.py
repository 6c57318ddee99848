"""Alembic environment: the engine comes from digitctl (config.attributes), never from an ini file."""
from __future__ import annotations

from alembic import context

from local_store.models import Base, postgresql_index_options

postgresql_index_options()
config = context.config
engine = config.attributes["engine"]

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
