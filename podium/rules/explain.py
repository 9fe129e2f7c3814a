"""The sentence that tells a student how their grade in a competition came about.

"Counted: submission 812 (slack, 2 days late), private 0.7312, base 86.2; no early submission, so x0.9 = 77.6;
3 slack days remain."

Before a competition's private board is released, a student's grade is provisional (POLICY.md section 11): computed
from public scores, and the sentence names the public score and says so.
"""
from __future__ import annotations

from podium.rules.grading import LATE, NONE, ON_TIME, SLACK, CompetitionGrade

NOTHING_COUNTS = "No scored submission counts for this competition: grade 0."
PROVISIONAL = "Provisional: computed from public scores until the private leaderboard is released."
PROVISIONAL_AFTER_EARLY_RELEASE = ("Provisional: submissions received after the early release of the private "
                                   "leaderboard count with their public scores until their authors' late deadlines "
                                   "have passed.")


def explain(grade: CompetitionGrade, precision: int = 4, *, provisional: bool = False,
            from_public: bool | None = None, released: bool = False) -> str:
    """One sentence; `precision` is the competition's display precision for the score. A `provisional` grade was
    computed with public scores in place of private ones: all of them before release, or (`released`) those of
    submissions received after an early release; `from_public` (by default: `provisional`) says that the counted
    submission's is one of them (its `private_score` holds the public score). A competition without grades is
    explained by its reason, which the caller chose for the reader (`Ungraded.for_students`)."""
    if grade.ungraded is not None:
        return grade.ungraded.reason
    if grade.window == NONE:
        return NOTHING_COUNTS
    board = "public" if (provisional if from_public is None else from_public) else "private"
    parts = [f"Counted: submission {grade.submission_id} ({_window_words(grade)}), "
             f"{board} {grade.private_score:.{precision}f}, {_grade_words(grade)}"]
    if grade.early_penalty:
        parts.append(f"no early submission, so x{_factor(grade.early_factor)} = {_points(grade.final)}")
    if grade.slack_remaining is not None:
        parts.append(_remaining_words(grade.slack_remaining))
    sentence = "; ".join(parts) + "." + _code_words(grade)
    if not provisional:
        return sentence
    return f"{sentence} {PROVISIONAL_AFTER_EARLY_RELEASE if released else PROVISIONAL}"


# POLICY.md section 12, by CompetitionGrade.missing_code (podium.rules.code's states).
CODE_WORDS = {
    "due": " The competition requires code, and none is uploaded yet.",
    "flag": " The competition requires code, and none was uploaded by the code deadline: flagged to staff.",
    "zero": " The competition requires code, and none was uploaded by the code deadline: final grade 0.",
}


def _code_words(grade: CompetitionGrade) -> str:
    return CODE_WORDS.get(grade.missing_code or "", "")


def _window_words(grade: CompetitionGrade) -> str:
    if grade.window == ON_TIME:
        return "on time"
    days = _days(grade.days_late)
    if grade.window == SLACK:
        return f"slack, {days} late"
    return f"late, {days} late, x{_factor(grade.late_factor)}"


def _grade_words(grade: CompetitionGrade) -> str:
    if grade.window == ON_TIME and grade.bonus > 0:
        return f"base {_points(grade.base)} + bonus {_points(grade.bonus)} = {_points(grade.raw)}"
    if grade.window == LATE:
        return f"base {_points(grade.base)}, grade {_points(grade.raw)}"
    return f"base {_points(grade.base)}"


def _remaining_words(remaining: int) -> str:
    return f"{remaining} slack day remains" if remaining == 1 else f"{remaining} slack days remain"


def _days(n: int) -> str:
    return "1 day" if n == 1 else f"{n} days"


def _points(x: float) -> str:
    return f"{x:.1f}"


def _factor(f: float) -> str:
    return f"{f:g}"
