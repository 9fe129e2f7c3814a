"""The daily limit: successful submissions per calendar day in the course time zone (POLICY.md section 1); the
cap on failed uploads, counted per the same day; the cap on bytes of Kaggle CLI uploads waiting to be handed in."""
from datetime import datetime, timedelta, timezone

from podium.rules import (WaitingUpload, check_daily_limit, check_failed_uploads, check_staged_bytes, daily_allowance,
                          next_local_midnight)
from tests.rules.helpers import NY, at


def test_under_the_limit_is_allowed_and_says_how_many_were_used():
    now = at("2019-09-05 13:00:00")
    result = check_daily_limit(now, [at("2019-09-05 09:00:00")] * 9, NY, 10)
    assert (result.allowed, result.used, result.message) == (True, 9, None)


def test_at_the_limit_is_refused_with_the_count_and_the_reset_in_both_zones():
    now = at("2019-09-05 13:00:00")
    result = check_daily_limit(now, [at("2019-09-05 09:00:00")] * 10, NY, 10)
    assert result.allowed is False and result.used == 10
    assert result.resets_at == datetime(2019, 9, 6, 4, 0, tzinfo=timezone.utc)
    assert "10 of 10" in result.message
    assert "2019-09-06 00:00 EDT (America/New_York)" in result.message
    assert "2019-09-06T04:00:00Z" in result.message


def test_yesterday_does_not_count_even_within_24_hours():
    now = at("2019-09-05 00:30:00")
    yesterday_evening = [at("2019-09-04 23:30:00")] * 10
    assert check_daily_limit(now, yesterday_evening, NY, 10).allowed


def test_the_day_is_the_course_day_not_the_utc_day():
    # 23:30 in New York is already the next day in UTC; it still counts for the New York day.
    now = at("2019-09-05 23:45:00")
    assert now.date().isoformat() == "2019-09-06"
    assert check_daily_limit(now, [at("2019-09-05 08:00:00")] * 10, NY, 10).allowed is False


def test_no_limit_allows_everything():
    now = at("2019-09-05 13:00:00")
    assert check_daily_limit(now, [now] * 500, NY, None).allowed


def test_spring_forward_day_has_23_hours_and_resets_at_edt_midnight():
    now = at("2019-03-10 23:30:00")  # EDT
    first = at("2019-03-10 00:30:00")  # EST, 22 real hours earlier, same calendar day
    assert now - first == timedelta(hours=22)
    result = check_daily_limit(now, [first], NY, 1)
    assert result.allowed is False
    assert result.resets_at == datetime(2019, 3, 11, 4, 0, tzinfo=timezone.utc)
    assert result.resets_at - datetime(2019, 3, 10, 5, 0, tzinfo=timezone.utc) == timedelta(hours=23)


def test_fall_back_day_has_25_hours_and_both_half_past_ones_are_the_same_day():
    first_0130 = datetime(2019, 11, 3, 5, 30, tzinfo=timezone.utc)  # 01:30 EDT
    second_0130 = datetime(2019, 11, 3, 6, 30, tzinfo=timezone.utc)  # 01:30 EST
    result = check_daily_limit(second_0130, [first_0130], NY, 1)
    assert result.allowed is False
    assert result.resets_at == datetime(2019, 11, 4, 5, 0, tzinfo=timezone.utc)  # 00:00 EST
    assert result.resets_at - datetime(2019, 11, 3, 4, 0, tzinfo=timezone.utc) == timedelta(hours=25)


def test_next_local_midnight_on_an_ordinary_day():
    assert next_local_midnight(at("2019-09-05 00:00:00"), NY) == at("2019-09-06 00:00:00")


# --- failed uploads per day ------------------------------------------------------------------------------


def test_failed_uploads_under_the_cap_are_allowed():
    now = at("2019-09-05 13:00:00")
    result = check_failed_uploads(now, [at("2019-09-05 09:00:00")] * 9, NY, 10)
    assert (result.allowed, result.used, result.message) == (True, 9, None)


def test_at_the_failed_uploads_cap_the_message_is_its_own_with_the_reset():
    now = at("2019-09-05 13:00:00")
    result = check_failed_uploads(now, [at("2019-09-05 09:00:00")] * 10, NY, 10)
    assert result.allowed is False and result.used == 10
    assert result.resets_at == datetime(2019, 9, 6, 4, 0, tzinfo=timezone.utc)
    assert "10 uploads today" in result.message and "the most the server keeps" in result.message
    assert "sample submission" in result.message
    assert "2019-09-06 00:00 EDT (America/New_York), 2019-09-06T04:00:00Z" in result.message
    assert "Daily limit" not in result.message


def test_failed_uploads_count_per_course_day_and_not_at_all_without_a_cap():
    late_evening = at("2019-09-05 23:45:00")
    assert check_failed_uploads(late_evening, [at("2019-09-04 23:30:00")] * 10, NY, 10).allowed
    assert not check_failed_uploads(late_evening, [at("2019-09-05 00:10:00")] * 10, NY, 10).allowed
    assert check_failed_uploads(late_evening, [late_evening] * 500, NY, None).allowed


# --- bytes waiting to be handed in -----------------------------------------------------------------------

MB = 1_000_000


def waiting(*sizes_mb: float, until: str = "2019-09-05 13:30:00") -> list[WaitingUpload]:
    return [WaitingUpload(int(size * MB), at(until)) for size in sizes_mb]


def test_uploads_fit_while_the_waiting_bytes_stay_within_the_cap():
    result = check_staged_bytes(waiting(5, 5), 10 * MB, 20 * MB, NY)
    assert (result.allowed, result.used) == (True, 10 * MB)
    assert check_staged_bytes([], 20 * MB, 20 * MB, NY).allowed  # the cap itself is allowed


def test_past_the_cap_the_refusal_says_how_much_waits_and_when_space_comes_free():
    files = waiting(5, 5, 5, until="2019-09-05 13:30:00") + waiting(5, until="2019-09-05 13:10:00")
    result = check_staged_bytes(files, 5 * MB, 20 * MB, NY)
    assert result.allowed is False and result.used == 20 * MB
    assert result.resets_at == at("2019-09-05 13:10:00")  # the first to expire
    assert "4 uploads of 20.0 MB" in result.message and "at most 20.0 MB" in result.message
    assert "2019-09-05 13:10 EDT (America/New_York), 2019-09-05T17:10:00Z" in result.message
    assert "Submit page" in result.message


def test_a_file_larger_than_the_cap_alone_is_sent_to_the_site():
    result = check_staged_bytes([], 30 * MB, 20 * MB, NY)
    assert result.allowed is False and result.resets_at is None
    assert "larger than the 20.0 MB" in result.message and "Submit page" in result.message


def test_no_cap_on_waiting_bytes_allows_everything():
    assert check_staged_bytes(waiting(*[100] * 50), 100 * MB, None, NY).allowed


# --- the daily allowance (what pages and answers say is left) --------------------------------------------


def test_the_allowance_says_what_is_left_and_when_the_count_resets():
    now = at("2019-09-05 13:00:00")
    allowance = daily_allowance(now, [at("2019-09-05 09:00:00")] * 3 + [at("2019-09-04 22:00:00")], NY, 5)
    assert (allowance.used, allowance.left, allowance.reached) == (3, 2, False)
    assert allowance.summary(NY) == ("2 of 5 submissions left today; the count resets at 2019-09-06 00:00 EDT "
                                     "(America/New_York), 2019-09-06T04:00:00Z.")
    full = daily_allowance(now, [now] * 6, NY, 5)  # more than the limit (staff recorded some): none left, not -1
    assert (full.left, full.reached) == (0, True) and full.refusal(NY) == check_daily_limit(now, [now] * 6, NY, 5).message
    unlimited = daily_allowance(now, [now] * 50, NY, None)
    assert (unlimited.left, unlimited.reached) == (None, False)


def test_on_the_fall_back_day_the_allowance_resets_at_est_midnight_25_hours_after_the_day_began():
    second_0130 = datetime(2019, 11, 3, 6, 30, tzinfo=timezone.utc)  # 01:30 EST, the second one
    allowance = daily_allowance(second_0130, [datetime(2019, 11, 3, 5, 30, tzinfo=timezone.utc)], NY, 2)
    assert (allowance.used, allowance.left) == (1, 1)
    assert allowance.resets_at == datetime(2019, 11, 4, 5, 0, tzinfo=timezone.utc)
    assert "2019-11-04 00:00 EST (America/New_York), 2019-11-04T05:00:00Z" in allowance.summary(NY)
