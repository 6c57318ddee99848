"""identity: users, roles, sessions, employees, otp, data keys

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""
from alembic import op
import sqlalchemy as sa

import local_store.types


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('data_key',
    sa.Column('key_id', sa.String(length=64), nullable=False),
    sa.Column('tenant_id', sa.String(length=128), nullable=False),
    sa.Column('wrapped', sa.Text(), nullable=False),
    sa.Column('created_at', local_store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('key_id', name=op.f('pk_data_key'))
    )
    op.create_table('otp',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('identity_bidx', sa.String(length=64), nullable=False),
    sa.Column('tenant_id', sa.String(length=128), nullable=False),
    sa.Column('purpose', sa.String(length=32), nullable=False),
    sa.Column('otp_hash', sa.Text(), nullable=False),
    sa.Column('created_at', local_store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', local_store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('used_at', local_store.types.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_otp'))
    )
    with op.batch_alter_table('otp', schema=None) as batch_op:
        batch_op.create_index('ix_otp_identity', ['identity_bidx', 'purpose', 'created_at'], unique=False)

    op.create_table('user_account',
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('user_name', sa.String(length=128), nullable=False),
    sa.Column('tenant_id', sa.String(length=128), nullable=False),
    sa.Column('type', sa.String(length=16), nullable=False),
    sa.Column('name_enc', sa.Text(), nullable=False),
    sa.Column('mobile_enc', sa.Text(), nullable=True),
    sa.Column('mobile_bidx', sa.String(length=64), nullable=True),
    sa.Column('email_enc', sa.Text(), nullable=True),
    sa.Column('gender', sa.String(length=16), nullable=True),
    sa.Column('locale', sa.String(length=16), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('password_hash', sa.Text(), nullable=True),
    sa.Column('password_changed_at', local_store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('locked_until', local_store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('locked_by_admin', sa.Boolean(), nullable=False),
    sa.Column('created_at', local_store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', local_store.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('uuid', name=op.f('pk_user_account')),
    sa.UniqueConstraint('user_name', 'tenant_id', name='uq_user_account_name_tenant')
    )
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.create_index('ix_user_account_mobile_bidx', ['mobile_bidx'], unique=False)

    op.create_table('employee',
    sa.Column('user_uuid', sa.String(length=36), nullable=False),
    sa.Column('code', sa.String(length=128), nullable=False),
    sa.Column('tenant_id', sa.String(length=128), nullable=False),
    sa.Column('employee_status', sa.String(length=32), nullable=False),
    sa.Column('employee_type', sa.String(length=32), nullable=False),
    sa.Column('date_of_appointment', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['user_uuid'], ['user_account.uuid'], name=op.f('fk_employee_user_uuid_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_uuid', name=op.f('pk_employee'))
    )
    op.create_table('login_attempt',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('user_uuid', sa.String(length=36), nullable=False),
    sa.Column('at', local_store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('success', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['user_uuid'], ['user_account.uuid'], name=op.f('fk_login_attempt_user_uuid_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_attempt'))
    )
    with op.batch_alter_table('login_attempt', schema=None) as batch_op:
        batch_op.create_index('ix_login_attempt_user_at', ['user_uuid', 'at'], unique=False)

    op.create_table('session_token',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('user_uuid', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=128), nullable=False),
    sa.Column('created_at', local_store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', local_store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', local_store.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_uuid'], ['user_account.uuid'], name=op.f('fk_session_token_user_uuid_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('token_hash', name=op.f('pk_session_token'))
    )
    op.create_table('user_role',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('user_uuid', sa.String(length=36), nullable=False),
    sa.Column('code', sa.String(length=128), nullable=False),
    sa.Column('tenant_id', sa.String(length=128), nullable=False),
    sa.ForeignKeyConstraint(['user_uuid'], ['user_account.uuid'], name=op.f('fk_user_role_user_uuid_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_role')),
    sa.UniqueConstraint('user_uuid', 'code', 'tenant_id', name='uq_user_role_identity')
    )
    op.create_table('employee_assignment',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('user_uuid', sa.String(length=36), nullable=False),
    sa.Column('department', sa.String(length=128), nullable=False),
    sa.Column('designation', sa.String(length=128), nullable=False),
    sa.Column('from_date', sa.Date(), nullable=False),
    sa.Column('to_date', sa.Date(), nullable=True),
    sa.Column('is_current', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['user_uuid'], ['employee.user_uuid'], name=op.f('fk_employee_assignment_user_uuid_employee'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_employee_assignment'))
    )
    op.create_table('employee_jurisdiction',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('user_uuid', sa.String(length=36), nullable=False),
    sa.Column('hierarchy', sa.String(length=32), nullable=False),
    sa.Column('boundary_type', sa.String(length=32), nullable=False),
    sa.Column('boundary', sa.String(length=128), nullable=False),
    sa.Column('tenant_id', sa.String(length=128), nullable=False),
    sa.ForeignKeyConstraint(['user_uuid'], ['employee.user_uuid'], name=op.f('fk_employee_jurisdiction_user_uuid_employee'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_employee_jurisdiction'))
    )


def downgrade() -> None:
    op.drop_table('employee_jurisdiction')
    op.drop_table('employee_assignment')
    op.drop_table('user_role')
    op.drop_table('session_token')
    with op.batch_alter_table('login_attempt', schema=None) as batch_op:
        batch_op.drop_index('ix_login_attempt_user_at')

    op.drop_table('login_attempt')
    op.drop_table('employee')
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.drop_index('ix_user_account_mobile_bidx')

    op.drop_table('user_account')
    with op.batch_alter_table('otp', schema=None) as batch_op:
        batch_op.drop_index('ix_otp_identity')

    op.drop_table('otp')
    op.drop_table('data_key')
