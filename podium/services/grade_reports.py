"""A student's own grades, as the REST API describes them (`GET /api/me/grades`).

A student reads provisional grades (POLICY.md section 11): for a competition whose private board is not released,
the grade, the counted submission, its window and the slack days are computed with public scores in place of
private ones (`services.grading`), and each such row says so. Private scores appear once the board is released.
A competition without grades (POLICY.md section 11) has `grade` null and `no_grade_reason` saying why in words that
name no score; the total is over the other competitions.
A grade of a released competition that a decision changed (a regrade, a release through the slack chain) carries
the change and its reason.
"""
from __future__ import annotations

from sqlalchemy.orm import Session

from podium import rules
from podium.models import Course, GradeChange, Role, User
from podium.services import grading, regrades


def student_grades(session: Session, user: User) -> list[dict]:
    """One entry per course the person is a student of, by course slug."""
    courses = sorted((e.course for e in user.enrolments if e.role == Role.student), key=lambda c: c.slug)
    return [course_grades(session, course, user) for course in courses]


def grade_changes(session: Session, course: Course, user: User) -> dict[int, GradeChange]:
    """The last recorded change of each of the student's grades (a regrade, or a release that moved the slack
    chain: POLICY.md section 11), by competition id, for released competitions only: a grade still provisional
    is read from public scores, and the change was to its final value."""
    released = {c.id for c in course.competitions if c.released_at is not None}
    return {comp_id: change for comp_id, change in regrades.latest_changes(session, course, user).items()
            if comp_id in released}


def change_json(change: GradeChange | None) -> dict | None:
    if change is None:
        return None
    return {"old": change.old_final, "new": change.new_final, "reason": change.reason,
            "at": rules.format_utc(change.at)}


def course_grades(session: Session, course: Course, user: User) -> dict:
    report = grading.student_report(session, course, user, staff=False)
    changes = grade_changes(session, course, user)
    return {
        "course": course.slug,
        "title": course.title,
        "provisional": report.provisional,
        "slack_policy": report.slack_policy,
        "slack_budget": report.budget,
        "slack_used": report.slack_used,
        "slack_remaining": report.slack_remaining,
        "total": round(report.total, 4),
        "competitions": [_row(row, changes.get(row.competition.id)) for row in report.rows],
    }


def _row(row: grading.GradeRow, change: GradeChange | None) -> dict:
    comp, grade = row.competition, row.grade
    return {
        "competition": comp.public_id,
        "title": comp.title,
        "released": comp.released_at is not None,
        "provisional": row.provisional,
        "window": grade.window,
        "submission_id": grade.submission_id,
        "days_late": grade.days_late,
        "slack_used": grade.slack_used,
        "early_penalty": grade.early_penalty,
        "score_board": "public" if row.from_public else "private",
        "score": grade.private_score,  # the score the grade was computed from, on `score_board`
        "private_score": None if row.from_public else grade.private_score,
        "grade": round(grade.final, 4) if grade.graded else None,
        "no_grade_reason": None if grade.graded else grade.ungraded.reason,
        "explanation": row.explanation,
        "change": change_json(change),
    }
