"""Properties of the grading rules over random small courses (hypothesis)."""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from itertools import count, product

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from podium.rules import (
    CompetitionRules,
    CoursePolicy,
    Cutoffs,
    Schedule,
    Submission,
    Ungraded,
    base,
    bonus,
    counted_by_student,
    days_late,
    grade_course,
    missed_early,
    slack_budget,
    student_schedule,
)

PROPERTY = settings(max_examples=100, deadline=None)
EPOCH = datetime(2019, 9, 1, tzinfo=timezone.utc)
DAY = timedelta(days=1)
SECOND = timedelta(seconds=1)
TOLERANCE = 1e-9

# Round scores make ties (the tie rules' territory); arbitrary floats make everything else.
scores = st.one_of(st.sampled_from([0.0, 0.1, 0.3, 0.5, 0.55, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 1.0]),
                   st.floats(min_value=0, max_value=1, allow_nan=False))


@dataclass(frozen=True)
class Course:
    policy: CoursePolicy
    competitions: tuple[CompetitionRules, ...]
    submissions: dict[str, list[Submission]]
    students: tuple[str, ...]

    def grade(self, slack_policy: str | None = None, submissions=None):
        return grade_course(self.policy, self.competitions, submissions or self.submissions, students=self.students,
                            slack_policy=slack_policy)


@st.composite
def cutoffs(draw, higher_is_better: bool) -> Cutoffs:
    values = sorted(draw(st.lists(st.floats(0.05, 0.95), min_size=5, max_size=5, unique=True)),
                    reverse=higher_is_better)
    with_f = draw(st.booleans())
    return Cutoffs(A=values[0], B=values[1], C=values[2], D=values[3], F=values[4] if with_f else None)


@st.composite
def competitions(draw, index: int) -> CompetitionRules:
    opens = EPOCH + index * 20 * DAY
    ontime = opens + 10 * DAY + draw(st.integers(0, 3600)) * SECOND
    late = ontime + draw(st.sampled_from([0, 1, 2, 5, 7])) * DAY + draw(st.sampled_from([0, 1, 7200])) * SECOND
    early = draw(st.sampled_from([None, opens + 5 * DAY]))
    higher_is_better = draw(st.booleans())
    # Now and then a competition without grades: its position cutoffs gave no values (POLICY.md section 11).
    ungraded = draw(st.sampled_from([None, None, None, Ungraded("not_yet", "no grades yet")]))
    return CompetitionRules(slug=f"hw{index}", schedule=Schedule(opens=opens, early=early, ontime=ontime, late=late),
                            cutoffs=None if ungraded else draw(cutoffs(higher_is_better)),
                            higher_is_better=higher_is_better,
                            slack_eligible=draw(st.booleans()) if index == 0 else True,
                            weight=draw(st.sampled_from([0.0, 0.5, 1.0, 1.0, 2.0])), ungraded=ungraded)


# Strategies made once: `courses` draws from them for every submission of every example, and Hypothesis spends more
# time making and checking a new strategy than drawing from one.
BOUNDARIES = st.sampled_from([k * 86400 + e for k in range(-6, 9) for e in (-1, 0, 1)])
PRIVATE_SCORES = st.one_of(scores, st.none())


@lru_cache(maxsize=None)
def offsets_within(span: int):
    return st.one_of(BOUNDARIES, st.integers(-10 * 86400, span + 86400))


def offsets(comp: CompetitionRules):
    """Seconds from ontime: whole days and their neighbours (the days_late boundaries), then anything."""
    return offsets_within(int((comp.schedule.late - comp.schedule.ontime).total_seconds()))


@st.composite
def courses(draw, max_competitions: int = 3, max_students: int = 3, max_submissions: int = 5,
            selection: str | None = None) -> Course:
    policy = CoursePolicy(timezone="UTC", slack_days=draw(st.integers(0, 7)),
                          late_factor=draw(st.sampled_from([0.0, 0.5, 0.9, 1.0])),
                          early_miss_factor=draw(st.sampled_from([0.5, 0.9, 1.0])),
                          bonus_points=draw(st.sampled_from([0.0, 5.0, 10.0])),
                          selection=selection or draw(st.sampled_from(["kaggle", "all"])),
                          max_selected=draw(st.integers(1, 3)))
    comps = tuple(draw(competitions(i)) for i in range(draw(st.integers(1, max_competitions))))
    students = tuple(f"s{i}" for i in range(draw(st.integers(1, max_students))))
    ids = count(1)
    submissions = {}
    for comp in comps:
        subs, comp_offsets = [], offsets(comp)
        for student in students:
            for _ in range(draw(st.integers(0, max_submissions))):
                offset = draw(comp_offsets)
                subs.append(Submission(id=next(ids), student=student,
                                       submitted_at=comp.schedule.ontime + offset * SECOND,
                                       public_score=draw(scores), private_score=draw(PRIVATE_SCORES),
                                       selected=draw(st.booleans()), practice=draw(st.booleans()) and offset > 0))
        submissions[comp.slug] = subs
    return Course(policy, comps, submissions, students)


def all_grades(results):
    return [g for result in results.values() for g in result.grades]


# --- ranges and budgets ----------------------------------------------------------------------------------


@PROPERTY
@given(courses(), st.sampled_from(["chronological", "optimal"]))
def test_grades_lie_between_0_and_100_plus_bmax(course, slack_policy):
    top = 100 + course.policy.bonus_points
    for g in all_grades(course.grade(slack_policy)):
        assert 0 <= g.base <= 100
        assert 0 <= g.bonus <= course.policy.bonus_points
        assert -TOLERANCE <= g.raw <= top + TOLERANCE
        assert -TOLERANCE <= g.final <= g.raw + TOLERANCE


@PROPERTY
@given(courses(), st.sampled_from(["chronological", "optimal"]))
def test_slack_used_never_exceeds_the_budget(course, slack_policy):
    budget = slack_budget(course.policy.slack_days)
    for result in course.grade(slack_policy).values():
        assert result.budget == budget
        assert 0 <= result.slack_used <= budget
        remaining = budget
        for g, comp in zip(result.grades, course.competitions):
            assert g.slack_used == (g.days_late if g.window == "slack" else 0)
            if not comp.slack_eligible:
                assert g.slack_used == 0
            remaining -= g.slack_used
            assert g.slack_remaining == remaining >= 0


@PROPERTY
@given(courses())
def test_chronological_never_uses_more_than_the_days_available(course):
    for result in course.grade("chronological").values():
        for g in result.grades:
            assert g.slack_used <= g.d_avail


@PROPERTY
@given(courses())
def test_optimal_total_is_at_least_the_chronological_total(course):
    chronological, optimal = course.grade("chronological"), course.grade("optimal")
    for student in course.students:
        assert optimal[student].total >= chronological[student].total - TOLERANCE


# --- the optimal policy against brute force --------------------------------------------------------------


def brute_force(course: Course, student: str) -> tuple[float, list[int]]:
    """The optimal policy by enumeration, straight from the counted submissions: the best total, then among
    totals within the tolerance the fewest slack days, then the smallest per-competition list of days."""
    p = course.policy
    budget = slack_budget(p.slack_days)
    per_competition = []
    for comp in sorted(course.competitions, key=lambda c: (c.schedule.ontime, c.slug)):
        if comp.ungraded:  # no grade: nothing to choose, no slack day spent
            per_competition.append([(0.0, 0)])
            continue
        subs = course.submissions[comp.slug]
        counted = counted_by_student(comp, p, subs)
        on_time_scores = [s.private_score for c in counted.values() for s in c.on_time]
        best = (max if comp.higher_is_better else min)(on_time_scores, default=None)
        mine = counted.get(student)
        schedule = student_schedule(comp, student, None)
        factor = p.early_miss_factor if missed_early([s for s in subs if s.student == student], schedule) else 1.0
        options = []  # (weighted final, slack days)
        for s in mine.on_time if mine else ():
            x = s.private_score
            raw = base(x, comp.cutoffs, comp.higher_is_better) + bonus(x, comp.cutoffs, best, p.bonus_points,
                                                                       comp.higher_is_better)
            options.append((comp.weight * factor * raw, 0))
        for s in mine.after if mine else ():
            b = base(s.private_score, comp.cutoffs, comp.higher_is_better)
            d = days_late(s.submitted_at, schedule.ontime)
            if comp.slack_eligible and d <= budget:
                options.append((comp.weight * factor * b, d))
            options.append((comp.weight * factor * p.late_factor * b, 0))
        per_competition.append(options or [(0.0, 0)])
    combos = [(sum(v for v, _ in combo), [d for _, d in combo]) for combo in product(*per_competition)]
    combos = [(total, days) for total, days in combos if sum(days) <= budget]
    top = max(total for total, _ in combos)
    tied = [(sum(days), days, total) for total, days in combos if total >= top - TOLERANCE]
    _, days, total = min(tied, key=lambda t: (t[0], t[1]))
    return top, days


@PROPERTY
@given(courses(max_competitions=3, max_students=2, max_submissions=4))
def test_optimal_equals_brute_force_enumeration(course):
    results = course.grade("optimal")
    for student in course.students:
        top, days = brute_force(course, student)
        assert abs(results[student].total - top) <= TOLERANCE
        assert [g.slack_used for g in results[student].grades] == days


# --- competitions without grades (POLICY.md section 11) ----------------------------------------------------


@PROPERTY
@given(courses(), st.sampled_from(["chronological", "optimal"]))
def test_a_competition_without_grades_leaves_the_others_as_if_it_were_not_there(course, slack_policy):
    """Its rows have window none and no grade, spend no slack day, and every other competition's grade, the slack
    days and the total are those of the course without it."""
    gone = {c.slug for c in course.competitions if c.ungraded}
    assume(gone)
    rest = tuple(c for c in course.competitions if not c.ungraded)
    without = grade_course(course.policy, rest, course.submissions, students=course.students, slack_policy=slack_policy)
    for student, result in course.grade(slack_policy).items():
        for g in result.grades:
            if g.competition in gone:
                assert (g.window, g.graded, g.final, g.slack_used, g.early_penalty) == ("none", False, 0.0, 0, False)
            else:
                assert g.graded and g == without[student].grade(g.competition)
        assert abs(result.total - without[student].total) <= TOLERANCE
        assert result.slack_used == without[student].slack_used


# --- monotonicity ----------------------------------------------------------------------------------------


@st.composite
def course_and_submission(draw, **kwargs):
    course = draw(courses(**kwargs))
    subs = [(comp, s) for comp in course.competitions for s in course.submissions[comp.slug]]
    assume(subs)
    comp, chosen = draw(st.sampled_from(subs))
    return course, comp, chosen


def replaced(course: Course, comp: CompetitionRules, old: Submission, new: Submission):
    return {**course.submissions, comp.slug: [new if s.id == old.id else s for s in course.submissions[comp.slug]]}


@PROPERTY
@given(course_and_submission(max_competitions=1), st.floats(0.001, 0.5), st.sampled_from(["chronological", "optimal"]))
def test_a_better_private_score_never_lowers_that_students_grade(case, step, slack_policy):
    """The class best is recomputed: if the student's improved score becomes the best, their bonus follows it.
    (One competition: in a course, a better score here may move slack days away from a later competition under
    the chronological policy; the optimal total is checked across the course below.)"""
    course, comp, chosen = case
    assume(chosen.private_score is not None)
    better = chosen.private_score + step if comp.higher_is_better else chosen.private_score - step
    before = course.grade(slack_policy)[chosen.student].total
    after = course.grade(slack_policy, replaced(course, comp, chosen, replace(chosen, private_score=better)))
    assert after[chosen.student].total >= before - TOLERANCE


@PROPERTY
@given(course_and_submission(), st.floats(0.001, 0.5))
def test_a_better_private_score_never_lowers_the_optimal_course_total(case, step):
    course, comp, chosen = case
    assume(chosen.private_score is not None)
    better = chosen.private_score + step if comp.higher_is_better else chosen.private_score - step
    before = course.grade("optimal")[chosen.student].total
    after = course.grade("optimal", replaced(course, comp, chosen, replace(chosen, private_score=better)))
    assert after[chosen.student].total >= before - TOLERANCE


@PROPERTY
@given(course_and_submission(max_competitions=1, selection="all"), st.sampled_from(["chronological", "optimal"]))
def test_a_submission_one_second_earlier_never_lowers_the_grade(case, slack_policy):
    """With every submission counted. (Under Kaggle selection an earlier time can win a tie on the public score
    and push out a submission with a better private score, so the property is the 'all' selection's.)"""
    course, comp, chosen = case
    before = course.grade(slack_policy)[chosen.student].total
    earlier = replace(chosen, submitted_at=chosen.submitted_at - SECOND)
    after = course.grade(slack_policy, replaced(course, comp, chosen, earlier))
    assert after[chosen.student].total >= before - TOLERANCE


@PROPERTY
@given(st.integers(0, 60), st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)))
def test_days_late_at_exact_24_hour_multiples(k, ontime):
    ontime = ontime.replace(tzinfo=timezone.utc)
    tick = timedelta(microseconds=1)
    assert days_late(ontime + k * DAY, ontime) == k
    assert days_late(ontime + k * DAY + tick, ontime) == k + 1
    assert days_late(ontime + k * DAY + SECOND, ontime) == k + 1
    if k:
        assert days_late(ontime + k * DAY - tick, ontime) == k


@PROPERTY
@given(st.floats(-0.5, 1.5), st.floats(-0.5, 1.5), st.booleans(), st.data())
def test_base_is_monotone_in_the_metric_direction(x, y, higher_is_better, data):
    c = data.draw(cutoffs(higher_is_better))
    worse, better = sorted([x, y]) if higher_is_better else sorted([x, y], reverse=True)
    assert base(worse, c, higher_is_better) <= base(better, c, higher_is_better)
    assert 0 <= base(worse, c, higher_is_better) <= 100
