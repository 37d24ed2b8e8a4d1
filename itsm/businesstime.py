"""Exact business-time arithmetic: pure functions over a working calendar, no ORM.

A :class:`Calendar` is an IANA timezone, working ranges per weekday and holidays. Business time
is *real elapsed time inside working ranges*: the SLA engine turns "8 business hours" into a
wall-clock ``due_at`` with :func:`add`, and measures a running clock with :func:`elapsed`.

Rules
-----
* Weekdays are 0 (Monday) to 6 (Sunday). A range ``(weekday, start_minute, end_minute)`` is in
  minutes after *local* midnight, ``0 <= start < end <= 1440`` (1440 is 24:00, the end of the
  day). Several ranges per weekday are allowed; overlapping or touching ranges are merged.
* A holiday is a local date with no working time at all.
* Every local range boundary is mapped to an instant with :mod:`zoneinfo`:

  - a boundary in a spring-forward **gap** (a wall time that never happens) maps to the
    instant of the transition, so the gap itself is never working time (a range lying wholly
    inside a gap is empty);
  - an **ambiguous** boundary in a fall-back overlap (a wall time that happens twice) maps to
    its *first* occurrence (``fold=0``) when it starts a range and to its *second* occurrence
    (``fold=1``) when it ends a range, so a range covers the whole repeated hour.

  Consequently a local range is real time: on a DST day a 00:00-24:00 range lasts 23 or 25
  real hours, while a 09:00-18:00 range away from the transition is always 9 hours.
* Working intervals are half-open ``[start, end)`` in UTC; touching intervals (a range ending
  at 24:00 followed by the next day's range starting at 00:00) are merged into one.
* :func:`add` starts the clock at the next working moment when ``start`` is outside working
  time; a duration that ends exactly at the end of a working range gives that end instant (not
  the start of the next range); a zero duration gives ``start`` itself.
* A calendar whose every weekday is covered 00:00-24:00 and that has no holidays is real time
  in any timezone (gaps contain no instants, overlaps are covered): it takes a fast path.
* Arithmetic is exact to the microsecond (``datetime``/``timedelta`` only, never floats).
* All datetimes must be aware (naive ones raise ``ValueError``); results are aware UTC.
* A calendar with no working ranges raises ``ValueError("calendar has no working time")`` in
  :func:`add` and :func:`next_working_moment`; so does a search that finds no working time for
  more than :data:`MAX_IDLE_DAYS` consecutive days (e.g. every working day a holiday for years).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

__all__ = [
    "MAX_IDLE_DAYS",
    "TWENTY_FOUR_SEVEN",
    "Calendar",
    "add",
    "elapsed",
    "is_working_time",
    "next_working_moment",
    "working_intervals",
]

UTC = dt.UTC
MINUTES_PER_DAY = 24 * 60
#: A search for working time gives up after this many consecutive days without any (3 years).
MAX_IDLE_DAYS = 3 * 366

_ONE_DAY = dt.timedelta(days=1)
_MICROSECOND = dt.timedelta(microseconds=1)
_ZERO = dt.timedelta(0)
_NO_WORKING_TIME = "calendar has no working time"

Period = tuple[int, int, int]
Interval = tuple[dt.datetime, dt.datetime]


def _merge_ranges(ranges: Iterable[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """Sort minute ranges and merge those that overlap or touch."""
    merged: list[list[int]] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return tuple((start, end) for start, end in merged)


@dataclass(frozen=True)
class Calendar:
    """Working ranges per weekday and holiday dates, in one IANA timezone.

    ``periods`` holds ``(weekday, start_minute, end_minute)`` triples (weekday 0 = Monday,
    minutes after local midnight, end up to 1440); ``holidays`` holds local dates with no
    working time. Lists and sets are accepted and stored as a sorted tuple and a frozenset.
    """

    timezone: str
    periods: tuple[Period, ...]
    holidays: frozenset[dt.date] = frozenset()
    _tz: ZoneInfo = field(init=False, repr=False, compare=False)
    _by_weekday: tuple[tuple[tuple[int, int], ...], ...] = field(init=False, repr=False, compare=False)
    _always: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Validate, normalise (sorted periods, frozenset holidays) and precompute the weekday table."""
        try:
            tz = ZoneInfo(self.timezone)
        except (KeyError, ValueError, TypeError, OSError) as exc:  # ZoneInfoNotFoundError is a KeyError
            raise ValueError(f"{self.timezone!r} is not an IANA timezone") from exc
        periods = tuple(sorted((int(w), int(s), int(e)) for w, s, e in self.periods))
        for weekday, start, end in periods:
            if not 0 <= weekday <= 6:
                raise ValueError(f"weekday {weekday} is not 0 (Monday) to 6 (Sunday)")
            if not 0 <= start < end <= MINUTES_PER_DAY:
                raise ValueError(f"range {start}-{end} is not 0 <= start < end <= 1440")
        holidays = frozenset(self.holidays)
        if not all(isinstance(day, dt.date) and not isinstance(day, dt.datetime) for day in holidays):
            raise ValueError("holidays must be dates")
        by_weekday = tuple(_merge_ranges((s, e) for w, s, e in periods if w == weekday) for weekday in range(7))
        object.__setattr__(self, "periods", periods)
        object.__setattr__(self, "holidays", holidays)
        object.__setattr__(self, "_tz", tz)
        object.__setattr__(self, "_by_weekday", by_weekday)
        always = not holidays and all(ranges == ((0, MINUTES_PER_DAY),) for ranges in by_weekday)
        object.__setattr__(self, "_always", always)

    @property
    def tzinfo(self) -> ZoneInfo:
        """The calendar's timezone as a ``ZoneInfo``."""
        return self._tz

    @property
    def has_working_time(self) -> bool:
        """True when at least one weekday has a working range."""
        return bool(self.periods)

    @property
    def is_always_working(self) -> bool:
        """True for a 24x7 calendar: every weekday 00:00-24:00 and no holidays (plain real time)."""
        return self._always

    def ranges_on(self, weekday: int) -> tuple[tuple[int, int], ...]:
        """The merged, sorted ``(start_minute, end_minute)`` ranges of a weekday."""
        return self._by_weekday[weekday]


#: Real time: UTC, all day every day, no holidays.
TWENTY_FOUR_SEVEN = Calendar("UTC", tuple((weekday, 0, MINUTES_PER_DAY) for weekday in range(7)))


def _to_utc(moment: dt.datetime, name: str = "datetime") -> dt.datetime:
    """Check that ``moment`` is aware and return the same instant in UTC."""
    if not isinstance(moment, dt.datetime):
        raise TypeError(f"{name} must be a datetime, not {type(moment).__name__}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {moment.isoformat()}")
    return moment.astimezone(UTC)


def _transition(tz: ZoneInfo, before: dt.datetime, after: dt.datetime) -> dt.datetime:
    """The first instant in ``(before, after]`` (UTC) whose UTC offset differs from ``before``'s.

    Bisects to the microsecond; only needed for a boundary inside a spring-forward gap.
    """
    offset = before.astimezone(tz).utcoffset()
    low, high = before, after
    while high - low > _MICROSECOND:
        middle = low + (high - low) // 2
        if middle.astimezone(tz).utcoffset() == offset:
            low = middle
        else:
            high = middle
    return high


def _wall_to_utc(tz: ZoneInfo, wall: dt.datetime, *, is_end: bool) -> dt.datetime:
    """Map a naive local wall time to a UTC instant under the gap and overlap rules."""
    first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    second = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    if first == second:
        return first
    if first < second:  # fall-back overlap: the wall time happens twice
        return second if is_end else first
    # Spring-forward gap: fold=0 reads the wall time with the old offset (an instant after the
    # transition), fold=1 with the new one (an instant before it).
    return _transition(tz, second, first)


def _day_intervals(calendar: Calendar, day: dt.date) -> Iterator[Interval]:
    """The UTC working intervals of one local date, in order (empty ones left out)."""
    if day in calendar.holidays:
        return
    tz = calendar._tz
    midnight = dt.datetime.combine(day, dt.time())
    for start_minute, end_minute in calendar._by_weekday[day.weekday()]:
        start = _wall_to_utc(tz, midnight + dt.timedelta(minutes=start_minute), is_end=False)
        end = _wall_to_utc(tz, midnight + dt.timedelta(minutes=end_minute), is_end=True)
        if end > start:
            yield start, end


def _intervals(calendar: Calendar, start: dt.datetime, end: dt.datetime | None) -> Iterator[Interval]:
    """Working intervals clipped to ``[start, end)`` (UTC), in order; unbounded when ``end`` is None.

    Intervals never overlap but may touch (they are not merged here, so that an unbounded walk
    through continuous working time keeps producing). Range starts are non-decreasing in
    wall-time order (``fold=0`` and the gap rule are monotone), so clipping each interval to the
    end of the previous one is enough to remove overlaps (e.g. a fall-back hour claimed by two
    ranges). Unbounded, it raises ``ValueError`` after :data:`MAX_IDLE_DAYS` consecutive days
    without working time.
    """
    tz = calendar._tz
    # A day's ranges lie within a day or so of its local midnight: starting one local day early
    # and stopping one late covers every offset and DST oddity.
    day = start.astimezone(tz).date() - _ONE_DAY
    last_day = None if end is None else end.astimezone(tz).date() + _ONE_DAY
    floor = start
    idle_days = 0
    while last_day is None or day <= last_day:
        found = False
        for lo, hi in _day_intervals(calendar, day):
            if end is not None:
                if lo >= end:
                    return  # every later range starts later still
                hi = min(hi, end)
            lo = max(lo, floor)
            if hi <= lo:
                continue
            found = True
            yield lo, hi
            floor = hi
        day += _ONE_DAY
        idle_days = 0 if found else idle_days + 1
        if end is None and idle_days > MAX_IDLE_DAYS:
            raise ValueError(_NO_WORKING_TIME)


def _merged(intervals: Iterable[Interval]) -> Iterator[Interval]:
    """Join sorted, non-overlapping intervals that touch."""
    pending: Interval | None = None
    for lo, hi in intervals:
        if pending is not None and lo <= pending[1]:
            pending = (pending[0], max(pending[1], hi))
            continue
        if pending is not None:
            yield pending
        pending = (lo, hi)
    if pending is not None:
        yield pending


def working_intervals(calendar: Calendar, start: dt.datetime, end: dt.datetime) -> Iterator[Interval]:
    """Yield the working intervals overlapping ``[start, end)`` as ``(utc_start, utc_end)`` pairs.

    Intervals are sorted, disjoint and non-touching (adjacent ranges are merged), half-open, and
    clipped to ``[start, end]``. Nothing is yielded when ``end <= start``.
    """
    start, end = _to_utc(start, "start"), _to_utc(end, "end")
    if end <= start:
        return iter(())
    if calendar.is_always_working:
        return iter(((start, end),))
    return _merged(_intervals(calendar, start, end))


def elapsed(calendar: Calendar, start: dt.datetime, end: dt.datetime) -> dt.timedelta:
    """Business time between two instants: real time spent inside working ranges (0 if end <= start)."""
    start, end = _to_utc(start, "start"), _to_utc(end, "end")
    if end <= start:
        return _ZERO
    if calendar.is_always_working:
        return end - start
    total = _ZERO
    for lo, hi in _intervals(calendar, start, end):
        total += hi - lo
    return total


def is_working_time(calendar: Calendar, moment: dt.datetime) -> bool:
    """True when ``moment`` lies inside a working interval (start included, end excluded)."""
    moment = _to_utc(moment, "moment")
    if calendar.is_always_working:
        return True
    return any(True for _ in _intervals(calendar, moment, moment + _MICROSECOND))


def next_working_moment(calendar: Calendar, moment: dt.datetime) -> dt.datetime:
    """``moment`` itself (in UTC) if it is working time, else the start of the next working interval.

    Raises ``ValueError`` when the calendar has no working time (or none within
    :data:`MAX_IDLE_DAYS` days).
    """
    moment = _to_utc(moment, "moment")
    if not calendar.has_working_time:
        raise ValueError(_NO_WORKING_TIME)
    if calendar.is_always_working:
        return moment
    for lo, _hi in _intervals(calendar, moment, None):
        return lo
    raise ValueError(_NO_WORKING_TIME)  # pragma: no cover - the unbounded search raises first


def add(calendar: Calendar, start: dt.datetime, duration: dt.timedelta) -> dt.datetime:
    """The instant (aware UTC) at which ``duration`` of business time has elapsed after ``start``.

    The clock starts at the next working moment when ``start`` is outside working time. A
    duration ending exactly at the end of a working range returns that end instant; a zero
    duration returns ``start`` unchanged (as UTC). Raises ``ValueError`` for a negative
    duration, a naive ``start`` or a calendar without working time.
    """
    start = _to_utc(start, "start")
    if not isinstance(duration, dt.timedelta):
        raise TypeError(f"duration must be a timedelta, not {type(duration).__name__}")
    if duration < _ZERO:
        raise ValueError(f"duration must not be negative, got {duration}")
    if not calendar.has_working_time:
        raise ValueError(_NO_WORKING_TIME)
    if duration == _ZERO:
        return start
    if calendar.is_always_working:
        return start + duration
    remaining = duration
    for lo, hi in _intervals(calendar, start, None):
        length = hi - lo
        if remaining <= length:
            return lo + remaining
        remaining -= length
    raise ValueError(_NO_WORKING_TIME)  # pragma: no cover - the unbounded search raises first
