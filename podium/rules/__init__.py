"""Podium's course rules (POLICY.md), as pure functions over plain value objects.

Nothing here imports Flask, SQLAlchemy or the rest of Podium: services build the value types (Submission,
Schedule, Extension, Cutoffs, CoursePolicy, CompetitionRules) from database rows and call these functions.
Every instant is an aware UTC datetime; the course time zone is used only to read course files and to write
messages.

Modules, one concern each:
  time           wall-clock times in the course time zone <-> UTC instants, DST rule
  windows        Schedule, Extension, effective_schedule, classify, days_late
  limits         the daily submission limit
  interpolation  Cutoffs, Points, base, bonus, cutoff validation
  submission     the Submission value type
  selection      which submissions count (kaggle marks or all), marking checks
  grading        candidates and one competition's grade (CompetitionGrade)
  slack          slack budget, chronological and optimal policies (CourseGrades)
  course         a whole course from submissions: grade_course
  ranking        public and private leaderboards, position cutoffs
  explain        the sentence that explains a grade
"""
from podium.rules.course import (
    competition_candidates,
    counted_by_student,
    counted_on_time,
    grade_course,
    student_schedule,
)
from podium.rules.explain import NOTHING_COUNTS, explain
from podium.rules.grading import (
    LATE,
    NONE,
    SLACK,
    Candidate,
    CompetitionGrade,
    Option,
    StudentCandidates,
    chronological_options,
    class_best,
    grade_option,
    grade_with_slack,
    missed_early,
    optimal_options,
    preferred,
    student_candidates,
)
from podium.rules.interpolation import (
    DEFAULT_POINTS,
    Cutoffs,
    Points,
    at_or_beyond,
    base,
    bonus,
    cutoffs_problem,
    strictly_beyond,
)
from podium.rules.limits import LimitResult, check_daily_limit, next_local_midnight, submissions_today
from podium.rules.ranking import (
    LeaderboardEntry,
    check_cutoffs,
    leaderboard,
    parse_position,
    private_leaderboard,
    public_leaderboard,
    rank_at_position,
    resolve_cutoffs,
    value_at_position,
)
from podium.rules.selection import (
    ALL,
    KAGGLE,
    Counted,
    MarkCheck,
    check_mark,
    counted_in_group,
    counted_submissions,
    marking_open,
)
from podium.rules.settings import CHRONOLOGICAL, OPTIMAL, CompetitionRules, CoursePolicy
from podium.rules.slack import CourseGrades, chronological, grade_student, optimal, slack_budget
from podium.rules.submission import Submission
from podium.rules.time import (
    UTC,
    as_utc,
    format_local,
    format_utc,
    local_date,
    local_to_utc,
    localize,
    parse_wall_clock,
    zone,
)
from podium.rules.windows import (
    AFTER,
    CLOSED,
    NOT_OPEN,
    ON_TIME,
    PRACTICE,
    Extension,
    Schedule,
    WindowResult,
    classify,
    days_late,
    effective_schedule,
    grading_group,
    schedule_problem,
)

__all__ = [name for name in dir() if not name.startswith("_") and name not in {
    "course", "explain_module", "grading", "interpolation", "limits", "ranking", "selection", "settings",
    "slack", "submission", "time", "windows"}]
