"""benchmark rows: the name staff give a submission of a staff member shown as a marked row on the boards

Revision ID: 0020
Revises: 0019
"""
import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # In place (see 0010): a nullable column needs no default and no rewrite.
    op.add_column("submissions", sa.Column("benchmark_name", sa.String(80), nullable=True))
    op.create_index("ix_submissions_competition_benchmark", "submissions", ["competition_id", "benchmark_name"])


def downgrade() -> None:
    op.drop_index("ix_submissions_competition_benchmark", table_name="submissions")
    op.execute("ALTER TABLE submissions DROP COLUMN benchmark_name")
