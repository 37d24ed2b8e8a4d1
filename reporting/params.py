"""The parameters of a report request, parsed and checked once for the API and the console.

`from` (inclusive) and `to` (exclusive) are local dates; `interval` cuts the range into periods;
`group_by` splits each period by one dimension. Every bad parameter is named in the error; the
span is capped per interval (`REPORTS_MAX_DAYS`, default two years at day interval) because a
chart or a table of thousands of buckets helps nobody and costs the database.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from reporting.periods import INTERVALS, Period, periods, report_tz

GROUP_BYS = ("priority", "service", "category", "assignment_group", "assignee", "channel")
DEFAULT_DAYS = 30
DEFAULT_MAX_DAYS = {"day": 731, "week": 1831, "month": 3653}


class ReportInputError(ValueError):
    """Bad report parameters: `errors` maps each parameter to its messages."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class ReportParams:
    """A checked report request: the local dates [start, end), the interval and the grouping."""

    start: dt.date
    end: dt.date
    interval: str = "day"
    group_by: str | None = None

    @property
    def periods(self) -> list[Period]:
        return periods(self.start, self.end, self.interval)

    @property
    def start_at(self) -> dt.datetime:
        return self.periods[0].start

    @property
    def end_at(self) -> dt.datetime:
        return self.periods[-1].end

    def query(self) -> dict[str, str]:
        """The parameters as a query string would carry them (links between pages)."""
        out = {"from": self.start.isoformat(), "to": self.end.isoformat(), "interval": self.interval}
        if self.group_by:
            out["group_by"] = self.group_by
        return out


def max_days(interval: str) -> int:
    return {**DEFAULT_MAX_DAYS, **getattr(settings, "REPORTS_MAX_DAYS", {})}[interval]


def _date(value: str, name: str, errors: dict[str, list[str]]) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        errors.setdefault(name, []).append(f"'{value}' is not a date; give YYYY-MM-DD.")
        return None


def today() -> dt.date:
    return timezone.now().astimezone(report_tz()).date()


def parse(query, group_bys: tuple[str, ...] = GROUP_BYS) -> ReportParams:
    """Check `query` (a mapping of strings); raise ReportInputError naming every bad parameter.

    Defaults: the last 30 days up to and including today, by day, not grouped.
    """
    errors: dict[str, list[str]] = {}
    for name in ("from", "to", "interval"):  # given but empty is not "absent": name it (group_by empty: not grouped)
        if name in query and not (query.get(name) or "").strip():
            errors[name] = [f"'{name}' is empty; give a value or leave it out."]
    raw_to, raw_from = (query.get("to") or "").strip(), (query.get("from") or "").strip()
    end = _date(raw_to, "to", errors) if raw_to else today() + dt.timedelta(days=1)
    start = _date(raw_from, "from", errors) if raw_from else (end or today()) - dt.timedelta(days=DEFAULT_DAYS)

    interval = (query.get("interval") or "day").strip()
    if interval not in INTERVALS and "interval" not in errors:
        errors["interval"] = [f"'{interval}' is not an interval; use one of: {', '.join(INTERVALS)}."]
    group_by = (query.get("group_by") or "").strip() or None
    if group_by is not None and group_by not in group_bys:
        known = ", ".join(group_bys) if group_bys else "nothing (this report is not grouped)"
        errors["group_by"] = [f"'{group_by}' is not a grouping of this report; use one of: {known}."]

    if start and end and "from" not in errors and "to" not in errors:
        if start >= end:
            errors["from"] = [f"'from' ({start}) must be before 'to' ({end}); 'to' is exclusive."]
        elif interval in INTERVALS and (end - start).days > max_days(interval):
            message = (
                f"The period from {start} to {end} is {(end - start).days} days; at interval '{interval}' "
                f"a report covers at most {max_days(interval)} days."
            )
            errors["from"] = [message]
            errors["to"] = [message]
    if errors:
        raise ReportInputError(errors)
    return ReportParams(start=start, end=end, interval=interval, group_by=group_by)
