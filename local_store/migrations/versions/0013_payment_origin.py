"""payments taken elsewhere (issue 12, stream `payments`)

- `payment.origin`: NULL for a payment taken at this store; for one that came down with
  `sync pull` (taken at another counter or at the hub, kept read-only here), the counter code
  that took it, or HUB.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""
from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('payment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('origin', sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('payment', schema=None) as batch_op:
        batch_op.drop_column('origin')
