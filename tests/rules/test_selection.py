"""Which submissions count, and marking them as final (POLICY.md section 4)."""
from datetime import timedelta

from podium.rules import check_mark, counted_submissions, marking_open
from tests.rules.helpers import NY, hw1_schedule, sub

S = hw1_schedule()
ON = S.ontime - timedelta(days=5)
AFTER = S.ontime + timedelta(days=2)
H = timedelta(hours=1)


def ids(subs):
    return sorted(s.id for s in subs)  # the order of counted submissions carries no meaning


def test_kaggle_without_marks_counts_the_k_best_public_scores_per_group():
    subs = [sub("ann", ON, 0.9, public=0.70, id=1), sub("ann", ON + H, 0.1, public=0.80, id=2),
            sub("ann", ON + 2 * H, 0.5, public=0.75, id=3), sub("ann", AFTER, 0.9, public=0.6, id=4)]
    counted = counted_submissions(subs, S, "kaggle", 2, higher_is_better=True)
    assert ids(counted.on_time) == [2, 3]  # best publics, even though 1 has the best private score
    assert ids(counted.after) == [4]


def test_ties_on_public_score_go_to_the_earlier_submission():
    subs = [sub("ann", ON + 2 * H, 0.5, public=0.8, id=7), sub("ann", ON + H, 0.6, public=0.8, id=8),
            sub("ann", ON, 0.7, public=0.8, id=9)]
    assert ids(counted_submissions(subs, S, "kaggle", 2, True).on_time) == [8, 9]  # 7 is the latest


def test_lower_is_better_public_scores_pick_the_smallest():
    subs = [sub("ann", ON, 10, public=10, id=1), sub("ann", ON + H, 20, public=20, id=2),
            sub("ann", ON + 2 * H, 5, public=5, id=3)]
    assert ids(counted_submissions(subs, S, "kaggle", 1, False).on_time) == [3]


def test_marks_replace_the_automatic_choice_in_their_group_only():
    subs = [sub("ann", ON, 0.9, public=0.1, id=1, selected=True), sub("ann", ON + H, 0.1, public=0.9, id=2),
            sub("ann", AFTER, 0.5, public=0.5, id=3), sub("ann", AFTER + H, 0.4, public=0.6, id=4)]
    counted = counted_submissions(subs, S, "kaggle", 1, True)
    assert ids(counted.on_time) == [1]
    assert ids(counted.after) == [4]


def test_unscored_failed_and_practice_submissions_never_count():
    subs = [sub("ann", ON, None, id=1, selected=True), sub("ann", ON + H, 0.5, id=2),
            sub("ann", S.late + H, 0.99, id=3, practice=True)]
    counted = counted_submissions(subs, S, "kaggle", 2, True)
    assert ids(counted.on_time) == [2]  # the only mark is unscored, so the automatic choice applies
    assert counted.after == ()


def test_submissions_after_late_never_count():
    subs = [sub("ann", S.late + timedelta(seconds=1), 0.99, id=1)]
    counted = counted_submissions(subs, S, "all", 2, True)
    assert counted.on_time == () and counted.after == ()


def test_selection_all_counts_every_scored_submission():
    subs = [sub("ann", ON + i * H, 0.1 * i, id=i) for i in range(1, 6)] + [sub("ann", AFTER, 0.3, id=9)]
    counted = counted_submissions(subs, S, "all", 2, True)
    assert ids(counted.on_time) == [1, 2, 3, 4, 5]
    assert ids(counted.after) == [9]


def test_marking_is_open_until_the_late_deadline_inclusive():
    assert marking_open(S.late, S).allowed
    closed = marking_open(S.late + timedelta(seconds=1), S, tz=NY)
    assert not closed.allowed
    assert "2019-10-06 23:59:59 EDT (America/New_York)" in closed.message


def test_a_third_mark_in_a_group_is_refused_with_k_2():
    subs = [sub("ann", ON, 0.5, id=1, selected=True), sub("ann", ON + H, 0.5, id=2, selected=True),
            sub("ann", ON + 2 * H, 0.5, id=3), sub("ann", AFTER, 0.5, id=4)]
    third = check_mark(subs[2], subs, S, now=AFTER, k=2)
    assert not third.allowed
    assert third.message == "You have already marked 2 on-time submissions as final (at most 2); unmark one first."
    assert check_mark(subs[3], subs, S, now=AFTER, k=2).allowed  # the after group has its own K


def test_re_marking_a_marked_submission_is_fine():
    subs = [sub("ann", ON, 0.5, id=1, selected=True), sub("ann", ON + H, 0.5, id=2, selected=True)]
    assert check_mark(subs[0], subs, S, now=AFTER, k=2).allowed


def test_marks_cannot_be_set_after_late_but_that_refusal_names_the_deadline():
    subs = [sub("ann", ON, 0.5, id=1)]
    result = check_mark(subs[0], subs, S, now=S.late + timedelta(minutes=1), tz=NY)
    assert not result.allowed and "late deadline" in result.message


def test_unmarking_is_limited_only_by_time():
    subs = [sub("ann", ON, 0.5, id=1, selected=True)]
    assert check_mark(subs[0], subs, S, now=AFTER, mark=False).allowed
    assert not check_mark(subs[0], subs, S, now=S.late + timedelta(seconds=1), mark=False).allowed


def test_unscored_and_practice_submissions_cannot_be_marked():
    failed = sub("ann", ON, None, id=1)
    practice = sub("ann", ON, 0.5, id=2, practice=True)
    assert "no score" in check_mark(failed, [failed], S, now=ON).message
    assert "practice" in check_mark(practice, [practice], S, now=ON).message


def test_nothing_to_mark_when_every_submission_counts():
    s = sub("ann", ON, 0.5, id=1)
    result = check_mark(s, [s], S, now=ON, selection="all")
    assert not result.allowed and "nothing to mark" in result.message
