"""Wall-clock times in the course time zone and UTC instants (POLICY.md section 2)."""
from datetime import datetime, timezone

import pytest

from podium.rules import as_utc, format_local, format_utc, local_date, local_to_utc, zone
from tests.rules.helpers import NY


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def test_summer_and_winter_offsets_of_new_york():
    assert local_to_utc("2019-09-29 23:59:59", NY) == utc(2019, 9, 30, 3, 59, 59)  # EDT, UTC-4
    assert local_to_utc("2019-12-01 12:00:00", NY) == utc(2019, 12, 1, 17, 0, 0)  # EST, UTC-5


def test_result_is_aware_and_in_utc():
    t = local_to_utc("2019-09-04 00:00:00", NY)
    assert t.tzinfo is timezone.utc


def test_spring_forward_gap_time_is_shifted_forward_by_the_gap():
    # 2019-03-10 in New York: clocks jump from 02:00 EST to 03:00 EDT; 02:30 never happens.
    assert local_to_utc("2019-03-10 01:59:59", NY) == utc(2019, 3, 10, 6, 59, 59)
    assert local_to_utc("2019-03-10 02:30:00", NY) == utc(2019, 3, 10, 7, 30, 0)  # read as 03:30 EDT
    assert format_local(local_to_utc("2019-03-10 02:30:00", NY), NY) == "2019-03-10 03:30 EDT (America/New_York)"


def test_fall_back_ambiguous_time_is_its_first_occurrence():
    # 2019-11-03 in New York: 01:30 happens at 05:30 UTC (EDT) and again at 06:30 UTC (EST).
    assert local_to_utc("2019-11-03 01:30:00", NY) == utc(2019, 11, 3, 5, 30, 0)
    assert format_local(local_to_utc("2019-11-03 01:30:00", NY), NY) == "2019-11-03 01:30 EDT (America/New_York)"


def test_toml_local_datetime_is_accepted_like_the_string():
    assert local_to_utc(datetime(2019, 9, 4), NY) == local_to_utc("2019-09-04 00:00:00", NY)


@pytest.mark.parametrize("text", ["2019-09-04", "2019-09-04T00:00:00", "2019-09-04 00:00", "04/09/2019 00:00:00",
                                  "2019-02-30 00:00:00", "soon"])
def test_malformed_wall_clock_times_are_refused_with_the_expected_form(text):
    with pytest.raises(ValueError, match="YYYY-MM-DD HH:MM:SS"):
        local_to_utc(text, NY)


def test_aware_datetime_is_refused_as_a_wall_clock_time():
    with pytest.raises(ValueError, match="wall-clock"):
        local_to_utc(utc(2019, 9, 4), NY)


def test_unknown_time_zone_names_the_zone():
    with pytest.raises(ValueError, match="Mars/Olympus"):
        zone("Mars/Olympus")


def test_naive_instants_are_refused():
    with pytest.raises(ValueError, match="naive"):
        as_utc(datetime(2019, 9, 4))


def test_format_local_keeps_seconds_only_when_they_matter():
    assert format_local(utc(2019, 9, 4, 4, 0, 0), NY) == "2019-09-04 00:00 EDT (America/New_York)"
    assert format_local(utc(2019, 9, 30, 3, 59, 59), NY) == "2019-09-29 23:59:59 EDT (America/New_York)"


def test_format_utc_is_iso_8601_with_z():
    assert format_utc(utc(2019, 9, 30, 3, 59, 59, 123456)) == "2019-09-30T03:59:59Z"


def test_local_date_is_the_course_calendar_day():
    assert local_date(utc(2019, 9, 30, 3, 59, 59), NY).isoformat() == "2019-09-29"
    assert local_date(utc(2019, 9, 30, 4, 0, 0), NY).isoformat() == "2019-09-30"
