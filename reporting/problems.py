"""The `problems` report: problem management per period, from problems/metrics.py's queries.

Each figure is defined (and queried) once, in `problems.metrics`; this module asks those queries
for the report's buckets and grouping and turns the aggregates into rows. Grouped by the
problem's priority, service, category, assignment group or owner (`assignee`); problems have no
channel. Known errors, their uses and recurrence entries group by their problem's dimension.

`known_errors_live` (published at some point of the period) is the live count at the range's
start plus the running sum of published minus retired per period, so it costs three grouped
counts whatever the number of periods.
"""

from __future__ import annotations

from collections import defaultdict

from problems import metrics
from reporting.groups import dimension
from reporting.params import ReportParams
from reporting.periods import bucket, bucket_day, bucket_start
from reporting.registry import Column, Report, register
from reporting.rows import assemble, ratio, seconds

# The report's groupings and the Problem field each reads (the owner is the problem's assignee).
FIELDS = {
    "priority": "priority",
    "service": "service_id",
    "category": "category_id",
    "assignment_group": "assignment_group_id",
    "assignee": "owner_id",
}

COLUMNS = (
    Column("opened", "Opened"),
    Column("proactive_opened", "Opened proactively"),
    Column("proactive_share", "Proactive share", "ratio"),
    Column("incidents_per_problem", "Incidents per problem opened"),
    Column("max_incidents_per_problem", "Most incidents on one problem"),
    Column("known_errors_reached", "Became known errors"),
    Column("mean_time_to_known_error_seconds", "Mean time to known error", "seconds"),
    Column("resolved", "Resolved"),
    Column("mean_time_to_resolution_seconds", "Mean time to resolution", "seconds"),
    Column("recurrences", "Recurrences after resolution"),
    Column("problems_recurred", "Problems that recurred"),
    Column("known_errors_published", "Known errors published"),
    Column("known_errors_live", "Known errors live"),
    Column("deflections", "Deflections by known errors"),
    Column("deflections_per_known_error", "Deflections per live known error"),
)


def problems_report(params: ReportParams) -> list[dict]:
    """The problems rows of `params` (see problems/metrics.py for each figure's definition)."""
    start, end = params.start_at, params.end_at
    group = FIELDS[params.group_by] if params.group_by else None

    def by_bucket(moment: str):
        return bucket(moment, params.interval)

    merged: dict[tuple, dict] = defaultdict(dict)
    for query in (
        metrics.opened,
        metrics.known_errors_reached,
        metrics.resolved,
        metrics.recurrences,
        metrics.known_errors_published,
        metrics.known_errors_retired,
        metrics.deflections,
    ):
        for agg in query(start, end, bucket=by_bucket, group=group):
            day = bucket_start(bucket_day(agg.pop("bucket")), params.interval)
            merged[(day, agg.pop("key", None))].update(agg)
    first_day = params.periods[0].day
    base = {agg.get("key"): agg["live"] for agg in metrics.known_errors_live_at(start, group=group)}
    for key in base:
        merged[(first_day, key)].setdefault("published", 0)

    # Live during a period: live at its start plus published in it; retirements lower the next start.
    live: dict[tuple, int] = {}
    for key in {k for _, k in merged}:
        level = base.get(key, 0)
        for period in params.periods:
            agg = merged.get((period.day, key), {})
            live[(period.day, key)] = level + (agg.get("published") or 0)
            level = live[(period.day, key)] - (agg.get("retired") or 0)

    def row(agg: dict | None) -> dict:
        agg = agg or {}
        n, linked = agg.get("opened") or 0, agg.get("linked") or 0
        live_now = live.get((agg.get("day"), agg.get("key")), 0)
        return {
            "opened": n,
            "proactive_opened": agg.get("proactive") or 0,
            "proactive_share": ratio(agg.get("proactive") or 0, n),
            "incidents_per_problem": ratio(linked, n),
            "max_incidents_per_problem": agg.get("most_linked") or 0,
            "known_errors_reached": agg.get("reached") or 0,
            "mean_time_to_known_error_seconds": seconds(metrics.seconds_of(agg.get("to_known_error"))),
            "resolved": agg.get("resolved") or 0,
            "mean_time_to_resolution_seconds": seconds(metrics.seconds_of(agg.get("to_resolution"))),
            "recurrences": agg.get("recurrences") or 0,
            "problems_recurred": agg.get("problems_recurred") or 0,
            "known_errors_published": agg.get("published") or 0,
            "known_errors_live": live_now,
            "deflections": agg.get("deflections") or 0,
            "deflections_per_known_error": ratio(agg.get("deflections") or 0, live_now),
        }

    # Every (period, group) gets an aggregate so the live count is found even where nothing happened.
    keys = {k for _, k in merged}
    aggregates = [
        {"bucket": p.day, "key": k, "day": p.day, **merged.get((p.day, k), {})} for p in params.periods for k in keys
    ]
    labels = dimension(params.group_by).labels if params.group_by else None
    return assemble(params, aggregates, row, labels=labels)


REPORT = register(
    Report(
        name="problems",
        title="Problems",
        description="Problems opened (and the proactive share), incidents per problem, known errors reached and "
        "published, problems resolved, recurrences after resolution and deflections by known errors.",
        columns=COLUMNS,
        compute=problems_report,
        group_bys=tuple(FIELDS),
        chart=("opened", "resolved", "deflections"),
        chart_type="bar",
        order=70,
    )
)
