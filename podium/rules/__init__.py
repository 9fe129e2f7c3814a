"""Podium's course rules (POLICY.md), as pure functions over plain value objects.

Nothing here imports Flask, SQLAlchemy or the rest of Podium: services build the value types (Submission,
Schedule, Extension, Cutoffs, CoursePolicy, CompetitionRules) from database rows and call these functions.
Every instant is an aware UTC datetime; the course time zone is used only to read course files and to write
messages.

Modules, one concern each:
  time           wall-clock times in the course time zone <-> UTC instants, DST rule
  windows        Schedule, Extension, effective_schedule, phase, classify, days_late
  limits         the daily submission limit
  interpolation  Cutoffs, Points, base, bonus, cutoff validation
  submission     the Submission value type
  selection      which submissions count (kaggle marks or all), marking checks
  grading        candidates and one competition's grade (CompetitionGrade)
  slack          slack budget, chronological and optimal policies (CourseGrades)
  course         a whole course from submissions: grade_course
  ranking        public and private leaderboards, position cutoffs
  explain        the sentence that explains a grade
  queue          the scoring queue's turn rule: oldest first, students taking turns
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
    chronological_option,
    chronological_options,
    class_best,
    grade_option,
    grade_with_slack,
    missed_early,
    optimal_options,
    preferred,
    student_candidates,
    weighted_value,
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
    is_position,
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
from podium.rules.settings import (
    CHRONOLOGICAL,
    OPTIMAL,
    SLACK_POLICIES,
    CompetitionRules,
    CoursePolicy,
    course_order,
)
from podium.rules.slack import (
    TOTAL_TOLERANCE,
    CourseGrades,
    chronological,
    grade_student,
    in_course_order,
    optimal,
    slack_budget,
)
from podium.rules.submission import Submission, public_in_place_of_private
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
    phase,
    schedule_problem,
)

__all__ = [
    "AFTER",
    "ALL",
    "CHRONOLOGICAL",
    "CLOSED",
    "DEFAULT_POINTS",
    "KAGGLE",
    "LATE",
    "NONE",
    "NOT_OPEN",
    "NOTHING_COUNTS",
    "ON_TIME",
    "OPTIMAL",
    "PRACTICE",
    "SLACK",
    "TOTAL_TOLERANCE",
    "UTC",
    "as_utc",
    "at_or_beyond",
    "base",
    "bonus",
    "Candidate",
    "check_cutoffs",
    "check_daily_limit",
    "check_mark",
    "chronological",
    "chronological_option",
    "chronological_options",
    "class_best",
    "classify",
    "competition_candidates",
    "CompetitionGrade",
    "CompetitionRules",
    "Counted",
    "counted_by_student",
    "counted_in_group",
    "counted_on_time",
    "counted_submissions",
    "CourseGrades",
    "CoursePolicy",
    "course_order",
    "Cutoffs",
    "cutoffs_problem",
    "days_late",
    "effective_schedule",
    "explain",
    "Extension",
    "format_local",
    "format_utc",
    "grade_course",
    "grade_option",
    "grade_student",
    "grade_with_slack",
    "grading_group",
    "in_course_order",
    "leaderboard",
    "LeaderboardEntry",
    "is_position",
    "SLACK_POLICIES",
    "LimitResult",
    "local_date",
    "local_to_utc",
    "localize",
    "MarkCheck",
    "marking_open",
    "missed_early",
    "next_local_midnight",
    "optimal",
    "optimal_options",
    "Option",
    "parse_position",
    "parse_wall_clock",
    "phase",
    "Points",
    "preferred",
    "private_leaderboard",
    "public_in_place_of_private",
    "public_leaderboard",
    "rank_at_position",
    "resolve_cutoffs",
    "Schedule",
    "schedule_problem",
    "slack_budget",
    "strictly_beyond",
    "student_candidates",
    "student_schedule",
    "StudentCandidates",
    "Submission",
    "submissions_today",
    "value_at_position",
    "weighted_value",
    "WindowResult",
    "zone",
]
