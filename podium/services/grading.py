"""Grades: the course rules applied to what the database holds (POLICY.md sections 4 to 9).

Grading a course reads everything it needs in a handful of queries, turns rows into the rules' plain values and
lets `podium.rules.grade_course` do the work. A competition's grades depend on the whole class (the bonus is
measured against the class's best on-time private score), so even one student's report grades the course.
Grades of competitions still running are provisional: they are what would count if the course ended now.

Who reads a grade decides what it may depend on (POLICY.md section 11). Staff read grades from private scores at
any time. A student reads *provisional* grades: for every competition whose private board is not released, public
scores stand in for private ones everywhere (which submission counts, the window and the slack days chosen, the bonus,
positions cutoffs read off the board, and through the slack chain every other competition), so nothing a student
can read depends on an unreleased private score.

A competition whose cutoffs are positions that give no values (nobody on the board yet, or values out of order) has
no grades, and breaks nothing else (POLICY.md section 11): its rows say why, in the staff's words for staff (which
letters, which values) and in neutral words for students (no value of any board); it spends no slack day and adds
nothing to the total, which is then the total over the graded competitions.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from podium import rules
from podium.errors import NotFound, PodiumError
from podium.db import raw_instant, utc_instant
from podium.models import Competition, Course, Enrolment, Role, Status, Submission, User, utcnow
from podium.services.rule_values import active_extensions, in_course_order, policy_of, schedule_of, submission_value
from podium.services.slack import external_days
from podium.services.submissions import private_hidden, private_visible


@dataclass(frozen=True)
class GradeRow:
    competition: Competition
    grade: rules.CompetitionGrade  # when `from_public`, `grade.private_score` holds the public score it used
    explanation: str
    provisional: bool  # computed with some public scores in place of private ones this reader may not read yet
    from_public: bool = False  # the counted submission's score is its public one


@dataclass(frozen=True)
class StudentReport:
    user: User
    rows: tuple[GradeRow, ...]
    budget: int
    slack_used: int
    slack_remaining: int
    total: float
    slack_policy: str

    @property
    def provisional(self) -> bool:
        """Some competition was graded from public scores, so the slack days and the total are provisional too."""
        return any(r.provisional for r in self.rows)

    @property
    def ungraded(self) -> tuple[GradeRow, ...]:
        """The rows of competitions that have no grades (and no part in `total`)."""
        return tuple(r for r in self.rows if not r.grade.graded)

    def row(self, competition: Competition) -> GradeRow:
        return next(r for r in self.rows if r.competition.id == competition.id)


def ungraded_competitions(reports: list[StudentReport]) -> list[tuple[Competition, rules.Ungraded]]:
    """The competitions without grades, in course order, with why: a competition's, so any report tells."""
    return [(row.competition, row.grade.ungraded) for row in reports[0].ungraded] if reports else []


# --- what grading reads (as the rules' values: podium.services.rule_values) -----------------------------


def students_of(session: Session, course: Course) -> list[User]:
    return list(session.scalars(
        select(User).join(Enrolment).where(Enrolment.course_id == course.id, Enrolment.role == Role.student)
        .order_by(User.email)
    ))


def scored_submissions(session: Session, competition_ids: list[int], student_ids: list[int]
                       ) -> dict[int, list[rules.Submission]]:
    """Scored submissions of the given students by competition id, as rule values (columns only: this is the
    hot path of every grade table)."""
    by_competition: dict[int, list[rules.Submission]] = defaultdict(list)
    if not competition_ids or not student_ids:
        return by_competition
    students = set(student_ids)
    # Core rather than ORM execution: plain tuples, without the ORM's per-row loading.
    rows = session.connection().execute(
        select(Submission.id, Submission.competition_id, Submission.user_id, raw_instant(Submission.submitted_at),
               Submission.public_score, Submission.private_score, Submission.selected, Submission.practice)
        .where(Submission.competition_id.in_(competition_ids), Submission.status == Status.scored)
    ).all()
    for sub_id, comp_id, user_id, at, public, private, selected, practice in rows:
        if user_id in students:
            by_competition[comp_id].append(submission_value(
                sub_id, user_id, utc_instant(at), public, private, selected, practice))
    return by_competition


def has_position_cutoffs(comp: Competition) -> bool:
    return any(rules.is_position(v) for v in comp.cutoffs.values())


def cutoffs_of(comp: Competition, policy: rules.CoursePolicy, board: tuple[rules.LeaderboardEntry, ...] | None, *,
               fixed: bool = True) -> rules.Cutoffs | rules.Ungraded:
    """Value cutoffs. Positions ("top 10%") are fixed at finalisation; before that, or when the reader may not use
    the fixed ones (`fixed=False`: they were read off the private board), they are read off `board`, which may give
    no values: then why the competition has no grades (its reason names values read off `board`: staff's words)."""
    if not has_position_cutoffs(comp):
        return rules.Cutoffs.from_mapping({k: float(v) for k, v in comp.cutoffs.items()}, policy.points)
    if comp.resolved_cutoffs and fixed:
        return rules.Cutoffs.from_mapping(comp.resolved_cutoffs, policy.points)
    return rules.cutoffs_on_board(comp.cutoffs, board or (), comp.higher_is_better, policy.points)


def private_board(comp: Competition, policy: rules.CoursePolicy, subs: list[rules.Submission],
                  extensions: dict[tuple[str, int], rules.Extension], *, hidden: frozenset[int] = frozenset()
                  ) -> tuple[rules.LeaderboardEntry, ...]:
    """The private leaderboard: each student's best private score over counted on-time submissions, leaving out
    the `hidden` ones (`submissions.private_hidden`). Which submissions count depends on public scores and marks
    only, so leaving some out afterwards moves nobody else's counted ones."""
    counted = rules.counted_on_time(_rules_for(comp, None), policy, subs, extensions)
    return rules.private_leaderboard([s for s in counted if s.id not in hidden], comp.higher_is_better)


def _rules_for(comp: Competition, cutoffs: rules.Cutoffs | rules.Ungraded | None, *, staff: bool = True
               ) -> rules.CompetitionRules:
    """The rules' view of `comp`; cutoffs that gave no values make it ungraded, with the reason in the words of
    the reader (`staff` or not)."""
    ungraded = cutoffs if isinstance(cutoffs, rules.Ungraded) else None
    if ungraded is not None and not staff:
        ungraded = ungraded.for_students()
    return rules.CompetitionRules(slug=comp.slug, schedule=schedule_of(comp),
                                  cutoffs=None if ungraded is not None else cutoffs,
                                  higher_is_better=comp.higher_is_better, slack_eligible=comp.slack_eligible,
                                  weight=comp.weight, allow_practice=comp.allow_practice, ungraded=ungraded)


# --- the use cases ---------------------------------------------------------------------------------------


def grade_course(session: Session, course: Course, *, slack_policy: str | None = None,
                 students: list[User] | None = None, staff: bool = True,
                 hidden: dict[int, frozenset[int]] | None = None) -> tuple[list[User], dict[int, rules.CourseGrades]]:
    """Every enrolled student's grades; `slack_policy` overrides the course's (chronological|optimal)."""
    students, grades = grade_course_under(session, course, [slack_policy], students=students, staff=staff,
                                          hidden=hidden)
    return students, grades[slack_policy]


def hidden_by_competition(session: Session, course: Course) -> dict[int, frozenset[int]]:
    """`submissions.private_hidden` of each released competition of the course, by competition id."""
    return {comp.id: private_hidden(session, comp) for comp in course.competitions if comp.released_at is not None}


def grade_course_under(session: Session, course: Course, slack_policies: list[str | None], *,
                       students: list[User] | None = None, staff: bool = True,
                       hidden: dict[int, frozenset[int]] | None = None
                       ) -> tuple[list[User], dict[str | None, dict[int, rules.CourseGrades]]]:
    """The course graded under each slack policy (None: the course's), reading the database once; as a student
    reads it (`staff=False`), provisional for every competition not released, and for the submissions whose
    private scores students may not read yet after an early release (`hidden`, by competition id: read here when
    not given)."""
    for slack_policy in slack_policies:
        if slack_policy is not None and slack_policy not in rules.SLACK_POLICIES:
            raise PodiumError(f"unknown slack policy {slack_policy!r}; use {' or '.join(rules.SLACK_POLICIES)}")
    course_policy = policy_of(course)
    competitions = list(course.competitions)
    students = students_of(session, course) if students is None else students
    subs = scored_submissions(session, [c.id for c in competitions], [u.id for u in students])
    extensions = active_extensions(session, competitions)
    if staff:
        hidden = {}
    elif hidden is None:
        hidden = hidden_by_competition(session, course)
    comp_rules = []
    for comp in competitions:
        fixed = private_visible(comp, staff)
        stand_ins = hidden.get(comp.id, frozenset())
        if not fixed or stand_ins:
            subs[comp.id] = [rules.public_in_place_of_private(s) if not fixed or s.id in stand_ins else s
                             for s in subs[comp.id]]
        needs_board = has_position_cutoffs(comp) and not (comp.resolved_cutoffs and fixed)
        board = private_board(comp, course_policy, subs[comp.id], extensions) if needs_board else None
        comp_rules.append(_rules_for(comp, cutoffs_of(comp, course_policy, board, fixed=fixed), staff=staff))
    ledger = external_days(session, course.id)
    graded = {slack_policy: rules.grade_course(
        course_policy, comp_rules, {comp.slug: subs[comp.id] for comp in competitions},
        students=[u.id for u in students], extensions=extensions, ledger=ledger, slack_policy=slack_policy,
    ) for slack_policy in slack_policies}
    missing = missing_code(session, course, course_policy, [u.id for u in students])
    if missing:
        graded = {slack_policy: {uid: rules.with_missing_code(grades, missing.get(uid, {}))
                                 for uid, grades in by_student.items()}
                  for slack_policy, by_student in graded.items()}
    return students, graded


def missing_code(session: Session, course: Course, policy: rules.CoursePolicy, student_ids: list[int],
                 now: datetime | None = None) -> dict[int, dict[str, str]]:
    """For the competitions that require code (POLICY.md section 12): student id -> competition slug -> the state
    of their missing code (rules.missing_code_state), for each student with no counted code there."""
    requiring = [comp for comp in course.competitions if comp.code_deadline is not None]
    if not requiring:
        return {}
    from podium.services import code  # only for a course that collects code: the archive readers stay unloaded

    now = now or utcnow()
    missing: dict[int, dict[str, str]] = defaultdict(dict)
    for comp in requiring:
        if not code.requires_code(comp):
            continue
        counted = code.counted_code(session, comp)
        moved = code.code_deadlines(session, comp)
        for uid in student_ids:
            if uid not in counted:
                deadline = moved.get(uid, comp.code_deadline)
                missing[uid][comp.slug] = rules.missing_code_state(policy.missing_code, deadline, now)
    return dict(missing)


def _report(user: User, grades: rules.CourseGrades, competitions: list[Competition], *, staff: bool,
            hidden: dict[int, frozenset[int]] | None = None) -> StudentReport:
    rows = tuple(_row(comp, grades.grade(comp.slug), visible=private_visible(comp, staff),
                      hidden=(hidden or {}).get(comp.id, frozenset())) for comp in competitions)
    return StudentReport(user=user, rows=rows, budget=grades.budget, slack_used=grades.slack_used,
                         slack_remaining=grades.slack_remaining, total=grades.total, slack_policy=grades.slack_policy)


def _row(comp: Competition, grade: rules.CompetitionGrade, *, visible: bool, hidden: frozenset[int]) -> GradeRow:
    """A row is provisional while some score it was computed from is a public one standing in for a private one
    the reader may not read yet: every score before release, those `hidden` after an early one."""
    provisional = not visible or bool(hidden)
    from_public = not visible or grade.submission_id in hidden
    explanation = rules.explain(grade, comp.display_precision, provisional=provisional, from_public=from_public,
                                released=visible)
    return GradeRow(comp, grade, explanation, provisional, from_public)


def gradebook(session: Session, course: Course, *, slack_policy: str | None = None, staff: bool = True
              ) -> list[StudentReport]:
    """Every enrolled student's report, by email; as students read them with `staff=False`."""
    return gradebooks(session, course, [slack_policy], staff=staff)[slack_policy]


def gradebooks(session: Session, course: Course, slack_policies: list[str | None], *, staff: bool = True
               ) -> dict[str | None, list[StudentReport]]:
    """Every enrolled student's report under each slack policy (e.g. both, side by side), by email."""
    students, graded = grade_course_under(session, course, slack_policies, staff=staff)
    competitions = _in_course_order(course)
    return {slack_policy: [_report(user, grades[user.id], competitions, staff=staff) for user in students]
            for slack_policy, grades in graded.items()}


def student_report(session: Session, course: Course, user: User, *, staff: bool, slack_policy: str | None = None
                   ) -> StudentReport:
    """One student's report as staff read it (`staff=True`), or as the student reads it: provisional, from public
    scores, for every competition not released."""
    hidden = {} if staff else hidden_by_competition(session, course)
    students, grades = grade_course(session, course, slack_policy=slack_policy, staff=staff, hidden=hidden)
    if user.id not in grades:
        raise NotFound(f"{user.email} is not a student of {course.slug}")
    return _report(user, grades[user.id], _in_course_order(course), staff=staff, hidden=hidden)


def _in_course_order(course: Course) -> list[Competition]:
    return in_course_order(course.competitions)
