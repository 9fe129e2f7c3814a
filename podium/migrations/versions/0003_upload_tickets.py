"""upload tickets for the Kaggle-compatible submit flow

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('upload_tickets',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('competition_id', sa.Integer(), nullable=False),
    sa.Column('file_name', sa.String(length=255), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('upload_started_at', sa.DateTime(), nullable=True),
    sa.Column('received_at', sa.DateTime(), nullable=True),
    sa.Column('staged_path', sa.Text(), nullable=True),
    sa.Column('used_at', sa.DateTime(), nullable=True),
    sa.Column('submission_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['competition_id'], ['competitions.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('upload_tickets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_upload_tickets_created_at'), ['created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('upload_tickets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_upload_tickets_created_at'))
    op.drop_table('upload_tickets')
