"""The `major-incidents` report: how many, how long, what they cost, how well they were run.

Grouped by the primary incident's priority, service, category, assignment group or channel, or
by the major incident's manager (`assignee`). Only declared major incidents count (a rejected
proposal never is). The figures:

- declared, resolved, total and mean duration, mean times to detect / declare / restore, and the
  review's action items: the major incidents *declared* in the period (`declared_at`).
  Duration is impact start -> impact end as incidents/major/impact.py defines it: the
  resolution, or now while the record runs (so a running one's duration grows until resolved).
  Time to detect = detected - impact start; to declare = declared - detected; to restore =
  resolved - impact start (resolved ones only). Action items: all of those records' items, the
  open ones (not done) and the overdue ones (open, due date before today), as they are now.
- estimated_cost: every declared major incident whose impact window [impact start, impact end)
  overlaps the period puts the share of its cost the overlap is of the window into it (pro rata
  by time): a record from Jan 31 22:00 to Feb 1 02:00 puts half its cost in each month. The cost
  is the frozen `estimated_cost` of resolved ones (resolved, in review, closed); a live one (or
  one resolved without a frozen cost) costs as impact.py computes it live: its window so far
  (until now) x the affected services' downtime cost per hour. The shares are rounded to the
  cent per period and group, so the periods of one record may sum a cent off its frozen cost.
- update cadence: stakeholder updates *posted* in the period that had a due time (`due_at`;
  the first one after a declaration without a due time is not measured): due, on time
  (late_seconds = 0), late, compliance = on time / due, late_seconds = the seconds late summed.

Four queries (declared, cost, updates, action items) plus the group labels, whatever the data:
the cost query carries one sum per period (at most the range cap's number of periods).
"""

from __future__ import annotations

from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import (
    Avg,
    Case,
    Count,
    DateTimeField,
    F,
    FloatField,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, Greatest, Least, NullIf
from django.utils import timezone

from incidents.major.impact import FROZEN_STATES
from incidents.major.models import ActionItem, MajorIncident, StakeholderUpdate
from reporting.expressions import Seconds
from reporting.params import ReportParams
from reporting.periods import bucket_day, bucket_start
from reporting.registry import Column, Report, register
from reporting.rows import assemble, group_field, grouped, ratio, seconds

CENT = Decimal("0.01")
COLUMNS = (
    Column("declared", "Declared"),
    Column("resolved", "Declared and resolved"),
    Column("total_duration_seconds", "Total impact duration", "seconds"),
    Column("mean_duration_seconds", "Mean impact duration", "seconds"),
    Column("estimated_cost", "Estimated cost (pro rata)", "money"),
    Column("mean_time_to_detect_seconds", "Mean time to detect", "seconds"),
    Column("mean_time_to_declare_seconds", "Mean time to declare", "seconds"),
    Column("mean_time_to_restore_seconds", "Mean time to restore", "seconds"),
    Column("updates_due", "Updates with a due time"),
    Column("updates_on_time", "Updates on time"),
    Column("updates_late", "Updates late"),
    Column("update_compliance", "Update cadence compliance", "ratio"),
    Column("late_seconds", "Seconds late (sum)", "seconds"),
    Column("action_items", "Review action items"),
    Column("action_items_open", "Action items open"),
    Column("action_items_overdue", "Action items overdue"),
)


def major_group_field(params: ReportParams, prefix: str = "") -> str | None:
    """The field a major incident query (`prefix` leading to the major incident) groups by."""
    if params.group_by == "assignee":
        return prefix + "manager_id"
    return group_field(params, prefix + "incident__")


def _grouped(qs, moment: str, params: ReportParams, prefix: str, **aggregates) -> list[dict]:
    return list(grouped(qs, moment, params, key_field=major_group_field(params, prefix), **aggregates))


def _declared(params: ReportParams, now) -> list[dict]:
    impact_end = Coalesce("resolved_at", Value(now, output_field=DateTimeField()))
    qs = MajorIncident.objects.filter(declared_at__gte=params.start_at, declared_at__lt=params.end_at)
    return _grouped(
        qs,
        "declared_at",
        params,
        "",
        declared=Count("id"),
        resolved=Count("id", filter=Q(resolved_at__isnull=False)),
        measured=Count("id", filter=Q(impact_started_at__isnull=False)),
        total_duration=Sum(Seconds(impact_end, "impact_started_at")),
        to_detect=Avg(Seconds("detected_at", "impact_started_at")),
        to_declare=Avg(Seconds("declared_at", "detected_at")),
        to_restore=Avg(Seconds("resolved_at", "impact_started_at")),
    )


def _hourly_rate() -> Coalesce:
    """The sum of the outer major incident's affected services' downtime cost per hour."""
    through = MajorIncident.affected_services.through
    rate = (
        through.objects.filter(majorincident_id=OuterRef("pk"))
        .order_by()
        .values("majorincident_id")
        .annotate(rate=Sum("service__downtime_cost_per_hour"))
        .values("rate")
    )
    return Coalesce(Cast(Subquery(rate), FloatField()), Value(0.0))


def _costs(params: ReportParams, now) -> dict[tuple, dict]:
    """{(period day, key): {"cost": float}}: each record's cost spread over the periods its window overlaps."""
    start, end = params.start_at, params.end_at
    origin = Value(start, output_field=DateTimeField())
    impact_end = Coalesce("resolved_at", Value(now, output_field=DateTimeField()))
    frozen = Q(state__in=FROZEN_STATES, estimated_cost__isnull=False)
    qs = (
        MajorIncident.objects.filter(declared_at__isnull=False, impact_started_at__isnull=False)
        .filter(impact_started_at__lt=end)
        .filter(Q(resolved_at__isnull=True) | Q(resolved_at__gt=start))
        .annotate(s_rel=Seconds("impact_started_at", origin), e_rel=Seconds(impact_end, origin))
        .annotate(window=NullIf(F("e_rel") - F("s_rel"), Value(0.0)))
        .annotate(
            total=Case(
                When(frozen, then=Cast("estimated_cost", FloatField())),
                default=_hourly_rate() * F("window") / Value(3600.0),
                output_field=FloatField(),
            )
        )
    )
    sums = {}
    for i, period in enumerate(params.periods):
        a = Value((period.start - start).total_seconds())
        b = Value((period.end - start).total_seconds())
        overlap = Greatest(Value(0.0), Least(F("e_rel"), b) - Greatest(F("s_rel"), a), output_field=FloatField())
        sums[f"c{i}"] = Sum(F("total") * overlap / F("window"), output_field=FloatField())
    key = major_group_field(params)
    found = list(qs.annotate(key=F(key)).values("key").annotate(**sums).order_by()) if key else [qs.aggregate(**sums)]
    out: dict[tuple, dict] = {}
    for agg in found:
        for i, period in enumerate(params.periods):
            value = agg[f"c{i}"]
            if value:
                out[(period.day, agg.get("key"))] = {"cost": value}
    return out


def _updates(params: ReportParams) -> list[dict]:
    qs = StakeholderUpdate.objects.filter(
        posted_at__gte=params.start_at, posted_at__lt=params.end_at, due_at__isnull=False
    )
    return _grouped(
        qs,
        "posted_at",
        params,
        "major_incident__",
        updates_due=Count("id"),
        updates_on_time=Count("id", filter=Q(late_seconds=0)),
        updates_late=Count("id", filter=Q(late_seconds__gt=0)),
        late_seconds=Sum("late_seconds"),
    )


def _action_items(params: ReportParams, today) -> list[dict]:
    moment = "review__major_incident__declared_at"
    qs = ActionItem.objects.filter(**{f"{moment}__gte": params.start_at, f"{moment}__lt": params.end_at})
    return _grouped(
        qs,
        moment,
        params,
        "review__major_incident__",
        action_items=Count("id"),
        action_items_open=Count("id", filter=Q(done=False)),
        action_items_overdue=Count("id", filter=Q(done=False, due_date__lt=today)),
    )


def money(value: float | None) -> str:
    """An amount as a string with two decimals (half up)."""
    return str(Decimal(repr(value or 0.0)).quantize(CENT, rounding=ROUND_HALF_UP))


def _row(agg) -> dict:
    agg = agg or {}
    measured = agg.get("measured") or 0
    total = agg.get("total_duration")
    return {
        "declared": agg.get("declared") or 0,
        "resolved": agg.get("resolved") or 0,
        "total_duration_seconds": seconds(total) if measured else None,
        "mean_duration_seconds": seconds(total / measured) if measured and total is not None else None,
        "estimated_cost": money(agg.get("cost")),
        "mean_time_to_detect_seconds": seconds(agg.get("to_detect")),
        "mean_time_to_declare_seconds": seconds(agg.get("to_declare")),
        "mean_time_to_restore_seconds": seconds(agg.get("to_restore")),
        "updates_due": agg.get("updates_due") or 0,
        "updates_on_time": agg.get("updates_on_time") or 0,
        "updates_late": agg.get("updates_late") or 0,
        "update_compliance": ratio(agg.get("updates_on_time") or 0, agg.get("updates_due") or 0),
        "late_seconds": (agg.get("late_seconds") or 0) if agg.get("updates_due") else None,
        "action_items": agg.get("action_items") or 0,
        "action_items_open": agg.get("action_items_open") or 0,
        "action_items_overdue": agg.get("action_items_overdue") or 0,
    }


def major_incidents(params: ReportParams) -> list[dict]:
    """The major incident rows of `params` (see the module docstring for each figure)."""
    now = timezone.now()
    merged: dict[tuple, dict] = defaultdict(dict)
    for aggregates in (_declared(params, now), _updates(params), _action_items(params, timezone.localdate(now))):
        for agg in aggregates:
            day = bucket_start(bucket_day(agg.pop("bucket")), params.interval)
            merged[(day, agg.pop("key", None))].update(agg)
    for slot, values in _costs(params, now).items():
        merged[slot].update(values)
    return assemble(params, ({"bucket": day, "key": key, **values} for (day, key), values in merged.items()), _row)


REPORT = register(
    Report(
        name="major-incidents",
        title="Major incidents",
        description="Major incidents declared, their impact duration and estimated cost (spread pro rata over the "
        "periods their impact overlaps), times to detect, declare and restore, stakeholder update cadence "
        "compliance and the reviews' action items.",
        columns=COLUMNS,
        compute=major_incidents,
        chart=("declared", "estimated_cost"),
        chart_type="bar",
        order=60,
    )
)
