"""code submissions: each student's code for a competition with a [code] table, and that table's settings

Revision ID: 0021
Revises: 0020
"""
import sqlalchemy as sa
from alembic import op


revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # In place (see 0010): nullable columns need no default and no rewrite.
    op.add_column("competitions", sa.Column("code_deadline", sa.DateTime(), nullable=True))
    op.add_column("competitions", sa.Column("code_settings", sa.JSON(), nullable=True))
    op.create_table(
        "code_submissions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("competition_id", sa.Integer(), sa.ForeignKey("competitions.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("submitted_at", sa.DateTime(), nullable=False),
        sa.Column("file_path", sa.Text(), nullable=False),
        sa.Column("file_name", sa.String(255), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.Column("late", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_code_submissions_competition_user", "code_submissions",
                    ["competition_id", "user_id", "submitted_at"])


def downgrade() -> None:
    op.drop_index("ix_code_submissions_competition_user", table_name="code_submissions")
    op.drop_table("code_submissions")
    op.execute("ALTER TABLE competitions DROP COLUMN code_settings")
    op.execute("ALTER TABLE competitions DROP COLUMN code_deadline")
