"""localization messages, notifications and opt-outs

- `localization_message`: egov-localization's messages per (tenant, locale, module, code).
- `notification`: one row per (outbox event, channel, recipient), written before sending (the
  send intent), with its status (queued / sending / sent / failed / dead), attempts, backoff,
  provider and provider message id; address and text are ciphertext.
- `notification_optout`: per user and channel.
- `ix_hub_event_entity` on hub_event (entity_type, entity_id): the hub's notifier asks whether an
  event in its outbox is a counter's, applied (the counter told it already).
The notifier's cursor over the outbox is `store_meta['notify_cursor']`: set here to the outbox's
last seq, so a store that already has a history does not text its citizens about months-old
payments the first time `notify run` starts; a new store starts at 0.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""
from alembic import op
import sqlalchemy as sa

from local_store.types import UTCDateTime


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def _pk() -> sa.Column:
    return sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False)


def upgrade() -> None:
    op.create_table('localization_message',
    _pk(),
    sa.Column('tenant_id', sa.String(length=128), nullable=False),
    sa.Column('locale', sa.String(length=16), nullable=False),
    sa.Column('module', sa.String(length=128), nullable=False),
    sa.Column('code', sa.String(length=256), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_localization_message')),
    sa.UniqueConstraint('tenant_id', 'locale', 'module', 'code', name='uq_localization_message_identity'),
    )
    with op.batch_alter_table('localization_message', schema=None) as batch_op:
        batch_op.create_index('ix_localization_message_locale', ['locale', 'tenant_id'], unique=False)
    op.create_table('notification',
    _pk(),
    sa.Column('event_id', sa.String(length=36), nullable=False),
    sa.Column('event_seq', sa.BigInteger(), nullable=False),
    sa.Column('event_type', sa.String(length=128), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('recipient', sa.String(length=128), nullable=False),
    sa.Column('tenant_id', sa.String(length=128), nullable=False),
    sa.Column('locale', sa.String(length=16), nullable=False),
    sa.Column('template_code', sa.String(length=256), nullable=False),
    sa.Column('address_enc', sa.Text(), nullable=False),
    sa.Column('subject_enc', sa.Text(), nullable=True),
    sa.Column('body_enc', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('idempotency_key', sa.String(length=36), nullable=False),
    sa.Column('provider', sa.String(length=64), nullable=True),
    sa.Column('provider_message_id', sa.String(length=128), nullable=True),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification')),
    sa.UniqueConstraint('event_id', 'channel', 'recipient', name='uq_notification_identity'),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_notification_idempotency_key')),
    sqlite_autoincrement=True,
    )
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.create_index('ix_notification_due', ['status', 'next_attempt_at'], unique=False)
    with op.batch_alter_table('hub_event', schema=None) as batch_op:
        batch_op.create_index('ix_hub_event_entity', ['entity_type', 'entity_id'], unique=False)
    op.create_table('notification_optout',
    sa.Column('user_uuid', sa.String(length=36), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('user_uuid', 'channel', name=op.f('pk_notification_optout')),
    )


    op.execute("INSERT INTO store_meta (key, value) "
               "SELECT 'notify_cursor', CAST(COALESCE(MAX(seq), 0) AS VARCHAR(20)) FROM outbox_event")


def downgrade() -> None:
    op.execute("DELETE FROM store_meta WHERE key = 'notify_cursor'")
    op.drop_table('notification_optout')
    with op.batch_alter_table('hub_event', schema=None) as batch_op:
        batch_op.drop_index('ix_hub_event_entity')
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.drop_index('ix_notification_due')
    op.drop_table('notification')
    with op.batch_alter_table('localization_message', schema=None) as batch_op:
        batch_op.drop_index('ix_localization_message_locale')
    op.drop_table('localization_message')
