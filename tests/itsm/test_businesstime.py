"""Business-time arithmetic: hand-computed service-desk cases, DST in three zones, properties."""

import datetime as dt
import itertools
import time
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from itsm import businesstime as bt
from itsm.businesstime import TWENTY_FOUR_SEVEN, Calendar, add, elapsed, is_working_time, next_working_moment

UTC = dt.UTC
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
SYDNEY = ZoneInfo("Australia/Sydney")
H = dt.timedelta(hours=1)
MIN = dt.timedelta(minutes=1)
US = dt.timedelta(microseconds=1)

MON_FRI = range(5)
NINE_TO_SIX = tuple((day, 9 * 60, 18 * 60) for day in MON_FRI)


def at(tz: ZoneInfo, *args: int, fold: int = 0) -> dt.datetime:
    """An aware local datetime, e.g. at(BERLIN, 2026, 5, 22, 17, 30)."""
    return dt.datetime(*args, tzinfo=tz, fold=fold)


def local(moment: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    return moment.astimezone(tz)


def all_day(zone: str, holidays: frozenset[dt.date] = frozenset()) -> Calendar:
    """00:00-24:00 every day in ``zone`` (real time, or the slow path when given a holiday)."""
    return Calendar(zone, tuple((day, 0, 1440) for day in range(7)), holidays)


def intervals(calendar: Calendar, start: dt.datetime, end: dt.datetime) -> list[tuple[dt.datetime, dt.datetime]]:
    return list(bt.working_intervals(calendar, start, end))


# --- Hand-computed cases ------------------------------------------------------------------------


def test_p2_opened_friday_evening_before_a_holiday_monday():
    # Mon-Fri 09:00-18:00 Europe/Berlin, Whit Monday 2026-05-25 a holiday, 8 business hours.
    # Fri 17:30-18:00 uses 0:30; Sat, Sun and the holiday Monday have no working time; the
    # remaining 7:30 run from Tue 09:00 and end Tue 16:30 local (CEST, +02:00 -> 14:30 UTC).
    # (The brief said 15:30, but 09:00 + 7:30 is 16:30 on a 9-hour day without a break.)
    calendar = Calendar("Europe/Berlin", NINE_TO_SIX, frozenset({dt.date(2026, 5, 25)}))
    opened = at(BERLIN, 2026, 5, 22, 17, 30)
    assert opened.strftime("%a") == "Fri"
    due = add(calendar, opened, 8 * H)
    assert due == at(BERLIN, 2026, 5, 26, 16, 30)
    assert due == dt.datetime(2026, 5, 26, 14, 30, tzinfo=UTC)
    assert due.tzinfo is UTC
    assert elapsed(calendar, opened, due) == 8 * H
    # Without the holiday the same target ends on Monday at 16:30.
    assert add(Calendar("Europe/Berlin", NINE_TO_SIX), opened, 8 * H) == at(BERLIN, 2026, 5, 25, 16, 30)


def test_start_on_saturday_begins_the_clock_on_monday_morning():
    # Sat 10:00 is outside working time: the clock starts Mon 09:00, 2 hours -> Mon 11:00.
    calendar = Calendar("Europe/Berlin", NINE_TO_SIX)
    saturday = at(BERLIN, 2026, 5, 16, 10)
    assert not is_working_time(calendar, saturday)
    assert next_working_moment(calendar, saturday) == at(BERLIN, 2026, 5, 18, 9)
    assert add(calendar, saturday, 2 * H) == at(BERLIN, 2026, 5, 18, 11)
    assert elapsed(calendar, saturday, at(BERLIN, 2026, 5, 18, 11)) == 2 * H
    # A zero duration is the start itself, even outside working time.
    assert add(calendar, saturday, dt.timedelta(0)) == saturday


def test_duration_ending_exactly_at_end_of_day_is_that_end():
    # Mon 09:00 + 9h is Mon 18:00 (the end of the range), not Tue 09:00; one microsecond more
    # goes to Tue 09:00:00.000001.
    calendar = Calendar("Europe/Berlin", NINE_TO_SIX)
    monday = at(BERLIN, 2026, 5, 18, 9)
    assert add(calendar, monday, 9 * H) == at(BERLIN, 2026, 5, 18, 18)
    assert add(calendar, at(BERLIN, 2026, 5, 18, 17), H) == at(BERLIN, 2026, 5, 18, 18)
    assert add(calendar, monday, 9 * H + US) == at(BERLIN, 2026, 5, 19, 9) + US
    # 18:00 itself is not working time (ranges are half-open); 17:59:59.999999 is.
    assert not is_working_time(calendar, at(BERLIN, 2026, 5, 18, 18))
    assert is_working_time(calendar, at(BERLIN, 2026, 5, 18, 18) - US)
    # Friday 18:00 + 1h: Monday 10:00.
    assert add(calendar, at(BERLIN, 2026, 5, 22, 18), H) == at(BERLIN, 2026, 5, 25, 10)


def test_several_ranges_per_day():
    # 09:00-12:00 and 13:00-17:00 (7 business hours a day), Mon-Fri, UTC.
    periods = tuple(p for day in MON_FRI for p in ((day, 540, 720), (day, 780, 1020)))
    calendar = Calendar("UTC", periods)
    monday = dt.date(2026, 5, 18)

    def t(day: int, hour: int, minute: int = 0) -> dt.datetime:
        return dt.datetime.combine(monday + dt.timedelta(days=day), dt.time(hour, minute), UTC)

    # Mon 11:00 + 3h: 11-12 (1h), lunch, 13:00 + 2h = 15:00.
    assert add(calendar, t(0, 11), 3 * H) == t(0, 15)
    # Mon 10:00 + 2h ends exactly at 12:00, not 13:00.
    assert add(calendar, t(0, 10), 2 * H) == t(0, 12)
    # Starting in the lunch break: the clock starts at 13:00.
    assert add(calendar, t(0, 12, 30), H) == t(0, 14)
    # Mon 16:00 + 2h: 16-17 (1h), Tue 09:00 + 1h = 10:00.
    assert add(calendar, t(0, 16), 2 * H) == t(1, 10)
    # Mon 09:00 to Fri 17:00 is five 7-hour days.
    assert elapsed(calendar, t(0, 9), t(4, 17)) == 35 * H
    assert intervals(calendar, t(0, 0), t(1, 0)) == [(t(0, 9), t(0, 12)), (t(0, 13), t(0, 17))]


def test_range_ending_at_midnight_joins_next_days_range():
    # A night shift: Mon 20:00-24:00 and Tue 00:00-06:00 form one interval across midnight.
    calendar = Calendar("Europe/Berlin", ((0, 1200, 1440), (1, 0, 360)))
    assert add(calendar, at(BERLIN, 2026, 5, 18, 23), 2 * H) == at(BERLIN, 2026, 5, 19, 1)
    assert add(calendar, at(BERLIN, 2026, 5, 18, 20), 10 * H) == at(BERLIN, 2026, 5, 19, 6)
    # 10h + 1 minute rolls over to the next Monday 20:01.
    assert add(calendar, at(BERLIN, 2026, 5, 18, 20), 10 * H + MIN) == at(BERLIN, 2026, 5, 25, 20, 1)
    assert is_working_time(calendar, at(BERLIN, 2026, 5, 19, 0))
    assert intervals(calendar, at(BERLIN, 2026, 5, 18), at(BERLIN, 2026, 5, 20)) == [
        (at(BERLIN, 2026, 5, 18, 20), at(BERLIN, 2026, 5, 19, 6))
    ]


def test_touching_and_unsorted_ranges_are_merged():
    calendar = Calendar("UTC", ((0, 720, 780), (0, 540, 720), (0, 600, 660)))
    assert calendar.ranges_on(0) == ((540, 780),)
    assert calendar == Calendar("UTC", [(0, 540, 720), (0, 600, 660), (0, 720, 780)])
    assert hash(calendar) == hash(Calendar("UTC", [(0, 600, 660), (0, 540, 720), (0, 720, 780)]))
    noon = dt.datetime(2026, 5, 18, 12, tzinfo=UTC)
    assert is_working_time(calendar, noon)
    assert intervals(calendar, noon - 3 * H, noon + 3 * H) == [(noon - 3 * H, noon + H)]


def test_holidays_across_christmas():
    # Thu 24, Fri 25 Dec 2026 are holidays (Sat 26 is a weekend day anyway).
    # Wed 23 17:00 + 2h: Wed 17-18 (1h), then Mon 28 09:00 + 1h = 10:00.
    holidays = frozenset({dt.date(2026, 12, 24), dt.date(2026, 12, 25), dt.date(2026, 12, 26)})
    calendar = Calendar("Europe/Berlin", NINE_TO_SIX, holidays)
    assert add(calendar, at(BERLIN, 2026, 12, 23, 17), 2 * H) == at(BERLIN, 2026, 12, 28, 10)
    # Wed 23 09:00 to Mon 28 18:00: two 9-hour days.
    assert elapsed(calendar, at(BERLIN, 2026, 12, 23, 9), at(BERLIN, 2026, 12, 28, 18)) == 18 * H
    assert not is_working_time(calendar, at(BERLIN, 2026, 12, 24, 12))
    assert next_working_moment(calendar, at(BERLIN, 2026, 12, 24, 12)) == at(BERLIN, 2026, 12, 28, 9)


def test_twenty_four_seven_is_real_time():
    start = at(NEW_YORK, 2026, 3, 7, 22, 15)
    assert TWENTY_FOUR_SEVEN.is_always_working
    # Sat 22:15 EST (03:15 UTC) + 8 real hours crosses the New York spring-forward: 11:15 UTC,
    # 07:15 EDT. (Python's aware + timedelta is wall-clock arithmetic and would say 06:15 EDT.)
    assert add(TWENTY_FOUR_SEVEN, start, 8 * H) == utc(2026, 3, 8, 11, 15) == at(NEW_YORK, 2026, 3, 8, 7, 15)
    assert add(TWENTY_FOUR_SEVEN, start, 8 * H) != start + 8 * H
    later = start.astimezone(UTC) + dt.timedelta(days=3, microseconds=7)
    assert elapsed(TWENTY_FOUR_SEVEN, start, later) == dt.timedelta(days=3, microseconds=7)
    assert is_working_time(TWENTY_FOUR_SEVEN, start)
    assert next_working_moment(TWENTY_FOUR_SEVEN, start) == start
    assert intervals(TWENTY_FOUR_SEVEN, start, start + H) == [(start, start + H)]  # no change at 22:15
    # Any zone with 00:00-24:00 every day and no holidays is real time too.
    assert all_day("Australia/Sydney").is_always_working
    assert not all_day("UTC", frozenset({dt.date(2026, 1, 1)})).is_always_working


def test_results_are_utc_and_exact_to_the_microsecond():
    calendar = Calendar("America/New_York", NINE_TO_SIX)
    start = at(NEW_YORK, 2026, 6, 1, 9, 0)
    due = add(calendar, start, dt.timedelta(hours=3, microseconds=123_457))
    assert due.tzinfo is UTC
    assert due == at(NEW_YORK, 2026, 6, 1, 12, 0) + dt.timedelta(microseconds=123_457)
    assert next_working_moment(calendar, start).tzinfo is UTC


def test_thirty_business_days_take_a_few_milliseconds():
    holidays = frozenset({dt.date(2026, 5, 1), dt.date(2026, 5, 14), dt.date(2026, 5, 25), dt.date(2026, 6, 4)})
    calendar = Calendar("Europe/Berlin", NINE_TO_SIX, holidays)
    start = at(BERLIN, 2026, 4, 20, 10)
    timings = []
    for _ in range(5):
        began = time.perf_counter()
        due = add(calendar, start, 30 * 9 * H)
        timings.append(time.perf_counter() - began)
    # 30 business days from Mon 20 Apr 10:00 minus 4 holidays in the span: Fri 5 Jun 10:00.
    assert due == at(BERLIN, 2026, 6, 5, 10)
    assert min(timings) < 0.005


# --- Daylight saving time ------------------------------------------------------------------------

# (zone, local date of the change, real hours of that local day)
DST_DAYS = [
    ("Europe/Berlin", dt.date(2026, 3, 29), 23),
    ("Europe/Berlin", dt.date(2026, 10, 25), 25),
    ("America/New_York", dt.date(2026, 3, 8), 23),
    ("America/New_York", dt.date(2026, 11, 1), 25),
    ("Australia/Sydney", dt.date(2026, 4, 5), 25),
    ("Australia/Sydney", dt.date(2026, 10, 4), 23),
]


@pytest.mark.parametrize("far_holiday", [False, True], ids=["fast-path", "day-walk"])
@pytest.mark.parametrize(("zone", "day", "hours"), DST_DAYS)
def test_all_day_local_calendar_has_23_or_25_hour_days(zone, day, hours, far_holiday):
    # 00:00-24:00 every day in the zone: business time is real time, so the local day of the
    # change lasts 23 or 25 real hours and its neighbours 24. A holiday years away forces the
    # day-by-day walk instead of the real-time fast path; both must agree.
    calendar = all_day(zone, frozenset({dt.date(2000, 1, 3)}) if far_holiday else frozenset())
    assert calendar.is_always_working is not far_holiday
    tz = ZoneInfo(zone)

    def midnight(d: dt.date) -> dt.datetime:
        return dt.datetime.combine(d, dt.time(), tz)

    before, after = day - dt.timedelta(days=1), day + dt.timedelta(days=1)
    assert elapsed(calendar, midnight(before), midnight(day)) == 24 * H
    assert elapsed(calendar, midnight(day), midnight(after)) == hours * H
    assert elapsed(calendar, midnight(after), midnight(after + dt.timedelta(days=1))) == 24 * H
    assert add(calendar, midnight(day), hours * H) == midnight(after)
    assert add(calendar, midnight(before), (24 + hours) * H) == midnight(after)
    # Noon to noon across the change.
    assert elapsed(calendar, midnight(before) + 12 * H, dt.datetime.combine(day, dt.time(12), tz)) == hours * H


@pytest.mark.parametrize(("zone", "day", "hours"), DST_DAYS)
def test_sunday_only_calendar_measures_the_dst_sunday(zone, day, hours):
    # Every change above falls on a Sunday. With only Sunday 00:00-24:00 working, the week
    # holds 23 or 25 business hours, and that many hours from Saturday end exactly at the end of
    # the Sunday range (Monday 00:00 local), not at the next Sunday.
    tz = ZoneInfo(zone)
    assert day.weekday() == 6
    calendar = Calendar(zone, ((6, 0, 1440),))
    saturday_noon = dt.datetime.combine(day - dt.timedelta(days=1), dt.time(12), tz)
    monday = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tz)
    assert elapsed(calendar, saturday_noon, saturday_noon + dt.timedelta(days=7)) == hours * H
    assert add(calendar, saturday_noon, hours * H) == monday
    assert add(calendar, saturday_noon, hours * H + US) == monday + dt.timedelta(days=6) + US


@pytest.mark.parametrize(("zone", "day", "hours"), DST_DAYS)
def test_nine_to_six_is_unaffected_by_the_dst_weekend(zone, day, hours):
    # Mon-Fri 09:00-18:00: the change happens on Sunday night, outside working hours. Friday
    # 17:00 + 2h is Monday 10:00 local, whatever the offset did in between.
    tz = ZoneInfo(zone)
    calendar = Calendar(zone, NINE_TO_SIX)
    friday = day - dt.timedelta(days=2)
    monday = day + dt.timedelta(days=1)
    fri_17 = dt.datetime.combine(friday, dt.time(17), tz)
    mon_10 = dt.datetime.combine(monday, dt.time(10), tz)
    assert fri_17.utcoffset() != mon_10.utcoffset()
    assert add(calendar, fri_17, 2 * H) == mon_10
    assert local(add(calendar, fri_17, 2 * H), tz).time() == dt.time(10)
    fri_09 = dt.datetime.combine(friday, dt.time(9), tz)
    mon_18 = dt.datetime.combine(monday, dt.time(18), tz)
    assert elapsed(calendar, fri_09, mon_18) == 18 * H
    # A full working week straddling the change is still 45 hours.
    week_start = dt.datetime.combine(day - dt.timedelta(days=4), dt.time(), tz)
    assert elapsed(calendar, week_start, week_start + dt.timedelta(days=7)) == 45 * H


# Berlin, Sunday 2026-03-29: 02:00 CET jumps to 03:00 CEST at 01:00 UTC (02:00-03:00 never happens).
# Berlin, Sunday 2026-10-25: 03:00 CEST falls back to 02:00 CET at 01:00 UTC (02:00-03:00 twice:
# first 00:00-01:00 UTC, then 01:00-02:00 UTC).
SPRING = dt.date(2026, 3, 29)
FALL = dt.date(2026, 10, 25)


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def sunday_range(start_minute: int, end_minute: int, *extra: tuple[int, int, int]) -> Calendar:
    return Calendar("Europe/Berlin", ((6, start_minute, end_minute), *extra))


def sunday_intervals(calendar: Calendar, day: dt.date) -> list[tuple[dt.datetime, dt.datetime]]:
    window = dt.datetime.combine(day, dt.time(), UTC)
    return intervals(calendar, window - dt.timedelta(days=1), window + dt.timedelta(days=1))


@pytest.mark.parametrize(
    ("start_minute", "end_minute", "expected"),
    [
        # 01:00 CET (00:00 UTC) to 04:00 CEST (02:00 UTC): 2 real hours, the gap is not working.
        (60, 240, [(utc(2026, 3, 29, 0), utc(2026, 3, 29, 2))]),
        # A start inside the gap maps to the transition instant (01:00 UTC).
        (150, 300, [(utc(2026, 3, 29, 1), utc(2026, 3, 29, 3))]),
        # An end inside the gap maps to the transition instant too.
        (0, 150, [(utc(2026, 3, 28, 23), utc(2026, 3, 29, 1))]),
        # A range entirely inside the gap is empty.
        (135, 165, []),
        # A range that is exactly the gap is empty.
        (120, 180, []),
    ],
)
def test_berlin_spring_forward_gap(start_minute, end_minute, expected):
    calendar = sunday_range(start_minute, end_minute)
    assert sunday_intervals(calendar, SPRING) == expected


@pytest.mark.parametrize(
    ("start_minute", "end_minute", "expected"),
    [
        # 02:00-03:00 covers both occurrences of the repeated hour: 2 real hours.
        (120, 180, [(utc(2026, 10, 25, 0), utc(2026, 10, 25, 2))]),
        # An ambiguous start is the first 02:30 (CEST, 00:30 UTC); an ambiguous end the second
        # 02:45 (CET, 01:45 UTC): 1:15 of real time for a 15-minute wall range.
        (150, 165, [(utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 1, 45))]),
        # 00:00 CEST (22:00 UTC Sat) to the second 02:30 (01:30 UTC): 3.5 hours.
        (0, 150, [(utc(2026, 10, 24, 22), utc(2026, 10, 25, 1, 30))]),
        # The first 02:30 (00:30 UTC) to 24:00 CET (23:00 UTC): 22.5 hours.
        (150, 1440, [(utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 23))]),
    ],
)
def test_berlin_fall_back_overlap(start_minute, end_minute, expected):
    calendar = sunday_range(start_minute, end_minute)
    assert sunday_intervals(calendar, FALL) == expected


def test_fall_back_ranges_around_the_repeated_hour_overlap_and_merge():
    # 00:00-02:15 ends at the second 02:15 (01:15 UTC); 02:45-24:00 starts at the first 02:45
    # (00:45 UTC). Both cover the repeated hour, so the whole 25-hour day is working time.
    calendar = Calendar("Europe/Berlin", ((6, 0, 135), (6, 165, 1440)))
    assert sunday_intervals(calendar, FALL) == [(utc(2026, 10, 24, 22), utc(2026, 10, 25, 23))]
    assert elapsed(calendar, utc(2026, 10, 24), utc(2026, 10, 26)) == 25 * H
    # On an ordinary Sunday the 30-minute break is there.
    assert elapsed(calendar, utc(2026, 10, 17), utc(2026, 10, 19)) == 23 * H + 30 * MIN


@pytest.mark.parametrize(
    ("zone", "day", "gap_start", "transition"),
    [
        ("Europe/Berlin", SPRING, 120, utc(2026, 3, 29, 1)),
        ("America/New_York", dt.date(2026, 3, 8), 120, utc(2026, 3, 8, 7)),
        ("Australia/Sydney", dt.date(2026, 10, 4), 120, utc(2026, 10, 3, 16)),
    ],
)
def test_gap_boundaries_in_every_zone(zone, day, gap_start, transition):
    # A Sunday range starting in the middle of the gap starts at the transition instant; a range
    # inside the gap is empty, and nothing is working before the transition.
    calendar = Calendar(zone, ((6, gap_start + 30, gap_start + 120),))
    tz = ZoneInfo(zone)
    saturday = dt.datetime.combine(day - dt.timedelta(days=1), dt.time(), tz)
    assert next_working_moment(calendar, saturday) == transition
    assert add(calendar, saturday, H) == transition + H
    empty = Calendar(zone, ((6, gap_start + 10, gap_start + 50),))
    week = dt.timedelta(days=7)
    assert elapsed(empty, saturday, saturday + week) == dt.timedelta(0)
    assert elapsed(empty, saturday + week, saturday + 2 * week) == 40 * MIN


# --- Errors -------------------------------------------------------------------------------------


def test_calendar_without_working_time_raises():
    calendar = Calendar("UTC", ())
    start = utc(2026, 5, 18, 9)
    with pytest.raises(ValueError, match="calendar has no working time"):
        add(calendar, start, H)
    with pytest.raises(ValueError, match="calendar has no working time"):
        next_working_moment(calendar, start)
    assert elapsed(calendar, start, start + 100 * H) == dt.timedelta(0)
    assert not is_working_time(calendar, start)


def test_every_working_day_a_holiday_for_ten_years_raises_quickly():
    first_monday = dt.date(2026, 1, 5)
    mondays = frozenset(first_monday + dt.timedelta(weeks=n) for n in range(53 * 10))
    calendar = Calendar("Europe/Berlin", ((0, 540, 1080),), mondays)
    start = at(BERLIN, 2026, 1, 1)
    began = time.perf_counter()
    with pytest.raises(ValueError, match="calendar has no working time"):
        add(calendar, start, H)
    with pytest.raises(ValueError, match="calendar has no working time"):
        next_working_moment(calendar, start)
    assert time.perf_counter() - began < 2
    # Once the holidays run out the Monday is back.
    assert add(calendar, at(BERLIN, 2036, 3, 1), H).astimezone(BERLIN).strftime("%a %H:%M") == "Mon 10:00"


def test_naive_datetimes_raise():
    calendar = Calendar("Europe/Berlin", NINE_TO_SIX)
    naive = dt.datetime(2026, 5, 18, 10)
    aware = at(BERLIN, 2026, 5, 18, 10)
    for call in (
        lambda: add(calendar, naive, H),
        lambda: add(TWENTY_FOUR_SEVEN, naive, dt.timedelta(0)),
        lambda: elapsed(calendar, naive, aware),
        lambda: elapsed(calendar, aware, naive),
        lambda: bt.working_intervals(calendar, aware, naive),
        lambda: is_working_time(calendar, naive),
        lambda: next_working_moment(calendar, naive),
    ):
        with pytest.raises(ValueError, match="timezone-aware"):
            call()


def test_negative_duration_raises():
    with pytest.raises(ValueError, match="negative"):
        add(TWENTY_FOUR_SEVEN, utc(2026, 1, 1), -US)


@pytest.mark.parametrize(
    ("zone", "periods"),
    [
        ("Mars/Olympus", ((0, 540, 1080),)),
        ("UTC", ((7, 540, 1080),)),
        ("UTC", ((0, 600, 600),)),
        ("UTC", ((0, 600, 540),)),
        ("UTC", ((0, 0, 1441),)),
        ("UTC", ((0, -1, 60),)),
    ],
)
def test_invalid_calendars_are_rejected(zone, periods):
    with pytest.raises(ValueError):
        Calendar(zone, periods)


def test_empty_and_reversed_windows():
    calendar = Calendar("UTC", NINE_TO_SIX)
    start = utc(2026, 5, 18, 10)
    assert elapsed(calendar, start, start) == dt.timedelta(0)
    assert elapsed(calendar, start, start - H) == dt.timedelta(0)
    assert intervals(calendar, start, start - H) == []


# --- The model adapter --------------------------------------------------------------------------


@pytest.mark.django_db
def test_business_calendar_to_businesstime():
    from itsm.models import BusinessCalendar, Holiday, WorkingPeriod

    model = BusinessCalendar.objects.create(name="Berlin office hours", timezone="Europe/Berlin")
    WorkingPeriod.objects.bulk_create(
        WorkingPeriod(calendar=model, weekday=day, start_minute=start, end_minute=end)
        for day, start, end in NINE_TO_SIX
    )
    Holiday.objects.create(calendar=model, date=dt.date(2026, 5, 25), name="Whit Monday")

    calendar = BusinessCalendar.objects.prefetch_related("working_periods", "holidays").get(pk=model.pk)
    converted = calendar.to_businesstime()
    assert converted == Calendar("Europe/Berlin", NINE_TO_SIX, frozenset({dt.date(2026, 5, 25)}))
    assert add(converted, at(BERLIN, 2026, 5, 22, 17, 30), 8 * H) == at(BERLIN, 2026, 5, 26, 16, 30)

    always = BusinessCalendar.objects.create(name="Always on", timezone="UTC")
    WorkingPeriod.objects.bulk_create(
        WorkingPeriod(calendar=always, weekday=day, start_minute=0, end_minute=1440) for day in range(7)
    )
    assert always.to_businesstime().is_always_working


# --- Properties ---------------------------------------------------------------------------------

ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Sydney"]
TZINFOS = [UTC, *(ZoneInfo(zone) for zone in ZONES)]
# Boundaries worth hitting often: DST hours, midnight, office hours.
SPECIAL_MINUTES = [0, 30, 60, 90, 120, 135, 150, 165, 180, 210, 540, 720, 780, 1080, 1410, 1440]
TRANSITIONS = [dt.datetime.combine(day, dt.time(), ZoneInfo(zone)) for zone, day, _ in DST_DAYS]
LOW, HIGH = dt.datetime(2025, 11, 1), dt.datetime(2027, 1, 31)
PROPERTY_SETTINGS = settings(max_examples=150, deadline=None)


@st.composite
def calendars(draw: st.DrawFn) -> Calendar:
    zone = draw(st.sampled_from(ZONES))
    minute = st.one_of(st.sampled_from(SPECIAL_MINUTES), st.integers(0, 1440))
    periods = []
    for weekday in range(7):
        count = draw(st.integers(0, 3))
        points = sorted(draw(st.lists(minute, min_size=2 * count, max_size=2 * count, unique=True)))
        periods += [(weekday, points[i], points[i + 1]) for i in range(0, len(points), 2)]
    assume(periods)
    holidays = draw(st.frozensets(st.dates(LOW.date(), HIGH.date()), max_size=25))
    return Calendar(zone, tuple(periods), holidays)


# Aware instants in any of the zones (note: arithmetic on them is wall-clock, so the tests convert
# to UTC before adding or subtracting).
instants = st.one_of(
    st.datetimes(LOW, HIGH, timezones=st.sampled_from(TZINFOS)),
    st.builds(
        lambda base, shift: (base + shift).astimezone(UTC),
        st.sampled_from(TRANSITIONS),
        st.timedeltas(-dt.timedelta(days=3), dt.timedelta(days=3)),
    ),
)


def weekly_working(calendar: Calendar) -> dt.timedelta:
    return sum((dt.timedelta(minutes=end - start) for _, start, end in calendar.periods), dt.timedelta(0))


@st.composite
def durations(draw: st.DrawFn, calendar: Calendar) -> dt.timedelta:
    """Up to about three weeks' worth of the calendar's working time, often in whole minutes."""
    limit = 3 * weekly_working(calendar)
    whole_minutes = st.integers(0, limit // MIN).map(lambda n: n * MIN)
    return draw(st.one_of(whole_minutes, st.timedeltas(dt.timedelta(0), limit)))


@PROPERTY_SETTINGS
@given(data=st.data(), calendar=calendars(), start=instants)
def test_elapsed_inverts_add(data, calendar, start):
    duration = data.draw(durations(calendar))
    due = add(calendar, start, duration)
    assert due.tzinfo is UTC
    assert due >= start
    assert elapsed(calendar, start, due) == duration


@PROPERTY_SETTINGS
@given(data=st.data(), calendar=calendars(), start=instants)
def test_add_is_monotonic(data, calendar, start):
    first, second = sorted([data.draw(durations(calendar)), data.draw(durations(calendar))])
    assert add(calendar, start, first) <= add(calendar, start, second)


@PROPERTY_SETTINGS
@given(data=st.data(), calendar=calendars(), start=instants)
def test_add_is_additive(data, calendar, start):
    first, second = data.draw(durations(calendar)), data.draw(durations(calendar))
    assert add(calendar, start, first + second) == add(calendar, add(calendar, start, first), second)


@PROPERTY_SETTINGS
@given(calendar=calendars(), moments=st.lists(instants, min_size=3, max_size=3))
def test_elapsed_is_additive_over_a_split(calendar, moments):
    start, middle, end = sorted(moment.astimezone(UTC) for moment in moments)
    total = elapsed(calendar, start, end)
    assert total == elapsed(calendar, start, middle) + elapsed(calendar, middle, end)
    assert dt.timedelta(0) <= total <= end - start
    assert elapsed(calendar, end, start) == dt.timedelta(0) or start == end


@PROPERTY_SETTINGS
@given(data=st.data(), calendar=calendars(), start=instants)
def test_add_ends_in_working_time_or_at_the_end_of_a_range(data, calendar, start):
    duration = data.draw(durations(calendar))
    assume(duration > dt.timedelta(0))
    due = add(calendar, start, duration)
    # The last microsecond counted is working time, so ``due`` is inside a working interval or
    # is the (excluded) end of one.
    assert is_working_time(calendar, due - US)
    if not is_working_time(calendar, due):
        assert intervals(calendar, due - US, due + US) == [(due - US, due)]


@PROPERTY_SETTINGS
@given(calendar=calendars(), start=instants, length=st.timedeltas(dt.timedelta(0), dt.timedelta(days=10)))
def test_working_intervals_are_sorted_disjoint_and_clipped(calendar, start, length):
    end = start.astimezone(UTC) + length
    found = intervals(calendar, start, end)
    for lo, hi in found:
        assert start <= lo < hi <= end
        assert lo.tzinfo is UTC and hi.tzinfo is UTC
        assert is_working_time(calendar, lo) and is_working_time(calendar, hi - US)
    for (_, previous_end), (next_start, _) in itertools.pairwise(found):
        assert previous_end < next_start  # touching intervals are merged
        assert not is_working_time(calendar, previous_end)
    assert sum((hi - lo for lo, hi in found), dt.timedelta(0)) == elapsed(calendar, start, end)


@PROPERTY_SETTINGS
@given(calendar=calendars(), moment=instants)
def test_next_working_moment(calendar, moment):
    following = next_working_moment(calendar, moment)
    assert following >= moment
    assert is_working_time(calendar, following)
    assert elapsed(calendar, moment, following) == dt.timedelta(0)
    # Compare in UTC: PEP 495 makes == between zones False for an ambiguous wall time (fold).
    assert (following == moment.astimezone(dt.UTC)) is is_working_time(calendar, moment)


@PROPERTY_SETTINGS
@given(
    zone=st.sampled_from(ZONES),
    start=instants,
    duration=st.timedeltas(dt.timedelta(0), dt.timedelta(days=20)),
    span=st.timedeltas(dt.timedelta(0), dt.timedelta(days=20)),
)
def test_fast_path_agrees_with_the_day_walk(zone, start, duration, span):
    start = start.astimezone(UTC)
    fast, walked = all_day(zone), all_day(zone, frozenset({dt.date(2000, 1, 3)}))
    assert fast.is_always_working and not walked.is_always_working
    assert add(fast, start, duration) == add(walked, start, duration) == start + duration
    assert elapsed(fast, start, start + span) == elapsed(walked, start, start + span) == span


def _no_offset_change(tz: ZoneInfo, start: dt.datetime, end: dt.datetime) -> bool:
    offsets = set()
    moment = start - dt.timedelta(days=2)
    while moment <= end + dt.timedelta(days=2):
        offsets.add(moment.astimezone(tz).utcoffset())
        moment += H
    return len(offsets) == 1


@PROPERTY_SETTINGS
@given(
    calendar=calendars(),
    start=st.datetimes(LOW, HIGH).map(lambda d: d.replace(second=0, microsecond=0, tzinfo=UTC)),
    minutes=st.integers(0, 2 * 24 * 60),
)
def test_elapsed_matches_a_minute_by_minute_count(calendar, start, minutes):
    # An independent oracle away from DST changes: a UTC minute is working when its local wall
    # time falls in a range of its weekday and its local date is not a holiday.
    tz = calendar.tzinfo
    end = start + minutes * MIN
    assume(_no_offset_change(tz, start, end))
    count = 0
    for n in range(minutes):
        wall = (start + n * MIN).astimezone(tz)
        minute_of_day = wall.hour * 60 + wall.minute
        if wall.date() not in calendar.holidays and any(
            s <= minute_of_day < e for s, e in calendar.ranges_on(wall.weekday())
        ):
            count += 1
    assert elapsed(calendar, start, end) == count * MIN
