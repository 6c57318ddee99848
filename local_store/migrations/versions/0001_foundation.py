"""foundation: meta, mdms, sequences, outbox, audit

Revision ID: 0001
Revises: 
Create Date: 2026-11-25
"""
from alembic import op
import sqlalchemy as sa

import local_store.types


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_record',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('record_id', sa.String(length=36), nullable=False),
    sa.Column('event_id', sa.String(length=36), nullable=True),
    sa.Column('occurred_at', local_store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor_uuid', sa.String(length=64), nullable=False),
    sa.Column('actor_name', sa.String(length=256), nullable=False),
    sa.Column('tenant_id', sa.String(length=128), nullable=False),
    sa.Column('operation', sa.String(length=256), nullable=False),
    sa.Column('entity_type', sa.String(length=128), nullable=False),
    sa.Column('entity_id', sa.String(length=256), nullable=False),
    sa.Column('before', sa.JSON(), nullable=True),
    sa.Column('after', sa.JSON(), nullable=True),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.Column('signature', sa.Text(), nullable=True),
    sa.Column('key_id', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_audit_record')),
    sa.UniqueConstraint('record_id', name=op.f('uq_audit_record_record_id')),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('audit_record', schema=None) as batch_op:
        batch_op.create_index('ix_audit_record_entity', ['entity_type', 'entity_id'], unique=False)

    op.create_table('id_sequence',
    sa.Column('name', sa.String(length=256), nullable=False),
    sa.Column('value', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_id_sequence'))
    )
    op.create_table('mdms_record',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('tenant_id', sa.String(length=128), nullable=False),
    sa.Column('module', sa.String(length=128), nullable=False),
    sa.Column('master', sa.String(length=128), nullable=False),
    sa.Column('unique_key', sa.String(length=512), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('data_hash', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=1024), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('created_at', local_store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', local_store.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mdms_record')),
    sa.UniqueConstraint('tenant_id', 'module', 'master', 'unique_key', name='uq_mdms_record_identity')
    )
    with op.batch_alter_table('mdms_record', schema=None) as batch_op:
        batch_op.create_index('ix_mdms_record_lookup', ['module', 'master', 'tenant_id', 'position'], unique=False)

    op.create_table('mdms_schema',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('tenant_id', sa.String(length=128), nullable=False),
    sa.Column('code', sa.String(length=256), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('definition', sa.JSON(), nullable=False),
    sa.Column('definition_hash', sa.String(length=64), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('created_at', local_store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', local_store.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mdms_schema')),
    sa.UniqueConstraint('tenant_id', 'code', name='uq_mdms_schema_identity')
    )
    op.create_table('outbox_event',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('event_id', sa.String(length=36), nullable=False),
    sa.Column('event_type', sa.String(length=128), nullable=False),
    sa.Column('tenant_id', sa.String(length=128), nullable=False),
    sa.Column('entity_type', sa.String(length=128), nullable=False),
    sa.Column('entity_id', sa.String(length=256), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('occurred_at', local_store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('store_id', sa.String(length=36), nullable=False),
    sa.Column('counter_code', sa.String(length=32), nullable=True),
    sa.Column('published_at', local_store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_outbox_event')),
    sa.UniqueConstraint('event_id', name=op.f('uq_outbox_event_event_id')),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('outbox_event', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_event_unpublished', ['published_at', 'seq'], unique=False)

    op.create_table('store_meta',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_store_meta'))
    )


def downgrade() -> None:
    op.drop_table('store_meta')
    with op.batch_alter_table('outbox_event', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_event_unpublished')

    op.drop_table('outbox_event')
    op.drop_table('mdms_schema')
    with op.batch_alter_table('mdms_record', schema=None) as batch_op:
        batch_op.drop_index('ix_mdms_record_lookup')

    op.drop_table('mdms_record')
    op.drop_table('id_sequence')
    with op.batch_alter_table('audit_record', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_record_entity')

    op.drop_table('audit_record')
