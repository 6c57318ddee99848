"""counters and the hub: a per-counter sequence on the outbox, the hub's tables

- `outbox_event.counter_seq`: 1, 2, 3 ... gap-free per counter, given in the transaction that wrote
  the event once the store is registered with a hub (NULL: the store's own set-up, never pushed).
- `hub_counter`: the counters a hub enrolled (code, tenant, public key, enrolment code hash and
  expiry, revoked / flagged, last seen, last sequence, clock skew, audit head received).
- `hub_event`: every event a counter pushed, once per (counter, seq), with its content hash and
  what became of it (stored / applied / recorded / parked / waiting, reason).
- `hub_batch`: the first response to each batch id (replayed for a retry of it).
- `hub_nonce`: nonces of signed requests seen (replays refused), pruned after the time window.

Every store has these tables (a counter's stay empty): a store is one schema wherever it runs.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""
from alembic import op
import sqlalchemy as sa

from local_store.types import UTCDateTime


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox_event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('counter_seq', sa.BigInteger(), nullable=True))
        batch_op.create_index('ix_outbox_event_counter_seq', ['counter_seq'], unique=True)

    op.create_table('hub_counter',
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('tenant_id', sa.String(length=128), nullable=False),
    sa.Column('name', sa.String(length=256), nullable=False),
    sa.Column('enrolment_hash', sa.String(length=64), nullable=True),
    sa.Column('enrolment_expires_at', UTCDateTime(timezone=True), nullable=True),
    sa.Column('enrolled_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('enrolled_by', sa.String(length=64), nullable=False),
    sa.Column('registered_at', UTCDateTime(timezone=True), nullable=True),
    sa.Column('store_id', sa.String(length=36), nullable=True),
    sa.Column('public_key', sa.Text(), nullable=True),
    sa.Column('revoked_at', UTCDateTime(timezone=True), nullable=True),
    sa.Column('flagged', sa.Text(), nullable=True),
    sa.Column('last_seen', UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_seq', sa.BigInteger(), nullable=False, server_default='0'),
    sa.Column('clock_skew_ms', sa.BigInteger(), nullable=True),
    sa.Column('audit_head', sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_hub_counter')),
    sa.UniqueConstraint('enrolment_hash', name=op.f('uq_hub_counter_enrolment_hash')),
    )
    op.create_table('hub_event',
    sa.Column('counter_code', sa.String(length=32), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('event_id', sa.String(length=36), nullable=False),
    sa.Column('event_type', sa.String(length=128), nullable=False),
    sa.Column('tenant_id', sa.String(length=128), nullable=False),
    sa.Column('entity_type', sa.String(length=128), nullable=False),
    sa.Column('entity_id', sa.String(length=256), nullable=False),
    sa.Column('occurred_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('received_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('body', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reason_code', sa.String(length=128), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('applied_at', UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('counter_code', 'seq', name=op.f('pk_hub_event')),
    sa.UniqueConstraint('event_id', name=op.f('uq_hub_event_event_id')),
    )
    with op.batch_alter_table('hub_event', schema=None) as batch_op:
        batch_op.create_index('ix_hub_event_status', ['status', 'counter_code', 'seq'], unique=False)
    op.create_table('hub_batch',
    sa.Column('batch_id', sa.String(length=36), nullable=False),
    sa.Column('counter_code', sa.String(length=32), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=False),
    sa.Column('response', sa.JSON(), nullable=False),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('batch_id', name=op.f('pk_hub_batch')),
    )
    op.create_table('hub_nonce',
    sa.Column('counter_code', sa.String(length=32), nullable=False),
    sa.Column('nonce', sa.String(length=64), nullable=False),
    sa.Column('seen_at', UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('counter_code', 'nonce', name=op.f('pk_hub_nonce')),
    )


def downgrade() -> None:
    op.drop_table('hub_nonce')
    op.drop_table('hub_batch')
    with op.batch_alter_table('hub_event', schema=None) as batch_op:
        batch_op.drop_index('ix_hub_event_status')
    op.drop_table('hub_event')
    op.drop_table('hub_counter')
    with op.batch_alter_table('outbox_event', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_event_counter_seq')
        batch_op.drop_column('counter_seq')
