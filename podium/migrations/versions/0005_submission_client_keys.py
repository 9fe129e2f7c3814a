"""a client's idempotency key on each submission

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("submissions") as batch:
        batch.add_column(sa.Column("client_key", sa.String(length=100), nullable=True))
        batch.create_index("uq_submissions_client_key", ["user_id", "competition_id", "client_key"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("submissions") as batch:
        batch.drop_index("uq_submissions_client_key")
        batch.drop_column("client_key")
