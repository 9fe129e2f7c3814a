"""when a submission's file was removed: failed uploads are kept for a number of days, then their files deleted

Revision ID: 0012
Revises: 0011
"""
import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # In place, never by copying the table (see 0010): a nullable column needs no default and no rewrite.
    op.add_column("submissions", sa.Column("file_removed_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    op.execute("ALTER TABLE submissions DROP COLUMN file_removed_at")
