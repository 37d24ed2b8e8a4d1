"""Availability arithmetic of the 90-day bars: unions of impact windows, minus maintenance.

A service's downtime is the union of the impact windows of the public major incidents that
affected it (`impact_started_at` or `declared_at` to `resolved_at`, or now while they run),
minus the maintenance windows of that service (planned work is not counted as downtime).
Availability over a period = 1 - downtime / (period - maintenance): maintenance is excluded
from both sides, as SLA reports do. Pure functions on (start, end) pairs; no ORM.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

Interval = tuple[datetime, datetime]
DAYS = 90


def union(intervals: Iterable[Interval]) -> list[Interval]:
    """Merge overlapping or touching intervals; empty or inverted ones are dropped. Sorted."""
    out: list[Interval] = []
    for start, end in sorted(i for i in intervals if i[1] > i[0]):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def subtract(intervals: Iterable[Interval], holes: Iterable[Interval]) -> list[Interval]:
    """`intervals` with every part covered by `holes` removed."""
    holes = union(holes)
    out: list[Interval] = []
    for start, end in union(intervals):
        cursor = start
        for h_start, h_end in holes:
            if h_end <= cursor or h_start >= end:
                continue
            if h_start > cursor:
                out.append((cursor, h_start))
            cursor = max(cursor, h_end)
            if cursor >= end:
                break
        if cursor < end:
            out.append((cursor, end))
    return out


def clip(intervals: Iterable[Interval], start: datetime, end: datetime) -> list[Interval]:
    """The parts of `intervals` inside [start, end)."""
    return [(max(s, start), min(e, end)) for s, e in intervals if e > start and s < end]


def total(intervals: Iterable[Interval]) -> timedelta:
    """The summed length of (already disjoint) intervals."""
    return sum((e - s for s, e in intervals), timedelta(0))


def percent(downtime: timedelta, period: timedelta) -> float:
    """Availability in percent, two decimals, rounded down so that any outage shows below 100."""
    if period <= timedelta(0):
        return 100.0
    value = 100.0 * (1 - downtime / period)
    return max(0.0, int(value * 100) / 100)


@dataclass(frozen=True)
class Day:
    """One cell of the bar: the day, its downtime and maintenance time, and a sentence for it."""

    day: date
    downtime: timedelta
    maintenance: timedelta

    @property
    def css(self) -> str:
        if self.downtime >= timedelta(hours=1):
            return "down"
        if self.downtime > timedelta(0):
            return "minor"
        if self.maintenance > timedelta(0):
            return "maint"
        return "ok"

    @property
    def text(self) -> str:
        parts = []
        if self.downtime > timedelta(0):
            parts.append(f"{duration_text(self.downtime)} of disruption")
        if self.maintenance > timedelta(0):
            parts.append(f"{duration_text(self.maintenance)} of maintenance")
        return f"{self.day.isoformat()}: " + (", ".join(parts) if parts else "no disruption")


@dataclass(frozen=True)
class Segment:
    """A run of `span` days drawn alike on the bar; `text` names a day that was not fine."""

    css: str
    span: int
    text: str


@dataclass(frozen=True)
class Availability:
    """A service's availability over the period and its per-day cells (oldest first)."""

    percent: float
    downtime: timedelta
    days: list[Day]

    @property
    def percent_text(self) -> str:
        return f"{self.percent:.2f}%"

    @property
    def segments(self) -> list[Segment]:
        """The bar drawn in runs: consecutive fine days are one segment, every other day its own
        (with its sentence), so a page of many services stays small."""
        out: list[Segment] = []
        for day in self.days:
            if day.css == "ok" and out and out[-1].css == "ok":
                out[-1] = Segment("ok", out[-1].span + 1, "")
            else:
                out.append(Segment(day.css, 1, "" if day.css == "ok" else day.text))
        return out

    @property
    def notable_days(self) -> list[Day]:
        """The days with disruption or maintenance (what a screen reader lists; the rest were fine)."""
        return [day for day in self.days if day.css != "ok"]


def duration_text(delta: timedelta) -> str:
    """'2 h 05 min', '12 min', 'under a minute'."""
    minutes = int(delta.total_seconds() // 60)
    if minutes < 1:
        return "under a minute"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


def availability(
    impacts: Iterable[Interval], maintenance: Iterable[Interval], now: datetime, days: int = DAYS
) -> Availability:
    """The availability of one service over the `days` UTC days ending today (today counts up to now)."""
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    start = today - timedelta(days=days - 1)
    maint = union(clip(maintenance, start, now))
    down = subtract(clip(impacts, start, now), maint)
    cells = []
    for index in range(days):
        day_start = start + timedelta(days=index)
        day_end = min(day_start + timedelta(days=1), now)
        cells.append(
            Day(
                day=day_start.date(),
                downtime=total(clip(down, day_start, day_end)),
                maintenance=total(clip(maint, day_start, day_end)),
            )
        )
    downtime = total(down)
    return Availability(percent=percent(downtime, (now - start) - total(maint)), downtime=downtime, days=cells)
