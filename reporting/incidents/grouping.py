"""The grouped query every incident report runs: one row per (bucket, group key) with aggregates."""

from __future__ import annotations

from django.db.models import F, QuerySet
from django.db.models.expressions import Combinable

from reporting.params import ReportParams
from reporting.periods import bucket
from reporting.rows import group_field


def grouped(qs: QuerySet, moment: str | Combinable, params: ReportParams, prefix: str = "", **aggregates) -> QuerySet:
    """`qs` bucketed by `moment` (and keyed by the grouping, `prefix` for a related incident), aggregated.

    Yields dicts with "bucket", "key" (when grouped) and the aggregates: `rows.assemble`'s input.
    """
    qs = qs.annotate(bucket=bucket(moment, params.interval))
    key = group_field(params, prefix)
    if key:
        return qs.annotate(key=F(key)).values("bucket", "key").annotate(**aggregates).order_by()
    return qs.values("bucket").annotate(**aggregates).order_by()
