"""One student's grade in one competition (POLICY.md section 4).

Grading happens in two steps so that the slack policies can share the expensive part:
1. `student_candidates` turns a student's counted submissions into *candidates* once: the best on-time one (base +
   bonus) and, for every distinct number of days late, the best after-deadline one (by base). That is everything
   either slack policy can ever choose from, so nothing is recomputed per slack-day budget.
2. `grade_with_slack` (the chronological rule, for a given number of available slack days) or `grade_option`
   (for an option the optimal policy chose) turns candidates into a `CompetitionGrade`.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterable

from podium.rules.interpolation import Cutoffs, base, better_of, bonus
from podium.rules.selection import Counted
from podium.rules.submission import Submission
from podium.rules.windows import Schedule, utc_days_late

ON_TIME = "on_time"
SLACK = "slack"
LATE = "late"
NONE = "none"
# Ties between equal grades prefer on-time, then slack (with the fewest days), then late (POLICY.md section 4).
KIND_ORDER = {ON_TIME: 0, SLACK: 1, LATE: 2, NONE: 3}


# Why a competition has no grades (POLICY.md section 11): its cutoffs are leaderboard positions and
NOT_YET = "not_yet"  # nobody has a counted on-time submission to read them off yet, or
OUT_OF_ORDER = "out_of_order"  # read off the board, they do not run from A to D in the metric's direction.

# How the staff's reason starts, before what is wrong.
LEADS = {NOT_YET: "No grades yet", OUT_OF_ORDER: "No grades"}
# What students read instead, since the staff's reason may name values read off the private board.
FOR_STUDENTS = {
    NOT_YET: "No grade yet: this competition's cutoffs are leaderboard positions, which are read once students have "
             "counted on-time submissions.",
    OUT_OF_ORDER: "Not available yet: the course staff are settling this competition's cutoffs.",
}


@dataclass(frozen=True)
class Ungraded:
    """Why a competition has no grades for anyone. `why` says what is wrong, naming letters and values (some read
    off the private board): it is for staff. `for_students()` keeps only the kind, so nothing of a board reaches a
    student by it, and its `reason` is the neutral sentence."""

    kind: str  # NOT_YET | OUT_OF_ORDER
    why: str = ""
    for_staff: bool = True

    @property
    def reason(self) -> str:
        """The sentence shown where the grade would be, in its reader's words."""
        return f"{LEADS[self.kind]}: {self.why}" if self.for_staff else FOR_STUDENTS[self.kind]

    def for_students(self) -> Ungraded:
        return Ungraded(self.kind, for_staff=False)


@dataclass(frozen=True)
class Candidate:
    """A counted submission with what grading needs of it. `days_late` is 0 for an on-time submission."""

    submission_id: int
    submitted_at: datetime
    private_score: float
    base: float
    bonus: float = 0.0
    days_late: int = 0

    @property
    def on_time_grade(self) -> float:
        return self.base + self.bonus


@dataclass(frozen=True)
class StudentCandidates:
    """Everything a slack policy needs to grade one student in one competition.

    `after` holds, for each distinct number of days late, the after-deadline submission with the best base (ties:
    the earlier), in increasing days. Any slack or late choice is one of these.
    """

    competition: str
    ontime: datetime  # the competition's own ontime: it orders the course, whatever the student's extension
    weight: float = 1.0
    slack_eligible: bool = True
    on_time: Candidate | None = None
    after: tuple[Candidate, ...] = ()
    early_missed: bool = False
    late_factor: float = 0.9
    early_factor: float = 0.9
    ungraded: Ungraded | None = None  # the competition has no grades: no candidates either

    def best_slack(self, d_avail: int) -> Candidate | None:
        """The best after-deadline candidate that `d_avail` slack days cover (ties: fewest days)."""
        if not self.slack_eligible:
            return None
        return _best_by_base(c for c in self.after if c.days_late <= d_avail)

    def best_late(self, d_avail: int | None = None) -> Candidate | None:
        """The best candidate graded late: those beyond `d_avail` slack days (all of them when None)."""
        return _best_by_base(c for c in self.after if d_avail is None or c.days_late > d_avail)

    def slack_options(self, max_days: int) -> list[Candidate]:
        """The slack candidates worth considering with at most `max_days`: each strictly better than every one
        with fewer days (a dominated one would spend more days for no more points)."""
        if not self.slack_eligible:
            return []
        front: list[Candidate] = []
        for c in self.after:
            if c.days_late <= max_days and (not front or c.base > front[-1].base):
                front.append(c)
        return front


def _best_by_base(candidates: Iterable[Candidate]) -> Candidate | None:
    # `after` is in increasing days (so in time order), so the first maximum is the one with the fewest days.
    best = None
    for c in candidates:
        if best is None or c.base > best.base:
            best = c
    return best


@dataclass(frozen=True)
class CompetitionGrade:
    """A student's grade in one competition and what it is made of.

    `late_factor` and `early_factor` are the factors applied (1.0 when not applied), so that
    final = raw * early_factor and, for a late submission, raw = base * late_factor.
    `slack_remaining` is filled in by the slack policy (None when graded alone).
    A competition that cannot be graded (`ungraded`, POLICY.md section 11) gives window NONE and no grade: `final`
    stays 0.0 so that it adds nothing to the total, and readers show "no grade" with the reason, never that 0.
    """

    competition: str
    window: str  # ON_TIME | SLACK | LATE | NONE
    submission_id: int | None = None
    submitted_at: datetime | None = None
    private_score: float | None = None
    days_late: int = 0
    base: float = 0.0
    bonus: float = 0.0
    late_factor: float = 1.0
    raw: float = 0.0
    early_penalty: bool = False
    early_factor: float = 1.0
    final: float = 0.0
    slack_used: int = 0
    d_avail: int = 0
    slack_remaining: int | None = None
    weight: float = 1.0
    ungraded: Ungraded | None = None
    # The competition requires code and the counted submission has no counted code (POLICY.md section 12):
    # CODE_DUE (its deadline not passed yet), CODE_FLAG (flagged to staff) or CODE_ZERO (final grade 0); else None.
    missing_code: str | None = None

    @property
    def weighted(self) -> float:
        return self.weight * self.final

    @property
    def counted(self) -> bool:
        return self.window != NONE

    @property
    def graded(self) -> bool:
        """The competition has grades (a real 0 included); False: no grade, for the reason in `ungraded`."""
        return self.ungraded is None


# --- step 1: candidates ----------------------------------------------------------------------------------


def class_best(on_time_private_scores: Iterable[float], higher_is_better: bool) -> float | None:
    """The best private score among all students' counted on-time submissions (None when there are none)."""
    best = None
    for x in on_time_private_scores:
        best = x if best is None else better_of(best, x, higher_is_better)
    return best


def missed_early(submissions: Iterable[Submission], schedule: Schedule) -> bool:
    """The early rule's condition: the competition has an (effective) early deadline and the student has no
    scored submission at or before it. Any scored submission counts here, counted for the grade or not."""
    if schedule.early is None:
        return False
    return not any(s.scored and s.submitted_at <= schedule.early for s in submissions)


def best_on_time(subs: Iterable[Submission], cutoffs: Cutoffs, higher_is_better: bool, best: float | None,
                 bmax: float) -> Candidate | None:
    """The on-time candidate with the highest base + bonus; ties to the earlier submission.

    Runs once per counted submission of every student, so it keeps plain values and builds one Candidate.
    """
    winner, win_base, win_bonus, win_key = None, 0.0, 0.0, None
    for s in subs:
        x = s.private_score
        if x is None:
            continue
        b = base(x, cutoffs, higher_is_better)
        # Graded alone, without a class, the student is the class best.
        extra = bonus(x, cutoffs, x if best is None else best, bmax, higher_is_better)
        key = (-(b + extra), s.submitted_at, s.id)
        if win_key is None or key < win_key:
            winner, win_base, win_bonus, win_key = s, b, extra, key
    if winner is None:
        return None
    return Candidate(winner.id, winner.submitted_at, winner.private_score, win_base, win_bonus)


def best_after_per_day(subs: Iterable[Submission], schedule: Schedule, cutoffs: Cutoffs,
                       higher_is_better: bool) -> tuple[Candidate, ...]:
    """For each distinct days_late, the after-deadline candidate with the best base (ties: the earlier), in
    increasing days."""
    best: dict[int, tuple[tuple, Submission, float]] = {}
    for s in subs:
        x = s.private_score
        if x is None:
            continue
        b = base(x, cutoffs, higher_is_better)
        days = utc_days_late(s.submitted_at, schedule.ontime)
        key = (-b, s.submitted_at, s.id)
        if days not in best or key < best[days][0]:
            best[days] = (key, s, b)
    return tuple(Candidate(s.id, s.submitted_at, s.private_score, b, days_late=days)
                 for days, (_, s, b) in sorted(best.items()))


def student_candidates(*, competition: str, ontime: datetime, counted: Counted, schedule: Schedule,
                       cutoffs: Cutoffs, higher_is_better: bool, best: float | None, bonus_points: float,
                       early_missed: bool, weight: float = 1.0, slack_eligible: bool = True,
                       late_factor: float = 0.9, early_factor: float = 0.9) -> StudentCandidates:
    """One student's candidates in one competition from their counted submissions.

    `schedule` is the student's effective schedule (days late count from their own ontime); `best` is the class
    best on-time private score, which is not None whenever this student has a counted on-time submission.
    """
    on_time = best_on_time(counted.on_time, cutoffs, higher_is_better, best, bonus_points)
    after = best_after_per_day(counted.after, schedule, cutoffs, higher_is_better)
    return StudentCandidates(competition=competition, ontime=ontime, weight=weight, slack_eligible=slack_eligible,
                             on_time=on_time, after=after, early_missed=early_missed, late_factor=late_factor,
                             early_factor=early_factor)


# --- step 2: from candidates to a grade ------------------------------------------------------------------


@dataclass(frozen=True)
class Option:
    """One way a competition can count: a window and the candidate counted in it."""

    window: str
    candidate: Candidate | None
    raw: float

    @property
    def slack_days(self) -> int:
        return self.candidate.days_late if self.window == SLACK else 0

    def tie_key(self) -> tuple:
        """Sorts the preferred option first among equal grades (POLICY.md section 4)."""
        c = self.candidate
        return (-self.raw, KIND_ORDER[self.window], self.slack_days,
                c.submitted_at if c else datetime.max, c.submission_id if c else 0)


def on_time_option(c: StudentCandidates) -> list[Option]:
    return [] if c.on_time is None else [Option(ON_TIME, c.on_time, c.on_time.on_time_grade)]


def slack_option(candidate: Candidate | None) -> list[Option]:
    return [] if candidate is None else [Option(SLACK, candidate, candidate.base)]


def late_option(c: StudentCandidates, candidate: Candidate | None) -> list[Option]:
    return [] if candidate is None else [Option(LATE, candidate, c.late_factor * candidate.base)]


def chronological_options(c: StudentCandidates, d_avail: int) -> list[Option]:
    """Section 4 read literally for `d_avail` slack days: an after-deadline submission with days_late <= d_avail
    in a slack-eligible competition *is* slack; any other is late."""
    if c.ungraded:
        return []
    covered = d_avail if c.slack_eligible else -1
    return [*on_time_option(c), *slack_option(c.best_slack(d_avail)), *late_option(c, c.best_late(covered))]


def optimal_options(c: StudentCandidates, max_days: int) -> list[Option]:
    """What the optimal policy may choose (section 5): the best on-time, any worthwhile slack submission within
    `max_days`, or the best after-deadline submission graded late (spending no slack day)."""
    if c.ungraded:
        return []
    slack = [o for cand in c.slack_options(max_days) for o in slack_option(cand)]
    return [*on_time_option(c), *slack, *late_option(c, c.best_late())]


def preferred(options: Iterable[Option]) -> Option:
    """raw = max over the options, ties broken by the policy's order; 'none' when nothing counts (also when the
    competition has no grades: it then spends no slack day, and the slack chain goes on to the next one)."""
    return min(options, key=Option.tie_key, default=Option(NONE, None, 0.0))


def final_factor(c: StudentCandidates, option: Option) -> float:
    """The early rule's factor. [decision] With nothing counted the grade is 0 whatever the factor, so the
    penalty is reported only when it was applied to something."""
    return c.early_factor if c.early_missed and option.candidate is not None else 1.0


def weighted_value(c: StudentCandidates, option: Option) -> float:
    """What `option` adds to the course total: weight * final."""
    return c.weight * final_factor(c, option) * option.raw


def grade_option(c: StudentCandidates, option: Option, d_avail: int = 0,
                 slack_remaining: int | None = None) -> CompetitionGrade:
    """The grade when `option` counts, with the early rule applied."""
    cand = option.candidate
    if cand is None:
        return CompetitionGrade(competition=c.competition, window=NONE, d_avail=d_avail,
                                slack_remaining=slack_remaining, weight=c.weight, ungraded=c.ungraded)
    factor = final_factor(c, option)
    return CompetitionGrade(
        competition=c.competition, window=option.window, submission_id=cand.submission_id,
        submitted_at=cand.submitted_at, private_score=cand.private_score,
        days_late=cand.days_late, base=cand.base, bonus=cand.bonus if option.window == ON_TIME else 0.0,
        late_factor=c.late_factor if option.window == LATE else 1.0, raw=option.raw,
        early_penalty=c.early_missed, early_factor=factor, final=factor * option.raw,
        slack_used=option.slack_days, d_avail=d_avail, slack_remaining=slack_remaining, weight=c.weight)


def chronological_option(c: StudentCandidates, d_avail: int) -> Option:
    """The option section 4 picks with `d_avail` slack days available to this competition."""
    return preferred(chronological_options(c, d_avail if c.slack_eligible else 0))


def grade_with_slack(c: StudentCandidates, d_avail: int, slack_remaining: int | None = None) -> CompetitionGrade:
    """The grade with `d_avail` slack days available to this competition (the chronological rule's step);
    `slack_remaining`, when given, is the budget left before this competition and is reduced by what it uses."""
    d_avail = d_avail if c.slack_eligible else 0
    option = chronological_option(c, d_avail)
    remaining = None if slack_remaining is None else slack_remaining - option.slack_days
    return grade_option(c, option, d_avail, remaining)
