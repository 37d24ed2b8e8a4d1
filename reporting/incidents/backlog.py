"""The backlog at each period's end and its ageing, exact at that moment.

An incident is open at a moment M when it was opened before M and not finished by then
(finished: resolved, or cancelled; `volume.FINISHED_AT`). As in `volume`, a reopened incident
counts as open from its opening to its last resolution (a reopen clears `resolved_at`), so
`backlog` here equals `volume`'s backlog column.

Ages are counted in calendar days of the reporting timezone back from M (M - k days keeps the
wall-clock time, so a daylight-saving day is one day): `age_under_1d` opened on or after
M - 1 day, `age_1_3d` on or after M - 3 days and before M - 1 day, then `age_3_7d`, `age_7_30d`,
and `age_over_30d` opened before M - 30 days.

At period ends (local midnights) these are differences of day counts, so the report costs three
grouped queries whatever the number of periods: the backlog at W (the range start minus 30 days),
incidents opened in [W, end) by opening day and finished in [W, end) by finishing day, each also
counting those finished within 1, 3, 7 and 30 days of opening (in local days). For a period end
on day t and k in (1, 3, 7, 30), the open incidents opened on or after day t - k are the ones
opened in [t - k, t) less those of them already finished before t, which are the incidents
finished before t within k days of opening less those opened before t - k within k days
(every one of which finished before t). Prefix sums over those days give every figure (a loop over
the day buckets, never over incidents).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from itertools import accumulate

from django.db.models import Count, F, Func, IntegerField, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from incidents.choices import OPEN_STATES
from incidents.models import Incident
from reporting.groups import dimension
from reporting.params import ReportParams
from reporting.periods import bucket_day, local_midnight, report_tz
from reporting.registry import Column, Report, register
from reporting.rows import assemble, group_field

from .volume import FINISHED_AT

AGES = (1, 3, 7, 30)  # the bucket boundaries, in days
AGE_COLUMNS = (
    Column("age_under_1d", "Under 1 day"),
    Column("age_1_3d", "1 to 3 days"),
    Column("age_3_7d", "3 to 7 days"),
    Column("age_7_30d", "7 to 30 days"),
    Column("age_over_30d", "Over 30 days"),
)
COLUMNS = (Column("backlog", "Open at period end"), *AGE_COLUMNS)
AGE_KEYS = tuple(c.key for c in AGE_COLUMNS)


class LocalDayNumber(Func):
    """The local date of a timestamp as a day number (days since 1970-01-01), on SQLite and PostgreSQL."""

    output_field = IntegerField()
    arity = 1

    def __init__(self, expression, **extra):
        super().__init__(TruncDate(expression, tzinfo=report_tz()), **extra)

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, template="(%(expressions)s - DATE '1970-01-01')", **extra)

    def as_sqlite(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, template="CAST(julianday(%(expressions)s) - 2440587.5 AS INTEGER)")


EPOCH = dt.date(1970, 1, 1)


def _keyed(qs, key: str | None, **aggregates):
    if key:
        return qs.annotate(key=F(key)).values("key", "day").annotate(**aggregates).order_by()
    return qs.values("day").annotate(**aggregates).order_by()


def _prefix(counts: dict[int, int], days: int) -> list[int]:
    """Running sums of per-day counts: item i is the sum over the days before day index i."""
    dense = [0] * days
    for index, count in counts.items():
        dense[index] = count
    return [0, *accumulate(dense)]


def backlog(params: ReportParams) -> list[dict]:
    """The backlog rows of `params` (see the module docstring)."""
    origin = params.start - dt.timedelta(days=max(AGES))
    origin_at, end_at = local_midnight(origin), params.end_at
    key = group_field(params)
    incidents = Incident.objects.annotate(finished_at=FINISHED_AT)
    span = LocalDayNumber("finished_at") - LocalDayNumber("opened_at")  # local days open; NULL while open

    # Open at the origin, by group.
    before = incidents.filter(Q(finished_at__isnull=True) | Q(finished_at__gte=origin_at), opened_at__lt=origin_at)
    base = dict(before.values_list(key).annotate(n=Count("id")).order_by()) if key else {None: before.count()}

    # wK: finished within K local days of opening (the day it opened counts as 0)
    within = {f"w{k}": Count("id", filter=Q(span__lt=k)) for k in AGES}
    opened = _keyed(
        incidents.filter(opened_at__gte=origin_at, opened_at__lt=end_at).annotate(
            day=LocalDayNumber("opened_at"), span=span
        ),
        key,
        n=Count("id"),
        **within,
    )
    finished = _keyed(
        incidents.filter(finished_at__gte=origin_at, finished_at__lt=end_at).annotate(
            day=LocalDayNumber("finished_at"), span=span
        ),
        key,
        n=Count("id"),
        **{f"w{k}": Count("id", filter=Q(span__lt=k, opened_at__gte=origin_at)) for k in AGES},
    )
    # per group: {"n" | "w1" ...: {day index: count}} for openings and finishings
    first = (origin - EPOCH).days
    days = (params.end - origin).days
    opens: dict = defaultdict(lambda: defaultdict(dict))
    finishes: dict = defaultdict(lambda: defaultdict(dict))
    for target, rows in ((opens, opened), (finishes, finished)):
        for row in rows:
            for name in ("n", *within):
                target[row.get("key")][name][row["day"] - first] = row[name]

    ends = [(period.day, (bucket_day(period.end) - origin).days) for period in params.periods]
    aggregates = []
    for group_key in set(base) | set(opens) | set(finishes):
        o = {name: _prefix(opens[group_key][name], days) for name in ("n", *within)}
        f = {name: _prefix(finishes[group_key][name], days) for name in ("n", *within)}
        opened_before, finished_before = o["n"], f["n"]
        for day, t in ends:
            level = base.get(group_key, 0) + opened_before[t] - finished_before[t]
            younger = [opened_before[t] - opened_before[t - k] - (f[f"w{k}"][t] - o[f"w{k}"][t - k]) for k in AGES]
            aggregates.append({"bucket": day, "key": group_key, **_ages(level, younger)})
    return assemble(params, aggregates, lambda agg: _strip(agg) if agg else _ages(0, [0] * len(AGES)))


def _ages(level: int, younger: list[int]) -> dict:
    """The row's counts from the backlog and the open incidents younger than each boundary."""
    bounds = [0, *younger, level]
    return {"backlog": level, **{name: bounds[i + 1] - bounds[i] for i, name in enumerate(AGE_KEYS)}}


def _strip(agg: dict) -> dict:
    return {k: agg[k] for k in ("backlog", *AGE_KEYS)}


def ageing_at(moment: dt.datetime | None = None, group_by: str | None = None) -> list[dict]:
    """The open incidents at `moment` (default now) by age bucket: one query (labels joined in).

    Rows {"group", "group_key", "backlog", <age columns>}: one row (group None) when not grouped,
    else one per group with open incidents, the largest backlog first. At or after the present,
    "open" is the open states (the state index); before it, opened before and not finished by then.
    """
    now = timezone.now()
    moment = moment or now
    local = moment.astimezone(report_tz())
    bounds = [local - dt.timedelta(days=k) for k in AGES]  # wall-clock days back
    if moment >= now:
        qs = Incident.objects.filter(state__in=OPEN_STATES, opened_at__lt=moment)
    else:
        qs = Incident.objects.annotate(finished_at=FINISHED_AT).filter(
            Q(finished_at__isnull=True) | Q(finished_at__gte=moment), opened_at__lt=moment
        )
    # Counting `opened_at` (never NULL): at or after the present the open incidents index alone answers.
    counts = {
        "backlog": Count("opened_at"),
        "age_under_1d": Count("opened_at", filter=Q(opened_at__gte=bounds[0])),
        **{
            AGE_KEYS[i + 1]: Count("opened_at", filter=Q(opened_at__gte=bounds[i + 1], opened_at__lt=bounds[i]))
            for i in range(len(AGES) - 1)
        },
        "age_over_30d": Count("opened_at", filter=Q(opened_at__lt=bounds[-1])),
    }
    if not group_by:
        return [{"group": None, "group_key": None, **qs.aggregate(**counts)}]
    dim = dimension(group_by)
    values = {"key": F(dim.field)}
    if dim.model is not None:
        values["label"] = F(f"{dim.field.removesuffix('_id')}__{dim.label_field}")
    rows = qs.annotate(**values).values(*values).annotate(**counts).order_by()
    out = []
    for row in rows:
        key = row["key"]
        if key is None:
            label = dimension(group_by).labels([])[None]
        elif dim.choices is not None:
            label = str(dim.choices.get(key, key))
        else:
            label = str(row["label"])
        out.append({"group": label, "group_key": key, **{name: row[name] for name in counts}})
    return sorted(out, key=lambda r: (-r["backlog"], r["group_key"] is None, r["group"].lower()))


REPORT = register(
    Report(
        name="backlog",
        title="Backlog and ageing",
        description="The incidents open at each period's end, by age: under 1 day, 1 to 3, 3 to 7, 7 to 30 "
        "and over 30 days since opening.",
        columns=COLUMNS,
        compute=backlog,
        chart=AGE_KEYS,
        chart_type="bar",
        order=50,
    )
)
