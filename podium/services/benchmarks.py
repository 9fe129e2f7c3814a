"""Benchmarks: submissions of the course's staff shown on the boards as marked rows ("Benchmark: NAME"), so that
students can tell how good a score is.

Staff name a submission of a staff member of the course: one of their own uploads, or a baseline recorded with
`podium submit --benchmark NAME --as STAFF-EMAIL`. A student's submission never carries a name. The boards show
each benchmark placed by its score among the students' rows and ranked nowhere (podium.services.leaderboards), and
grades never read it: ranks and grades are computed from students' submissions only. So naming, renaming or
unnaming a benchmark changes no rank and no grade, and needs no regrade even after finalisation; it is audited like
every other change staff make.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from podium.domain import Role
from podium.errors import FieldError, NotFound, Refused
from podium.models import BENCHMARK_NAME_LENGTH, Competition, Enrolment, Status, Submission, User
from podium.services import audit
from podium.services.users import role_in

NAME_MAX = BENCHMARK_NAME_LENGTH
FIELD = "benchmark"  # worded `--benchmark` by the command, "benchmark name" by the page
SHOWN_ON_PAGE = 100  # staff submissions listed for naming on the staff submissions page


def checked_name(name: str | None) -> str:
    """A benchmark name as boards show it (runs of white space made one space), or the FieldError saying what to
    change."""
    name = " ".join((name or "").split())
    if not name:
        raise FieldError(FIELD, "Give the {benchmark} a name, e.g. \"Logistic regression baseline\": boards show "
                                "the row as \"Benchmark: NAME\".")
    if len(name) > NAME_MAX:
        raise FieldError(FIELD, "The {benchmark} is {length} characters long; shorten it to at most {limit}.",
                         length=len(name), limit=NAME_MAX)
    if not name.isprintable():
        raise FieldError(FIELD, "The {benchmark} holds a control, invisible or text-direction character, which would "
                                "hide or reorder what the boards show; use letters, digits and punctuation.")
    return name


def refuse_taken(session: Session, comp: Competition, name: str, *, other_than: int | None = None) -> None:
    """Two rows of one board under the same name would leave students guessing which is which."""
    taken = session.scalar(select(Submission.id).where(
        Submission.competition_id == comp.id, Submission.benchmark_name == name,
        Submission.id != (other_than or 0)))
    if taken is not None:
        raise FieldError(FIELD, "Another benchmark of {competition} is named {name!r} (submission {taken}); choose "
                                "another {benchmark}.", competition=comp.public_id, name=name, taken=taken, code=409)


def refuse_unless_staff_author(comp: Competition, author: User) -> None:
    """Only submissions of the course's staff can be benchmarks: a student's submission ranks on the board and
    counts for their grade, and a benchmark does neither."""
    role = role_in(author, comp.course)
    if role is None or not role.is_staff:
        raise Refused(f"Only submissions of the course's staff can be benchmarks, and {author.email} is "
                      f"{'a student of' if role == Role.student else 'not enrolled in'} {comp.course.slug}: "
                      "upload the baseline as a staff member (the submit page, or `podium submit --benchmark NAME "
                      "--as STAFF-EMAIL`).")


def name_submission(session: Session, submission_id: int, name: str, *, by: User | None, actor: str) -> Submission:
    """Show the submission on the boards as the benchmark `name` (or rename it): by staff of its course, or
    (by=None) by the operator at the `podium` command; audited."""
    sub = _for_staff(session, submission_id, by)
    name = checked_name(name)
    refuse_unless_staff_author(sub.competition, sub.user)
    if sub.status == Status.failed:
        raise Refused(f"Submission {sub.id} could not be scored, so it has no score to show on the boards; upload "
                      "the baseline again and name that submission.")
    refuse_taken(session, sub.competition, name, other_than=sub.id)
    if sub.benchmark_name != name:
        audit.record(session, actor, "submission.benchmark", course_id=sub.competition.course_id,
                     target=str(sub.id), name=name, previous=sub.benchmark_name, author=sub.user.email)
        sub.benchmark_name = name
    return sub


def unname_submission(session: Session, submission_id: int, *, by: User | None, actor: str) -> Submission:
    """Take the submission off the boards as a benchmark (it stays a submission of its author); audited."""
    sub = _for_staff(session, submission_id, by)
    if sub.benchmark_name is not None:
        audit.record(session, actor, "submission.unbenchmark", course_id=sub.competition.course_id,
                     target=str(sub.id), name=sub.benchmark_name, author=sub.user.email)
        sub.benchmark_name = None
    return sub


def _for_staff(session: Session, submission_id: int, by: User | None) -> Submission:
    """The submission, when `by` is staff of its course; anyone else is told it does not exist, as for any
    submission that is not theirs (podium.services.submissions.visible_to)."""
    sub = session.get(Submission, submission_id)
    if sub is None:
        raise NotFound(f"no submission {submission_id}")
    if by is not None:
        role = role_in(by, sub.competition.course)
        if role is None or not role.is_staff:
            raise NotFound(f"no submission {submission_id}")
    return sub


def staff_submissions(session: Session, course_id: int, competition_id: int | None = None) -> list[Submission]:
    """The submissions of the course's staff members (those that can be benchmarks), newest first, at most
    SHOWN_ON_PAGE; `competition_id` keeps one competition's."""
    staff = select(Enrolment.user_id).where(Enrolment.course_id == course_id,
                                            Enrolment.role.in_([Role.staff, Role.instructor]))
    query = (select(Submission).join(Submission.competition)
             .where(Competition.course_id == course_id, Submission.user_id.in_(staff)))
    if competition_id is not None:
        query = query.where(Submission.competition_id == competition_id)
    return list(session.scalars(query.order_by(Submission.submitted_at.desc(), Submission.id.desc())
                                .limit(SHOWN_ON_PAGE)))
