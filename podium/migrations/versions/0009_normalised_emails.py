"""stored emails in the one normalised form (NFKC, case-folded, IDNA domain)

Accounts made before the rule stored an email lower-cased only, and every lookup now compares normalised forms, so
each stored email is rewritten in that form. Two accounts whose emails only differ by such a variant are look-alikes
made before the rule: the one stored in that form already, else the older, keeps the address; the other is left as it is (it can no longer be signed in to by
that address) and named in a warning, for the operator to merge or remove.

Revision ID: 0009
Revises: 0008
"""
import logging

from alembic import op
import sqlalchemy as sa

from podium.errors import PodiumError
from podium.services.users import normalise_email

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")
users = sa.table('users', sa.column('id', sa.Integer), sa.column('email', sa.String))


def upgrade() -> None:
    connection = op.get_bind()
    rows = connection.execute(sa.select(users.c.id, users.c.email).order_by(users.c.id)).all()
    taken = {email for _, email in rows}
    for user_id, email in rows:
        try:
            normal = normalise_email(email)
        except PodiumError:
            continue  # not an address at all: nobody can sign in with it either way
        if normal == email:
            continue
        if normal in taken:
            log.warning("account %s (%s) is a look-alike of the account of %s, which keeps the address; merge or "
                        "remove it", user_id, email, normal)
            continue
        connection.execute(sa.update(users).where(users.c.id == user_id).values(email=normal))
        taken.discard(email)
        taken.add(normal)


def downgrade() -> None:
    pass  # the normalised form is a valid address of the same account: nothing to undo
