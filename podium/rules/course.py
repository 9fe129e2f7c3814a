"""A whole course's grades from plain submissions: the entry point services call (POLICY.md sections 4 and 5).

Per competition: each student's effective schedule, their counted submissions, the class best on-time private score,
then each student's candidates. Per student: the slack policy over the competitions in ontime order.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Hashable, Iterable, Mapping, Sequence

from podium.rules.grading import StudentCandidates, class_best, missed_early, student_candidates
from podium.rules.selection import Counted, counted_submissions
from podium.rules.settings import CompetitionRules, CoursePolicy
from podium.rules.slack import CourseGrades, grade_student, slack_budget
from podium.rules.submission import Submission
from podium.rules.windows import Extension, Schedule, effective_schedule

ExtensionKey = tuple[str, Hashable]  # (competition slug, student)


def by_student(submissions: Iterable[Submission]) -> dict[Hashable, list[Submission]]:
    grouped: dict[Hashable, list[Submission]] = defaultdict(list)
    for sub in submissions:
        grouped[sub.student].append(sub)
    return grouped


def student_schedule(comp: CompetitionRules, student: Hashable,
                     extensions: Mapping[ExtensionKey, Extension] | None) -> Schedule:
    extension = (extensions or {}).get((comp.slug, student))
    return effective_schedule(comp.schedule, extension)


def counted_by_student(comp: CompetitionRules, policy: CoursePolicy, submissions: Iterable[Submission],
                       extensions: Mapping[ExtensionKey, Extension] | None = None) -> dict[Hashable, Counted]:
    """Every student's counted submissions in one competition (also what the private leaderboard ranks)."""
    grouped = by_student(submissions)
    schedules = {student: student_schedule(comp, student, extensions) for student in grouped}
    return _counted(comp, policy, grouped, schedules)


def _counted(comp: CompetitionRules, policy: CoursePolicy, grouped: Mapping[Hashable, list[Submission]],
             schedules: Mapping[Hashable, Schedule]) -> dict[Hashable, Counted]:
    return {student: counted_submissions(subs, schedules[student], policy.selection, policy.max_selected,
                                         comp.higher_is_better)
            for student, subs in grouped.items()}


def counted_on_time(comp: CompetitionRules, policy: CoursePolicy, submissions: Iterable[Submission],
                    extensions: Mapping[ExtensionKey, Extension] | None = None) -> list[Submission]:
    """All students' counted on-time submissions: the private leaderboard's input."""
    return [s for counted in counted_by_student(comp, policy, submissions, extensions).values() for s in counted.on_time]


def competition_candidates(comp: CompetitionRules, policy: CoursePolicy, submissions: Iterable[Submission],
                           students: Iterable[Hashable] = (),
                           extensions: Mapping[ExtensionKey, Extension] | None = None
                           ) -> dict[Hashable, StudentCandidates]:
    """Every student's candidates in one competition; `students` adds those who submitted nothing. A competition
    without grades (`comp.ungraded`) gives everyone no candidates, with the reason."""
    if comp.ungraded is not None:
        return {student: _no_candidates(comp, policy)
                for student in dict.fromkeys([*(s.student for s in submissions), *students])}
    grouped = by_student(submissions)
    schedules = {student: student_schedule(comp, student, extensions)
                 for student in dict.fromkeys([*grouped, *students])}
    counted = _counted(comp, policy, grouped, schedules)
    best = class_best((s.private_score for c in counted.values() for s in c.on_time), comp.higher_is_better)
    return {student: student_candidates(
                competition=comp.slug, ontime=comp.schedule.ontime, counted=counted.get(student, Counted()),
                schedule=schedule, cutoffs=comp.cutoffs, higher_is_better=comp.higher_is_better, best=best,
                bonus_points=policy.bonus_points, early_missed=missed_early(grouped.get(student, ()), schedule),
                weight=comp.weight, slack_eligible=comp.slack_eligible, late_factor=policy.late_factor,
                early_factor=policy.early_miss_factor)
            for student, schedule in schedules.items()}


def grade_course(policy: CoursePolicy, competitions: Sequence[CompetitionRules],
                 submissions: Mapping[str, Iterable[Submission]], *, students: Iterable[Hashable] = (),
                 extensions: Mapping[ExtensionKey, Extension] | None = None,
                 ledger: Mapping[Hashable, int] | None = None, slack_policy: str | None = None
                 ) -> dict[Hashable, CourseGrades]:
    """Every student's course grades.

    `submissions` maps a competition slug to its submissions (every student's; the caller leaves out staff);
    `students` are the enrolled students, so that those who never submitted get a row; `extensions` maps
    (slug, student) to an Extension; `ledger` maps a student to slack days spent elsewhere; `slack_policy`
    overrides the course's (the export's --policy).

    A competition with `ungraded` set has no grades: every student's row there has window NONE and the reason, it
    spends no slack day and adds nothing to the total, and the others are graded as if it were not in the course
    (POLICY.md section 11).
    """
    students = list(dict.fromkeys(students))
    per_competition = [competition_candidates(comp, policy, submissions.get(comp.slug, ()), students, extensions)
                       for comp in competitions]
    everyone = dict.fromkeys([*students, *(s for cands in per_competition for s in cands)])
    empty = {comp.slug: _no_candidates(comp, policy) for comp in competitions}
    chosen = slack_policy or policy.slack_policy
    return {student: grade_student(
                [cands.get(student) or empty[comp.slug] for comp, cands in zip(competitions, per_competition)],
                slack_budget(policy.slack_days, (ledger or {}).get(student, 0)), chosen, student)
            for student in everyone}


def _no_candidates(comp: CompetitionRules, policy: CoursePolicy) -> StudentCandidates:
    return StudentCandidates(competition=comp.slug, ontime=comp.schedule.ontime, weight=comp.weight,
                             slack_eligible=comp.slack_eligible, early_missed=comp.schedule.early is not None,
                             late_factor=policy.late_factor, early_factor=policy.early_miss_factor,
                             ungraded=comp.ungraded)
