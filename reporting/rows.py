"""Turn grouped aggregates into report rows: every period, every group found, zeros filled in.

The database returns one aggregate per (bucket, key) that had data; charts and CSV want every
period present, so the rows are completed here (a loop over buckets, never over records).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from django.db.models import F, QuerySet
from django.db.models.expressions import Combinable

from reporting.groups import dimension
from reporting.params import ReportParams
from reporting.periods import bucket, bucket_day, bucket_start


def group_field(params: ReportParams, prefix: str = "") -> str | None:
    """The field (with `prefix`) a grouped query groups by, or None when the report is not grouped."""
    if not params.group_by:
        return None
    return prefix + dimension(params.group_by).field


def grouped(
    qs: QuerySet,
    moment: str | Combinable,
    params: ReportParams,
    prefix: str = "",
    *,
    key_field: str | None = None,
    **aggregates,
) -> QuerySet:
    """`qs` bucketed by `moment`, keyed by the grouping (`prefix` for a related incident, or an
    explicit `key_field`) and aggregated: dicts with "bucket", "key" (when grouped) and the
    aggregates, `assemble`'s input. Every report's grouped query is this one.
    """
    qs = qs.annotate(bucket=bucket(moment, params.interval))
    key = key_field or group_field(params, prefix)
    if key:
        return qs.annotate(key=F(key)).values("bucket", "key").annotate(**aggregates).order_by()
    return qs.values("bucket").annotate(**aggregates).order_by()


def assemble(
    params: ReportParams,
    aggregates: Iterable[Mapping],
    metrics: Callable[[Mapping | None], dict],
    *,
    labels: Callable[[Iterable], dict] | None = None,
) -> list[dict]:
    """Rows for every period x group found, ordered by period then group label.

    `aggregates` are dicts with "bucket" (the database's bucket start), "key" (the group key, absent
    when not grouped) and the raw aggregates; `metrics(aggregate or None)` turns one of them (None:
    nothing in that bucket) into the row's metric columns.
    """
    found: dict[tuple, Mapping] = {}
    keys: set = set()
    for agg in aggregates:
        day = bucket_start(bucket_day(agg["bucket"]), params.interval)
        key = agg.get("key")
        found[(day, key)] = agg
        keys.add(key)
    if params.group_by:
        names = (labels or dimension(params.group_by).labels)(keys)
        groups = sorted(keys, key=lambda k: (k is None, str(names.get(k, k)).lower(), str(k)))
    else:
        names, groups = {None: None}, [None]
    rows = []
    for period in params.periods:
        for key in groups:
            rows.append(
                {
                    "period": period.label,
                    "group": names.get(key) if params.group_by else None,
                    "group_key": key,
                    **metrics(found.get((period.day, key))),
                }
            )
    return rows


def ratio(part: int | float | None, whole: int | float | None) -> float | None:
    """part / whole rounded to 4 places; None when there is nothing to divide."""
    if not whole or part is None:
        return None
    return round(part / whole, 4)


def seconds(value: float | None) -> float | None:
    """A duration in whole seconds (the databases' float arithmetic differs below a millisecond)."""
    return None if value is None else round(float(value))
