"""audit records seal the rows they leave behind

`audit_record.row_hashes` (JSON, nullable): per payment / demand / bill / user written in the
transaction, a short hash of every column of its rows (local_store.seals), covered by the record's
hash and signature, so `audit verify` can compare the live rows with their last audited state.
Older records keep NULL (their hashes do not include the column, so they still verify).

Rows written before this revision are sealed by `digitctl init` (which every upgrade runs) in one
audit record, "audit.rows.sealed": from then on a direct edit of such a row is reported.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('audit_record', schema=None) as batch_op:
        batch_op.add_column(sa.Column('row_hashes', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('audit_record', schema=None) as batch_op:
        batch_op.drop_column('row_hashes')
