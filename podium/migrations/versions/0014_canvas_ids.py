"""Canvas ids: each enrolment's ids in the course's Canvas gradebook, and a competition's Canvas assignment id

Revision ID: 0014
Revises: 0013
"""
import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

ENROLMENT_COLUMNS = ("canvas_user_id", "canvas_sis_user_id", "canvas_sis_login_id", "canvas_section")


def upgrade() -> None:
    # In place, never by copying a table (see 0010): nullable columns need no default and no rewrite.
    for name in ENROLMENT_COLUMNS:
        op.add_column("enrolments", sa.Column(name, sa.String(length=255), nullable=True))
    op.create_index("uq_enrolments_course_canvas_user", "enrolments", ["course_id", "canvas_user_id"], unique=True)
    op.add_column("competitions", sa.Column("canvas_assignment_id", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    op.execute("ALTER TABLE competitions DROP COLUMN canvas_assignment_id")
    op.drop_index("uq_enrolments_course_canvas_user", table_name="enrolments")
    for name in reversed(ENROLMENT_COLUMNS):
        op.execute(f"ALTER TABLE enrolments DROP COLUMN {name}")
