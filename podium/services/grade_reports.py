"""A student's own grades, as the REST API describes them (`GET /api/me/grades`).

Grades come from private scores, which students see only once staff release a competition's private board
(POLICY.md section 8): until then the counted submission, its window and the slack days are shown (they are what
would count if the competition ended now), while the private score, the grade and its explanation stay hidden.
"""
from __future__ import annotations

from sqlalchemy.orm import Session

from podium import rules
from podium.models import Role, User
from podium.services import grading
from podium.services.submissions import private_visible


def student_grades(session: Session, user: User) -> list[dict]:
    """One entry per course the person is a student of, by course slug."""
    courses = sorted((e.course for e in user.enrolments if e.role == Role.student), key=lambda c: c.slug)
    return [course_grades(session, course, user) for course in courses]


def course_grades(session: Session, course, user: User) -> dict:
    report = grading.student_report(session, course, user)
    rows = [_row(row) for row in report.rows]
    everything_shown = all(private_visible(row.competition, False) for row in report.rows)
    return {
        "course": course.slug,
        "title": course.title,
        "slack_policy": report.slack_policy,
        "slack_budget": report.budget,
        "slack_used": report.slack_used,
        "slack_remaining": report.slack_remaining,
        "total": round(report.total, 4) if everything_shown else None,
        "competitions": rows,
    }


def _row(row: grading.GradeRow) -> dict:
    comp, grade = row.competition, row.grade
    released = private_visible(comp, False)
    # With nothing counted there is no private score to protect: the grade (0) and its reason can be shown.
    shown = released or grade.window == rules.NONE
    return {
        "competition": comp.public_id,
        "title": comp.title,
        "released": released,
        "window": grade.window,
        "submission_id": grade.submission_id,
        "days_late": grade.days_late,
        "slack_used": grade.slack_used,
        "early_penalty": grade.early_penalty,
        "private_score": grade.private_score if released else None,
        "grade": round(grade.final, 4) if shown else None,
        "explanation": row.explanation if shown else None,
    }
