"""at most one ACTIVE bill per consumer code

A partial unique index on bill (tenant_id, business_service, consumer_code) WHERE status = 'ACTIVE'
(SQLite and PostgreSQL both have partial indexes): the store itself now refuses a second ACTIVE
bill for one consumer code of one business service at one tenant, which _fetchbill could make
on PostgreSQL when two fetches of the same consumer code overlapped (billing.fetch_bill now also
serialises them, so the index is the backstop, not the mechanism).

Existing data: a store written before this revision on PostgreSQL may already hold several
ACTIVE bills for one key. Before the index is created, all but the newest of them (latest
created_at, then the greatest id) are marked EXPIRED -- the row's status and the "status" in its
Bill JSON, updated_at set to now -- exactly as _fetchbill expires a stale bill. Payments already
taken on such a bill are untouched (a PAID / PARTIALLY_PAID bill is not ACTIVE). No outbox event
or audit record is written for these expiries: a migration runs outside a unit of work.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""
import datetime as dt

from alembic import op
import sqlalchemy as sa

import local_store.types


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

INDEX = 'uq_bill_active_consumer'
KEY = ['tenant_id', 'business_service', 'consumer_code']
ACTIVE = sa.text("status = 'ACTIVE'")

bill = sa.table(
    'bill',
    sa.column('id', sa.String(36)),
    sa.column('tenant_id', sa.String(128)),
    sa.column('business_service', sa.String(128)),
    sa.column('consumer_code', sa.String(128)),
    sa.column('status', sa.String(16)),
    sa.column('bill', sa.JSON()),
    sa.column('created_at', local_store.types.UTCDateTime(timezone=True)),
    sa.column('updated_at', local_store.types.UTCDateTime(timezone=True)),
)


def _expire_duplicate_active_bills() -> int:
    conn = op.get_bind()
    key = [bill.c[k] for k in KEY]
    dup_keys = (sa.select(*key).where(bill.c.status == 'ACTIVE').group_by(*key)
                .having(sa.func.count() > 1))
    rows = conn.execute(
        sa.select(bill.c.id, bill.c.bill, *key)
        .where(bill.c.status == 'ACTIVE', sa.tuple_(*key).in_(dup_keys.subquery().select()))
        .order_by(*key, bill.c.created_at.desc(), bill.c.id.desc())).all()
    now = dt.datetime.now(dt.timezone.utc)
    seen: set[tuple[str, str, str]] = set()
    expired = 0
    for row in rows:
        k = (row.tenant_id, row.business_service, row.consumer_code)
        if k not in seen:               # the newest ACTIVE bill of the key stays
            seen.add(k)
            continue
        doc = {**(row.bill or {}), 'status': 'EXPIRED'}
        conn.execute(bill.update().where(bill.c.id == row.id)
                     .values(status='EXPIRED', bill=doc, updated_at=now))
        expired += 1
    return expired


def upgrade() -> None:
    _expire_duplicate_active_bills()
    with op.batch_alter_table('bill', schema=None) as batch_op:
        batch_op.create_index(INDEX, KEY, unique=True, sqlite_where=ACTIVE, postgresql_where=ACTIVE)


def downgrade() -> None:
    with op.batch_alter_table('bill', schema=None) as batch_op:
        batch_op.drop_index(INDEX)
