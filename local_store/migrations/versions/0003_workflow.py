"""workflow applications filestore

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""
from alembic import op
import sqlalchemy as sa

import local_store.types


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('application',
    sa.Column('application_no', sa.String(length=128), nullable=False),
    sa.Column('tenant_id', sa.String(length=128), nullable=False),
    sa.Column('business_service', sa.String(length=128), nullable=False),
    sa.Column('module', sa.String(length=64), nullable=True),
    sa.Column('application_status', sa.String(length=128), nullable=True),
    sa.Column('applicant_name_enc', sa.Text(), nullable=False),
    sa.Column('applicant_mobile_enc', sa.Text(), nullable=True),
    sa.Column('applicant_mobile_bidx', sa.String(length=64), nullable=True),
    sa.Column('applicant_uuid', sa.String(length=36), nullable=True),
    sa.Column('locality', sa.String(length=64), nullable=True),
    sa.Column('address', sa.JSON(), nullable=True),
    sa.Column('details', sa.JSON(), nullable=True),
    sa.Column('documents', sa.JSON(), nullable=True),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', local_store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', local_store.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('application_no', name=op.f('pk_application'))
    )
    with op.batch_alter_table('application', schema=None) as batch_op:
        batch_op.create_index('ix_application_mobile_bidx', ['applicant_mobile_bidx'], unique=False)
        batch_op.create_index('ix_application_tenant_service', ['tenant_id', 'business_service'], unique=False)

    op.create_table('filestore_object',
    sa.Column('file_store_id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=128), nullable=False),
    sa.Column('module', sa.String(length=64), nullable=True),
    sa.Column('file_name', sa.String(length=256), nullable=False),
    sa.Column('content_type', sa.String(length=128), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', local_store.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('file_store_id', name=op.f('pk_filestore_object'))
    )
    with op.batch_alter_table('filestore_object', schema=None) as batch_op:
        batch_op.create_index('ix_filestore_object_sha', ['sha256'], unique=False)

    op.create_table('wf_assignee',
    sa.Column('tenant_id', sa.String(length=128), nullable=False),
    sa.Column('business_id', sa.String(length=128), nullable=False),
    sa.Column('user_uuid', sa.String(length=36), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'business_id', 'user_uuid', name=op.f('pk_wf_assignee'))
    )
    with op.batch_alter_table('wf_assignee', schema=None) as batch_op:
        batch_op.create_index('ix_wf_assignee_user', ['user_uuid'], unique=False)

    op.create_table('wf_business_service',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('tenant_id', sa.String(length=128), nullable=False),
    sa.Column('code', sa.String(length=128), nullable=False),
    sa.Column('business', sa.String(length=128), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('sla_ms', sa.BigInteger(), nullable=True),
    sa.Column('definition', sa.JSON(), nullable=False),
    sa.Column('definition_hash', sa.String(length=64), nullable=False),
    sa.Column('is_current', sa.Boolean(), nullable=False),
    sa.Column('created_at', local_store.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_wf_business_service')),
    sa.UniqueConstraint('tenant_id', 'code', 'version', name='uq_wf_business_service_version')
    )
    with op.batch_alter_table('wf_business_service', schema=None) as batch_op:
        batch_op.create_index('ix_wf_business_service_current', ['code', 'tenant_id', 'is_current'], unique=False)

    op.create_table('wf_current',
    sa.Column('tenant_id', sa.String(length=128), nullable=False),
    sa.Column('business_id', sa.String(length=128), nullable=False),
    sa.Column('business_service', sa.String(length=128), nullable=False),
    sa.Column('bs_version', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=128), nullable=False),
    sa.Column('application_status', sa.String(length=128), nullable=True),
    sa.Column('last_action', sa.String(length=128), nullable=False),
    sa.Column('seq_no', sa.Integer(), nullable=False),
    sa.Column('is_terminal', sa.Boolean(), nullable=False),
    sa.Column('state_deadline', local_store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('business_deadline', local_store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('updated_at', local_store.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'business_id', name=op.f('pk_wf_current'))
    )
    with op.batch_alter_table('wf_current', schema=None) as batch_op:
        batch_op.create_index('ix_wf_current_inbox', ['tenant_id', 'business_service', 'state'], unique=False)

    op.create_table('wf_process_instance',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=128), nullable=False),
    sa.Column('business_service', sa.String(length=128), nullable=False),
    sa.Column('bs_version', sa.Integer(), nullable=False),
    sa.Column('module_name', sa.String(length=128), nullable=True),
    sa.Column('business_id', sa.String(length=128), nullable=False),
    sa.Column('seq_no', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=128), nullable=False),
    sa.Column('from_state', sa.String(length=128), nullable=True),
    sa.Column('state', sa.String(length=128), nullable=False),
    sa.Column('application_status', sa.String(length=128), nullable=True),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('assigner_uuid', sa.String(length=64), nullable=False),
    sa.Column('assignees', sa.JSON(), nullable=True),
    sa.Column('documents', sa.JSON(), nullable=True),
    sa.Column('state_sla_ms', sa.BigInteger(), nullable=True),
    sa.Column('business_sla_ms', sa.BigInteger(), nullable=True),
    sa.Column('business_started_at', local_store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', local_store.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_wf_process_instance')),
    sa.UniqueConstraint('tenant_id', 'business_id', 'seq_no', name='uq_wf_process_instance_step')
    )


def downgrade() -> None:
    op.drop_table('wf_process_instance')
    with op.batch_alter_table('wf_current', schema=None) as batch_op:
        batch_op.drop_index('ix_wf_current_inbox')

    op.drop_table('wf_current')
    with op.batch_alter_table('wf_business_service', schema=None) as batch_op:
        batch_op.drop_index('ix_wf_business_service_current')

    op.drop_table('wf_business_service')
    with op.batch_alter_table('wf_assignee', schema=None) as batch_op:
        batch_op.drop_index('ix_wf_assignee_user')

    op.drop_table('wf_assignee')
    with op.batch_alter_table('filestore_object', schema=None) as batch_op:
        batch_op.drop_index('ix_filestore_object_sha')

    op.drop_table('filestore_object')
    with op.batch_alter_table('application', schema=None) as batch_op:
        batch_op.drop_index('ix_application_tenant_service')
        batch_op.drop_index('ix_application_mobile_bidx')

    op.drop_table('application')
