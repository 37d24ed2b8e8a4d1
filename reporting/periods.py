"""Periods of a report: the buckets rows are grouped into, in the reporting timezone.

A report covers [start, end) where both are local midnights of `settings.TIME_ZONE`; buckets are
local days, ISO weeks (Monday) or calendar months, so a daylight-saving day is 23 or 25 hours long
and still one bucket. The database truncates with the same timezone (`bucket()`), so a moment is
in exactly one period whichever side of midnight it falls.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import DateTimeField, Expression, F
from django.db.models.functions import Trunc

INTERVALS = ("day", "week", "month")


def report_tz() -> ZoneInfo:
    """The timezone periods are cut in (the site's `TIME_ZONE`)."""
    return ZoneInfo(settings.TIME_ZONE)


@dataclass(frozen=True)
class Period:
    """One bucket: [start, end) as aware datetimes, and its label (the local start date)."""

    day: dt.date
    start: dt.datetime
    end: dt.datetime

    @property
    def label(self) -> str:
        return self.day.isoformat()


def local_midnight(day: dt.date, tz: ZoneInfo | None = None) -> dt.datetime:
    """The aware moment a local day starts."""
    return dt.datetime.combine(day, dt.time(0), tzinfo=tz or report_tz())


def bucket_start(day: dt.date, interval: str) -> dt.date:
    """The first day of the bucket `day` falls in."""
    if interval == "week":
        return day - dt.timedelta(days=day.weekday())
    if interval == "month":
        return day.replace(day=1)
    return day


def _next(day: dt.date, interval: str) -> dt.date:
    if interval == "week":
        return day + dt.timedelta(days=7)
    if interval == "month":
        return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return day + dt.timedelta(days=1)


def periods(start: dt.date, end: dt.date, interval: str) -> list[Period]:
    """The buckets covering [start, end): the first and last may be partial (clipped to the range)."""
    tz = report_tz()
    out: list[Period] = []
    day = bucket_start(start, interval)
    while day < end:
        following = _next(day, interval)
        out.append(Period(day, local_midnight(max(day, start), tz), local_midnight(min(following, end), tz)))
        day = following
    return out


def bucket(field: str | Expression, interval: str) -> Trunc:
    """The database expression putting a timestamp into its bucket (start of day/week/month, local)."""
    expression = F(field) if isinstance(field, str) else field
    return Trunc(expression, interval, output_field=DateTimeField(), tzinfo=report_tz())


def bucket_day(value: dt.datetime | dt.date) -> dt.date:
    """The local start date of a bucket value the database returned."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(report_tz())
        return value.date()
    return value
