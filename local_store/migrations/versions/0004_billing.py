"""billing collection shifts

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""
from alembic import op
import sqlalchemy as sa

import local_store.types


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('bill',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=128), nullable=False),
    sa.Column('bill_number', sa.String(length=128), nullable=False),
    sa.Column('consumer_code', sa.String(length=128), nullable=False),
    sa.Column('business_service', sa.String(length=128), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('total_amount_paise', sa.BigInteger(), nullable=False),
    sa.Column('expires_at', local_store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('mobile_bidx', sa.String(length=64), nullable=True),
    sa.Column('bill', sa.JSON(), nullable=False),
    sa.Column('created_at', local_store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', local_store.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bill'))
    )
    with op.batch_alter_table('bill', schema=None) as batch_op:
        batch_op.create_index('ix_bill_consumer', ['tenant_id', 'consumer_code', 'business_service', 'status'], unique=False)
        batch_op.create_index('ix_bill_mobile', ['mobile_bidx'], unique=False)

    op.create_table('demand',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=128), nullable=False),
    sa.Column('consumer_code', sa.String(length=128), nullable=False),
    sa.Column('consumer_type', sa.String(length=64), nullable=True),
    sa.Column('business_service', sa.String(length=128), nullable=False),
    sa.Column('payer_uuid', sa.String(length=36), nullable=True),
    sa.Column('payer_name_enc', sa.Text(), nullable=True),
    sa.Column('payer_mobile_enc', sa.Text(), nullable=True),
    sa.Column('payer_mobile_bidx', sa.String(length=64), nullable=True),
    sa.Column('tax_period_from', sa.BigInteger(), nullable=False),
    sa.Column('tax_period_to', sa.BigInteger(), nullable=False),
    sa.Column('minimum_amount_payable_paise', sa.BigInteger(), nullable=False),
    sa.Column('bill_expiry_time', sa.BigInteger(), nullable=True),
    sa.Column('fixed_bill_expiry_date', sa.BigInteger(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('is_payment_completed', sa.Boolean(), nullable=False),
    sa.Column('additional_details', sa.JSON(), nullable=True),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', local_store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', local_store.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_demand'))
    )
    with op.batch_alter_table('demand', schema=None) as batch_op:
        batch_op.create_index('ix_demand_consumer', ['tenant_id', 'consumer_code', 'business_service'], unique=False)
        batch_op.create_index(batch_op.f('ix_demand_payer_mobile_bidx'), ['payer_mobile_bidx'], unique=False)

    op.create_table('payment',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=128), nullable=False),
    sa.Column('receipt_number', sa.String(length=128), nullable=False),
    sa.Column('receipt_date', local_store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('counter_code', sa.String(length=32), nullable=True),
    sa.Column('shift_id', sa.String(length=36), nullable=True),
    sa.Column('collector_uuid', sa.String(length=64), nullable=False),
    sa.Column('bill_id', sa.String(length=36), nullable=False),
    sa.Column('business_service', sa.String(length=128), nullable=False),
    sa.Column('consumer_code', sa.String(length=128), nullable=False),
    sa.Column('payment_mode', sa.String(length=32), nullable=False),
    sa.Column('total_due_paise', sa.BigInteger(), nullable=False),
    sa.Column('amount_paid_paise', sa.BigInteger(), nullable=False),
    sa.Column('instrument_number', sa.String(length=64), nullable=True),
    sa.Column('instrument_date', sa.Date(), nullable=True),
    sa.Column('instrument_status', sa.String(length=16), nullable=False),
    sa.Column('payment_status', sa.String(length=16), nullable=False),
    sa.Column('cancel_reason', sa.String(length=64), nullable=True),
    sa.Column('remittance_id', sa.String(length=36), nullable=True),
    sa.Column('payment', sa.JSON(), nullable=False),
    sa.Column('created_at', local_store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', local_store.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment')),
    sa.UniqueConstraint('tenant_id', 'receipt_number', name='uq_payment_receipt')
    )
    with op.batch_alter_table('payment', schema=None) as batch_op:
        batch_op.create_index('ix_payment_consumer', ['tenant_id', 'consumer_code', 'business_service'], unique=False)
        batch_op.create_index('ix_payment_shift', ['shift_id'], unique=False)

    op.create_table('remittance',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=128), nullable=False),
    sa.Column('slip_number', sa.String(length=128), nullable=False),
    sa.Column('bank', sa.String(length=128), nullable=True),
    sa.Column('cash_paise', sa.BigInteger(), nullable=False),
    sa.Column('instruments_paise', sa.BigInteger(), nullable=False),
    sa.Column('slip', sa.JSON(), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', local_store.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_remittance'))
    )
    op.create_table('shift',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=128), nullable=False),
    sa.Column('counter_code', sa.String(length=32), nullable=False),
    sa.Column('user_uuid', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('float_paise', sa.BigInteger(), nullable=False),
    sa.Column('opened_at', local_store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('closed_at', local_store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('expected_cash_paise', sa.BigInteger(), nullable=True),
    sa.Column('counted_cash_paise', sa.BigInteger(), nullable=True),
    sa.Column('variance_paise', sa.BigInteger(), nullable=True),
    sa.Column('denominations', sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shift'))
    )
    with op.batch_alter_table('shift', schema=None) as batch_op:
        batch_op.create_index('ix_shift_open', ['counter_code', 'user_uuid', 'status'], unique=False)

    op.create_table('demand_detail',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('demand_id', sa.String(length=36), nullable=False),
    sa.Column('tax_head_code', sa.String(length=128), nullable=False),
    sa.Column('tax_amount_paise', sa.BigInteger(), nullable=False),
    sa.Column('collection_amount_paise', sa.BigInteger(), nullable=False),
    sa.Column('created_at', local_store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', local_store.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['demand_id'], ['demand.id'], name=op.f('fk_demand_detail_demand_id_demand'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_demand_detail'))
    )
    with op.batch_alter_table('demand_detail', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_demand_detail_demand_id'), ['demand_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('demand_detail', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_demand_detail_demand_id'))

    op.drop_table('demand_detail')
    with op.batch_alter_table('shift', schema=None) as batch_op:
        batch_op.drop_index('ix_shift_open')

    op.drop_table('shift')
    op.drop_table('remittance')
    with op.batch_alter_table('payment', schema=None) as batch_op:
        batch_op.drop_index('ix_payment_shift')
        batch_op.drop_index('ix_payment_consumer')

    op.drop_table('payment')
    with op.batch_alter_table('demand', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_demand_payer_mobile_bidx'))
        batch_op.drop_index('ix_demand_consumer')

    op.drop_table('demand')
    with op.batch_alter_table('bill', schema=None) as batch_op:
        batch_op.drop_index('ix_bill_mobile')
        batch_op.drop_index('ix_bill_consumer')

    op.drop_table('bill')
