"""Who may see what: signed in, enrolled in the course, staff of the course.

Views call these first; each raises the error the page shows (PodiumError subclasses, turned into pages in
`errors`). A course a person is not enrolled in answers 403; a submission of someone else answers 404, so its
existence is not confirmed.
"""
from __future__ import annotations

from functools import wraps

from flask import redirect, request, url_for

from podium.errors import Forbidden, NotFound
from podium.models import Competition, Course, Role, Submission, User
from podium.services import courses, users
from podium.web.context import current_user, db_session


def signed_in(view):
    """Send visitors who are not signed in to the sign-in page, and back here afterwards."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if current_user() is None:
            return redirect(url_for("accounts.sign_in", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapper


def me() -> User:
    user = current_user()
    if user is None:  # views use @signed_in; this is the second line of defence
        raise Forbidden("sign in first")
    return user


def role_in(course: Course) -> Role | None:
    return users.role_in(me(), course)


def is_staff(course: Course) -> bool:
    role = role_in(course)
    return role is not None and role.is_staff


def course_for_member(slug: str) -> Course:
    course = courses.get_course(db_session(), slug)
    if role_in(course) is None:
        raise Forbidden(f"You are not enrolled in {course.title}. Ask the course staff to add you.")
    return course


def course_for_staff(slug: str) -> Course:
    course = course_for_member(slug)
    if not is_staff(course):
        raise Forbidden("This page is for the course staff.")
    return course


def course_for_instructor(slug: str) -> Course:
    course = course_for_member(slug)
    if role_in(course) != Role.instructor:
        raise Forbidden("Only the course's instructors can do this.")
    return course


def competition_for_member(public_id: str) -> Competition:
    comp = courses.get_competition(db_session(), public_id)
    course_for_member(comp.course.slug)
    return comp


def competition_for_staff(public_id: str) -> Competition:
    comp = courses.get_competition(db_session(), public_id)
    course_for_staff(comp.course.slug)
    return comp


def competition_for_instructor(public_id: str) -> Competition:
    comp = courses.get_competition(db_session(), public_id)
    course_for_instructor(comp.course.slug)
    return comp


def own_or_staff_submission(submission_id: int) -> tuple[Submission, bool]:
    """A submission its author or the course's staff may see, and whether the viewer is staff."""
    sub = db_session().get(Submission, submission_id)
    if sub is None:
        raise NotFound(f"no submission {submission_id}")
    staff = is_staff(sub.competition.course)
    if sub.user_id != me().id and not staff:
        raise NotFound(f"no submission {submission_id}")
    return sub, staff
