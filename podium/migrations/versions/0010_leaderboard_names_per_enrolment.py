"""leaderboard names belong to the enrolment, unique per course after NFKC normalisation and case folding

Each user's name is copied onto each of their enrolments. A name the new rules refuse (a control, format or
separator character) or one another member of the course had first (after normalisation) is left empty: that
student shows as "Student N" until they choose a name for the course.

Revision ID: 0010
Revises: 0009
"""
import unicodedata

from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

REFUSED_CATEGORIES = {"Cc", "Cf", "Cs", "Zl", "Zp"}


def _key(name: str) -> str | None:
    """The key podium.services.accounts.leaderboard_key gave at this revision; None for a name it refuses."""
    if not name or any(unicodedata.category(ch) in REFUSED_CATEGORIES for ch in name):
        return None
    key = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())
    return key if key == key.strip() and len(key) <= 255 else None


def upgrade() -> None:
    # Columns are added and dropped in place, never by copying a table: on SQLite, copying `users` would drop the
    # old table, and its ON DELETE CASCADE would empty `enrolments` with it.
    op.add_column('enrolments', sa.Column('leaderboard_name', sa.String(length=80), nullable=False, server_default=''))
    op.add_column('enrolments', sa.Column('leaderboard_key', sa.String(length=255), nullable=True))

    connection = op.get_bind()
    rows = connection.execute(sa.text(
        "SELECT e.id, e.course_id, u.leaderboard_name FROM enrolments e JOIN users u ON u.id = e.user_id "
        "WHERE u.leaderboard_name <> '' ORDER BY e.course_id, e.user_id")).all()
    taken: set[tuple[int, str]] = set()
    for enrolment_id, course_id, name in rows:
        key = _key(name)
        if key is None or (course_id, key) in taken:
            continue
        taken.add((course_id, key))
        connection.execute(sa.text("UPDATE enrolments SET leaderboard_name = :name, leaderboard_key = :key "
                                   "WHERE id = :id"), {"name": name, "key": key, "id": enrolment_id})

    op.create_index('uq_enrolments_course_leaderboard_key', 'enrolments', ['course_id', 'leaderboard_key'],
                    unique=True)
    op.execute("ALTER TABLE users DROP COLUMN leaderboard_name")


def downgrade() -> None:
    op.add_column('users', sa.Column('leaderboard_name', sa.String(length=80), nullable=False, server_default=''))
    # One name per user again: the one of their earliest enrolment that has one.
    op.execute(sa.text(
        "UPDATE users SET leaderboard_name = COALESCE((SELECT e.leaderboard_name FROM enrolments e "
        "WHERE e.user_id = users.id AND e.leaderboard_name <> '' ORDER BY e.id LIMIT 1), '')"))
    op.drop_index('uq_enrolments_course_leaderboard_key', table_name='enrolments')
    op.execute("ALTER TABLE enrolments DROP COLUMN leaderboard_key")
    op.execute("ALTER TABLE enrolments DROP COLUMN leaderboard_name")
