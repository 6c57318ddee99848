"""the hub's excess collections (issue 12)

- `hub_excess_collection`: one row per counter payment the hub's demand could not absorb (two
  counters offline took the same dues): the payment stands, the excess is carried as advance
  (ADVANCE) or waits for a refund decision (REFUND_DECISION); `hub reconcile` lists the open rows.

Revision ID: 0012
Revises: 0009
Create Date: 2026-12-07
"""
from alembic import op
import sqlalchemy as sa

from local_store.types import UTCDateTime


revision = '0012'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('hub_excess_collection',
    sa.Column('payment_id', sa.String(length=64), nullable=False),
    sa.Column('tenant_id', sa.String(length=128), nullable=False),
    sa.Column('counter_code', sa.String(length=32), nullable=False),
    sa.Column('receipt_number', sa.String(length=128), nullable=False),
    sa.Column('business_service', sa.String(length=128), nullable=False),
    sa.Column('consumer_code', sa.String(length=256), nullable=False),
    sa.Column('amount_paise', sa.BigInteger(), nullable=False),
    sa.Column('disposition', sa.String(length=32), nullable=False),
    sa.Column('event_id', sa.String(length=36), nullable=True),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', UTCDateTime(timezone=True), nullable=True),
    sa.Column('resolution', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('payment_id', name=op.f('pk_hub_excess_collection')),
    )


def downgrade() -> None:
    op.drop_table('hub_excess_collection')
