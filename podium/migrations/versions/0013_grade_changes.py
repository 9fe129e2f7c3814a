"""grade changes: each final grade of a finalised or released competition that a regrade or a release changed

Revision ID: 0013
Revises: 0012
"""
import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "grade_changes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("course_id", sa.Integer(), sa.ForeignKey("courses.id", ondelete="CASCADE"), nullable=False),
        sa.Column("competition_id", sa.Integer(), sa.ForeignKey("competitions.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("old_final", sa.Float(), nullable=True),
        sa.Column("new_final", sa.Float(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(254), nullable=False),
        sa.Column("audit_event_id", sa.Integer(), sa.ForeignKey("audit_events.id", ondelete="SET NULL"),
                  nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_grade_changes_course_id", "grade_changes", ["course_id"])


def downgrade() -> None:
    op.drop_index("ix_grade_changes_course_id", table_name="grade_changes")
    op.drop_table("grade_changes")
