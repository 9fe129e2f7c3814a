"""whether students may download a competition's data files before it opens (hidden until then otherwise)

Revision ID: 0015
Revises: 0014
"""
import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # In place (see 0010). Existing competitions follow the new rule: their files hidden from students until `opens`.
    op.add_column("competitions", sa.Column("data_visible_before_open", sa.Boolean(), nullable=False,
                                            server_default=sa.false()))


def downgrade() -> None:
    op.execute("ALTER TABLE competitions DROP COLUMN data_visible_before_open")
