"""Leaderboards as every reader shows them: the pages, the REST API and the Kaggle-compatible API.

The rules decide who ranks where (POLICY.md section 8, `podium.rules.public_leaderboard` and
`private_leaderboard`); this module gathers the enrolled students' scored submissions, asks the rules, and labels
each row with what a reader needs. Only students are ranked; names are their leaderboard names (emails are carried
for staff views only). Ranking uses full precision; `shown_score` is the score rounded to the competition's display
precision.

Benchmarks (podium.services.benchmarks) are shown beside the ranked rows, never among them: `benchmarks_for` reads
them as a board shows them and `with_benchmarks` places each by its score, after every student who reaches it, so
students' ranks are the same with or without them.
"""
from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import NamedTuple, Sequence

from sqlalchemy import String, or_, select, type_coerce
from sqlalchemy.orm import Session

from podium import rules
from podium.errors import Forbidden, PodiumError
from podium.db import raw_instant, utc_instant
from podium.models import Competition, Enrolment, Role, Status, Submission, User, board_name
from podium.services import grading
from podium.services.rule_values import active_extensions, policy_of, submission_value
from podium.services.submissions import private_hidden, private_visible

PUBLIC = "public"
PRIVATE = "private"
BOARDS = (PUBLIC, PRIVATE)


@dataclass(frozen=True)
class BoardRow:
    rank: int
    user_id: int
    name: str  # the student's leaderboard name
    email: str  # for staff views only, never shown to students
    score: float  # full precision
    shown_score: str  # rounded to the competition's display precision
    submitted_at: datetime  # of the submission that holds the score
    submission_id: int
    entries: int  # the student's scored, non-practice submissions


def public_board(session: Session, comp: Competition) -> list[BoardRow]:
    """Each student's best public score over all their scored, non-practice submissions."""
    return list(kept_public_board(session, comp).rows)


# --- the public board, kept between requests ---------------------------------------------------------------
#
# During a deadline rush hundreds of students reload the board, which changes only when an upload is scored or a
# student joins, leaves or renames. Ranking fifty thousand submissions afresh for every reader would cost far more
# than the page, so each competition's board is kept in memory and brought up to date at every request from two
# small reads: the enrolled students (names included: a rename shows at once) and the submissions scored lately.
#
# A newly scored submission can only lift its student, so it is ranked against each student's best one instead of
# against all of them. A score the ranking had already counted that moves (a rescore) or goes (a failure) can
# lower a student, so it ranks everything again. Nothing here is written to by two requests: each request makes
# a new `_Kept` from the old one, and whichever is stored last is caught up by the next request.

# How far back from the newest scoring the scored submissions are read at every request. A scoring commits a
# moment after it takes its time stamp, so a slower commit can land behind a later one; any commit within this
# margin is still seen.
RECENT = timedelta(minutes=5)

_versions = itertools.count(1)
SCORED = Status.scored.name  # as stored: the raw status column holds the name


@dataclass(frozen=True)
class KeptBoard:
    """The public board as kept between requests. Its `version` is new whenever the rows may differ, so pages can
    keep what they draw from the rows under the same version."""

    version: int
    rows: tuple[BoardRow, ...]


@dataclass(frozen=True)
class _Kept:
    higher_is_better: bool
    counted: frozenset[int]  # the scored submissions the ranking has seen
    since: datetime | None  # submissions scored from then on are read at every request (None: all of them)
    lately: dict[int, tuple[datetime, str]]  # what those looked like when last read: scoring time, status
    ranking: tuple[rules.LeaderboardEntry, ...]
    best: tuple[rules.Submission, ...]  # each ranked student's best submission
    entries: Counter  # each student's scored, non-practice submissions
    # What the rows were labelled with, and the rows:
    people: tuple[tuple[int, str, str], ...]  # (user id, email, leaderboard name) of each enrolled student
    labels: dict[int, Person]  # the same, as rows show them
    display_precision: int
    board: KeptBoard


_kept: dict[tuple[str, int], _Kept] = {}


def kept_public_board(session: Session, comp: Competition) -> KeptBoard:
    """The public board, brought up to date (see above)."""
    slot = (str(session.get_bind().url), comp.id)
    people = _enrolled(session, comp)
    kept = _kept.get(slot)
    if kept is None or kept.higher_is_better != comp.higher_is_better or _ids(kept.people) != _ids(people):
        kept = _ranked_afresh(session, comp, people)
    else:
        kept = _caught_up(session, comp, kept, people)
    _kept[slot] = kept
    return kept.board


def _ids(people: tuple[tuple[int, str, str], ...]) -> list[int]:
    return [person[0] for person in people]


def _enrolled(session: Session, comp: Competition) -> tuple[tuple[int, str, str], ...]:
    """The course's students as boards label them, in a fixed order so that two reads compare equal when nothing
    changed (Core rows: a board may have a thousand of them)."""
    rows = session.connection().execute(
        select(User.id, User.email, Enrolment.leaderboard_name).join(Enrolment)
        .where(Enrolment.course_id == comp.course_id, Enrolment.role == Role.student).order_by(User.id)
    ).all()
    return tuple((user_id, email, name) for user_id, email, name in rows)


class Scored(NamedTuple):
    id: int
    user_id: int
    status: str  # a Status name, as stored
    scored_at: datetime | None
    submission: rules.Submission


def _scored_rows(session: Session, comp_id: int, since: datetime | None, until: datetime | None = None
                 ) -> list[Scored]:
    """The competition's submissions scored (or failed, or being rescored) at or after `since`: a range read of an
    index. Without `since`, all of them, and any scored one without a time stamp. With `until`, only those scored
    by then (and those without a time stamp)."""
    query = (select(Submission.id, Submission.user_id, type_coerce(Submission.status, String),
                    raw_instant(Submission.scored_at), raw_instant(Submission.submitted_at), Submission.public_score,
                    Submission.private_score, Submission.selected, Submission.practice)
             .where(Submission.competition_id == comp_id))
    if since is None:
        query = query.where(or_(Submission.scored_at.is_not(None), Submission.status == Status.scored))
    else:
        query = query.where(Submission.scored_at >= since)
    if until is not None:
        query = query.where(or_(Submission.scored_at <= until, Submission.scored_at.is_(None)))
    # Core rows and raw values: on a first read this is every scored submission, fifty thousand in the benchmark.
    return [Scored(sub_id, user_id, status, None if scored_at is None else utc_instant(scored_at),
                   submission_value(sub_id, user_id, utc_instant(at), public, private, selected, practice))
            for sub_id, user_id, status, scored_at, at, public, private, selected, practice
            in session.connection().execute(query).all()]


def _window(rows: list[Scored], since: datetime | None) -> tuple[datetime | None, dict]:
    """Where the next read starts (RECENT before the newest scoring seen; it never moves back) and what that read
    will find there that is known already."""
    newest = max((row.scored_at for row in rows if row.scored_at is not None), default=None)
    if newest is not None and (since is None or newest - RECENT > since):
        since = newest - RECENT
    return since, {row.id: (row.scored_at, row.status) for row in rows
                   if row.scored_at is not None and (since is None or row.scored_at >= since)}


def _ranked_afresh(session: Session, comp: Competition, people: tuple[tuple[int, str, str], ...]) -> _Kept:
    # One read gives both what is ranked and what the next requests compare against, so the two always agree:
    # a scoring that commits meanwhile is in both or in neither.
    rows = _scored_rows(session, comp.id, None)
    students = set(_ids(people))
    subs = [row.submission for row in rows if row.status == SCORED and row.user_id in students]
    ranking = rules.public_leaderboard(subs, comp.higher_is_better)
    by_id = {s.id: s for s in subs}
    since, known = _window(rows, None)
    return _labelled(comp, _Kept(
        higher_is_better=comp.higher_is_better, counted=frozenset(by_id), since=since, lately=known,
        ranking=ranking, best=tuple(by_id[e.submission_id] for e in ranking),
        entries=Counter(s.student for s in subs if s.gradable),
        people=people, labels=_labels(people), display_precision=comp.display_precision, board=KeptBoard(0, ())))


def _caught_up(session: Session, comp: Competition, kept: _Kept, people: tuple[tuple[int, str, str], ...]) -> _Kept:
    lately = _scored_rows(session, comp.id, kept.since)
    changed = [row for row in lately if kept.lately.get(row.id) != (row.scored_at, row.status)]
    if any(row.id in kept.counted for row in changed):
        return _ranked_afresh(session, comp, people)  # a counted score moved or went: it may lower a student
    students = set(_ids(people))
    fresh = [row.submission for row in changed if row.status == SCORED and row.user_id in students]
    since, known = _window(lately, kept.since)
    renamed = kept.people != people
    relabel = bool(fresh) or renamed or kept.display_precision != comp.display_precision
    if fresh:
        kept = _with_fresh(comp, kept, fresh)
    if renamed:
        kept = replace(kept, people=people, labels=_labels(people))
    kept = replace(kept, since=since, lately=known, display_precision=comp.display_precision)
    return _labelled(comp, kept) if relabel else kept


def _with_fresh(comp: Competition, kept: _Kept, fresh: list[rules.Submission]) -> _Kept:
    """The ranking with newly scored submissions: each student's best so far and the new ones give the same
    ranking as all of them would, since a student's best of bests is their best."""
    candidates = [*kept.best, *fresh]
    ranking = rules.public_leaderboard(candidates, comp.higher_is_better)
    by_id = {s.id: s for s in candidates}
    return replace(kept, counted=kept.counted | {s.id for s in fresh}, ranking=ranking,
                   best=tuple(by_id[e.submission_id] for e in ranking),
                   entries=kept.entries + Counter(s.student for s in fresh if s.gradable))


def _labels(people: tuple[tuple[int, str, str], ...]) -> dict[int, Person]:
    return {user_id: Person(board_name(user_id, name), email) for user_id, email, name in people}


def _labelled(comp: Competition, kept: _Kept) -> _Kept:
    rows = tuple(_rows_of(comp, kept.ranking, kept.labels, kept.entries))
    return replace(kept, board=KeptBoard(next(_versions), rows))


# --- where one scored submission put its student ----------------------------------------------------------


@dataclass(frozen=True)
class RankChange:
    """A student's rank on the public board just before one of their submissions was scored and just after
    (None: not on the board), of `students` ranked after it. Public scores only (POLICY.md section 11)."""

    before: int | None
    after: int | None
    students: int
    practice: bool  # practice submissions are on no leaderboard
    best: bool  # it holds the student's best public score on the board just after it

    @property
    def moved(self) -> bool:
        return self.before != self.after

    @property
    def text(self) -> str:
        where = "not on the leaderboard" if self.after is None else f"{self.after} of {self.students}"
        if self.practice:
            return (f"Public rank: {where}, unchanged: practice submissions are scored for their author only and are "
                    "on no leaderboard.")
        if not self.best:
            return (f"Public rank: {where}, unchanged: an earlier submission keeps the better public score.")
        if not self.moved:
            return f"Public rank: {self.after} of {self.students}, unchanged; this is now the best public score."
        before = "not on the leaderboard" if self.before is None else str(self.before)
        return f"Public rank: {before} → {self.after} of {self.students}."

    def as_dict(self) -> dict:
        return {"before": self.before, "after": self.after, "students": self.students, "changed": self.moved,
                "text": self.text}


def public_rank_change(session: Session, comp: Competition, sub: Submission) -> RankChange | None:
    """Where a scored submission put its student on the public board: the board of the enrolled students'
    submissions scored by its `scored_at`, without it and with it, ranked by the public board's own rule
    (`rules.public_leaderboard`). None for a submission not scored, or not by a student of the course (staff are on
    no board). Ranks read public scores only, so they are the same before and after the private board's release."""
    if sub.status != Status.scored or sub.scored_at is None:
        return None
    students = set(_ids(_enrolled(session, comp)))
    if sub.user_id not in students:
        return None
    rows = _scored_rows(session, comp.id, None, until=sub.scored_at)
    this = next((row.submission for row in rows if row.id == sub.id), None)
    if this is None:  # rescored since it was read: the next read tells
        return None
    earlier = [row.submission for row in rows if row.status == SCORED and row.user_id in students and row.id != sub.id]
    before = rules.public_leaderboard(earlier, comp.higher_is_better)
    # A student's best of bests is their best (as `_with_fresh`): the board with it ranks the bests before and it.
    bests = {s.id: s for s in earlier}
    after = rules.public_leaderboard([*(bests[e.submission_id] for e in before), this], comp.higher_is_better)
    mine_before = next((e for e in before if e.student == sub.user_id), None)
    mine_after = next((e for e in after if e.student == sub.user_id), None)
    return RankChange(before=mine_before and mine_before.rank, after=mine_after and mine_after.rank,
                      students=len(after), practice=bool(sub.practice),
                      best=mine_after is not None and mine_after.submission_id == sub.id)


def private_board(session: Session, comp: Competition, *, staff: bool = True) -> list[BoardRow]:
    """Each student's best private score over their counted on-time submissions (extensions included); as students
    read it, without the scores they may not read yet (`submissions.private_hidden`)."""
    students, subs = _students_and_submissions(session, comp)
    hidden = frozenset() if staff else private_hidden(session, comp)
    board = grading.private_board(comp, policy_of(comp.course), subs, active_extensions(session, [comp]),
                                  hidden=hidden)
    return _rows(comp, board, students, subs)


@dataclass(frozen=True)
class BenchmarkRow:
    """A benchmark as a board shows it: a marked row, placed by its score and ranked nowhere."""

    name: str  # the benchmark's name, as staff gave it
    score: float  # full precision: the public score on the public board, the private score on the private one
    shown_score: str
    submitted_at: datetime
    submission_id: int

    @property
    def label(self) -> str:
        return f"Benchmark: {self.name}"


Line = BoardRow | BenchmarkRow


def benchmarks_for(session: Session, comp: Competition, which: str, *, staff: bool) -> list[BenchmarkRow]:
    """The competition's benchmarks on the named board, best first, if this reader may see that board: by their
    public scores on the public board, by their private scores on the private one (to students, as for their own
    rows, without the private scores they may not read yet: `submissions.private_hidden`).

    A benchmark is a scored submission with a benchmark name whose author is not a student of the course: names
    are given to staff members' submissions only, and a staff member who becomes a student has their submissions
    count as a student's again, on the board and for the grade, instead of as a benchmark."""
    _check_visible(comp, which, staff=staff)
    students = select(Enrolment.user_id).where(Enrolment.course_id == comp.course_id, Enrolment.role == Role.student)
    score = Submission.public_score if which == PUBLIC else Submission.private_score
    found = session.execute(
        select(Submission.id, Submission.benchmark_name, score, Submission.submitted_at)
        .where(Submission.competition_id == comp.id, Submission.benchmark_name.is_not(None),
               Submission.status == Status.scored, Submission.user_id.not_in(students))
    ).all()
    hidden = frozenset() if staff or which == PUBLIC else private_hidden(session, comp)
    rows = [BenchmarkRow(name, value, shown(comp, value), at, sub_id) for sub_id, name, value, at in found
            if value is not None and sub_id not in hidden]
    return sorted(rows, key=lambda r: (-r.score if comp.higher_is_better else r.score, r.submitted_at,
                                       r.submission_id))


def benchmark_places(rows: Sequence[BoardRow], benchmarks: Sequence[BenchmarkRow], higher_is_better: bool
                     ) -> list[tuple[int, BenchmarkRow]]:
    """Each benchmark (best first) with the number of students' rows above it: those at or beyond its score."""
    return [(rules.entries_at_or_beyond(rows, b.score, higher_is_better), b) for b in benchmarks]


def with_benchmarks(rows: Sequence[BoardRow], benchmarks: Sequence[BenchmarkRow], higher_is_better: bool
                    ) -> list[Line]:
    """The board's lines in order: the students' rows, each benchmark placed among them by its score."""
    lines: list[Line] = []
    done = 0
    for after, benchmark in benchmark_places(rows, benchmarks, higher_is_better):
        lines.extend(rows[done:after])
        lines.append(benchmark)
        done = max(done, after)
    lines.extend(rows[done:])
    return lines


def private_board_visible(comp: Competition, *, staff: bool) -> bool:
    """Staff see the private board at any time, students once staff released it."""
    return private_visible(comp, staff)


def cutoff_values(comp: Competition, *, staff: bool) -> dict[str, float]:
    """The cutoffs this reader may know as metric values, by letter: numbers, and positions ("top 10%") once
    finalisation fixed them. Those were read off the private board, so students learn them only when it is released
    (POLICY.md section 11); until then a position stays a position."""
    fixed = (comp.resolved_cutoffs or {}) if private_visible(comp, staff) else {}
    values = {}
    for letter, spec in comp.cutoffs.items():
        if letter in fixed:
            values[letter] = float(fixed[letter])
        elif not rules.is_position(spec):
            values[letter] = float(spec)
    return values


def default_board(comp: Competition) -> str:
    """The board a reader who does not choose sees: the private one once it is released (as on Kaggle)."""
    return PRIVATE if comp.released_at is not None else PUBLIC


def board_for(session: Session, comp: Competition, which: str, *, staff: bool) -> list[BoardRow]:
    """The named board, if this reader may see it."""
    _check_visible(comp, which, staff=staff)
    if which == PUBLIC:
        return public_board(session, comp)
    return private_board(session, comp, staff=staff)


def _check_visible(comp: Competition, which: str, *, staff: bool) -> None:
    if which not in BOARDS:
        raise PodiumError(f"unknown leaderboard {which!r}; use {' or '.join(BOARDS)}", code=400)
    if which == PRIVATE and not private_board_visible(comp, staff=staff):
        raise Forbidden(f"The private leaderboard of {comp.public_id} is shown once the course staff release it, "
                        "after the competition closes.")


class Person(NamedTuple):
    board_name: str
    email: str


def _people(session: Session, comp: Competition) -> dict[int, Person]:
    return _labels(_enrolled(session, comp))


def _students_and_submissions(session: Session, comp: Competition
                              ) -> tuple[dict[int, Person], list[rules.Submission]]:
    students = _people(session, comp)
    subs = grading.scored_submissions(session, [comp.id], list(students))[comp.id]
    return students, subs


def _rows(comp: Competition, board, students: dict[int, Person], subs: list[rules.Submission]) -> list[BoardRow]:
    return _rows_of(comp, board, students, Counter(s.student for s in subs if s.gradable))


def _rows_of(comp: Competition, board, students: dict[int, Person], entries: Counter) -> list[BoardRow]:
    return [BoardRow(rank=e.rank, user_id=e.student, name=students[e.student].board_name,
                     email=students[e.student].email, score=e.score, shown_score=shown(comp, e.score),
                     submitted_at=e.submitted_at, submission_id=e.submission_id, entries=entries[e.student])
            for e in board]


def shown(comp: Competition, score: float | None) -> str:
    """A score as readers see it: rounded to the competition's display precision."""
    return "" if score is None else f"{score:.{comp.display_precision}f}"
