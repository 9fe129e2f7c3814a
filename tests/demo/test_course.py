"""The course as data: course.toml, competition.toml files and the two schedules."""
from __future__ import annotations

import tomllib
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from podium.demo.course import (
    COMPETITIONS,
    TomlTable,
    competition_readme,
    competition_toml,
    course_toml,
    fall2019_schedule,
    relative_schedule,
    render_toml,
    schedule_named,
)

TZ = ZoneInfo("America/New_York")
UTC = timezone.utc
SLUGS = ["hw1p2", "hw2p2-classification", "hw2p2-verification", "hw3p2", "hw4p2"]


def test_course_toml_names_the_course_and_writes_out_the_policy_defaults():
    config = tomllib.loads(course_toml())
    assert config["course"] == {
        "slug": "11785-f19",
        "title": "11-785 Introduction to Deep Learning, Fall 2019",
        "timezone": "America/New_York",
    }
    assert config["policy"] == {  # POLICY.md section 1
        "slack_days": 7, "slack_policy": "chronological", "late_factor": 0.9, "early_miss_factor": 0.9,
        "bonus_points": 5, "points": {"A": 100, "B": 80, "C": 60, "D": 40, "F": 0}, "selection": "kaggle",
        "max_selected": 2, "daily_limit": 10,
    }


EXPECTED = {
    "hw1p2": ("accuracy", "id", "label", 30_000),
    "hw2p2-classification": ("accuracy", "Id", "Category", 4_600),
    "hw2p2-verification": ("roc_auc", "trial", "score", 8_000),
    "hw3p2": ("mean_levenshtein", "Id", "Predicted", 523),
    "hw4p2": ("mean_levenshtein", "Id", "Predicted", 523),
}


@pytest.mark.parametrize("spec", COMPETITIONS, ids=lambda spec: spec.slug)
def test_competition_toml_follows_the_design_format(spec):
    config = tomllib.loads(competition_toml(spec, fall2019_schedule()[spec.slug]))
    metric, id_column, target, rows = EXPECTED[spec.slug]
    assert (spec.target_column, spec.rows) == (target, rows)
    assert config["competition"]["slug"] == spec.slug
    assert config["competition"]["title"] == spec.title
    assert config["competition"]["slack_eligible"] is True
    assert 0 < config["competition"]["weight"] <= 1
    assert config["evaluation"] == {
        "metric": metric, "id_column": id_column, "solution": "solution.csv",
        "sample_submission": "sample_submission.csv", "data_files": ["README.md", "sample_submission.csv"],
    }
    assert set(config["schedule"]) == {"opens", "early", "ontime", "late"}


def test_competitions_come_in_course_order_with_the_cutoffs_of_the_brief():
    assert [spec.slug for spec in COMPETITIONS] == SLUGS
    assert dict(COMPETITIONS[0].cutoffs) == {"A": 0.64, "B": 0.55, "C": 0.45, "D": 0.02}
    assert COMPETITIONS[0].title == "Frame-level classification of speech"


@pytest.mark.parametrize("spec", COMPETITIONS, ids=lambda spec: spec.slug)
def test_cutoffs_get_worse_from_a_to_d_in_the_metrics_direction(spec):
    cutoffs = tomllib.loads(competition_toml(spec, fall2019_schedule()[spec.slug]))["grading"]["cutoffs"]
    values = [cutoffs[grade] for grade in "ABCD"]
    ordered = sorted(values, reverse=spec.higher_is_better)
    assert values == ordered and len(set(values)) == 4
    assert spec.higher_is_better == (spec.metric != "mean_levenshtein")


def interpolate(x: float, cutoffs: dict[str, float], higher_is_better: bool) -> float:
    """POLICY.md section 4, written again here for the check below."""
    sign = 1 if higher_is_better else -1
    points = {"A": 100, "B": 80, "C": 60, "D": 40}
    if sign * (x - cutoffs["A"]) >= 0:
        return 100.0
    for better, worse in zip("ABC", "BCD"):
        if sign * (x - cutoffs[worse]) >= 0:
            ca, cb = cutoffs[better], cutoffs[worse]
            return points[worse] + (points[better] - points[worse]) * (x - cb) / (ca - cb)
    return 0.0


def test_hw4p2_cutoffs_give_100_points_at_10_and_85_at_20_as_the_course_did():
    hw4p2 = COMPETITIONS[-1]
    assert interpolate(10, dict(hw4p2.cutoffs), higher_is_better=False) == 100
    assert interpolate(20, dict(hw4p2.cutoffs), higher_is_better=False) == pytest.approx(85, abs=0.01)
    assert interpolate(10.5, dict(hw4p2.cutoffs), higher_is_better=False) < 100


@pytest.mark.parametrize("spec", COMPETITIONS, ids=lambda spec: spec.slug)
def test_readme_tells_students_the_header_the_size_and_the_cutoffs(spec):
    readme = competition_readme(spec)
    assert readme.startswith(f"# {spec.title}")
    assert f"`{spec.id_column},{spec.target_column}`" in readme
    assert f"{spec.rows:,}" in readme
    assert "Grade cutoffs: A " in readme
    for row in spec.example_rows:
        assert row in readme


def test_toml_rendering_round_trips_every_value_kind():
    table = (TomlTable("t", comment="why")
             .add("text", 'a "quoted" back\\slash')
             .add("number", 0.64, "a trailing comment")
             .add("count", 7)
             .add("flag", False, note=("a note", "on two lines"))
             .add("files", ["README.md", "x y.csv"])
             .add("cutoffs", {"A": 10.0, "B": 23.33}))
    text = render_toml([table], header="# header\n")
    assert tomllib.loads(text) == {"t": {"text": 'a "quoted" back\\slash', "number": 0.64, "count": 7,
                                         "flag": False, "files": ["README.md", "x y.csv"],
                                         "cutoffs": {"A": 10.0, "B": 23.33}}}
    assert "# a note\n# on two lines\nflag = false" in text


# --- schedules -------------------------------------------------------------------------------------


def test_fall2019_keeps_hw1p2s_real_dates():
    assert fall2019_schedule()["hw1p2"].wall_clock() == {
        "opens": "2019-09-04 00:00:00", "early": "2019-09-15 23:59:59",
        "ontime": "2019-09-29 23:59:59", "late": "2019-10-06 23:59:59",
    }


def test_fall2019_spaces_homeworks_three_to_four_weeks_apart_with_early_and_late_deadlines():
    schedules = fall2019_schedule()
    ontimes = [schedules[slug].ontime for slug in ["hw1p2", "hw2p2-classification", "hw3p2", "hw4p2"]]
    for before, after in zip(ontimes, ontimes[1:]):
        assert timedelta(days=20) <= after - before <= timedelta(days=28)
    for slug in SLUGS[1:]:
        schedule = schedules[slug]
        assert timedelta(days=9) <= schedule.ontime - schedule.early <= timedelta(days=12)
        assert schedule.late - schedule.ontime == timedelta(days=7)
    assert all(schedules[slug].opens.year == 2019 for slug in SLUGS)


def states(now: datetime) -> dict[str, str]:
    """Each competition's state at `now`, from the UTC instants of the relative schedule."""
    result = {}
    for slug, schedule in relative_schedule(now).items():
        w = schedule.instants()
        if now < w["opens"]:
            result[slug] = "not open"
        elif now <= w["early"]:
            result[slug] = "open, early ahead"
        elif now <= w["ontime"]:
            result[slug] = "open, early passed"
        elif now <= w["late"]:
            result[slug] = "late window"
        else:
            result[slug] = "closed"
    return result


@pytest.mark.parametrize("now", [
    datetime(2024, 10, 15, 15, 0, tzinfo=UTC),
    datetime(2024, 11, 3, 5, 30, tzinfo=UTC),    # 01:30 EDT on the day clocks fall back
    datetime(2024, 11, 3, 6, 30, tzinfo=UTC),    # 01:30 EST, the same wall clock an hour later
    datetime(2024, 3, 10, 7, 30, tzinfo=UTC),    # 03:30 EDT on the day clocks spring forward
    datetime(2025, 1, 1, 5, 0, tzinfo=UTC),      # local midnight
    datetime(2025, 1, 1, 4, 59, 59, tzinfo=UTC), # the last second of the local day before
], ids=str)
def test_relative_schedule_shows_every_state_at_once(now):
    assert states(now) == {
        "hw1p2": "closed",
        "hw2p2-classification": "late window",
        "hw2p2-verification": "open, early passed",
        "hw3p2": "open, early ahead",
        "hw4p2": "not open",
    }
    hw1p2_closed_for = now - relative_schedule(now)["hw1p2"].instants()["late"]
    assert timedelta(days=6) < hw1p2_closed_for < timedelta(days=8)


@settings(max_examples=60, deadline=None)
@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 12, 31), timezones=st.just(UTC)))
def test_relative_deadlines_are_ordered_and_fall_on_local_midnight_and_last_second(now):
    for schedule in relative_schedule(now).values():
        instants = schedule.instants()
        assert instants["opens"] <= instants["early"] <= instants["ontime"] <= instants["late"]
        assert instants["opens"].astimezone(TZ).time() == time(0, 0, 0)
        for key in ("early", "ontime", "late"):
            assert instants[key].astimezone(TZ).time() == time(23, 59, 59)


def test_fall2019_deadlines_are_ordered():
    for schedule in fall2019_schedule().values():
        instants = schedule.instants()
        assert instants["opens"] <= instants["early"] <= instants["ontime"] <= instants["late"]


def test_relative_schedule_depends_only_on_the_local_date_of_now():
    morning = datetime(2024, 10, 15, 4, 0, tzinfo=UTC)     # 00:00 EDT
    evening = datetime(2024, 10, 16, 3, 59, tzinfo=UTC)    # 23:59 EDT, same local day
    next_day = datetime(2024, 10, 16, 4, 0, tzinfo=UTC)
    assert relative_schedule(morning) == relative_schedule(evening)
    assert relative_schedule(next_day) != relative_schedule(evening)


def test_schedule_names_and_naive_now_are_checked():
    assert schedule_named("fall2019") == fall2019_schedule()
    with pytest.raises(ValueError, match="fall2019"):
        schedule_named("spring2020")
    with pytest.raises(ValueError, match="timezone-aware"):
        relative_schedule(datetime(2024, 10, 15, 12, 0))
