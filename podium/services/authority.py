"""Who may do what to whom: the one place that answers for actions that name a person.

Accounts are global; roles are per course, and no course role reaches beyond its course. So:
- Enrolments: a course's staff (TAs) enrol and unenrol students only and change nobody's role; its instructors enrol
  and unenrol anyone with any role and change roles, never their own; the instance operator (the `podium` command)
  may set any role. Nobody, the operator included, removes or demotes a course's last instructor. Enrolling an account changes nothing of the
  account itself (podium.services.users.add_user).
- Sign-in and reset links give their holder the account, so staff hand them out only for accounts they have
  authority over everywhere the account has a role: a student in every course it is enrolled in, each a course
  where the issuer is staff. Any other account's link comes from an instance administrator (`podium users
  reset-link`).

The web, the APIs and the CLI ask these functions; each `require_*` raises the error that says what is refused and
whom to ask. The messages name only what the asker can see already (roles in their own course), never another
course.
"""
from __future__ import annotations

from typing import Final

from podium.domain import Role
from podium.errors import Forbidden, Refused
from podium.models import Course, User


class Operator:
    """The instance operator: whoever runs the `podium` command on the server (it has the database already)."""

    def __repr__(self) -> str:
        return "OPERATOR"


OPERATOR: Final = Operator()
Actor = User | Operator
REMOVED = None  # the new role of an enrolment being removed

ADMIN_LINK = "an instance administrator (`podium users reset-link EMAIL`)"


def role_of(user: User, course: Course) -> Role | None:
    return next((e.role for e in user.enrolments if e.course_id == course.id), None)


def instructors_of(course: Course) -> int:
    return sum(1 for e in course.enrolments if e.role == Role.instructor)


# --- enrolments --------------------------------------------------------------------------------------------


def enrolment_refusal(actor_role: Role | None | Operator, target_role: Role | None, new_role: Role | None, *,
                      is_self: bool, instructors: int) -> Forbidden | Refused | None:
    """Why an actor with `actor_role` in a course (OPERATOR for the instance operator) may not take a person whose
    role there is `target_role` (None: not enrolled) to `new_role` (REMOVED: out of the course); None when allowed.
    `instructors` is how many instructors the course has. The rule itself, on roles only: a roster import checks
    its rows against the roles the import would leave, before it writes anything."""
    changes = new_role != target_role
    if actor_role is not OPERATOR:
        if actor_role is None or not actor_role.is_staff:
            return Forbidden("Only the course's staff can enrol people.")
        if actor_role == Role.staff:
            if new_role is REMOVED:
                if target_role == Role.student:
                    return None
                return Forbidden("Course staff unenrol students only; ask an instructor of the course to unenrol "
                                 "staff.")
            if target_role not in (None, Role.student) or new_role != Role.student:
                return Forbidden("Course staff enrol students only; ask an instructor of the course to enrol staff "
                                 "or to change a role.")
        if is_self and changes:
            return Refused("Ask another instructor to change your own role.")
    if changes and target_role == Role.instructor and instructors <= 1:
        return Refused("This is the course's last instructor: enrol another instructor first, then change this "
                       "role or remove this person.")
    return None


def may_manage_enrolment(actor: Actor, course: Course, target: User | None, new_role: Role | None) -> bool:
    return _enrolment_refusal(actor, course, target, new_role) is None


def enrolment_refused(actor: Actor, course: Course, target: User | None, new_role: Role | None
                      ) -> Forbidden | Refused | None:
    """Why `actor` may not take `target` to `new_role` in `course` (a page shows it before anyone asks); None when
    allowed."""
    return _enrolment_refusal(actor, course, target, new_role)


def require_enrolment(actor: Actor, course: Course, target: User | None, new_role: Role | None) -> None:
    """Raise the refusal, if any, of taking `target` (None: an account not yet made) to `new_role` in `course`."""
    refusal = _enrolment_refusal(actor, course, target, new_role)
    if refusal is not None:
        raise refusal


def _enrolment_refusal(actor: Actor, course: Course, target: User | None, new_role: Role | None):
    actor_role = OPERATOR if isinstance(actor, Operator) else role_of(actor, course)
    target_role = role_of(target, course) if target is not None else None
    is_self = target is not None and not isinstance(actor, Operator) and target.id == actor.id
    return enrolment_refusal(actor_role, target_role, new_role, is_self=is_self, instructors=instructors_of(course))


# --- sign-in and reset links -------------------------------------------------------------------------------


def may_issue_link(actor: Actor, target: User) -> bool:
    """Whether `actor` may hand out a link that signs in as `target` or sets its password."""
    if isinstance(actor, Operator):
        return True
    staff_of = {e.course_id for e in actor.enrolments if e.role.is_staff}
    return bool(target.enrolments) and target.id != actor.id and all(
        e.role == Role.student and e.course_id in staff_of for e in target.enrolments)


def require_link(actor: Actor, target: User) -> None:
    if not may_issue_link(actor, target):
        raise Forbidden(f"A sign-in or reset link for {target.email} has to come from {ADMIN_LINK}: course staff "
                        "hand out links only for accounts that are students of their own courses and nothing else.")
