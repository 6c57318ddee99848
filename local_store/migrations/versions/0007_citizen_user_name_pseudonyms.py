"""citizens' user names stored as pseudonyms

No schema change. From this revision a CITIZEN user name that is a mobile number is stored as
`bidx:` + the state's blind index of the number (digitctl.services.users), never in plain text.
Making the pseudonym needs the store's master key, which a migration does not hold, so
`digitctl init` (which every upgrade runs, and which a store at 0006 is told to run:
STORE_OUTDATED) renames the citizens of an older store, one audited and sealed change per user.
Audit records written before keep the plain names they hold: a signed chain is not rewritten.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28
"""


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
