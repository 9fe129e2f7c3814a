"""Simulated submission histories: windows, `now`, the daily cap, lateness, failures and progress."""
from __future__ import annotations

import io
import math
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest

from podium.demo import COMPETITIONS, simulate_submissions, write_course
from podium.demo.course import competition_spec
from podium.demo.students import PlannedUpload, cap_per_day

from .common import NOW, SEED, TZ, windows_of

HEADERS = {spec.slug: f"{spec.id_column},{spec.target_column}".encode() for spec in COMPETITIONS}


def is_valid(sub) -> bool:
    return sub.csv_bytes.split(b"\n", 1)[0] == HEADERS[sub.competition_slug]


def days_late(at: datetime, ontime: datetime) -> int:
    return max(0, math.ceil((at - ontime) / timedelta(days=1)))


def test_submissions_are_sorted_aware_utc_and_never_after_now(simulated):
    assert len(simulated) > 200
    times = [sub.at for sub in simulated]
    assert times == sorted(times)
    assert all(t.utcoffset() == timedelta(0) and t.tzinfo is not None for t in times)
    assert max(times) <= NOW


def test_submissions_fall_inside_their_competitions_windows(simulated, relative_course):
    windows = windows_of(relative_course)
    for sub in simulated:
        w = windows[sub.competition_slug]
        assert w["opens"] <= sub.at <= w["late"], sub


def test_nobody_submits_to_a_competition_not_yet_open_and_every_open_one_has_uploads(simulated):
    per_competition = Counter(sub.competition_slug for sub in simulated)
    assert per_competition["hw4p2"] == 0
    assert all(per_competition[slug] > 0 for slug in
               ["hw1p2", "hw2p2-classification", "hw2p2-verification", "hw3p2"])


def test_never_more_than_eight_per_student_competition_and_local_day(simulated):
    per_day = Counter((sub.email, sub.competition_slug, sub.at.astimezone(TZ).date()) for sub in simulated)
    assert max(per_day.values()) == 8  # reached: some students upload again and again on deadline day


def test_the_daily_cap_counts_local_calendar_days_across_a_dst_change():
    # 2024-11-03 has 25 hours in New York: uploads every 2 hours from 00:30 EDT put 13 on it (the last at
    # 23:30 EST, which a fixed UTC-4 offset would misplace on the 4th) and 2 on the next day.
    start = datetime(2024, 11, 3, 4, 30, tzinfo=timezone.utc)
    history = [PlannedUpload(start + timedelta(hours=2 * n), 0.5, None) for n in range(15)]
    kept = cap_per_day(history, TZ)
    days = Counter(upload.at.astimezone(TZ).date() for upload in kept)
    assert days == {date(2024, 11, 3): 8, date(2024, 11, 4): 2}
    assert kept[:8] == history[:8] and kept[8:] == history[13:]


def test_uploads_come_from_the_students_with_csv_names(simulated, students):
    assert {sub.email for sub in simulated} <= {s.email for s in students}
    assert len({sub.email for sub in simulated}) >= 35
    assert all(sub.file_name.endswith(".csv") and isinstance(sub.description, str) for sub in simulated)


def first_uploads(simulated, slug: str) -> dict[str, datetime]:
    first: dict[str, datetime] = {}
    for sub in simulated:
        if sub.competition_slug == slug:
            first.setdefault(sub.email, sub.at)
    return first


def test_most_students_submit_before_the_early_deadline_and_some_miss_it(simulated, relative_course):
    early = windows_of(relative_course)["hw1p2"]["early"]
    first = first_uploads(simulated, "hw1p2")
    missed = sum(at > early for at in first.values())
    assert 1 <= missed <= len(first) // 3


def test_a_few_submit_late_some_one_to_three_days_and_one_six(simulated, relative_course):
    windows = windows_of(relative_course)
    late = defaultdict(set)
    for sub in simulated:
        days = days_late(sub.at, windows[sub.competition_slug]["ontime"])
        if days:
            late[sub.competition_slug].add((sub.email, days))
    hw1p2_days = Counter(days for _, days in late["hw1p2"])
    assert hw1p2_days[6] == 1
    assert 2 <= sum(hw1p2_days[d] for d in (1, 2, 3)) <= 10
    assert set(hw1p2_days) <= {1, 2, 3, 6}
    assert 1 <= len({email for email, _ in late["hw2p2-classification"]}) <= 6   # its late window is open
    assert not late["hw2p2-verification"] and not late["hw3p2"]


def test_a_few_uploads_are_malformed_and_the_rest_cover_every_id(simulated, relative_course):
    invalid = [sub for sub in simulated if not is_valid(sub)]
    assert 1 <= len(invalid) <= len(simulated) // 10
    for sub in simulated[::15]:
        if is_valid(sub):
            spec = competition_spec(sub.competition_slug)
            upload = pd.read_csv(io.BytesIO(sub.csv_bytes), keep_default_na=False)
            ids = pd.read_csv(relative_course / sub.competition_slug / "solution.csv",
                              keep_default_na=False)[spec.id_column]
            assert sorted(upload[spec.id_column]) == sorted(ids)


def hw1p2_accuracies(simulated, relative_course) -> dict[str, list[float]]:
    truth = pd.read_csv(relative_course / "hw1p2" / "solution.csv")["label"].to_numpy()  # ids are 0..n-1
    result = defaultdict(list)
    for sub in simulated:
        if sub.competition_slug == "hw1p2" and is_valid(sub):
            upload = pd.read_csv(io.BytesIO(sub.csv_bytes))
            result[sub.email].append(float(np.mean(truth[upload["id"].to_numpy()] == upload["label"].to_numpy())))
    return result


def test_students_improve_over_time_and_the_class_spreads_over_the_grades(simulated, relative_course):
    accuracies = hw1p2_accuracies(simulated, relative_course)
    gains = [scores[-1] - scores[0] for scores in accuracies.values() if len(scores) >= 2]
    assert len(gains) >= 20 and np.mean(gains) > 0.03
    best = [max(scores) for scores in accuracies.values()]
    cutoffs = competition_spec("hw1p2").cutoffs
    assert sum(b >= cutoffs["A"] for b in best) >= 3
    assert sum(b < cutoffs["B"] for b in best) >= 3


def test_same_seed_same_history_another_seed_another(relative_course, students):
    few = students[:3]
    first = simulate_submissions(relative_course, few, SEED, NOW)
    assert first == simulate_submissions(relative_course, few, SEED, NOW)
    assert first != simulate_submissions(relative_course, few, SEED + 1, NOW)


def test_a_later_now_only_adds_uploads(relative_course, students):
    few = students[:5]
    earlier_now = NOW - timedelta(days=10)
    earlier = simulate_submissions(relative_course, few, SEED, earlier_now)
    later = simulate_submissions(relative_course, few, SEED, NOW)
    assert earlier and len(later) > len(earlier)
    assert earlier == [sub for sub in later if sub.at <= earlier_now]


def test_fall2019_course_early_in_the_term_has_only_hw1p2_uploads(tmp_path, students):
    course = write_course(tmp_path, seed=SEED, schedule="fall2019")
    now = datetime(2019, 9, 20, 16, 0, tzinfo=timezone.utc)
    history = simulate_submissions(course, students[:10], SEED, now)
    opens = windows_of(course)["hw1p2"]["opens"]
    assert history and {sub.competition_slug for sub in history} == {"hw1p2"}
    assert all(opens <= sub.at <= now for sub in history)
    assert simulate_submissions(course, students[:10], SEED, opens - timedelta(seconds=1)) == []


def test_naive_now_is_refused(relative_course, students):
    with pytest.raises(ValueError, match="timezone-aware"):
        simulate_submissions(relative_course, students[:1], SEED, datetime(2024, 10, 15, 12, 0))
