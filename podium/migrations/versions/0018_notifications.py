"""the mails each person asked for: a submission's result, deadline reminders, grades released or changed

Revision ID: 0018
Revises: 0017
"""
import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

COLUMNS = ("notify_submission_results", "notify_deadline_reminders", "notify_grade_changes")


def upgrade() -> None:
    # In place (see 0010). Every existing account starts with no notification: each is an opt-in.
    for column in COLUMNS:
        op.add_column("users", sa.Column(column, sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    for column in reversed(COLUMNS):
        op.execute(f"ALTER TABLE users DROP COLUMN {column}")
