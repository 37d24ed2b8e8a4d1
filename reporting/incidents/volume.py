"""Incident volume: opened, resolved, backlog at period end, reassignment, reopen and FCR rates.

- opened, reassigned (reassigned at least once), reassignments, change-caused (an agent named the
  change that caused it, `caused_by_change`): incidents *opened* in the period;
- resolved, reopened (reopened at least once before this resolution), first-contact resolved
  (never reassigned nor reopened): incidents whose (last) resolution falls in the period;
- backlog: incidents open at the period's end, i.e. opened before it and not yet resolved or
  cancelled by then. It is the backlog before the range plus the running sum of opened minus
  finished per period, so it costs three grouped counts whatever the number of periods. An
  incident reopened counts as open from its opening to its last resolution (`resolved_at` is
  cleared on reopen).
"""

from __future__ import annotations

from collections import defaultdict

from django.db.models import Count, Q, Sum
from django.db.models.functions import Coalesce

from incidents.models import Incident
from reporting.params import ReportParams
from reporting.periods import bucket_day, bucket_start
from reporting.registry import Column, Report, register
from reporting.rows import assemble, group_field, grouped, ratio

COLUMNS = (
    Column("opened", "Opened"),
    Column("resolved", "Resolved"),
    Column("backlog", "Backlog at period end"),
    Column("reassigned", "Opened and reassigned"),
    Column("reassignment_rate", "Reassignment rate", "ratio"),
    Column("reassignments", "Reassignments"),
    Column("change_caused", "Opened and caused by a change"),
    Column("reopened", "Resolved after a reopen"),
    Column("reopen_rate", "Reopen rate", "ratio"),
    Column("first_contact_resolved", "First-contact resolutions"),
    Column("first_contact_resolution_rate", "First-contact resolution rate", "ratio"),
)
FINISHED_AT = Coalesce("resolved_at", "closed_at")  # resolved, or cancelled (closed without resolving)


def _metrics(agg) -> dict:
    """One row's columns from the merged counts of its (period, group); "backlog" is still the change."""
    n = defaultdict(int, agg or {})
    return {
        "opened": n["opened"],
        "resolved": n["resolved"],
        "backlog": n["base"] + n["opened"] - n["finished"],
        "reassigned": n["reassigned"],
        "reassignment_rate": ratio(n["reassigned"], n["opened"]),
        "reassignments": n["reassignments"],
        "change_caused": n["change_caused"],
        "reopened": n["reopened"],
        "reopen_rate": ratio(n["reopened"], n["resolved"]),
        "first_contact_resolved": n["first_contact_resolved"],
        "first_contact_resolution_rate": ratio(n["first_contact_resolved"], n["resolved"]),
    }


def volume(params: ReportParams) -> list[dict]:
    """The volume rows of `params` (see the module docstring for each figure)."""
    start, end = params.start_at, params.end_at
    merged: dict[tuple, dict] = defaultdict(lambda: defaultdict(int))

    def add(aggregates) -> None:
        for agg in aggregates:
            slot = merged[(bucket_start(bucket_day(agg["bucket"]), params.interval), agg.get("key"))]
            for name, value in agg.items():
                if name not in ("bucket", "key"):
                    slot[name] += value or 0

    opened = Incident.objects.filter(opened_at__gte=start, opened_at__lt=end)
    add(
        grouped(
            opened,
            "opened_at",
            params,
            opened=Count("id"),
            reassigned=Count("id", filter=Q(reassignment_count__gt=0)),
            reassignments=Sum("reassignment_count"),
            change_caused=Count("id", filter=~Q(caused_by_change="")),
        )
    )
    resolved = Incident.objects.filter(resolved_at__gte=start, resolved_at__lt=end)
    add(
        grouped(
            resolved,
            "resolved_at",
            params,
            resolved=Count("id"),
            reopened=Count("id", filter=Q(reopen_count__gt=0)),
            first_contact_resolved=Count("id", filter=Q(reopen_count=0, reassignment_count=0)),
        )
    )
    finished = Incident.objects.annotate(finished_at=FINISHED_AT).filter(finished_at__gte=start, finished_at__lt=end)
    add(grouped(finished, "finished_at", params, finished=Count("id")))

    # Open when the range starts: the running sums start from here.
    before = Incident.objects.annotate(finished_at=FINISHED_AT).filter(
        Q(finished_at__isnull=True) | Q(finished_at__gte=start), opened_at__lt=start
    )
    key = group_field(params)
    base = dict(before.values_list(key).annotate(n=Count("id")).order_by()) if key else {None: before.count()}
    first_day = params.periods[0].day
    for group_key, n in base.items():
        merged[(first_day, group_key)]["base"] += n

    rows = assemble(
        params,
        ({"bucket": day, "key": group_key, **values} for (day, group_key), values in merged.items()),
        _metrics,
    )
    # Until here "backlog" is the change within the period; the running sum per group makes it the level.
    level: dict = defaultdict(int)
    for row in rows:
        level[row["group_key"]] += row["backlog"]
        row["backlog"] = level[row["group_key"]]
    return rows


REPORT = register(
    Report(
        name="volume",
        title="Incident volume",
        description="Incidents opened and resolved per period, the backlog at each period's end, and the "
        "reassignment, reopen and first-contact resolution rates.",
        columns=COLUMNS,
        compute=volume,
        chart=("opened", "resolved", "backlog"),
        chart_type="bar",
        order=10,
    )
)
