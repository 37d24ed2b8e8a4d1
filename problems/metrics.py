"""Problem management metrics, computed by the database: the one path for every consumer.

Each query function takes the range [start, end) (aware datetimes) and optionally `bucket` (a
callable turning a moment's field path into a bucket expression, e.g. a local-day Trunc) and
`group` (a field of Problem, e.g. "owner_id"); it returns one aggregate dict per (bucket, group)
found ("bucket" and "key" set when asked), or exactly one dict when neither is asked. The
`problems` report (reporting/problems.py) calls them with its buckets and grouping;
`problem_metrics(start, end)` calls them once for one period. Nothing is read row by row.

The figures, each attributed to the period its moment falls in:

- opened, proactive opened: problems by `opened_at` (cancelled ones included: a cancelled
  proactive problem still cost someone a look); proactive share = proactive / opened;
- incidents per problem: the incidents linked (now) to the problems opened in the period, over
  those problems (mean), and the largest;
- known errors reached (and mean time to known error, `known_error_at - opened_at`): problems by
  `known_error_at`;
- resolved (and mean time to resolution, `resolved_at - opened_at`): problems by `resolved_at`;
- recurrences after resolution: `recurrence` timeline entries by `at`, and on how many problems;
- known errors published: KEDB articles by `published_at`; live: published at some point of the
  period (published before its end, not retired before its start), the deflections' denominator;
- deflections: uses of a known error with `deflected` (an incident resolved with the workaround,
  or a self-service fix), by the use's `at` (when the workaround was applied); per live known error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from django.db.models import (
    Avg,
    Count,
    DurationField,
    Expression,
    ExpressionWrapper,
    F,
    IntegerField,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
)
from django.db.models.functions import Coalesce

from incidents.models import Incident
from problems.choices import ProblemSource, ProblemTimelineType
from problems.models import KnownError, KnownErrorUse, Problem, ProblemEvent

TOP_KNOWN_ERRORS = 10
Bucket = Callable[[str], Expression] | None


def _grouped(qs: QuerySet, moment: str, prefix: str, bucket: Bucket, group: str | None, **aggregates) -> list[dict]:
    """`aggregates` of `qs` per (bucket of `moment`, `prefix + group`), or one dict when neither is asked."""
    dims = []
    if bucket is not None:
        qs = qs.annotate(bucket=bucket(moment))
        dims.append("bucket")
    if group is not None:
        qs = qs.annotate(key=F(prefix + group))
        dims.append("key")
    if not dims:
        return [qs.aggregate(**aggregates)]
    return list(qs.values(*dims).annotate(**aggregates).order_by())


def seconds_of(value) -> float | None:
    """A mean duration the database returned, in seconds (None when nothing was measured)."""
    if value is None:
        return None
    if isinstance(value, timedelta):
        return value.total_seconds()
    return float(value) / 1_000_000  # a backend that averages durations as microseconds


def _mean(later: str, earlier: str) -> Avg:
    return Avg(ExpressionWrapper(F(later) - F(earlier), output_field=DurationField()), output_field=DurationField())


def _linked_incidents() -> Coalesce:
    """The number of incidents linked to the outer problem (a correlated subquery)."""
    linked = (
        Incident.objects.filter(problem=OuterRef("pk")).order_by().values("problem").annotate(n=Count("id")).values("n")
    )
    return Coalesce(Subquery(linked, output_field=IntegerField()), 0)


def opened(start: datetime, end: datetime, *, bucket: Bucket = None, group: str | None = None) -> list[dict]:
    """Problems opened: `opened`, `proactive`, `linked` (incidents of those problems), `most_linked`."""
    qs = Problem.objects.filter(opened_at__gte=start, opened_at__lt=end).annotate(n_linked=_linked_incidents())
    return _grouped(
        qs,
        "opened_at",
        "",
        bucket,
        group,
        opened=Count("id"),
        proactive=Count("id", filter=Q(source=ProblemSource.PROACTIVE)),
        linked=Sum("n_linked"),
        most_linked=Max("n_linked"),
    )


def known_errors_reached(
    start: datetime, end: datetime, *, bucket: Bucket = None, group: str | None = None
) -> list[dict]:
    """Problems that became known errors: `reached`, `to_known_error` (mean, database units: see seconds_of)."""
    qs = Problem.objects.filter(known_error_at__gte=start, known_error_at__lt=end)
    return _grouped(
        qs,
        "known_error_at",
        "",
        bucket,
        group,
        reached=Count("id"),
        to_known_error=_mean("known_error_at", "opened_at"),
    )


def resolved(start: datetime, end: datetime, *, bucket: Bucket = None, group: str | None = None) -> list[dict]:
    """Problems resolved: `resolved`, `to_resolution` (mean, database units: see seconds_of)."""
    qs = Problem.objects.filter(resolved_at__gte=start, resolved_at__lt=end)
    return _grouped(
        qs, "resolved_at", "", bucket, group, resolved=Count("id"), to_resolution=_mean("resolved_at", "opened_at")
    )


def recurrences(start: datetime, end: datetime, *, bucket: Bucket = None, group: str | None = None) -> list[dict]:
    """Recurrence entries: `recurrences`, `problems_recurred` (distinct problems)."""
    qs = ProblemEvent.objects.filter(type=ProblemTimelineType.RECURRENCE, at__gte=start, at__lt=end)
    return _grouped(
        qs,
        "at",
        "problem__",
        bucket,
        group,
        recurrences=Count("id"),
        problems_recurred=Count("problem", distinct=True),
    )


def known_errors_published(
    start: datetime, end: datetime, *, bucket: Bucket = None, group: str | None = None
) -> list[dict]:
    """Known errors published in the range: `published`."""
    qs = KnownError.objects.filter(published_at__gte=start, published_at__lt=end)
    return _grouped(qs, "published_at", "problem__", bucket, group, published=Count("id"))


def known_errors_retired(
    start: datetime, end: datetime, *, bucket: Bucket = None, group: str | None = None
) -> list[dict]:
    """Known errors retired in the range: `retired` (with the published ones, they move the live count)."""
    qs = KnownError.objects.filter(retired_at__gte=start, retired_at__lt=end)
    return _grouped(qs, "retired_at", "problem__", bucket, group, retired=Count("id"))


def known_errors_live_at(moment: datetime, *, group: str | None = None) -> list[dict]:
    """Known errors live at `moment` (published before it, not retired before it): `live`."""
    not_retired = Q(retired_at__isnull=True) | Q(retired_at__gte=moment)
    qs = KnownError.objects.filter(not_retired, published_at__lt=moment)
    return _grouped(qs, "published_at", "problem__", None, group, live=Count("id"))


def deflections(start: datetime, end: datetime, *, bucket: Bucket = None, group: str | None = None) -> list[dict]:
    """Deflecting uses of known errors: `deflections`."""
    qs = KnownErrorUse.objects.filter(deflected=True, at__gte=start, at__lt=end)
    return _grouped(qs, "at", "known_error__problem__", bucket, group, deflections=Count("id"))


def top_deflecting(start: datetime, end: datetime, limit: int = TOP_KNOWN_ERRORS) -> list[dict]:
    """The known errors with the most deflections in the range: known_error, number, title, deflections."""
    return list(
        KnownErrorUse.objects.filter(deflected=True, at__gte=start, at__lt=end)
        .values("known_error", number=F("known_error__problem__number"), title=F("known_error__title"))
        .annotate(deflections=Count("id"))
        .order_by("-deflections", "known_error")[:limit]
    )


@dataclass(frozen=True)
class ProblemMetrics:
    """The figures of one period (durations in seconds, None when nothing to measure)."""

    start: datetime
    end: datetime
    problems_opened: int
    proactive_opened: int
    proactive_share: float | None
    incidents_per_problem: float | None
    max_incidents_per_problem: int
    known_errors_reached: int
    mean_time_to_known_error_seconds: float | None
    resolved: int
    mean_time_to_resolution_seconds: float | None
    recurrences: int
    problems_recurred: int
    known_errors_published: int
    known_errors_live: int
    deflections: int
    deflections_per_known_error: float | None
    top_deflecting: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        """The figures as JSON-ready values (datetimes in ISO 8601)."""
        data = asdict(self)
        data["start"], data["end"] = self.start.isoformat(), self.end.isoformat()
        return data


def problem_metrics(start: datetime, end: datetime) -> ProblemMetrics:
    """The metrics of [start, end), one aggregate query per figure (the same queries as the report)."""
    (o,) = opened(start, end)
    (k,) = known_errors_reached(start, end)
    (r,) = resolved(start, end)
    (rec,) = recurrences(start, end)
    (pub,) = known_errors_published(start, end)
    (base,) = known_errors_live_at(start)
    (d,) = deflections(start, end)
    n, live = o["opened"], base["live"] + pub["published"]
    return ProblemMetrics(
        start=start,
        end=end,
        problems_opened=n,
        proactive_opened=o["proactive"],
        proactive_share=o["proactive"] / n if n else None,
        incidents_per_problem=(o["linked"] or 0) / n if n else None,
        max_incidents_per_problem=o["most_linked"] or 0,
        known_errors_reached=k["reached"],
        mean_time_to_known_error_seconds=seconds_of(k["to_known_error"]),
        resolved=r["resolved"],
        mean_time_to_resolution_seconds=seconds_of(r["to_resolution"]),
        recurrences=rec["recurrences"],
        problems_recurred=rec["problems_recurred"],
        known_errors_published=pub["published"],
        known_errors_live=live,
        deflections=d["deflections"],
        deflections_per_known_error=d["deflections"] / live if live else None,
        top_deflecting=top_deflecting(start, end),
    )
