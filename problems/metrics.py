"""Problem management metrics for reporting, computed by the database over a period.

`problem_metrics(start, end)` ([start, end), aware datetimes) answers:

- incidents per problem: linked incidents of the problems opened in the period (mean, max);
- time to known error: `known_error_at - opened_at` of the problems that became known errors in
  the period (mean, and the count it is taken over);
- time to resolution: `resolved_at - opened_at` of the problems resolved in the period;
- recurrences after resolution: `recurrence` timeline entries written in the period, and on how
  many problems;
- deflections per known error: incidents resolved with (and self-service fixes by) a workaround
  applied in the period, per known error that was published at some point of it, and the top ones;
- proactive share: problems opened in the period by trend detection, over all opened (cancelled
  ones included: a cancelled proactive problem still cost someone a look).

Each figure is one aggregate query; nothing is read row by row.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from django.db.models import Avg, Count, DurationField, ExpressionWrapper, F, Max, Q

from problems.choices import ProblemSource, ProblemTimelineType
from problems.models import KnownError, KnownErrorUse, Problem, ProblemEvent

TOP_KNOWN_ERRORS = 10


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
    deflections: int
    deflections_per_known_error: float | None
    top_deflecting: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        data = asdict(self)
        data["start"], data["end"] = self.start.isoformat(), self.end.isoformat()
        return data


def _seconds(value) -> float | None:
    if value is None:
        return None
    if isinstance(value, timedelta):
        return value.total_seconds()
    return float(value) / 1_000_000  # a backend that averages durations as microseconds


def _mean_duration(qs, later: str, earlier: str) -> tuple[int, float | None]:
    span = ExpressionWrapper(F(later) - F(earlier), output_field=DurationField())
    row = qs.aggregate(n=Count("id"), mean=Avg(span, output_field=DurationField()))
    return row["n"], _seconds(row["mean"])


def problem_metrics(start: datetime, end: datetime) -> ProblemMetrics:
    """The metrics of [start, end)."""
    opened = Problem.objects.filter(opened_at__gte=start, opened_at__lt=end)
    counts = opened.aggregate(n=Count("id"), proactive=Count("id", filter=Q(source=ProblemSource.PROACTIVE)))
    per_problem = opened.annotate(linked=Count("incidents")).aggregate(mean=Avg("linked"), most=Max("linked"))

    reached, to_known_error = _mean_duration(
        Problem.objects.filter(known_error_at__gte=start, known_error_at__lt=end), "known_error_at", "opened_at"
    )
    resolved, to_resolution = _mean_duration(
        Problem.objects.filter(resolved_at__gte=start, resolved_at__lt=end), "resolved_at", "opened_at"
    )
    recurrences = ProblemEvent.objects.filter(type=ProblemTimelineType.RECURRENCE, at__gte=start, at__lt=end).aggregate(
        n=Count("id"), problems=Count("problem", distinct=True)
    )

    published = (
        KnownError.objects.filter(published_at__lt=end)
        .filter(Q(retired_at__isnull=True) | Q(retired_at__gte=start))
        .count()
    )
    deflected = KnownErrorUse.objects.filter(deflected=True, at__gte=start, at__lt=end)
    deflections = deflected.count()
    top = list(
        deflected.values("known_error", number=F("known_error__problem__number"), title=F("known_error__title"))
        .annotate(deflections=Count("id"))
        .order_by("-deflections", "known_error")[:TOP_KNOWN_ERRORS]
    )

    n = counts["n"]
    return ProblemMetrics(
        start=start,
        end=end,
        problems_opened=n,
        proactive_opened=counts["proactive"],
        proactive_share=counts["proactive"] / n if n else None,
        incidents_per_problem=float(per_problem["mean"]) if per_problem["mean"] is not None else None,
        max_incidents_per_problem=per_problem["most"] or 0,
        known_errors_reached=reached,
        mean_time_to_known_error_seconds=to_known_error,
        resolved=resolved,
        mean_time_to_resolution_seconds=to_resolution,
        recurrences=recurrences["n"],
        problems_recurred=recurrences["problems"],
        known_errors_published=published,
        deflections=deflections,
        deflections_per_known_error=deflections / published if published else None,
        top_deflecting=top,
    )
