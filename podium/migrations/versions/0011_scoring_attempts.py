"""scoring attempts counted on each submission

Every claim of a submission counts as an attempt until it ends with a result (or a clean shutdown gives it back);
a submission whose attempts all ended without one (its scoring process died, the server was killed) fails with
a message instead of being handed out forever.

Revision ID: 0011
Revises: 0010
"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Added in place, never by copying the table (see 0010): SQLite's ADD COLUMN takes a NOT NULL column with a default.
    op.add_column('submissions', sa.Column('attempts', sa.Integer(), nullable=False, server_default='0'))


def downgrade() -> None:
    op.execute("ALTER TABLE submissions DROP COLUMN attempts")
