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

from django.db.models import Count, F, Q, Sum
from django.db.models.functions import Coalesce

from incidents.models import Incident
from reporting.params import ReportParams
from reporting.periods import bucket, bucket_day, bucket_start
from reporting.registry import Column, Report, register
from reporting.rows import assemble, group_field, ratio

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


def _grouped(qs, moment, params: ReportParams, **aggregates):
    key = group_field(params)
    qs = qs.annotate(bucket=bucket(moment, params.interval))
    if key:
        qs = qs.annotate(key=F(key))
        return qs.values("bucket", "key").annotate(**aggregates).order_by()
    return qs.values("bucket").annotate(**aggregates).order_by()


def volume(params: ReportParams) -> list[dict]:
    """The volume rows of `params` (see the module docstring for each figure)."""
    start, end = params.start_at, params.end_at
    merged: dict[tuple, dict] = defaultdict(lambda: defaultdict(int))

    def add(aggregates, **rename):
        for agg in aggregates:
            slot = merged[(bucket_start(bucket_day(agg["bucket"]), params.interval), agg.get("key"))]
            for name in rename:
                slot[name] += agg[name] or 0

    opened = Incident.objects.filter(opened_at__gte=start, opened_at__lt=end)
    add(
        _grouped(
            opened,
            "opened_at",
            params,
            opened=Count("id"),
            reassigned=Count("id", filter=Q(reassignment_count__gt=0)),
            reassignments=Sum("reassignment_count"),
            change_caused=Count("id", filter=~Q(caused_by_change="")),
        ),
        opened=1,
        reassigned=1,
        reassignments=1,
        change_caused=1,
    )
    resolved = Incident.objects.filter(resolved_at__gte=start, resolved_at__lt=end)
    add(
        _grouped(
            resolved,
            "resolved_at",
            params,
            resolved=Count("id"),
            reopened=Count("id", filter=Q(reopen_count__gt=0)),
            first_contact_resolved=Count("id", filter=Q(reopen_count=0, reassignment_count=0)),
        ),
        resolved=1,
        reopened=1,
        first_contact_resolved=1,
    )
    finished = Incident.objects.annotate(finished_at=FINISHED_AT).filter(finished_at__gte=start, finished_at__lt=end)
    add(_grouped(finished, "finished_at", params, finished=Count("id")), finished=1)

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
        lambda agg: {
            "opened": (agg or {}).get("opened", 0),
            "resolved": (agg or {}).get("resolved", 0),
            "backlog": (agg or {}).get("base", 0) + (agg or {}).get("opened", 0) - (agg or {}).get("finished", 0),
            "reassigned": (agg or {}).get("reassigned", 0),
            "reassignment_rate": ratio((agg or {}).get("reassigned", 0), (agg or {}).get("opened", 0)),
            "reassignments": (agg or {}).get("reassignments", 0),
            "change_caused": (agg or {}).get("change_caused", 0),
            "reopened": (agg or {}).get("reopened", 0),
            "reopen_rate": ratio((agg or {}).get("reopened", 0), (agg or {}).get("resolved", 0)),
            "first_contact_resolved": (agg or {}).get("first_contact_resolved", 0),
            "first_contact_resolution_rate": ratio(
                (agg or {}).get("first_contact_resolved", 0), (agg or {}).get("resolved", 0)
            ),
        },
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
