"""Who may see what: signed in, enrolled in the course, staff of the course.

Views call these first; each raises the error the page shows (PodiumError subclasses, turned into pages in
`errors`). A course a person is not enrolled in answers 403; a submission of someone else answers 404, so its
existence is not confirmed.
"""
from __future__ import annotations

from functools import wraps

from flask import redirect, request, url_for

from podium.domain import Role
from podium.errors import Forbidden
from podium.services import courses, submissions, users
from podium.web.context import current_user, db_session


def signed_in(view):
    """Send visitors who are not signed in to the sign-in page, and back here afterwards."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if current_user() is None:
            return redirect(url_for("accounts.sign_in", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapper


def me():
    """The signed-in account (a `User`)."""
    user = current_user()
    if user is None:  # views use @signed_in; this is the second line of defence
        raise Forbidden("sign in first")
    return user


def role_in(course) -> Role | None:
    return users.role_in(me(), course)


def is_staff(course) -> bool:
    role = role_in(course)
    return role is not None and role.is_staff


def course_for_member(slug: str):
    course = courses.get_course(db_session(), slug)
    if role_in(course) is None:
        raise Forbidden(f"You are not enrolled in {course.title}. Ask the course staff to add you.")
    return course


def course_for_staff(slug: str):
    course = course_for_member(slug)
    if not is_staff(course):
        raise Forbidden("This page is for the course staff.")
    return course


def course_for_instructor(slug: str):
    course = course_for_member(slug)
    if role_in(course) != Role.instructor:
        raise Forbidden("Only the course's instructors can do this.")
    return course


def competition_for_member(public_id: str):
    comp = courses.get_competition(db_session(), public_id)
    course_for_member(comp.course.slug)
    return comp


def competition_for_staff(public_id: str):
    comp = courses.get_competition(db_session(), public_id)
    course_for_staff(comp.course.slug)
    return comp


def competition_for_instructor(public_id: str):
    comp = courses.get_competition(db_session(), public_id)
    course_for_instructor(comp.course.slug)
    return comp


def own_or_staff_submission(submission_id: int) -> tuple:
    """A submission its author or the course's staff may see, and whether the viewer is staff."""
    return submissions.visible_to(db_session(), submission_id, me())
