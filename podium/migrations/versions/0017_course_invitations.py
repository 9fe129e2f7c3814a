"""course invitations: links that enrol whoever opens them as a student, kept as the hash of their token

Revision ID: 0017
Revises: 0016
"""
import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "course_invitations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("course_id", sa.Integer(), sa.ForeignKey("courses.id", ondelete="CASCADE"), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("allowed_domains", sa.JSON(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("created_by", sa.String(254), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_by", sa.String(254), nullable=True),
        sa.Column("joined", sa.Integer(), nullable=False, server_default="0"),
    )
    op.create_index("ix_course_invitations_course_id", "course_invitations", ["course_id"])


def downgrade() -> None:
    op.drop_index("ix_course_invitations_course_id", table_name="course_invitations")
    op.drop_table("course_invitations")
